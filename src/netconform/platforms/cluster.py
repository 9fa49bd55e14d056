"""Platform `cluster`: the same suite on a cluster the user already has (a kubeconfig and
context). Preflight asks the cluster whether the kubeconfig may do everything the run does
(k8s/access.py) before anything is created. Everything the run creates lives in namespaces
named nc-<run>-*, labelled with the run and annotated, at creation, with the run and its
owner process; a run first deletes what killed runs of this host left (k8s/leftovers.py),
and teardown deletes exactly its own namespaces and waits, bounded, until they are gone."""

from __future__ import annotations

import dataclasses
import functools
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from netconform.catalog.scenario import CniOverride
from netconform.core import Capabilities
from netconform.errors import EnvironmentUnfit, said_not_raised
from netconform.k8s import diagnostics, install, leftovers, manifests, mesh, plan
from netconform.k8s.access import require_access, user_kubectl
from netconform.k8s.cnis.base import write_file
from netconform.k8s.detect import detect, overridden
from netconform.k8s.external_target import INFO_KEY as EXTERNAL_TARGETS
from netconform.k8s.external_target import ExternalTarget, parse_option
from netconform.k8s.handle import KubeHandle
from netconform.k8s.kube import KubeApi
from netconform.k8s.tools import Runner, SubprocessRunner, require_tools
from netconform.k8s.workloads import WorkloadSpec, claimed_namespaces
from netconform.owner import LocalProcesses, Processes, ProcessOwner
from netconform.platforms.kind import state_root
from netconform.polling import Clock, Sleep
from netconform.progress import NoProgress, Progress
from netconform.settings import Settings
from netconform.vocab import Capability, Family

NODES_USED = 3
CLUSTER_CAPABILITIES = Capabilities(
    frozenset(
        {
            Capability.NETWORKPOLICY,
            Capability.NODEPORT,
            Capability.HOSTNETWORK,
            Capability.ICMP,
            Capability.HOST_PORT,
        }
    ),
    {
        Capability.SCTP: "the probe agent has no SCTP probe yet",
        Capability.L7_POLICY: "the cluster's CNI has no profile here; L7 policy checks need one",
    },
)


class ClusterPlatform:
    """NETCONFORM_KUBECONFIG (else KUBECONFIG, else ~/.kube/config), NETCONFORM_KUBE_CONTEXT,
    and NETCONFORM_PROBE_IMAGE: the probe image (netconform/probe, the Debian recipe of
    lab/image.py) pushed where the cluster can pull it."""

    name = "cluster"
    family = Family.KUBERNETES

    def __init__(
        self,
        keep: bool = False,
        progress: Progress | None = None,
        runner: Runner | None = None,
        state_dir: Path | None = None,
        run_id: str | None = None,
        api_factory: Callable[[str], KubeApi] | None = None,
        settings: Settings | None = None,
        processes: Processes | None = None,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        gone_deadline_s: float = leftovers.GONE_DEADLINE_S,
        external_target: ExternalTarget | None = None,
        mesh_size: int | None = None,
        cni_override: CniOverride | None = None,
    ) -> None:
        settings = settings or Settings.from_env()
        # --external-target (RunOptions), else NETCONFORM_EXTERNAL_TARGET: the external
        # checks' address outside the cluster; none, and they skip saying so
        if external_target is None and settings.external_target:
            external_target = parse_option(settings.external_target, "NETCONFORM_EXTERNAL_TARGET")
        self.external_target = external_target
        self.cni_override = cni_override  # the scenario's `cni`: None trusts detection
        self.mesh_size = mesh_size  # --nodes: the mesh's sample size (None: the default limit)
        self.keep = keep
        self.progress = progress or NoProgress()
        self.runner = runner or SubprocessRunner()
        self.kubeconfig = str(settings.kubeconfig)
        self.context = settings.kube_context
        self.image = settings.probe_image
        self.run_id = run_id or uuid.uuid4().hex[:6]
        root = state_dir or state_root(settings).parent / "cluster"
        self.work = install.Workdir(root / self.run_id)
        self._teardown: tuple[install.Step, ...] = ()
        self._namespaces: tuple[str, ...] = ()
        self._api_factory = api_factory or KubeApi
        self.processes = processes or LocalProcesses()
        self.clock: Clock = clock or time.monotonic
        self.sleep: Sleep = sleep or time.sleep
        self.gone_deadline_s = gone_deadline_s

    def _kubectl(self, *args: str) -> tuple[str, ...]:
        """kubectl on the run's own copy of the kubeconfig."""
        return install.kubectl(self.work, *args)

    def prepare_host(self) -> None:
        """Nothing: kubectl and the cluster are the user's."""

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
        # Asked in the namespace the run will create first; nothing exists yet.
        probe_namespace = WorkloadSpec(self.run_id, (), self.image, "").probe_namespace
        require_access(self.runner, user_kubectl(self.kubeconfig, self.context), probe_namespace)

    def provision(self) -> KubeHandle:
        try:
            return self._provision()
        except BaseException:
            with said_not_raised("teardown after the failed provisioning"):
                self.teardown()
            raise

    def _provision(self) -> KubeHandle:
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
        reclaimed = leftovers.clean(self.runner, self._kubectl, self.processes)
        for line in reclaimed.lines():
            self.progress.step(f"namespaces of earlier runs: {line}")
        api = self._api_factory(str(self.work.kubeconfig))
        try:
            schedulable = api.schedulable_nodes()
            dns_ip = api.cluster_dns_ip()
        finally:
            api.close()
        if len(schedulable) < 2:
            names = [n.name for n in schedulable]
            raise EnvironmentUnfit(
                f"platform cluster needs 2+ schedulable Linux nodes, found {names}"
            )
        # the mesh covers every node up to the limit (else a sample over zones); the other
        # checks use its first NODES_USED
        mesh_nodes = mesh.select_nodes(schedulable, self.mesh_size)
        nodes = list(mesh_nodes[:NODES_USED])
        self.progress.step(f"node mesh: {len(mesh_nodes)} of {len(schedulable)} schedulable nodes")
        self.progress.step("detecting the cluster's CNI")
        cni = detect(self.runner, functools.partial(install.kubectl, self.work))
        if self.cni_override is not None:
            stated = self.cni_override
            cni = overridden(cni, stated.name, stated.encapsulation)
            self.progress.step(f"CNI: {cni.evidence[0]}; {cni.evidence[1]}")
        rendered = plan.render_cluster(
            self.run_id, self.work.root, nodes, self.image, dns_ip, mesh_nodes=mesh_nodes
        )
        spec = WorkloadSpec(self.run_id, tuple(nodes), self.image, dns_ip, mesh_nodes=mesh_nodes)
        rendered = self._with_claim(rendered, spec)
        self._teardown = rendered.teardown
        self._namespaces = tuple(spec.namespaces())
        install.run_steps(rendered.run_steps, self.runner, self.progress, self.clock, self.sleep)
        return KubeHandle(
            self.name,
            str(self.work.kubeconfig),
            self.run_id,
            spec.nodes,
            self.image,
            dns_ip,
            cni.capabilities or CLUSTER_CAPABILITIES,
            {
                **rendered.info,
                "namespaces": spec.namespaces(),
                "cni": cni.cni,
                "cni_version": cni.version,
                "encapsulation": cni.encapsulation,
                "cni_detected": cni.to_json(),
                EXTERNAL_TARGETS: [self.external_target.to_json()] if self.external_target else [],
            },
            spec.cluster_domain,
            facts=cni.facts,
            mesh_nodes=spec.mesh,
        )

    def _with_claim(self, rendered: plan.RenderedPlan, spec: WorkloadSpec) -> plan.RenderedPlan:
        """The plan with a first step that creates the run's namespaces annotated with the
        run and its owner (a separate `kubectl create`, so the workloads' server-side apply
        never owns, and never drops, the annotations); steps.sh and plan.json rewritten."""
        owner = ProcessOwner.current(self.processes).encode()
        claim = self.work.root / "namespaces.yaml"
        write_file(claim, manifests.dump_all(claimed_namespaces(spec, owner)))
        step = install.Step(
            install.Phase.CREATE,
            self._kubectl("create", "-f", str(claim)),
            "create the run's namespaces, annotated with the run and its owner",
        )
        claimed = dataclasses.replace(
            rendered,
            files=(*rendered.files, claim),
            run_steps=(step, *rendered.run_steps),
        )
        plan.write_steps(self.work.root, claimed)
        return claimed

    def collect_diagnostics(self, out: Path) -> list[Path]:
        """Pods, events and node conditions of the cluster (it has no CNI profile, so no
        CNI logs), into out/."""
        kubeconfig = self.work.kubeconfig if self.work.kubeconfig.is_file() else self.kubeconfig
        return diagnostics.collect(self.runner, str(kubeconfig), out, ())

    def teardown(self) -> None:
        """Delete the run's namespaces (and any ClusterNetworkPolicy an interrupted case
        left), then wait (bounded) until they are gone: NamespacesStuck names each one left
        with its finalizers and pods; then the run's work files go."""
        if self.keep or not self._teardown:
            return
        self.progress.step("deleting the run's namespaces")
        install.run_steps(self._teardown, self.runner, self.progress, self.clock, self.sleep)
        self._teardown = ()
        leftovers.delete_run_cluster_policies(self.runner, self._kubectl, self.run_id)
        self.progress.step("waiting until the run's namespaces are gone")
        leftovers.wait_gone(
            self.runner,
            self._kubectl,
            self._namespaces,
            self.gone_deadline_s,
            self.clock,
            self.sleep,
        )
        shutil.rmtree(self.work.root, ignore_errors=True)  # the run's plan and manifests
