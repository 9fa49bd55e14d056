"""What the Kubernetes checks share: their spec, and the probe grid (checks/grid.py) over
pods with the run's polling deadline and interval."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial

from netconform.checks.base import CheckSpec, Outcome, Polled
from netconform.checks.grid import Cell as GridCell
from netconform.checks.grid import Expect, Grid
from netconform.k8s.context import KubeCheckContext
from netconform.k8s.kube import PodEndpoint
from netconform.probes.model import ProbeResult
from netconform.results import Area
from netconform.vocab import Capability, Family

NOT_CATCHABLE = "no fault injection on Kubernetes platforms: verified by unit fakes only"

Cell = GridCell[PodEndpoint]
PodGrid = Grid[PodEndpoint]


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


def poll_grid(
    ctx: KubeCheckContext, grid: PodGrid, deadline_s: float | None = None
) -> Polled[dict[str, ProbeResult]]:
    """The grid's rounds until it holds, by the run's deadline (or `deadline_s`) and interval."""
    deadline = ctx.params.converge_deadline_s if deadline_s is None else deadline_s
    return grid.poll(ctx, deadline, ctx.params.poll_interval_s)


def run_grid(ctx: KubeCheckContext, grid: PodGrid) -> Outcome:
    return grid.judge(poll_grid(ctx, grid))


def poll_cells(
    ctx: KubeCheckContext,
    cells: Sequence[Cell],
    good: Callable[[Cell, ProbeResult], bool],
    deadline_s: float | None = None,
) -> tuple[Polled[dict[str, ProbeResult]], list[str]]:
    """`poll_grid` with `good(cell, result)` as every cell's expectation; returns the last
    round and the labels of the bad cells (for k8s_mtu, which judges its own reasons)."""
    judged = PodGrid(
        "", [replace(c, expect=Expect(c.expect.name, partial(good, c))) for c in cells]
    )
    polled = poll_grid(ctx, judged, deadline_s)
    return polled, judged.bad(polled.value)


def ok(_: Cell, result: ProbeResult) -> bool:
    return result.ok
