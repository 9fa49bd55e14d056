"""Platforms kind-flannel, kind-calico and kind-cilium: a kind cluster (1 control plane +
2 workers) with a pinned CNI, the run's workloads, and the context Kubernetes checks use.

Lifecycle: preflight (tools on PATH, a Docker daemon) -> provision (reuse a cluster a
previous run kept, else remove a leftover one and create, install, wait; then deploy and
wait) -> checks (any process, via the Handle) -> teardown (delete unless --keep). Anything
failing or interrupted inside provision tears down what it made before re-raising."""

from __future__ import annotations

import contextlib
import json
import uuid
from pathlib import Path
from typing import Any

from netconform.core import Capabilities
from netconform.errors import said_not_raised
from netconform.k8s import install, plan, profiles
from netconform.k8s.handle import KubeHandle
from netconform.k8s.kindcluster import KindClusters
from netconform.k8s.tools import Runner, SubprocessRunner, require_docker_daemon, require_tools
from netconform.k8s.workloads import MANAGED_BY
from netconform.progress import NoProgress, Progress
from netconform.settings import Settings
from netconform.vocab import Family


def state_root(settings: Settings | None = None) -> Path:
    return (settings or Settings.from_env()).state_home / "netconform" / "kind"


class KindPlatform:
    """`kind-<cni>`: the CNI's pinned profile (fixtures/cni/<cni>.yaml) on a kind cluster."""

    family = Family.KUBERNETES

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
    ) -> None:
        self.name = name
        self.keep = keep
        self.profile = profiles.load_profile(name.removeprefix("kind-"))
        # --node-image / NETCONFORM_KIND_NODE_IMAGE, else the profile's kind config's
        self.node_image = node_image or profiles.kind_node_image(self.profile)
        self.offline = offline  # --offline / NETCONFORM_OFFLINE
        self.progress = progress or NoProgress()
        self.runner = runner or SubprocessRunner()
        self.artifacts = artifacts or plan.artifact_source()
        self.cluster = plan.cluster_name(name)
        self.work = install.Workdir((state_dir or state_root()) / self.cluster)
        self.run_id = run_id or uuid.uuid4().hex[:6]
        self._owns_cluster = False  # this run created or took over the cluster

    def prepare_host(self) -> None:
        """Nothing: the tools and the Docker daemon are the user's to install."""

    def preflight(self) -> None:
        needed = ["docker", "kind", "kubectl"] + (["helm"] if self.profile.helm else [])
        require_tools(needed, self.name)
        require_docker_daemon(self.runner, self.name)

    def provision(self) -> KubeHandle:
        try:
            return self._provision()
        except BaseException:  # failures and Ctrl-C alike: leave nothing half-made behind
            with said_not_raised("teardown after the failed provisioning"):
                self.teardown()
            raise

    def _provision(self) -> KubeHandle:
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
        return KubeHandle(
            self.name,
            str(self.work.kubeconfig),
            self.run_id,
            tuple(info["nodes"]),
            info["probe_image"],
            plan.cluster_dns_ip(info["service_subnet"]),
            Capabilities(frozenset(caps.available), caps.missing),
            info,
            cluster=self.cluster,
        )

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
