"""Everything a Kubernetes platform would create and run, rendered to a directory without
running anything: kind config, verified and patched CNI manifests or helm values, the run's
workloads, the NetworkPolicy of every catalogue case bound to the run's namespaces, and the
ordered commands (steps.sh, plan.json). Provisioning renders the same files and runs the
same steps, so the plan is what happens."""

from __future__ import annotations

import hashlib
import io
import ipaddress
import json
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from netconform.k8s import manifests, patches
from netconform.k8s.download import Fetch, fetch_url, fetch_verified, verify
from netconform.k8s.images import manifest_images
from netconform.k8s.install import (
    CILIUM_VALUES_FILE,
    Phase,
    Step,
    Workdir,
    cni_files,
    create_steps,
    delete_steps,
    deploy_steps,
    install_steps,
    kubectl,
    mark_ready_step,
    probe_image_steps,
    profile_key,
)
from netconform.k8s.kindcluster import CLUSTER_PREFIX
from netconform.k8s.netpol_binding import NetpolBinding
from netconform.k8s.profiles import (
    CniProfile,
    KindConfig,
    OptionalImage,
    kind_config_path,
    load_kind_config,
)
from netconform.k8s.workloads import MANAGED_BY, ROLE_LABEL, RUN_LABEL, WorkloadSpec, all_objects
from netconform.lab.image import ImageRecipe, host_suite
from netconform.netpol.catalogue import Case, CreatePolicy, UpdatePolicy, load_catalogue

Artifacts = Callable[[str, str], bytes]  # (url, sha256) -> verified bytes


def cluster_name(platform: str) -> str:
    """netconform-<cni>: one name per platform, so --keep reuses it and a crashed run's
    cluster is found by the next run."""
    return CLUSTER_PREFIX + platform.removeprefix("kind-")


def probe_recipe() -> ImageRecipe:
    """The one probe image of every platform: the Swarm lab's offline Debian recipe."""
    return ImageRecipe(host_suite())


def probe_image_tag() -> str:
    """netconform/probe:<hash of the recipe>: rebuilt only when the recipe changes."""
    return probe_recipe().tag


@dataclass(frozen=True)
class KindHost:
    """What provisioning found on the machine before rendering (plan assumes defaults):
    the node image to run, the host's cgroup version, which images the local Docker has,
    and whether the node image already carries the CNI plugins the profile needs."""

    node_image: str | None = None  # None: the kind config's own
    cgroup_v1: bool = False
    local_images: frozenset[str] | None = None  # None: assume every image is local
    node_plugins_present: bool = False
    probe_image_present: bool = False
    # the profile's optional images that cannot be had here (offline, not local)
    absent_optional: frozenset[str] = frozenset()
    local_chart: Path | None = None  # a chart file to install instead of the pinned one
    # the capabilities a privileged node container has (its bounding set); None: unknown,
    # assume all. A CNI container asking for one outside it cannot start.
    node_capabilities: frozenset[str] | None = None


def absent_optional(profile: CniProfile, host: KindHost) -> list[OptionalImage]:
    return [o for o in profile.optional_images if o.image in host.absent_optional]


def kind_config_for(raw: dict[str, Any], host: KindHost) -> dict[str, Any]:
    """The fixture's kind config with the node image replaced and, on a cgroup v1 host,
    the kubelet told not to refuse it (Kubernetes 1.35+ fails on cgroup v1 by default)."""
    config: dict[str, Any] = json.loads(json.dumps(raw))
    if host.node_image:
        for node in config.get("nodes", []):
            node["image"] = host.node_image
    if host.cgroup_v1:
        patch = "kind: KubeletConfiguration\nfailCgroupV1: false\n"
        config.setdefault("kubeadmConfigPatches", []).append(patch)
    return config


def cluster_dns_ip(service_subnet: str) -> str:
    """kubeadm gives kube-dns the tenth address of the service subnet."""
    return str(ipaddress.ip_network(service_subnet)[10])


def artifact_source(fetch: Fetch = fetch_url, cache: Path | None = None) -> Artifacts:
    return lambda url, sha256: fetch_verified(url, sha256, fetch, cache)


def directory_source(directory: Path, reference_copies: dict[str, str]) -> Artifacts:
    """Artifacts from a local directory (e.g. a mirror of the pinned files), still verified:
    looked up by their reference_copy path, then by the URL's file name."""

    def read(url: str, sha256: str) -> bytes:
        for candidate in (reference_copies.get(url, ""), url.rsplit("/", 1)[-1]):
            path = directory / candidate
            if candidate and path.is_file():
                return verify(path.read_bytes(), sha256, str(path))
        raise FileNotFoundError(f"{url}: not in {directory}")

    return read


def extract_plugins(archive: bytes, plugins: Sequence[str], target: Path) -> list[Path]:
    """Only the named binaries, from the release tarball's top level."""
    target.mkdir(parents=True, exist_ok=True)
    written = []
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        for name in plugins:
            member = (
                tar.getmember(f"./{name}") if f"./{name}" in tar.getnames() else tar.getmember(name)
            )
            source = tar.extractfile(member)
            if source is None:
                raise FileNotFoundError(f"{name} is not a file in the plugins archive")
            path = target / name
            path.write_bytes(source.read())
            path.chmod(0o755)
            written.append(path)
    return written


@dataclass(frozen=True)
class RenderedPlan:
    platform: str
    cluster: str | None
    run_id: str
    files: tuple[Path, ...]
    cluster_steps: tuple[Step, ...]  # create the cluster and install the CNI (skipped on reuse)
    run_steps: tuple[Step, ...]  # the probe image and this run's workloads
    teardown: tuple[Step, ...]

    @property
    def steps(self) -> tuple[Step, ...]:
        return (*self.cluster_steps, *self.run_steps)

    info: dict[str, Any] = field(default_factory=dict)


def netpol_binding(spec: WorkloadSpec, lane: int = 0) -> NetpolBinding:
    return NetpolBinding(
        namespaces=spec.netpol_namespaces(lane),
        namespace_labels={MANAGED_BY: "netconform", RUN_LABEL: spec.run_id},
        pod_labels={MANAGED_BY: "netconform", RUN_LABEL: spec.run_id, ROLE_LABEL: "netpol"},
    )


def render_policies(out: Path, binding: NetpolBinding, cases: Sequence[Case]) -> list[Path]:
    """netpol/<case>/<n>-<step>.yaml: the policies each step creates or updates, bound to
    the run (IP placeholders resolved against the stand-in model IPs)."""
    written = []
    for case in cases:
        for n, step in enumerate(case.resolve().steps):
            raw = [
                a.manifest for a in step.step.actions if isinstance(a, CreatePolicy | UpdatePolicy)
            ]
            if not raw:
                continue
            from netconform.netpol.catalogue import substitute_ips

            docs = [binding.policy(substitute_ips(m, step.cluster)) for m in raw]
            slug = "".join(c if c.isalnum() or c == "-" else "-" for c in step.step.name)[:40]
            path = out / "netpol" / case.id / f"{n:02d}-{slug}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(manifests.dump_all(docs))
            written.append(path)
    return written


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def render_cni(
    profile: CniProfile,
    config: KindConfig,
    cluster: str,
    work: Workdir,
    artifacts: Artifacts,
    include_binaries: bool,
    host: KindHost | None = None,
    copy_plugins: bool = True,
) -> list[Path]:
    """The verified upstream files, patched, under cni/ (and node plugins when asked)."""
    written = []
    names = cni_files(profile)
    pod_cidr = config.networking.podSubnet
    if profile.cni == "flannel":
        art = profile.artifact("kube-flannel")
        docs = manifests.load_all(artifacts(art.url, art.sha256))
        patched = patches.flannel(docs, pod_cidr, profile.mtu)
        written.append(_write(work.cni / names["kube-flannel"], manifests.dump_all(patched)))
    elif profile.cni == "calico":
        for name in ("operator-crds", "tigera-operator"):
            art = profile.artifact(name)
            written.append(_write(work.cni / names[name], artifacts(art.url, art.sha256)))
        art = profile.artifact("custom-resources")
        docs = manifests.load_all(artifacts(art.url, art.sha256))
        patched = patches.calico_custom_resources(docs, pod_cidr, profile.mtu)
        written.append(_write(work.cni / names["custom-resources"], manifests.dump_all(patched)))
    else:
        assert profile.helm is not None
        host = host or KindHost()
        values: dict[str, Any] = dict(profile.helm.values)
        for optional in absent_optional(profile, host):
            values = patches.deep_merge(values, optional.values_without)
        values = patches.cilium_values(values, cluster, profile.mtu)
        values = patches.deep_merge(values, trimmed_capabilities(profile, host, artifacts)[0])
        written.append(_write(work.cni / CILIUM_VALUES_FILE, manifests.dump(values)))
        if include_binaries:
            chart = chart_of(profile, host, artifacts)
            written.append(_write(work.cni / names["cilium-chart"], chart))
    if include_binaries and copy_plugins and profile.node_plugins is not None:
        import platform as machine

        arch = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
            machine.machine(), "amd64"
        )
        ref = profile.node_plugins.archives[arch]  # type: ignore[index]
        written += extract_plugins(
            artifacts(ref.url, ref.sha256), profile.node_plugins.plugins, work.node_plugins
        )
    return written


def chart_of(profile: CniProfile, host: KindHost, artifacts: Artifacts) -> bytes:
    """The chart to install: the user's (recorded, not pinned) or the verified pinned one."""
    if host.local_chart is not None:
        return host.local_chart.read_bytes()
    art = profile.artifact("cilium-chart")
    return artifacts(art.url, art.sha256)


def chart_defaults(chart: bytes) -> dict[str, Any]:
    """The chart's own values.yaml (`<chart>/values.yaml` in the .tgz); {} for a file that is
    no chart archive (helm install then says so)."""
    try:
        archive = tarfile.open(fileobj=io.BytesIO(chart), mode="r:gz")  # noqa: SIM115 - closed below
    except tarfile.TarError:
        return {}
    with archive:
        for member in archive.getmembers():
            parts = member.name.split("/")
            if len(parts) == 2 and parts[1] == "values.yaml" and member.isfile():
                extracted = archive.extractfile(member)
                if extracted is not None:
                    loaded = yaml.safe_load(extracted.read())
                    return loaded if isinstance(loaded, dict) else {}
    return {}


def trimmed_capabilities(
    profile: CniProfile, host: KindHost, artifacts: Artifacts
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Helm values that drop from the chart's capability lists what the nodes' bounding set
    lacks, and what was dropped per container (empty when nothing is, or it is unknown)."""
    path = profile.helm.capability_lists if profile.helm else None
    if path is None or host.node_capabilities is None:
        return {}, {}
    defaults = chart_defaults(chart_of(profile, host, artifacts))
    return patches.capabilities_beyond(defaults, path, host.node_capabilities)


def cni_images_of(
    profile: CniProfile, work: Workdir, absent: frozenset[str] = frozenset()
) -> list[str]:
    """Every image the CNI runs: those its rendered manifests name, and those a chart
    renders that the profile declares (preload_images), less optional ones it runs without."""
    images: list[str] = []
    for path in sorted(work.cni.glob("*.y*ml")):
        if path.name == CILIUM_VALUES_FILE:
            continue
        images += [
            i for i in manifest_images(manifests.load_all(path.read_text())) if i not in images
        ]
    images += [i for i in profile.preload_images if i not in images]
    return [i for i in images if i not in absent]


def render_kind(
    platform: str,
    profile: CniProfile,
    run_id: str,
    out: Path,
    artifacts: Artifacts,
    include_binaries: bool = False,
    cases: Sequence[Case] | None = None,
    probe_image: str | None = None,
    host: KindHost | None = None,
) -> RenderedPlan:
    host = host or KindHost()
    work = Workdir(out)
    cluster = cluster_name(platform)
    config, fixture = load_kind_config(kind_config_path(profile))
    raw = kind_config_for(fixture, host)
    nodes = tuple(config.node_names(cluster))
    files = [_write(work.kind_config, manifests.dump(raw))]
    copy_plugins = not host.node_plugins_present
    files += render_cni(
        profile, config, cluster, work, artifacts, include_binaries, host, copy_plugins
    )
    cni_images = cni_images_of(profile, work, host.absent_optional)
    without = absent_optional(profile, host)
    local = [i for i in cni_images if host.local_images is None or i in host.local_images]
    image = probe_image or probe_image_tag()
    spec = WorkloadSpec(run_id, nodes, image, cluster_dns_ip(config.networking.serviceSubnet))
    workloads = all_objects(spec)
    files.append(_write(work.workloads, manifests.dump_all(workloads)))
    binding = netpol_binding(spec)
    files += render_policies(out, binding, load_catalogue() if cases is None else cases)
    cluster_steps = [
        *create_steps(cluster, work),
        *install_steps(
            profile, cluster, nodes, work, local, copy_plugins, [o.rollout for o in without]
        ),
        mark_ready_step(work, profile_key(profile.cni, profile.version)),
    ]
    probe_rootfs = probe_recipe().tarball
    run_steps = [
        *probe_image_steps(image, probe_rootfs, host.probe_image_present, cluster),
        *deploy_steps(work, run_id),
    ]
    info = {
        "cni": profile.cni,
        "cni_version": profile.version,
        "pod_subnet": config.networking.podSubnet,
        "service_subnet": config.networking.serviceSubnet,
        "kube_proxy_mode": config.networking.kubeProxyMode,
        "node_image": raw["nodes"][0].get("image") if raw.get("nodes") else None,
        "cgroup_v1_host": host.cgroup_v1,
        "kubelet_fail_cgroup_v1": not host.cgroup_v1,
        "cni_images": cni_images,
        "cni_images_pulled_by_nodes": [i for i in cni_images if i not in local],
        "nodes": list(nodes),
        "probe_image": image,
        "encapsulation": profile.encapsulation,
        "overhead_bytes": profile.overhead_bytes,
        # extra NetworkPolicy deadline for label changes, and why (the CNI's design)
        "netpol_label_change_s": profile.netpol_timing.label_change_s,
        "netpol_label_change_why": profile.netpol_timing.why or None,
        "runs_without": [
            {"image": o.image, "what": o.what, "capability": str(o.capability)} for o in without
        ],
        # asked for by the chart, outside the nodes' bounding set: dropped so the pods start
        "capabilities_dropped": trimmed_capabilities(profile, host, artifacts)[1],
        "cni_chart": None if host.local_chart is None else _chart_record(host.local_chart),
        # the comparison's complexity: what the run creates beside the CNI's own manifests
        "objects": {"workloads": len(workloads)},
        "images": [*cni_images, image],
    }
    plan = RenderedPlan(
        platform,
        cluster,
        run_id,
        tuple(files),
        tuple(cluster_steps),
        tuple(run_steps),
        tuple(delete_steps(cluster)),
        info,
    )
    write_steps(out, plan)
    return plan


def _chart_record(path: Path) -> dict[str, str]:
    """A local chart is installed as given: its digest is recorded for the report, since no
    pin vouches for it."""
    return {"path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def render_cluster(
    run_id: str,
    out: Path,
    nodes: Sequence[str],
    image: str,
    dns_ip: str,
    cluster_domain: str = "cluster.local",
    cases: Sequence[Case] | None = None,
) -> RenderedPlan:
    """An existing cluster: only the run's workloads and policies, in labelled namespaces."""
    work = Workdir(out)
    spec = WorkloadSpec(run_id, tuple(nodes), image, dns_ip, cluster_domain)
    files = [_write(work.workloads, manifests.dump_all(all_objects(spec)))]
    files += render_policies(
        out, netpol_binding(spec), load_catalogue() if cases is None else cases
    )
    teardown = [
        Step(
            Phase.DELETE,
            kubectl(
                work,
                "delete",
                "namespace",
                *spec.namespaces(),
                "--ignore-not-found",
                "--wait=false",
            ),
            "delete the run's namespaces",
        )
    ]
    plan = RenderedPlan(
        "cluster",
        None,
        run_id,
        tuple(files),
        (),
        tuple(deploy_steps(work, run_id)),
        tuple(teardown),
        {"nodes": list(nodes), "probe_image": image},
    )
    write_steps(out, plan)
    return plan


def write_steps(out: Path, plan: RenderedPlan) -> None:
    lines = [
        "#!/bin/sh",
        f"# netconform plan: platform {plan.platform}, run {plan.run_id}",
        "# The commands provisioning runs, in order; teardown last.",
        "set -e",
    ]
    for step in (*plan.steps, *plan.teardown):
        retry = f" (retried up to {step.retry_s:.0f}s)" if step.retry_s else ""
        lines += [f"# [{step.phase}] {step.why}{retry}", step.shell()]
    _write(out / "steps.sh", "\n".join(lines) + "\n")
    summary = {
        "platform": plan.platform,
        "cluster": plan.cluster,
        "run_id": plan.run_id,
        "info": plan.info,
        "files": sorted(str(f.relative_to(out)) for f in plan.files),
        "steps": [
            {"phase": str(s.phase), "why": s.why, "argv": list(s.argv), "retry_s": s.retry_s}
            for s in (*plan.steps, *plan.teardown)
        ],
    }
    _write(out / "plan.json", json.dumps(summary, indent=2) + "\n")


def reference_copies(profile: CniProfile) -> dict[str, str]:
    return {a.url: a.reference_copy for a in profile.artifacts if a.reference_copy}
