"""Platforms kind-flannel, kind-calico and kind-cilium: a kind cluster (1 control plane +
2 workers) with a pinned CNI, the run's workloads, and the context Kubernetes checks use.

Lifecycle: preflight (tools on PATH, a Docker daemon) -> provision (reuse a cluster a
previous run kept, else remove a leftover one and create, install, wait; then deploy and
wait) -> checks (any process, via the Handle) -> teardown (delete unless --keep). Anything
failing or interrupted inside provision tears down what it made before re-raising."""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from netconform.errors import InputError, said_not_raised
from netconform.k8s import diagnostics, images, install, plan, profiles
from netconform.k8s.context import KubeContext
from netconform.k8s.kindcluster import KindClusters
from netconform.k8s.kube import KubeApi
from netconform.k8s.params import KubeParams
from netconform.k8s.tools import Runner, SubprocessRunner, require_docker_daemon, require_tools
from netconform.k8s.workloads import MANAGED_BY, WorkloadSpec
from netconform.lab.image import ensure_built
from netconform.platforms.base import Capabilities, Handle, Platform
from netconform.progress import NoProgress, Progress

KIND_PLATFORMS = {"kind-flannel": "flannel", "kind-calico": "calico", "kind-cilium": "cilium"}


def state_root() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "netconform" / "kind"


class KindPlatform:
    family = "kubernetes"

    def __init__(
        self,
        name: str,
        keep: bool = False,
        progress: Progress | None = None,
        runner: Runner | None = None,
        artifacts: plan.Artifacts | None = None,
        state_dir: Path | None = None,
        run_id: str | None = None,
        node_image: str | None = None,
        offline: bool = False,
        diagnostics_dir: Path | None = None,
    ) -> None:
        if name not in KIND_PLATFORMS:
            raise InputError(
                f"unknown kind platform {name!r}: expected {', '.join(KIND_PLATFORMS)}"
            )
        self.name = name
        self.keep = keep
        self.profile = profiles.load_profile(KIND_PLATFORMS[name])
        self.progress = progress or NoProgress()
        self.runner = runner or SubprocessRunner()
        self.artifacts = artifacts or self._artifacts_from_env()
        self.cluster = plan.cluster_name(name)
        self.work = install.Workdir((state_dir or state_root()) / self.cluster)
        self.run_id = run_id or uuid.uuid4().hex[:6]
        self.node_image = node_image or os.environ.get("NETCONFORM_KIND_NODE_IMAGE") or None
        self.offline = offline or os.environ.get("NETCONFORM_OFFLINE", "") not in ("", "0")
        self.diagnostics_dir = diagnostics_dir
        self._owns_cluster = False  # this run created or took over the cluster

    def _artifacts_from_env(self) -> plan.Artifacts:
        """NETCONFORM_ARTIFACTS: a directory holding the pinned files (verified by sha256
        all the same), for machines that cannot download them; else they are downloaded."""
        directory = os.environ.get("NETCONFORM_ARTIFACTS")
        if directory:
            return plan.directory_source(Path(directory), plan.reference_copies(self.profile))
        return plan.artifact_source()

    def preflight(self) -> None:
        needed = ["docker", "kind", "kubectl"] + (["helm"] if self.profile.helm else [])
        require_tools(needed, self.name)
        require_docker_daemon(self.runner, self.name)

    def provision(self) -> Handle:
        try:
            return self._provision()
        except BaseException as exc:  # failures and Ctrl-C alike: leave nothing half-made
            if self._owns_cluster and not isinstance(exc, KeyboardInterrupt):
                with said_not_raised("collecting diagnostics after the failed provisioning"):
                    self.collect_diagnostics()
            with said_not_raised("teardown after the failed provisioning"):
                self.teardown()
            raise

    def collect_diagnostics(self, out: Path | None = None) -> list[Path]:
        """Pods, events, node conditions and the CNI pods' logs, into the results directory
        (diagnostics/), for a person debugging a failed provisioning or check."""
        target = out or self.diagnostics_dir
        if target is None or not self.work.kubeconfig.exists():
            return []
        self.progress.step(f"collecting cluster diagnostics into {target}")
        return diagnostics.collect(
            self.runner, str(self.work.kubeconfig), target, self.profile.namespaces
        )

    def inspect_host(self) -> plan.KindHost:
        """What the machine has, found before anything is created: the Docker host's cgroup
        version, the node image and which images are local. With --offline a missing image
        is exit 3 here, naming it."""
        info = self.runner.run(("docker", "info", "--format", "{{.CgroupVersion}}"), timeout_s=60)
        cgroup_v1 = info.stdout.strip() == "1"
        config, _ = profiles.load_kind_config(profiles.kind_config_path(self.profile))
        node_image = self.node_image or (config.nodes[0].image if config.nodes else None)
        probe_tag = plan.probe_image_tag()
        # the probe image is not looked for: netconform builds it offline when absent
        wanted = [node_image] if node_image else []
        draft = plan.render_kind(
            self.name, self.profile, self.run_id, self.work.root, self.artifacts,
            include_binaries=False, host=plan.KindHost(node_image=node_image),
        )  # fmt: skip
        wanted += [i for i in draft.info["cni_images"] if i not in wanted]
        local = images.plan_images(self.runner, wanted, self.offline, self.name).local
        probe_present = images.present_locally(self.runner, probe_tag)
        plugins = self.profile.node_plugins.plugins if self.profile.node_plugins else ()
        return plan.KindHost(
            node_image=node_image,
            cgroup_v1=cgroup_v1,
            local_images=frozenset(local),
            node_plugins_present=bool(node_image)
            and images.node_has_plugins(self.runner, str(node_image), plugins),
            probe_image_present=probe_present,
        )

    def _provision(self) -> Handle:
        host = self.inspect_host()  # exit 3 for a missing offline image, before anything
        if not host.probe_image_present:
            self.progress.step("building the probe image (offline Debian recipe, cached)")
            ensure_built(plan.probe_recipe())
        clusters = KindClusters(self.runner)
        key = install.profile_key(self.profile.cni, self.profile.version)
        reuse = False
        if self.cluster in clusters.names():
            self._owns_cluster = True
            if (
                clusters.export_kubeconfig(self.cluster, self.work)
                and clusters.ready_profile(self.work) == key
            ):
                self.progress.step(f"reusing kind cluster {self.cluster} (kept by an earlier run)")
                reuse = True
            else:
                self.progress.step(f"removing {self.cluster}, left unfinished by an earlier run")
                clusters.delete(self.cluster)
        self.progress.step(f"rendering the plan into {self.work.root}")
        rendered = plan.render_kind(
            self.name,
            self.profile,
            self.run_id,
            self.work.root,
            self.artifacts,
            include_binaries=not reuse,
            host=host,
        )
        if reuse:
            stale = install.Step(
                install.Phase.DEPLOY,
                install.kubectl(
                    self.work,
                    "delete",
                    "namespace",
                    "-l",
                    f"{MANAGED_BY}=netconform",
                    "--wait=false",
                ),
                "remove namespaces of earlier runs",
            )
            install.run_steps([stale], self.runner, self.progress)
        else:
            self._owns_cluster = True
            install.run_steps(rendered.cluster_steps, self.runner, self.progress)
        install.run_steps(rendered.run_steps, self.runner, self.progress)
        info = {**rendered.info, **self._versions()}
        caps = self.profile.capabilities
        data = {
            "kubeconfig": str(self.work.kubeconfig),
            "context": None,
            "cluster": self.cluster,
            "run_id": self.run_id,
            "nodes": info["nodes"],
            "image": info["probe_image"],
            "cluster_dns_ip": plan.cluster_dns_ip(info["service_subnet"]),
            "cluster_domain": "cluster.local",
            "capabilities": sorted(caps.available),
            "missing": dict(caps.missing),
            "info": info,
        }
        return Handle(self.name, data)

    def _versions(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind_cluster": self.cluster}
        result = self.runner.run(install.kubectl(self.work, "version", "-o", "json"), timeout_s=60)
        with contextlib.suppress(ValueError, KeyError, TypeError):
            out["kubernetes"] = json.loads(result.stdout)["serverVersion"]["gitVersion"]
        mtu = self.runner.run(
            [
                "docker",
                "network",
                "inspect",
                "kind",
                "-f",
                '{{index .Options "com.docker.network.driver.mtu"}}',
            ],
            timeout_s=30,
        )
        value = mtu.stdout.strip()
        out["underlay_mtu"] = int(value) if value.isdigit() else 1500  # unset: Docker's 1500
        return out

    def teardown(self) -> None:
        if self.keep:
            if self._owns_cluster:
                self.progress.step(f"keeping kind cluster {self.cluster} (--keep)")
            return
        if self._owns_cluster:
            self.progress.step(f"deleting kind cluster {self.cluster}")
            install.run_steps(install.delete_steps(self.cluster), self.runner, self.progress)
            self._owns_cluster = False


def spec_from_handle(handle: Handle) -> WorkloadSpec:
    data = handle.data
    return WorkloadSpec(
        run_id=data["run_id"],
        nodes=tuple(data["nodes"]),
        image=data["image"],
        cluster_dns_ip=data["cluster_dns_ip"],
        cluster_domain=data.get("cluster_domain", "cluster.local"),
    )


def context_from_handle(handle: Handle, params: KubeParams | None = None) -> KubeContext:
    """The checks' context in any process (xdist workers attach with the Handle)."""
    data = handle.data
    caps = Capabilities(frozenset(data["capabilities"]), dict(data.get("missing", {})))
    api = KubeApi(data["kubeconfig"], data.get("context"))
    return KubeContext(api, spec_from_handle(handle), caps, data.get("info", {}), params)


@contextlib.contextmanager
def running(platform: Platform) -> Iterator[Handle]:
    """preflight -> provision -> (the caller's checks) -> teardown, also on failure and
    Ctrl-C; the same order the CLI and the pytest plugin drive."""
    platform.preflight()
    handle = platform.provision()
    try:
        yield handle
    finally:
        platform.teardown()
