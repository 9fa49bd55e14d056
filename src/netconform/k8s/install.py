"""The ordered commands that create a kind cluster, install a CNI, wait for it, load images
and deploy the workloads; and the runner that executes them. Steps are data: the plan writes
exactly the commands provisioning runs."""

from __future__ import annotations

import functools
import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from netconform.errors import EnvironmentUnfit
from netconform.k8s.profiles import CniProfile
from netconform.k8s.tools import Completed, Runner
from netconform.polling import Clock, Sleep, poll
from netconform.progress import NoProgress, Progress

ROLLOUT_TIMEOUT = "300s"
OPERATOR_TIMEOUT = "600s"
STEP_RETRY_INTERVAL_S = 2.0


class Phase(StrEnum):
    CREATE = "create"
    PREPARE = "prepare"
    INSTALL = "install"
    WAIT = "wait"
    DEPLOY = "deploy"
    DELETE = "delete"


@dataclass(frozen=True)
class Step:
    phase: Phase
    argv: tuple[str, ...]
    why: str
    # Objects some operators create later: retry until the command succeeds, up to this long.
    retry_s: float = 0.0
    timeout_s: float = 900.0

    def shell(self) -> str:
        return shlex.join(self.argv)


class StepFailed(EnvironmentUnfit):
    """An install or wait command failed: the message names the command and its last line."""

    def __init__(self, step: Step, result: Completed) -> None:
        super().__init__(f"{step.why} failed: `{step.shell()}`: {result.tail()}")
        self.step = step
        self.result = result


@dataclass(frozen=True)
class Workdir:
    """Where the rendered files of one cluster live; commands name these paths."""

    root: Path

    @property
    def kind_config(self) -> Path:
        return self.root / "kind-config.yaml"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def cni(self) -> Path:
        return self.root / "cni"

    @property
    def node_plugins(self) -> Path:
        return self.root / "node-plugins"

    @property
    def workloads(self) -> Path:
        return self.root / "workloads.yaml"


def kubectl(work: Workdir, *args: str) -> tuple[str, ...]:
    return ("kubectl", "--kubeconfig", str(work.kubeconfig), *args)


def create_steps(cluster: str, work: Workdir) -> list[Step]:
    return [
        Step(
            Phase.CREATE,
            (
                "kind",
                "create",
                "cluster",
                "--name",
                cluster,
                "--config",
                str(work.kind_config),
                "--kubeconfig",
                str(work.kubeconfig),
            ),
            "create the kind cluster",
        )
    ]


def _cluster_ready_steps(work: Workdir) -> list[Step]:
    return [
        Step(
            Phase.WAIT,
            kubectl(
                work,
                "wait",
                "--for=condition=Ready",
                "nodes",
                "--all",
                f"--timeout={ROLLOUT_TIMEOUT}",
            ),
            "wait for every node Ready",
        ),
        Step(
            Phase.WAIT,
            kubectl(
                work,
                "-n",
                "kube-system",
                "rollout",
                "status",
                "deployment/coredns",
                f"--timeout={ROLLOUT_TIMEOUT}",
            ),
            "wait for CoreDNS",
        ),
    ]


def _rollout(work: Workdir, namespace: str, what: str, timeout: str = ROLLOUT_TIMEOUT) -> Step:
    return Step(
        Phase.WAIT,
        kubectl(work, "-n", namespace, "rollout", "status", what, f"--timeout={timeout}"),
        f"wait for {namespace}/{what}",
    )


def cni_files(profile: CniProfile) -> dict[str, str]:
    """Artifact name -> file name under the workdir's cni/ (what the steps apply)."""
    if profile.cni == "flannel":
        return {"kube-flannel": "kube-flannel.yml"}
    if profile.cni == "calico":
        return {
            name: f"{name}.yaml"
            for name in ("operator-crds", "tigera-operator", "custom-resources")
        }
    return {"cilium-chart": f"cilium-{profile.version}.tgz"}


CILIUM_VALUES_FILE = "cilium-values.yaml"


def load_image_steps(images: Sequence[str], cluster: str) -> list[Step]:
    """Images the local Docker has, copied into every node: the nodes never pull them."""
    return [
        Step(
            Phase.PREPARE,
            ("kind", "load", "docker-image", image, "--name", cluster),
            f"load {image} into the nodes",
        )
        for image in images
    ]


def install_steps(
    profile: CniProfile,
    cluster: str,
    nodes: Sequence[str],
    work: Workdir,
    local_images: Sequence[str] = (),
    copy_node_plugins: bool = True,
    skipped_rollouts: Sequence[str | None] = (),
) -> list[Step]:
    """The CNI's install order and readiness waits, as upstream documents them, after the
    images the local Docker has are loaded into the nodes."""
    steps: list[Step] = load_image_steps(local_images, cluster)
    files = {k: work.cni / v for k, v in cni_files(profile).items()}
    if copy_node_plugins and profile.node_plugins is not None:
        for node in nodes:
            for plugin in profile.node_plugins.plugins:
                steps.append(
                    Step(
                        Phase.PREPARE,
                        (
                            "docker",
                            "cp",
                            str(work.node_plugins / plugin),
                            f"{node}:/opt/cni/bin/{plugin}",
                        ),
                        f"copy the {plugin} CNI plugin onto {node}",
                    )
                )
    if profile.cni == "flannel":
        steps.append(
            Step(
                Phase.INSTALL,
                kubectl(work, "apply", "-f", str(files["kube-flannel"])),
                "apply kube-flannel.yml",
            )
        )
        steps.append(_rollout(work, "kube-flannel", "daemonset/kube-flannel-ds"))
    elif profile.cni == "calico":
        # `create`, not client-side apply: the Installation CRD is larger than the
        # last-applied annotation allows.
        steps += [
            Step(
                Phase.INSTALL,
                kubectl(work, "create", "-f", str(files["operator-crds"])),
                "create the operator and Calico CRDs",
            ),
            Step(
                Phase.WAIT,
                kubectl(
                    work,
                    "wait",
                    "--for=condition=Established",
                    "crd/installations.operator.tigera.io",
                    "crd/tigerastatuses.operator.tigera.io",
                    "--timeout=120s",
                ),
                "wait for the CRDs to be served",
            ),
            Step(
                Phase.INSTALL,
                kubectl(work, "create", "-f", str(files["tigera-operator"])),
                "create the tigera-operator",
            ),
            _rollout(work, "tigera-operator", "deployment/tigera-operator"),
            Step(
                Phase.INSTALL,
                kubectl(work, "create", "-f", str(files["custom-resources"])),
                "create the Installation and APIServer",
            ),
            # TigeraStatus objects appear only once the operator reconciles.
            Step(
                Phase.WAIT,
                kubectl(work, "get", "tigerastatus", "calico"),
                "wait for tigerastatus/calico to exist",
                retry_s=300,
            ),
            Step(
                Phase.WAIT,
                kubectl(
                    work,
                    "wait",
                    "--for=condition=Available",
                    "tigerastatus/calico",
                    f"--timeout={OPERATOR_TIMEOUT}",
                ),
                "wait for tigerastatus/calico Available",
            ),
            _rollout(work, "calico-system", "daemonset/calico-node"),
        ]
    else:
        helm = profile.helm
        assert helm is not None, "the cilium profile has a helm section (validated in tests)"
        steps += [
            Step(
                Phase.INSTALL,
                (
                    "helm",
                    "install",
                    helm.release,
                    str(files["cilium-chart"]),
                    "--kubeconfig",
                    str(work.kubeconfig),
                    "--namespace",
                    helm.namespace,
                    "--values",
                    str(work.cni / CILIUM_VALUES_FILE),
                ),
                "helm install cilium from the verified chart",
            ),
            *(
                # the agents compile their datapath at start: minutes on a small machine
                _rollout(work, helm.namespace, what, OPERATOR_TIMEOUT)
                for what in (
                    "daemonset/cilium",
                    "daemonset/cilium-envoy",
                    "deployment/cilium-operator",
                )
                if what not in skipped_rollouts  # a part installed without its optional image
            ),
        ]
    return steps + _cluster_ready_steps(work)


def probe_image_steps(image: str, rootfs: Path, present: bool, cluster: str | None) -> list[Step]:
    """The probe image (the same offline Debian recipe as the Swarm lab's) imported into the
    local Docker unless it is there, then loaded into the nodes."""
    steps = []
    if not present:
        steps.append(
            Step(
                Phase.PREPARE,
                ("docker", "import", "--change", 'CMD ["sleep", "infinity"]', str(rootfs), image),
                "import the probe image into the local Docker",
            )
        )
    if cluster is not None:
        steps += load_image_steps([image], cluster)
    return steps


def deploy_steps(work: Workdir, run_id: str) -> list[Step]:
    selector = f"netconform.io/run={run_id}"
    return [
        Step(
            Phase.DEPLOY,
            kubectl(
                work,
                "apply",
                "--server-side",
                "--field-manager=netconform",
                "-f",
                str(work.workloads),
            ),
            "create the run's workloads",
        ),
        Step(
            Phase.WAIT,
            kubectl(
                work,
                "wait",
                "--for=condition=Ready",
                "pods",
                "-A",
                "-l",
                selector,
                f"--timeout={ROLLOUT_TIMEOUT}",
            ),
            "wait for every probe pod Ready",
        ),
    ]


MARKER = "netconform-cluster"  # ConfigMap in kube-system: the install finished


def profile_key(cni: str, version: str) -> str:
    return f"{cni}:{version}"


def mark_ready_step(work: Workdir, key: str) -> Step:
    return Step(
        Phase.WAIT,
        kubectl(
            work,
            "-n",
            "kube-system",
            "create",
            "configmap",
            MARKER,
            f"--from-literal=profile={key}",
        ),
        "record the finished install (a later run may reuse the cluster)",
    )


def delete_steps(cluster: str) -> list[Step]:
    return [
        Step(
            Phase.DELETE,
            ("kind", "delete", "cluster", "--name", cluster),
            "delete the kind cluster",
            timeout_s=300,
        )
    ]


def run_steps(
    steps: Sequence[Step],
    runner: Runner,
    progress: Progress | None = None,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
) -> None:
    """Each step in order; the first that fails (after its retry window) stops the rest."""
    progress = progress or NoProgress()
    for step in steps:
        progress.step(step.why)
        polled = poll(
            functools.partial(runner.run, step.argv, timeout_s=step.timeout_s),
            lambda result: result.returncode == 0,
            step.retry_s,
            STEP_RETRY_INTERVAL_S,
            clock,
            sleep,
        )
        if not polled.held:
            raise StepFailed(step, polled.value)
