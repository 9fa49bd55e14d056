"""The ordered commands that create a kind cluster, install a CNI, wait for it, load images
and deploy the workloads; and the runner that executes them. Steps are data: the plan writes
exactly the commands provisioning runs."""

from __future__ import annotations

import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from netconform.errors import EnvironmentUnfit
from netconform.k8s.crashloop import CrashWatch, crash_looping
from netconform.k8s.profiles import CniProfile
from netconform.k8s.tools import Completed, Runner
from netconform.polling import Clock, Sleep, poll
from netconform.progress import NoProgress, Progress

ROLLOUT_TIMEOUT = "300s"
ROLLOUT_S = 300.0
OPERATOR_S = 600.0  # operators and agents that compile their datapath: minutes on 2 cores
WAIT_SLICE_S = 30.0  # one slice of a guarded wait, between looks at the CNI's pods
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
    # a wait on the CNI: its namespaces' pods looked at between attempts
    watch: CrashWatch | None = None

    def shell(self) -> str:
        return shlex.join(self.argv)


class CniCrashLooping(EnvironmentUnfit):
    """A wait ended early: a pod of the CNI is crash-looping, named with its reason."""

    def __init__(self, step: Step, reason: str) -> None:
        super().__init__(f"{step.why} ended early: {reason}")
        self.step = step


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


def cluster_ready_steps(work: Workdir) -> list[Step]:
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


def rollout(
    work: Workdir, namespace: str, what: str, total_s: float, watch: Sequence[str] = ()
) -> Step:
    """`kubectl rollout status` in slices, retried up to total_s: between slices the CNI's
    namespaces are looked at, so a crash-looping pod ends the wait with its reason."""
    return guarded_wait(
        work,
        ("-n", namespace, "rollout", "status", what),
        f"wait for {namespace}/{what}",
        total_s,
        watch or (namespace,),
    )


def guarded_wait(
    work: Workdir, args: Sequence[str], why: str, total_s: float, watch: Sequence[str]
) -> Step:
    return Step(
        Phase.WAIT,
        kubectl(work, *args, f"--timeout={WAIT_SLICE_S:.0f}s"),
        why,
        retry_s=total_s,
        watch=CrashWatch(str(work.kubeconfig), tuple(watch)),
    )


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


def node_plugin_steps(profile: CniProfile, nodes: Sequence[str], work: Workdir) -> list[Step]:
    """The standard CNI plugins the profile needs, copied onto every node."""
    plugins = profile.node_plugins.plugins if profile.node_plugins is not None else ()
    return [
        Step(
            Phase.PREPARE,
            ("docker", "cp", str(work.node_plugins / plugin), f"{node}:/opt/cni/bin/{plugin}"),
            f"copy the {plugin} CNI plugin onto {node}",
        )
        for node in nodes
        for plugin in plugins
    ]


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


def apply_and_wait_steps(
    work: Workdir, objects: Path, selector: str, applied: str, waited: str
) -> list[Step]:
    """Apply a file of the run's objects (server-side) and wait until the pods `selector`
    picks are Ready; `applied` and `waited` say what each step is for."""
    return [
        Step(
            Phase.DEPLOY,
            kubectl(
                work, "apply", "--server-side", "--field-manager=netconform", "-f", str(objects)
            ),
            applied,
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
            waited,
        ),
    ]


def deploy_steps(work: Workdir, run_id: str) -> list[Step]:
    return apply_and_wait_steps(
        work,
        work.workloads,
        f"netconform.io/run={run_id}",
        "create the run's workloads",
        "wait for every probe pod Ready",
    )


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
        run_step(step, runner, clock, sleep)


def run_step(step: Step, runner: Runner, clock: Clock, sleep: Sleep) -> None:
    """The step, retried within its window; a guarded wait stops at a crash-looping pod."""
    crashed: list[str] = []

    def attempt() -> Completed:
        result = runner.run(step.argv, timeout_s=step.timeout_s)
        if result.returncode != 0 and step.watch is not None:
            crashed.extend(crash_looping(runner, step.watch))
        return result

    polled = poll(
        attempt,
        lambda result: result.returncode == 0 or bool(crashed),
        step.retry_s,
        STEP_RETRY_INTERVAL_S,
        clock,
        sleep,
    )
    if crashed:
        raise CniCrashLooping(step, "; ".join(crashed))
    if not polled.held:
        raise StepFailed(step, polled.value)
