"""Platform `cluster`: the same suite on a cluster the user already has (a kubeconfig and
context). Everything the run creates lives in namespaces named and labelled with the run id;
teardown deletes exactly those, and nothing else is ever touched."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

from netconform.errors import EnvironmentUnfit, said_not_raised
from netconform.k8s import install, plan
from netconform.k8s.kube import KubeApi
from netconform.k8s.tools import Runner, SubprocessRunner, require_tools
from netconform.k8s.workloads import WorkloadSpec
from netconform.platforms.base import Handle
from netconform.platforms.kind import state_root
from netconform.progress import NoProgress, Progress

NODES_USED = 3
CLUSTER_CAPABILITIES = ("networkpolicy", "nodeport", "hostnetwork", "icmp")
CLUSTER_MISSING = {
    "sctp": "the probe agent has no SCTP probe yet",
    "l7-policy": "the cluster's CNI is unknown; L7 policy checks need a CNI profile",
}


class ClusterPlatform:
    """NETCONFORM_KUBECONFIG (else KUBECONFIG, else ~/.kube/config), NETCONFORM_KUBE_CONTEXT,
    and NETCONFORM_PROBE_IMAGE: the probe image (netconform/probe, the Debian recipe of
    lab/image.py) pushed where the cluster can pull it."""

    name = "cluster"
    family = "kubernetes"

    def __init__(
        self,
        keep: bool = False,
        progress: Progress | None = None,
        runner: Runner | None = None,
        state_dir: Path | None = None,
        run_id: str | None = None,
        api_factory: Callable[[str], KubeApi] | None = None,
    ) -> None:
        self.keep = keep
        self.progress = progress or NoProgress()
        self.runner = runner or SubprocessRunner()
        default = os.environ.get("KUBECONFIG", str(Path.home() / ".kube" / "config"))
        self.kubeconfig = os.environ.get("NETCONFORM_KUBECONFIG", default).split(os.pathsep)[0]
        self.context = os.environ.get("NETCONFORM_KUBE_CONTEXT") or None
        self.image = os.environ.get("NETCONFORM_PROBE_IMAGE", "")
        self.run_id = run_id or uuid.uuid4().hex[:6]
        self.work = install.Workdir((state_dir or state_root().parent / "cluster") / self.run_id)
        self._teardown: tuple[install.Step, ...] = ()
        self._api_factory = api_factory or KubeApi

    def preflight(self) -> None:
        require_tools(["kubectl"], self.name)
        if not Path(self.kubeconfig).is_file():
            raise EnvironmentUnfit(
                f"platform cluster needs a kubeconfig: {self.kubeconfig} does not exist "
                "(set NETCONFORM_KUBECONFIG or KUBECONFIG)"
            )
        if not self.image:
            raise EnvironmentUnfit(
                "platform cluster needs NETCONFORM_PROBE_IMAGE: the probe image "
                "(netconform/probe, lab/image.py recipe) in a registry the cluster can pull from"
            )

    def provision(self) -> Handle:
        try:
            return self._provision()
        except BaseException:
            with said_not_raised("teardown after the failed provisioning"):
                self.teardown()
            raise

    def _provision(self) -> Handle:
        # One self-contained kubeconfig for this run: every command names it, no context flag.
        self.work.root.mkdir(parents=True, exist_ok=True)
        argv = [
            "kubectl",
            "--kubeconfig",
            self.kubeconfig,
            "config",
            "view",
            "--minify",
            "--flatten",
            *(["--context", self.context] if self.context else []),
        ]
        view = self.runner.run(argv, timeout_s=60)
        if view.returncode != 0:
            raise EnvironmentUnfit(f"cannot read kubeconfig {self.kubeconfig}: {view.tail()}")
        self.work.kubeconfig.write_text(view.stdout)
        api = self._api_factory(str(self.work.kubeconfig))
        try:
            nodes = api.schedulable_nodes()[:NODES_USED]
            dns_ip = api.cluster_dns_ip()
        finally:
            api.close()
        if len(nodes) < 2:
            raise EnvironmentUnfit(
                f"platform cluster needs 2+ schedulable Linux nodes, found {nodes}"
            )
        rendered = plan.render_cluster(self.run_id, self.work.root, nodes, self.image, dns_ip)
        self._teardown = rendered.teardown
        install.run_steps(rendered.run_steps, self.runner, self.progress)
        spec = WorkloadSpec(self.run_id, tuple(nodes), self.image, dns_ip)
        data = {
            "kubeconfig": str(self.work.kubeconfig),
            "context": None,
            "cluster": None,
            "run_id": self.run_id,
            "nodes": list(spec.nodes),
            "image": self.image,
            "cluster_dns_ip": dns_ip,
            "cluster_domain": spec.cluster_domain,
            "capabilities": sorted(CLUSTER_CAPABILITIES),
            "missing": dict(CLUSTER_MISSING),
            "info": {**rendered.info, "namespaces": spec.namespaces()},
        }
        return Handle(self.name, data)

    def teardown(self) -> None:
        if self.keep or not self._teardown:
            return
        self.progress.step("deleting the run's namespaces")
        install.run_steps(self._teardown, self.runner, self.progress)
        self._teardown = ()
