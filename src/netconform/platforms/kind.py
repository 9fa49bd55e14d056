"""Platforms kind-flannel, kind-calico and kind-cilium: a kind cluster (1 control plane +
2 workers) with a pinned CNI, the run's workloads, and the context Kubernetes checks use.

Lifecycle: preflight (tools on PATH, a Docker daemon) -> provision (reuse a cluster a
previous run kept, else remove a leftover one and create, install, wait; then deploy and
wait) -> checks (any process, via the Handle) -> teardown (delete unless --keep). Anything
failing or interrupted inside provision tears down what it made before re-raising."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import shutil
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from netconform.errors import EnvironmentUnfit, NetconformError, said_not_raised
from netconform.k8s import (
    capabilities,
    diagnostics,
    external_target,
    images,
    install,
    leftovers,
    manifests,
    plan,
    profiles,
)
from netconform.k8s.cni_status import reported_capabilities
from netconform.k8s.cnis import installer_for
from netconform.k8s.cnis.base import write_file
from netconform.k8s.facts import CniFacts
from netconform.k8s.handle import KubeHandle
from netconform.k8s.kindcluster import KindClusters
from netconform.k8s.kindhost import Artifacts, KindHost
from netconform.k8s.tools import Runner, SubprocessRunner, require_docker_daemon, require_tools
from netconform.k8s.workloads import MANAGED_BY, WorkloadSpec
from netconform.lab.image import ensure_built
from netconform.owner import LocalProcesses, Processes, ProcessOwner
from netconform.polling import Clock, Sleep
from netconform.progress import NoProgress, Progress
from netconform.settings import Settings
from netconform.vocab import Family


def state_root(settings: Settings | None = None) -> Path:
    return (settings or Settings.from_env()).state_home / "netconform" / "kind"


KIND_NETWORK = "kind"


def _in_subnet(destination: str, subnet: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    try:
        return ipaddress.ip_network(destination, strict=False).subnet_of(subnet)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return False  # the docker network kind puts every cluster's nodes on


class KindPlatform:
    """`kind-<cni>`: the CNI's pinned profile (fixtures/cni/<cni>.yaml) on a kind cluster."""

    family = Family.KUBERNETES

    def __init__(
        self,
        name: str,
        keep: bool = False,
        progress: Progress | None = None,
        runner: Runner | None = None,
        artifacts: Artifacts | None = None,
        state_dir: Path | None = None,
        run_id: str | None = None,
        node_image: str | None = None,
        offline: bool = False,
        diagnostics_dir: Path | None = None,
        artifacts_dir: Path | None = None,
        local_chart: Path | None = None,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        docker_host: str | None = None,
        processes: Processes | None = None,
    ) -> None:
        self.name = name
        self.keep = keep
        self.profile = profiles.load_profile(name.removeprefix("kind-"))
        # --node-image / NETCONFORM_KIND_NODE_IMAGE, else the profile's kind config's
        self.node_image = node_image or profiles.kind_node_image(self.profile)
        self.offline = offline  # --offline / NETCONFORM_OFFLINE
        self.local_chart = local_chart  # NETCONFORM_CILIUM_CHART: installed instead of the pin
        self.progress = progress or NoProgress()
        self.runner = runner or SubprocessRunner()
        # the install's waits and retries (tests pass fakes: a window passes at once)
        self.clock: Clock = clock or time.monotonic
        self.sleep: Sleep = sleep or time.sleep
        self.artifacts = artifacts or self._artifacts_from(artifacts_dir)
        self.cluster = plan.cluster_name(name)
        self.work = install.Workdir((state_dir or state_root()) / self.cluster)
        self.run_id = run_id or uuid.uuid4().hex[:6]
        self.diagnostics_dir = diagnostics_dir
        self._owns_cluster = False  # this run created or took over the cluster
        self._made_kind_network = False  # kind's docker network did not exist before this run
        # DOCKER_HOST: the daemon of the nodes, where the external targets run too
        self.docker_host = Settings.from_env().docker_host if docker_host is None else docker_host
        self.processes = processes or LocalProcesses()
        self._targets_started = False  # external target containers of this run may exist

    def _artifacts_from(self, directory: Path | None) -> Artifacts:
        """NETCONFORM_ARTIFACTS: a directory holding the pinned files (verified by sha256
        all the same), for machines that cannot download them; else they are downloaded."""
        if directory is not None:
            return plan.directory_source(directory, plan.reference_copies(self.profile))
        return plan.artifact_source()

    def prepare_host(self) -> None:
        """Nothing: the tools and the Docker daemon are the user's to install."""

    def preflight(self) -> None:
        needed = ["docker", "kind", "kubectl", *installer_for(self.profile).tools]
        require_tools(needed, self.name)
        require_docker_daemon(self.runner, self.name)

    def provision(self) -> KubeHandle:
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

    def inspect_host(self) -> KindHost:
        """What the machine has, found before anything is created: the Docker host's cgroup
        version, the node image and which images are local. With --offline a missing image
        is exit 3 here, naming it."""
        info = self.runner.run(("docker", "info", "--format", "{{.CgroupVersion}}"), timeout_s=60)
        cgroup_v1 = info.stdout.strip() == "1"
        node_image = self.node_image
        probe_tag = plan.probe_image_tag()
        # the probe image is not looked for: netconform builds it offline when absent
        wanted = [node_image] if node_image else []
        self.require_pinned_files()
        optional = {o.image for o in self.profile.optional_images}
        cni_images = plan.cni_images(self.profile, self.artifacts, KindHost(node_image=node_image))
        wanted += [i for i in cni_images if i not in wanted and i not in optional]
        local = images.plan_images(self.runner, wanted, self.offline, self.name).local
        # offline, an optional image that is not local is done without (the nodes can't pull)
        absent = frozenset(
            i for i in optional if self.offline and not images.present_locally(self.runner, i)
        )
        probe_present = images.present_locally(self.runner, probe_tag)
        plugins = self.profile.node_plugins.plugins if self.profile.node_plugins else ()
        return KindHost(
            node_image=node_image,
            cgroup_v1=cgroup_v1,
            local_images=frozenset(local),
            node_plugins_present=bool(node_image)
            and images.node_has_plugins(self.runner, str(node_image), plugins),
            probe_image_present=probe_present,
            absent_optional=absent,
            local_chart=self.local_chart,
            node_capabilities=capabilities.node_bounding_set(self.runner, node_image)
            if node_image
            else None,
        )

    def require_pinned_files(self) -> None:
        """Every pinned file the install reads, had (and verified) before anything is made:
        exit 3 naming each one missing and how to provide it."""
        helm = self.profile.helm
        local = {helm.chart_artifact} if helm is not None and self.local_chart else set()
        missing = []
        for art in self.profile.artifacts:
            if art.name in local:
                continue
            try:
                self.artifacts(art.url, art.sha256)
            except (FileNotFoundError, EnvironmentUnfit):
                missing.append(art.url.rsplit("/", 1)[-1])
        if missing:
            raise EnvironmentUnfit(
                f"platform {self.name}: the pinned file{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)} cannot be had here (no download, not in "
                "NETCONFORM_ARTIFACTS): put them, as named, in a directory and set "
                "NETCONFORM_ARTIFACTS to it (each is checked against its sha256)"
            )

    def _provision(self) -> KubeHandle:
        existed = self.work.root.exists()
        try:
            host = self.inspect_host()  # exit 3 for a missing offline image, before anything
        except NetconformError:
            if not existed:  # the draft plan it rendered to list the images: not left behind
                shutil.rmtree(self.work.root, ignore_errors=True)
            raise
        if not host.probe_image_present:
            self.progress.step("building the probe image (offline Debian recipe, cached)")
            ensure_built(plan.probe_recipe())
        clusters = KindClusters(self.runner)
        network = self.runner.run(("docker", "network", "inspect", KIND_NETWORK), timeout_s=60)
        self._made_kind_network = network.returncode != 0
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
            self._run_steps([stale])
        else:
            self._owns_cluster = True
            self._run_steps(rendered.cluster_steps)
        self._run_steps(rendered.run_steps)
        targets = self._start_external_targets(rendered.info["probe_image"])
        spec = WorkloadSpec(
            self.run_id,
            tuple(rendered.info["nodes"]),
            rendered.info["probe_image"],
            plan.cluster_dns_ip(rendered.info["service_subnet"]),
        )
        write_file(
            external_target.objects_file(self.work),
            manifests.dump_all(external_target.objects(spec)),
        )
        self._run_steps(external_target.deploy_steps(self.work, self.run_id))
        info = {**rendered.info, **self._versions(), **targets}
        info["node_routes"] = self._pod_routes(info["nodes"], info["pod_subnet"])
        info["kube_proxy_pods_ready"] = self._kube_proxy_pods()
        caps = reported_capabilities(self.runner, self.work, self.profile, host)
        info["capabilities_reported"] = caps.reported
        return KubeHandle(
            self.name,
            str(self.work.kubeconfig),
            self.run_id,
            tuple(info["nodes"]),
            info["probe_image"],
            plan.cluster_dns_ip(info["service_subnet"]),
            caps.capabilities,
            info,
            cluster=self.cluster,
            facts=CniFacts.of(self.profile),
        )

    def _start_external_targets(self, image: str) -> dict[str, Any]:
        """Target A (world) and B (metadata stand-in) on the kind network, outside the
        cluster (k8s/external_target.py), after removing those of runs that are gone. A
        target that cannot start does not stop the run: its checks say why."""
        docker = external_target.docker(self.docker_host)
        try:
            for line in leftovers.clean_containers(
                self.runner,
                self.processes,
                external_target.TARGET_LABEL,
                external_target.OWNER_LABEL,
                docker,
            ):
                self.progress.step(f"external targets of earlier runs: {line}")
        except EnvironmentUnfit as exc:
            self.progress.step(f"external targets of earlier runs left in place: {exc}")
        self.progress.step(f"starting the external targets on the {KIND_NETWORK} network")
        self._targets_started = True
        owner = ProcessOwner.current(self.processes)
        try:
            started = external_target.start(
                self.runner, self.run_id, image, owner, self.docker_host
            )
        except external_target.TargetsUnavailable as exc:
            self.progress.step(f"external targets unavailable: {exc}")
            return {external_target.INFO_KEY: [], external_target.INFO_UNAVAILABLE: str(exc)}
        return {external_target.INFO_KEY: [t.to_json() for t in started]}

    def _remove_external_targets(self) -> None:
        if not self._targets_started:
            return
        self.progress.step("removing the external targets")
        argv = external_target.remove_argv(self.run_id, self.docker_host)
        self.runner.run(argv, timeout_s=120)  # one never started is "no such container"
        self._targets_started = False

    def _run_steps(self, steps: Sequence[install.Step]) -> None:
        install.run_steps(steps, self.runner, self.progress, self.clock, self.sleep)

    def _pod_routes(self, nodes: list[str], pod_subnet: str) -> dict[str, list[str]]:
        """Each node's routes to the other nodes' pods and how they were learned (`proto bird`:
        over BGP; `dev vxlan.calico` or `flannel.1`: through the tunnel), as evidence of the
        CNI's routing mode; a node that cannot be read records why."""
        subnet = ipaddress.ip_network(pod_subnet)
        routes: dict[str, list[str]] = {}
        for node in nodes:
            shown = self.runner.run(("docker", "exec", node, "ip", "-4", "route"), timeout_s=30)
            if shown.returncode != 0:
                routes[node] = [f"unreadable: {shown.tail()}"]
                continue
            routes[node] = [
                line.strip()
                for line in shown.stdout.splitlines()
                if _in_subnet(line.split(" ", 1)[0], subnet) and " via " in line
            ]
        return routes

    def _kube_proxy_pods(self) -> int | None:
        """kube-proxy's ready pods once the CNI is up: 0 where the CNI serves the Services
        itself (Calico's eBPF dataplane turns kube-proxy off); None when unreadable."""
        shown = self.runner.run(
            install.kubectl(
                self.work,
                "-n",
                "kube-system",
                "get",
                "daemonset",
                "kube-proxy",
                "--ignore-not-found",
                "-o",
                "jsonpath={.status.numberReady}",
            ),
            timeout_s=60,
        )
        value = shown.stdout.strip()
        if shown.returncode != 0:
            return None
        return int(value) if value.isdigit() else 0  # no DaemonSet: no kube-proxy

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
            if self._targets_started:  # their owner ends with this run: the next removes them
                self.progress.step("keeping the external targets (--keep)")
            return
        self._remove_external_targets()  # before the kind network, which they are on
        if self._owns_cluster:
            self.progress.step(f"deleting kind cluster {self.cluster}")
            self._run_steps(install.delete_steps(self.cluster))
            self._owns_cluster = False
            if self._made_kind_network:
                # kind leaves its network behind; remove it when this run made it and
                # nothing else uses it (docker refuses to remove a network in use)
                self.runner.run(("docker", "network", "rm", KIND_NETWORK), timeout_s=60)
                self._made_kind_network = False
            shutil.rmtree(self.work.root, ignore_errors=True)
