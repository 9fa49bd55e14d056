"""What the Swarm checks of several areas share: the spec references, endpoint pairs, the
probe grid (checks/grid.py) over pairs, and the judge of how cross-host traffic looks on the
underlay wire.

Every expectation quotes its source (Docker docs, or the libnetwork code where the docs are
silent). Negative checks carry a positive control, so a pass always rests on observed traffic.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from netconform.checks.base import CheckSpec, Outcome
from netconform.checks.grid import REACHABLE, UNREACHABLE, Cell, Grid
from netconform.checks.swarm_context import SwarmCheckContext
from netconform.lab import capture
from netconform.platforms.swarm_plan import Endpoint, ServiceKey
from netconform.probes.agent import SERVER_TCP_PORT, SERVER_UDP_PORT
from netconform.probes.model import Probe, ProbeKind
from netconform.results import Area, Measure, Verdict
from netconform.vocab import Family

DOCS = "https://docs.docker.com/engine/network/drivers/overlay/"
SWARM_NET = "https://docs.docker.com/engine/swarm/networking/"

Pair = tuple[Endpoint, Endpoint]


def spec(id: str, area: Area, aspect: str, title: str, ref: str, **kw: Any) -> CheckSpec:
    return CheckSpec(
        id=id, area=area, title=title, spec=ref, family=Family.SWARM, aspect=aspect, **kw
    )


def probe_for(ctx: SwarmCheckContext, kind: ProbeKind, dst: Endpoint) -> Probe:
    """A probe of `kind` to the agent's own server on `dst`."""
    port = {ProbeKind.TCP: SERVER_TCP_PORT, ProbeKind.UDP: SERVER_UDP_PORT}.get(kind)
    return ctx.probe(kind, dst.ip, port=port)


def nodes_without_task(ctx: SwarmCheckContext, service: str) -> list[str]:
    present = {t.node for t in ctx.tasks(service)}
    return [n.name for n in ctx.nodes if n.name not in present]


def cross_host(endpoints: Sequence[Endpoint]) -> list[Pair]:
    """Every ordered pair of endpoints on different hosts."""
    return [(a, b) for a, b in itertools.permutations(endpoints, 2) if a.node != b.node]


def cross_host_pairs(ctx: SwarmCheckContext, service: str = ServiceKey.PROBE) -> list[Pair]:
    return cross_host(ctx.tasks(service))


# --- the probe grid over pairs ---------------------------------------------------------
def run_grid(ctx: SwarmCheckContext, grid: Grid[Endpoint]) -> Outcome:
    """The grid's rounds until it holds or the scenario's deadline passes, judged."""
    return grid.run(ctx, ctx.scenario.converge_deadline_s)


def pairs_matrix(
    ctx: SwarmCheckContext, pairs: Sequence[Pair], kind: ProbeKind, expect_ok: bool
) -> Outcome:
    """Probe every pair (one exec per source per round) until each cell matches. A probe
    that did not run matches neither expectation: the grid is then an error."""
    if not pairs:
        return Outcome.failed("no endpoint pairs to probe: deployment incomplete")
    expect = REACHABLE if expect_ok else UNREACHABLE
    cells = [
        Cell(src, probe_for(ctx, kind, dst), f"{src.name}->{dst.name}", expect)
        for src, dst in pairs
    ]
    return run_grid(ctx, Grid(f"pairs over {kind}", cells))


# --- the underlay wire -----------------------------------------------------------------
# Every exchange crosses the switch at least twice (request and answer).
FRAMES_PER_EXCHANGE = 2


def in_the_clear(subnet: str) -> tuple[str, str]:
    """The forbidden counter for overlay addresses seen unencapsulated on the wire."""
    return capture.unencapsulated(subnet), f"packets from {subnet} on the wire unencapsulated"


def on_the_wire(
    ctx: SwarmCheckContext,
    service: str,
    carrier: tuple[str, str, str],
    forbidden: dict[str, tuple[str, str]],
    carried_as: str,
) -> Outcome:
    """Probe every cross-host pair of `service` over TCP while the underlay switch counts
    frames: `carrier` (name, match, what it is) must carry every exchange, at least twice
    (request and answer); each of `forbidden` (name -> match, what it is) must stay at 0."""
    missing = nodes_without_task(ctx, service)
    if missing:  # a global service: a node without its task is a finding, not fewer pairs
        return Outcome.failed(f"no running {service} task on {', '.join(missing)}")
    carrier_name, carrier_match, carrier_what = carrier
    rules = {carrier_name: carrier_match, **{n: m for n, (m, _) in forbidden.items()}}
    with ctx.watch_underlay(rules) as watch:
        traffic = pairs_matrix(ctx, cross_host_pairs(ctx, service), ProbeKind.TCP, True)
        counts = watch.read()
    measurements = {**traffic.measurements, Measure.WIRE_PACKETS: counts}
    if traffic.verdict != Verdict.PASS:  # nothing to judge the wire by
        return replace(traffic, measurements=measurements)
    pairs = int(traffic.measurements[Measure.PROBES])
    least = FRAMES_PER_EXCHANGE * pairs
    found = []
    if counts.get(carrier_name, 0) < least:
        found.append(
            f"{counts.get(carrier_name, 0)} {carrier_what} on the wire for {pairs} exchanges "
            f"(at least {least} expected)"
        )
    found += [f"{counts[n]} {what}" for n, (_, what) in forbidden.items() if counts.get(n, 0)]
    evidence: dict[str, Any] = {
        "expected": carried_as,
        "observed": counts,
        "measurements": measurements,
    }
    if found:
        return Outcome.failed("; ".join(found), **evidence)
    return Outcome.passed(
        f"{pairs} cross-host TCP exchanges seen on the underlay {carried_as}: {counts}",
        **evidence,
    )
