"""What `cluster` runs leave in a cluster the user has, and its removal. Every namespace a run
creates is named nc-* and annotated, at creation, with its run and its owner (host, PID and
the process's start time); a run is live only while that process runs on that host. A
cleanup deletes the namespaces of runs that are not, and nothing else; a deletion is waited
for, within a deadline, and a namespace still there is named with what holds it."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from netconform.errors import EnvironmentUnfit
from netconform.k8s.access import Kubectl
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


@dataclass(frozen=True)
class RunNamespace:
    name: str
    run_id: str
    owner: ProcessOwner | None
    terminating: bool

    def standing(self, processes: Processes) -> Standing:
        if self.owner is None:
            return Standing.UNOWNED
        if self.owner.hostname != processes.host:
            return Standing.FOREIGN
        return Standing.DEAD if self.owner.is_dead(processes) else Standing.LIVE

    def describe(self, standing: Standing) -> str:
        owner = self.owner.encode() if self.owner else "?"
        state = ", terminating" if self.terminating else ""
        return f"{self.name} (run {self.run_id}, owner {owner}: {standing}{state})"


def _objects(runner: Runner, argv: Sequence[str], what: str) -> list[dict[str, Any]]:
    result = runner.run(argv, timeout_s=LOOK_TIMEOUT_S)
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
class Cleanup:
    # each namespace with its run's standing: why it was deleted, or why it was left
    deleted: tuple[tuple[RunNamespace, Standing], ...]
    left: tuple[tuple[RunNamespace, Standing], ...]

    @property
    def deleted_names(self) -> list[str]:
        return [n.name for n, _ in self.deleted]

    def lines(self) -> list[str]:
        said = [f"deleted {n.describe(why)}" for n, why in self.deleted]
        return said + [f"left {n.describe(why)}" for n, why in self.left]


def clean(
    runner: Runner, kubectl: Kubectl, processes: Processes, everything: bool = False
) -> Cleanup:
    """Delete the namespaces of runs that are gone (with `everything`, also of other hosts'
    runs and unowned ones; never a live run's)."""
    doomed: list[tuple[RunNamespace, Standing]] = []
    left: list[tuple[RunNamespace, Standing]] = []
    for namespace in run_namespaces(runner, kubectl):
        standing = namespace.standing(processes)
        if standing == Standing.DEAD or (everything and standing != Standing.LIVE):
            doomed.append((namespace, standing))
        else:
            left.append((namespace, standing))
    done = Cleanup(tuple(doomed), tuple(left))
    if doomed:
        names = done.deleted_names
        argv = kubectl("delete", "namespace", *names, "--ignore-not-found", "--wait=false")
        result = runner.run(argv, timeout_s=LOOK_TIMEOUT_S)
        if result.returncode != 0:
            raise EnvironmentUnfit(f"cannot delete {', '.join(names)}: {result.tail()}")
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
        if self.owner is None:
            return Standing.UNOWNED
        if self.owner.hostname != processes.host:
            return Standing.FOREIGN
        return Standing.DEAD if self.owner.is_dead(processes) else Standing.LIVE

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
