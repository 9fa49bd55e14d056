"""Helpers shared by the Kubernetes checks: batches polled until they hold, the evidence a
failed cell list becomes, and the error a probe that did not run makes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from netconform.checks.base import CheckSpec, Outcome, Polled, poll
from netconform.k8s.context import KubeCheckContext
from netconform.k8s.kube import PodEndpoint
from netconform.probes.model import Probe, ProbeResult
from netconform.results import Area, Measure
from netconform.vocab import Capability, Family

NOT_CATCHABLE = "no fault injection on Kubernetes platforms: verified by unit fakes only"


def spec(
    id_: str,
    area: Area,
    aspect: str,
    title: str,
    ref: str,
    requires: frozenset[Capability] = frozenset(),
) -> CheckSpec:
    return CheckSpec(
        id_,
        area,
        title,
        ref,
        Family.KUBERNETES,
        aspect,
        requires,
        not_catchable=NOT_CATCHABLE,
    )


@dataclass(frozen=True)
class Cell:
    """One probe from one source, with what it should show."""

    source: PodEndpoint
    probe: Probe
    label: str  # e.g. "probe-0-a -> probe-1-a tcp/8080"


def observe(ctx: KubeCheckContext, cells: Sequence[Cell]) -> dict[str, ProbeResult]:
    """Every cell's result, one exec per source (probe ids are unique per batch)."""
    batches: dict[PodEndpoint, list[Probe]] = {}
    for cell in cells:
        batches.setdefault(cell.source, []).append(cell.probe)
    results = ctx.run_many(batches)
    by_id = {r.id: r for rs in results.values() for r in rs}
    return {cell.label: by_id[cell.probe.id] for cell in cells}


def poll_cells(
    ctx: KubeCheckContext,
    cells: Sequence[Cell],
    good: Callable[[Cell, ProbeResult], bool],
    deadline_s: float | None = None,
) -> tuple[Polled[dict[str, ProbeResult]], list[str]]:
    """Poll until every cell is good; returns the last observation and the bad labels.
    A probe that did not run is never good (see `not_run`)."""
    by_label = {c.label: c for c in cells}

    def bad(seen: dict[str, ProbeResult]) -> list[str]:
        return [label for label, r in seen.items() if not (r.ran and good(by_label[label], r))]

    polled = poll(
        lambda: observe(ctx, cells),
        lambda seen: not bad(seen),
        deadline_s if deadline_s is not None else ctx.params.converge_deadline_s,
        ctx.params.poll_interval_s,
    )
    return polled, bad(polled.value)


def describe(results: dict[str, ProbeResult], labels: Sequence[str]) -> dict[str, Any]:
    return {label: results[label].evidence() for label in labels}


def not_run(results: dict[str, ProbeResult], **evidence_kw: Any) -> Outcome | None:
    """The error verdict when any probe did not run (agent crash, exec failure): what it
    would have shown is unknown, so the check neither passes nor fails."""
    unrun = [label for label, r in results.items() if not r.ran]
    if not unrun:
        return None
    first = results[unrun[0]]
    return Outcome.errored(
        f"{len(unrun)} of {len(results)} probes did not run, e.g. {unrun[0]}: {first.error}",
        observed=describe(results, unrun),
        **evidence_kw,
    )


def polled_measurements(polled: Polled[dict[str, ProbeResult]]) -> dict[Measure, Any]:
    return {
        Measure.PROBES: len(polled.value),
        Measure.ATTEMPTS: polled.attempts,
        Measure.CONVERGED_S: round(polled.elapsed_s, 3),
    }


def ok(_: Cell, result: ProbeResult) -> bool:
    return result.ok
