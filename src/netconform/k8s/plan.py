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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netconform.k8s import manifests
from netconform.k8s.cnis import CniRender, installer_for
from netconform.k8s.cnis.base import pinned, write_file
from netconform.k8s.download import Fetch, fetch_url, fetch_verified, verify
from netconform.k8s.install import (
    Phase,
    Step,
    Workdir,
    cluster_ready_steps,
    create_steps,
    delete_steps,
    deploy_steps,
    kubectl,
    load_image_steps,
    mark_ready_step,
    node_plugin_steps,
    probe_image_steps,
    profile_key,
)
from netconform.k8s.kindcluster import CLUSTER_PREFIX
from netconform.k8s.kindhost import Artifacts, KindHost, absent_optional
from netconform.k8s.netpol_binding import NetpolBinding
from netconform.k8s.profiles import CniProfile, kind_config_path, load_kind_config
from netconform.k8s.workloads import (
    MANAGED_BY,
    NAMESPACE_PREFIX,
    ROLE_LABEL,
    RUN_ANNOTATION,
    RUN_LABEL,
    WorkloadSpec,
    all_objects,
)
from netconform.lab.image import ImageRecipe, host_suite
from netconform.netpol.catalogue import Case, CreatePolicy, UpdatePolicy, load_catalogue


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
        cluster_policy_prefix=f"{NAMESPACE_PREFIX}{spec.run_id}-l{lane}",
        cluster_policy_annotations={RUN_ANNOTATION: spec.run_id},
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
            from netconform.netpol.catalogue import case_manifest

            docs = [binding.policy(case_manifest(m, step.cluster)) for m in raw]
            slug = "".join(c if c.isalnum() or c == "-" else "-" for c in step.step.name)[:40]
            path = out / "netpol" / case.id / f"{n:02d}-{slug}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(manifests.dump_all(docs))
            written.append(path)
    return written


def render_node_plugins(profile: CniProfile, work: Workdir, artifacts: Artifacts) -> list[Path]:
    """The standard CNI plugins the profile copies onto the nodes, from the pinned archive."""
    if profile.node_plugins is None:
        return []
    import platform as machine

    arch = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine.machine(), "amd64")
    ref = profile.node_plugins.archives[arch]  # type: ignore[index]
    return extract_plugins(
        artifacts(ref.url, ref.sha256), profile.node_plugins.plugins, work.node_plugins
    )


def render_crds(profile: CniProfile, work: Workdir, artifacts: Artifacts) -> list[Path]:
    """The CRDs the profile applies before its CNI (verified pinned files)."""
    return [
        write_file(work.cni / f"crd-{name}.yaml", pinned(profile, artifacts, name))
        for name in profile.crds
    ]


def crd_steps(profile: CniProfile, work: Workdir) -> list[Step]:
    """Applied server-side (a CRD is too large for the last-applied annotation), then waited
    for until the API server serves it, so the CNI finds it at its first start."""
    steps = []
    for name in profile.crds:
        path = str(work.cni / f"crd-{name}.yaml")
        steps += [
            Step(
                Phase.INSTALL,
                kubectl(work, "apply", "--server-side", "-f", path),
                f"apply the CRDs of {name}",
            ),
            Step(
                Phase.WAIT,
                kubectl(work, "wait", "--for=condition=Established", "-f", path, "--timeout=60s"),
                f"wait until the API server serves {name}",
            ),
        ]
    return steps


def cni_images(profile: CniProfile, artifacts: Artifacts, host: KindHost) -> list[str]:
    """Every image the CNI runs, less the optional ones it runs without here."""
    images = installer_for(profile).images(profile, artifacts)
    return [i for i in images if i not in host.absent_optional]


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
    files = [write_file(work.kind_config, manifests.dump(raw))]
    copy_plugins = not host.node_plugins_present
    installer = installer_for(profile)
    job = CniRender(
        profile, config.networking.podSubnet, cluster, work, artifacts, include_binaries, host
    )
    rendered_cni = installer.render(job)
    files += rendered_cni.files
    files += render_crds(profile, work, artifacts)
    if include_binaries and copy_plugins:
        files += render_node_plugins(profile, work, artifacts)
    images = [i for i in rendered_cni.images if i not in host.absent_optional]
    without = absent_optional(profile, host)
    local = [i for i in images if host.local_images is None or i in host.local_images]
    image = probe_image or probe_image_tag()
    spec = WorkloadSpec(run_id, nodes, image, cluster_dns_ip(config.networking.serviceSubnet))
    workloads = all_objects(spec)
    files.append(write_file(work.workloads, manifests.dump_all(workloads)))
    binding = netpol_binding(spec)
    files += render_policies(out, binding, load_catalogue() if cases is None else cases)
    cluster_steps = [
        *create_steps(cluster, work),
        *load_image_steps(local, cluster),
        *(node_plugin_steps(profile, nodes, work) if copy_plugins else []),
        *crd_steps(profile, work),
        *installer.install_steps(profile, work, [o.rollout for o in without if o.rollout]),
        *cluster_ready_steps(work),
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
        "cni_install": str(profile.install),
        "pod_subnet": config.networking.podSubnet,
        "service_subnet": config.networking.serviceSubnet,
        "kube_proxy_mode": config.networking.kubeProxyMode,
        "node_image": raw["nodes"][0].get("image") if raw.get("nodes") else None,
        "cgroup_v1_host": host.cgroup_v1,
        "kubelet_fail_cgroup_v1": not host.cgroup_v1,
        "cni_images": images,
        "cni_images_pulled_by_nodes": [i for i in images if i not in local],
        "nodes": list(nodes),
        "probe_image": image,
        "encapsulation": profile.encapsulation,
        "overhead_bytes": profile.overhead_bytes,
        "cni_mtu": profile.mtu,  # None: the CNI derives it from the node interface
        # extra NetworkPolicy deadline for label changes, and why (the CNI's design)
        "netpol_label_change_s": profile.netpol_timing.label_change_s,
        "netpol_label_change_why": profile.netpol_timing.why or None,
        "runs_without": [
            {"image": o.image, "what": o.what, "capability": str(o.capability)} for o in without
        ],
        "capabilities_dropped": {},
        **rendered_cni.facts,
        "cni_chart": None if host.local_chart is None else _chart_record(host.local_chart),
        # the comparison's complexity: what the run creates beside the CNI's own manifests
        "objects": {"workloads": len(workloads)},
        "images": [*images, image],
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
    mesh_nodes: Sequence[str] = (),
) -> RenderedPlan:
    """An existing cluster: only the run's workloads and policies, in labelled namespaces."""
    work = Workdir(out)
    spec = WorkloadSpec(
        run_id, tuple(nodes), image, dns_ip, cluster_domain, mesh_nodes=tuple(mesh_nodes)
    )
    files = [write_file(work.workloads, manifests.dump_all(all_objects(spec)))]
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
    write_file(out / "steps.sh", "\n".join(lines) + "\n")
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
    write_file(out / "plan.json", json.dumps(summary, indent=2) + "\n")


def reference_copies(profile: CniProfile) -> dict[str, str]:
    return {a.url: a.reference_copy for a in profile.artifacts if a.reference_copy}
