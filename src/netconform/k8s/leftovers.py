"""What `cluster` runs leave in a cluster the user has, and its removal. Every namespace a run
creates is named nc-* and annotated, at creation, with its run and its owner (host, PID and
the process's start time); a run is live only while that process runs on that host. A
cleanup deletes the namespaces of runs that are not, and the ClusterNetworkPolicies those
runs made (cluster-scoped, so a namespace's deletion leaves them), and nothing else; a
deletion is waited for, within a deadline, and a namespace still there is named with what
holds it."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from netconform.errors import EnvironmentUnfit
from netconform.k8s.access import Kubectl
from netconform.k8s.cluster_policy_api import CRD_NAME as CLUSTER_POLICIES
from netconform.k8s.tools import Runner
from netconform.k8s.workloads import (
    MANAGED_BY,
    NAMESPACE_PREFIX,
    OWNER_ANNOTATION,
    RUN_ANNOTATION,
    RUN_LABEL,
)
from netconform.owner import Processes, ProcessOwner
from netconform.polling import Clock, Sleep, poll

LOOK_TIMEOUT_S = 60.0
GONE_DEADLINE_S = 180.0  # pods have a 1 s grace period; the rest is the namespace controller
GONE_INTERVAL_S = 2.0


class Standing(StrEnum):
    LIVE = "its run is live"
    DEAD = "its run is gone"
    FOREIGN = "made by a run on another host"
    UNOWNED = "no owner recorded"


def owner_standing(owner: ProcessOwner | None, processes: Processes) -> Standing:
    """Whether what a run made may go: its owner recorded, on this host, and dead."""
    if owner is None:
        return Standing.UNOWNED
    if owner.hostname != processes.host:
        return Standing.FOREIGN
    return Standing.DEAD if owner.is_dead(processes) else Standing.LIVE


@dataclass(frozen=True)
class RunNamespace:
    name: str
    run_id: str
    owner: ProcessOwner | None
    terminating: bool

    def standing(self, processes: Processes) -> Standing:
        return owner_standing(self.owner, processes)

    def describe(self, standing: Standing) -> str:
        owner = self.owner.encode() if self.owner else "?"
        state = ", terminating" if self.terminating else ""
        return f"{self.name} (run {self.run_id}, owner {owner}: {standing}{state})"


# kubectl's words for a resource type the API server does not serve (no CRD installed)
NOT_SERVED = "the server doesn't have a resource type"


def _objects(
    runner: Runner, argv: Sequence[str], what: str, optional_type: bool = False
) -> list[dict[str, Any]]:
    result = runner.run(argv, timeout_s=LOOK_TIMEOUT_S)
    if result.returncode != 0 and optional_type and NOT_SERVED in result.stderr:
        return []
    if result.returncode != 0:
        raise EnvironmentUnfit(f"cannot list {what}: {result.tail()}")
    if not result.stdout.strip():
        return []  # nothing printed: nothing there
    try:
        return [dict(i) for i in json.loads(result.stdout).get("items") or []]
    except (ValueError, AttributeError, TypeError) as exc:
        raise EnvironmentUnfit(f"unreadable list of {what}: {exc}") from exc


def _run_namespace(doc: dict[str, Any]) -> RunNamespace | None:
    """A namespace a netconform run made: nc-*, annotated with its run (or, made before
    the annotation, labelled as netconform's; those have no owner)."""
    meta = doc.get("metadata") or {}
    name = str(meta.get("name", ""))
    annotations, labels = meta.get("annotations") or {}, meta.get("labels") or {}
    if not name.startswith(NAMESPACE_PREFIX):
        return None
    if RUN_ANNOTATION in annotations:
        owner = ProcessOwner.decode(str(annotations.get(OWNER_ANNOTATION, "")))
        run_id = str(annotations[RUN_ANNOTATION])
    elif labels.get(MANAGED_BY) == "netconform" and RUN_LABEL in labels:
        owner, run_id = None, str(labels[RUN_LABEL])
    else:
        return None
    terminating = (doc.get("status") or {}).get("phase") == "Terminating"
    return RunNamespace(name, run_id, owner, terminating)


def run_namespaces(runner: Runner, kubectl: Kubectl) -> list[RunNamespace]:
    found = (
        _run_namespace(d)
        for d in _objects(runner, kubectl("get", "namespaces", "-o", "json"), "namespaces")
    )
    return sorted((f for f in found if f is not None), key=lambda n: n.name)


@dataclass(frozen=True)
class RunClusterPolicy:
    """A ClusterNetworkPolicy a run's NetworkPolicy lane made: its run is the run annotation
    (the owner is on the run's namespaces)."""

    name: str
    run_id: str

    def standing(self, namespaces: Sequence[RunNamespace], processes: Processes) -> Standing:
        """Its run's standing, from the run's namespaces: a run makes them before any policy
        and a live run keeps them, so a policy whose run has none left outlived its run."""
        found = {n.standing(processes) for n in namespaces if n.run_id == self.run_id}
        alive = (Standing.LIVE, Standing.FOREIGN, Standing.UNOWNED)
        return next((s for s in alive if s in found), Standing.DEAD)

    def describe(self, standing: Standing) -> str:
        return f"ClusterNetworkPolicy {self.name} (run {self.run_id}: {standing})"


def run_cluster_policies(runner: Runner, kubectl: Kubectl) -> list[RunClusterPolicy]:
    """The ClusterNetworkPolicies netconform runs made (none where the CRD is not served)."""
    argv = kubectl("get", CLUSTER_POLICIES, "-l", f"{MANAGED_BY}=netconform", "-o", "json")
    found = []
    for doc in _objects(runner, argv, "ClusterNetworkPolicies", optional_type=True):
        meta = doc.get("metadata") or {}
        name, annotations = str(meta.get("name", "")), meta.get("annotations") or {}
        if name.startswith(NAMESPACE_PREFIX) and RUN_ANNOTATION in annotations:
            found.append(RunClusterPolicy(name, str(annotations[RUN_ANNOTATION])))
    return sorted(found, key=lambda p: p.name)


def delete_run_cluster_policies(runner: Runner, kubectl: Kubectl, run_id: str) -> None:
    """A run's own ClusterNetworkPolicies, at its teardown: its lanes delete theirs after each
    case, so these are only an interrupted case's (nothing to do where the CRD is absent)."""
    argv = kubectl("delete", CLUSTER_POLICIES, "-l", f"{RUN_LABEL}={run_id}", "--ignore-not-found")
    result = runner.run(argv, timeout_s=LOOK_TIMEOUT_S)
    if result.returncode != 0 and NOT_SERVED not in result.stderr:
        raise EnvironmentUnfit(f"cannot delete the run's ClusterNetworkPolicies: {result.tail()}")


@dataclass(frozen=True)
class Cleanup:
    # each namespace with its run's standing: why it was deleted, or why it was left
    deleted: tuple[tuple[RunNamespace, Standing], ...]
    left: tuple[tuple[RunNamespace, Standing], ...]
    # the same for the runs' ClusterNetworkPolicies
    policies_deleted: tuple[tuple[RunClusterPolicy, Standing], ...] = ()
    policies_left: tuple[tuple[RunClusterPolicy, Standing], ...] = ()

    @property
    def deleted_names(self) -> list[str]:
        return [n.name for n, _ in self.deleted]

    @property
    def found_nothing(self) -> bool:
        return not (self.deleted or self.left or self.policies_deleted or self.policies_left)

    def lines(self) -> list[str]:
        said = [f"deleted {n.describe(why)}" for n, why in self.deleted]
        said += [f"deleted {p.describe(why)}" for p, why in self.policies_deleted]
        said += [f"left {n.describe(why)}" for n, why in self.left]
        return said + [f"left {p.describe(why)}" for p, why in self.policies_left]


def _doomed(standing: Standing, everything: bool) -> bool:
    return standing == Standing.DEAD or (everything and standing != Standing.LIVE)


def _delete(runner: Runner, kubectl: Kubectl, resource: str, names: Sequence[str]) -> None:
    if not names:
        return
    argv = kubectl("delete", resource, *names, "--ignore-not-found", "--wait=false")
    result = runner.run(argv, timeout_s=LOOK_TIMEOUT_S)
    if result.returncode != 0:
        raise EnvironmentUnfit(f"cannot delete {', '.join(names)}: {result.tail()}")


def clean(
    runner: Runner, kubectl: Kubectl, processes: Processes, everything: bool = False
) -> Cleanup:
    """Delete the namespaces, and ClusterNetworkPolicies, of runs that are gone (with
    `everything`, also of other hosts' runs and unowned ones; never a live run's)."""
    namespaces = run_namespaces(runner, kubectl)
    judged = [(n, n.standing(processes)) for n in namespaces]
    policies = [
        (p, p.standing(namespaces, processes)) for p in run_cluster_policies(runner, kubectl)
    ]
    done = Cleanup(
        tuple((n, s) for n, s in judged if _doomed(s, everything)),
        tuple((n, s) for n, s in judged if not _doomed(s, everything)),
        tuple((p, s) for p, s in policies if _doomed(s, everything)),
        tuple((p, s) for p, s in policies if not _doomed(s, everything)),
    )
    _delete(runner, kubectl, "namespace", done.deleted_names)
    _delete(runner, kubectl, CLUSTER_POLICIES, [p.name for p, _ in done.policies_deleted])
    return done


class NamespacesStuck(EnvironmentUnfit):
    """Namespaces still there after the deadline, each with what holds it."""

    def __init__(self, deadline_s: float, stuck: Sequence[str]) -> None:
        super().__init__(
            f"namespaces still there {deadline_s:.0f}s after their deletion: {'; '.join(stuck)}"
        )
        self.stuck = tuple(stuck)


def remaining(runner: Runner, kubectl: Kubectl, names: Sequence[str]) -> list[str]:
    """The namespaces of `names` that still exist (all of them if the API does not say)."""
    argv = kubectl("get", "namespace", *names, "--ignore-not-found", "-o", "name")
    result = runner.run(argv, timeout_s=LOOK_TIMEOUT_S)
    if result.returncode != 0:
        return list(names)
    return sorted(line.removeprefix("namespace/") for line in result.stdout.split())


def _finalizers(meta: dict[str, Any], spec: dict[str, Any]) -> list[str]:
    return [*(meta.get("finalizers") or []), *(spec.get("finalizers") or [])]


def what_holds(runner: Runner, kubectl: Kubectl, name: str) -> str:
    """`name (finalizers: ...; pods: ...; <the namespace's own conditions>)`."""
    result = runner.run(kubectl("get", "namespace", name, "-o", "json"), timeout_s=LOOK_TIMEOUT_S)
    try:
        doc = json.loads(result.stdout) if result.returncode == 0 else {}
    except ValueError:
        doc = {}
    said = []
    finalizers = _finalizers(doc.get("metadata") or {}, doc.get("spec") or {})
    if finalizers:
        said.append(f"finalizers {', '.join(finalizers)}")
    try:
        pods = _objects(runner, kubectl("-n", name, "get", "pods", "-o", "json"), "pods")
    except EnvironmentUnfit as exc:
        said.append(str(exc))
        pods = []
    if pods:
        described = []
        for pod in pods:
            meta = pod.get("metadata") or {}
            held = _finalizers(meta, {})
            phase = (pod.get("status") or {}).get("phase", "?")
            described.append(
                f"{meta.get('name')} {phase}" + (f" held by {', '.join(held)}" if held else "")
            )
        said.append(f"pods {', '.join(described)}")
    for condition in (doc.get("status") or {}).get("conditions") or []:
        if condition.get("status") == "True":
            said.append(f"{condition.get('type')}: {condition.get('message', '')}".strip())
    if not doc and result.returncode != 0:
        said.append(f"not readable: {result.tail()}")
    return f"{name} ({'; '.join(said) or 'nothing said why'})"


def wait_gone(
    runner: Runner,
    kubectl: Kubectl,
    names: Sequence[str],
    deadline_s: float = GONE_DEADLINE_S,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
) -> None:
    """Until none of `names` exists; NamespacesStuck names each one left, and why."""
    if not names:
        return
    polled = poll(
        lambda: remaining(runner, kubectl, names),
        lambda left: not left,
        deadline_s,
        GONE_INTERVAL_S,
        clock,
        sleep,
    )
    if not polled.held:
        raise NamespacesStuck(deadline_s, [what_holds(runner, kubectl, n) for n in polled.value])


# --- containers a kind run starts beside its cluster (k8s/external_target.py) -------------
@dataclass(frozen=True)
class RunContainer:
    name: str
    run_id: str
    owner: ProcessOwner | None

    def standing(self, processes: Processes) -> Standing:
        return owner_standing(self.owner, processes)

    def describe(self, standing: Standing) -> str:
        owner = self.owner.encode() if self.owner else "?"
        return f"{self.name} (run {self.run_id}, owner {owner}: {standing})"


def labelled_containers(
    runner: Runner, label: str, owner_label: str, docker: Sequence[str] = ("docker",)
) -> list[RunContainer]:
    """Every container (running or not) carrying `label`, with the run and owner its labels
    name; EnvironmentUnfit when Docker cannot be asked."""
    listed = runner.run((*docker, "ps", "--all", "--quiet", "--filter", f"label={label}"),
                        timeout_s=LOOK_TIMEOUT_S)  # fmt: skip
    if listed.returncode != 0:
        raise EnvironmentUnfit(f"cannot list containers labelled {label}: {listed.tail()}")
    ids = listed.stdout.split()
    if not ids:
        return []
    shown = runner.run((*docker, "inspect", *ids), timeout_s=LOOK_TIMEOUT_S)
    try:
        docs = json.loads(shown.stdout) if shown.returncode == 0 else None
        if not isinstance(docs, list):
            raise ValueError("not a list")
    except ValueError as exc:
        raise EnvironmentUnfit(f"unreadable docker inspect of {', '.join(ids)}: {exc}") from exc
    found = []
    for doc in docs:
        labels = (doc.get("Config") or {}).get("Labels") or {}
        name = str(doc.get("Name", "")).lstrip("/")
        owner = ProcessOwner.decode(str(labels.get(owner_label, "")))
        found.append(RunContainer(name, str(labels.get(RUN_LABEL, "")), owner))
    return sorted(found, key=lambda c: c.name)


def clean_containers(
    runner: Runner,
    processes: Processes,
    label: str,
    owner_label: str,
    docker: Sequence[str] = ("docker",),
) -> list[str]:
    """Remove the labelled containers of runs that are provably gone (never a live run's,
    another host's or an unowned one); one line per container removed."""
    doomed = [
        (c, standing)
        for c in labelled_containers(runner, label, owner_label, docker)
        if (standing := c.standing(processes)) == Standing.DEAD
    ]
    if not doomed:
        return []
    names = [c.name for c, _ in doomed]
    removed = runner.run((*docker, "rm", "--force", *names), timeout_s=LOOK_TIMEOUT_S)
    if removed.returncode != 0:
        raise EnvironmentUnfit(f"cannot remove {', '.join(names)}: {removed.tail()}")
    return [f"removed {c.describe(standing)}" for c, standing in doomed]
