"""The probe grid both families judge their data plane with, and the one "probe did not run"
verdict of every check.

A grid is a set of cells: a source endpoint, a probe (the destination and the kind) and what
the cell should show. Its probes run as batches through the check context's executor (one
exec per source per round), rounds repeat until every cell shows what it should or the
deadline passes (a deadline of 0: one round), and the judge turns the last round into an
Outcome whose evidence is the observed matrix, every cell with the argv that re-runs it.
Only how the endpoints are found differs between Swarm and Kubernetes.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from netconform.checks.base import Outcome, Polled, poll
from netconform.probes.model import Connectivity, Probe, ProbeResult
from netconform.results import Measure

E = TypeVar("E")  # a family's endpoint: a Swarm task or container, a Kubernetes pod

SHOWN_IN_REASON = 6  # bad cells a reason names; the evidence has them all


class Prober(Protocol[E]):
    """What runs a grid's probes: either family's check context."""

    def run_many(self, batches: Mapping[E, Sequence[Probe]]) -> dict[E, list[ProbeResult]]: ...


@dataclass(frozen=True)
class Expect:
    """What a cell should show: its name, as the evidence and the reason give it, and the
    test of a probe's result (a probe that did not run never passes it, see `not_run`)."""

    name: str
    holds: Callable[[ProbeResult], bool]


REACHABLE = Expect("reachable", lambda r: r.ok)
UNREACHABLE = Expect("unreachable", lambda r: not r.ok)


@dataclass(frozen=True)
class Cell(Generic[E]):
    """One probe from one source, with what it should show."""

    source: E
    probe: Probe  # the destination (target, port) and the kind
    label: str  # its key in the observed matrix, e.g. "probe@h1->probe@h2"
    expect: Expect = REACHABLE


def observe(prober: Prober[E], cells: Sequence[Cell[E]]) -> dict[str, ProbeResult]:
    """Every cell's result by label, in cell order: one exec per source."""
    batches: dict[E, list[Probe]] = {}
    for cell in cells:
        batches.setdefault(cell.source, []).append(cell.probe)
    by_id = {r.id: r for results in prober.run_many(batches).values() for r in results}
    return {cell.label: by_id[cell.probe.id] for cell in cells}


def describe(
    seen: Mapping[str, ProbeResult], labels: Iterable[str] | None = None
) -> dict[str, Any]:
    """The observed matrix (or the rows of `labels`): each probe's evidence, reproduce argv
    included."""
    return {label: seen[label].evidence() for label in (seen if labels is None else labels)}


def not_run(results: Mapping[str, ProbeResult], what: str = "", **evidence: Any) -> Outcome | None:
    """The error verdict when any probe did not run (agent crash, exec failure): what it would
    have shown is unknown, so the check neither passes nor fails. `observed` defaults to the
    probes that did not run; evidence given wins."""
    unrun = [label for label, r in results.items() if not r.ran]
    if not unrun:
        return None
    prefix = f"{what}: " if what else ""
    return Outcome.errored(
        f"{prefix}{len(unrun)} of {len(results)} probes did not run, e.g. {unrun[0]}: "
        f"{results[unrun[0]].error}",
        **{"observed": describe(results, unrun), **evidence},
    )


def measurements(polled: Polled[dict[str, ProbeResult]]) -> dict[Measure, Any]:
    """How many probes, how many rounds, how long until it held, and the median round trip of
    the last round's probes that got their answer (a DNS NXDOMAIN is one; a timeout's time
    is its timeout)."""
    found: dict[Measure, Any] = {
        Measure.PROBES: len(polled.value),
        Measure.ATTEMPTS: polled.attempts,
        Measure.CONVERGED_S: round(polled.elapsed_s, 3),
    }
    latencies = [
        r.latency_ms
        for r in polled.value.values()
        if (r.ok or r.outcome == Connectivity.ANSWERED) and r.latency_ms is not None
    ]
    if latencies:
        found[Measure.LATENCY_P50_MS] = round(statistics.median(latencies), 3)
    return found


@dataclass(frozen=True)
class Grid(Generic[E]):
    """Cells judged together; `what` names them in reasons ("pairs over tcp"). `expected` is
    what the evidence shows as expected; by default the cells' expectation (one name when
    they share it, else a name per label). `failing` is what a failure suggests, added to
    its reason: the report files failures by such words (its Allure categories)."""

    what: str
    cells: Sequence[Cell[E]]
    expected: Any = None
    failing: str = ""

    def __post_init__(self) -> None:
        labels = [c.label for c in self.cells]
        if len(set(labels)) != len(labels):  # a repeated label would hide a cell's result
            raise ValueError(f"{self.what}: cell labels repeat: {labels}")

    def observe(self, prober: Prober[E]) -> dict[str, ProbeResult]:
        return observe(prober, self.cells)

    def bad(self, seen: Mapping[str, ProbeResult]) -> list[str]:
        """Labels of the cells not showing what they should, in cell order."""
        return [
            c.label for c in self.cells if not (seen[c.label].ran and c.expect.holds(seen[c.label]))
        ]

    def poll(
        self, prober: Prober[E], deadline_s: float, interval_s: float = 0.5
    ) -> Polled[dict[str, ProbeResult]]:
        """Rounds until every cell holds or the deadline passes; the last round either way."""
        return poll(
            lambda: self.observe(prober), lambda seen: not self.bad(seen), deadline_s, interval_s
        )

    def _expectation(self) -> tuple[str, Any]:
        """How the reason words it, and what the evidence shows as expected."""
        names = {c.label: c.expect.name for c in self.cells}
        want = next(iter(names.values())) if len(set(names.values())) == 1 else ""
        shown = self.expected if self.expected is not None else (want or names)
        return (want or "as expected"), shown

    def judge(self, polled: Polled[dict[str, ProbeResult]]) -> Outcome:
        """Pass when every cell shows what it should, fail naming the cells that do not, error
        when a probe did not run; the evidence is the whole observed matrix."""
        seen = polled.value
        want, shown = self._expectation()
        evidence: dict[str, Any] = {
            "expected": shown,
            "observed": describe(seen),
            "measurements": measurements(polled),
        }
        unrun = not_run(seen, self.what, **evidence)
        if unrun is not None:
            return unrun
        bad = self.bad(seen)
        if not bad:
            return Outcome.passed(f"{self.what}: all {len(seen)} {want}", **evidence)
        named = ", ".join(
            f"{label} ({seen[label].error or seen[label].outcome})"
            for label in bad[:SHOWN_IN_REASON]
        )
        suggests = f"; {self.failing}" if self.failing else ""
        return Outcome.failed(
            f"{self.what}: {len(bad)} of {len(seen)} not {want}: {named}{suggests}", **evidence
        )

    def run(self, prober: Prober[E], deadline_s: float, interval_s: float = 0.5) -> Outcome:
        return self.judge(self.poll(prober, deadline_s, interval_s))
