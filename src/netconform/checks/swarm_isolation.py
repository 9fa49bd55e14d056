"""Isolation between Swarm overlays: two overlays cannot reach each other, an --internal
overlay has no way out (yet works inside), an encrypted overlay works and shows only ESP on
the wire. Each negative check first proves, with a control, that the traffic it expects to
be blocked would otherwise flow."""

from __future__ import annotations

import itertools

from netconform.checks.base import CATALOGUE, Outcome
from netconform.checks.grid import not_run
from netconform.checks.swarm_common import (
    DOCS,
    cross_host,
    cross_host_pairs,
    in_the_clear,
    on_the_wire,
    pairs_matrix,
    spec,
)
from netconform.checks.swarm_context import SwarmCheckContext
from netconform.lab import capture
from netconform.platforms.swarm_plan import Endpoint, NetworkKey, ServiceKey
from netconform.probes.model import ProbeKind, ProbeResult
from netconform.results import Area, Verdict
from netconform.vocab import Capability, Fault

INTERNAL_DOCS = "https://docs.docker.com/reference/cli/docker/network/create/#internal"
GOSSIP_PORT = 7946  # Swarm's gossip port, listening on every node's underlay address
INTERNAL_INTERFACES = ["eth0", "lo"]


@CATALOGUE.register(
    spec(
        "isolation.overlays.cross-network",
        Area.ISOLATION,
        "isolation.segments.cross-segment",
        "Two overlays cannot reach each other (same host and cross host)",
        DOCS,
        catches=(Fault.ISOLATION_BREACH,),
    )
)
def overlays_isolated(ctx: SwarmCheckContext) -> Outcome:
    others = ctx.tasks(ServiceKey.OTHER)
    control = pairs_matrix(
        ctx, [(a, b) for a, b in itertools.permutations(others, 2)], ProbeKind.TCP, expect_ok=True
    )
    if control.verdict != Verdict.PASS:
        return Outcome(
            Verdict.ERROR if control.verdict == Verdict.ERROR else Verdict.FAIL,
            f"control failed (the other overlay is broken itself): {control.reason}",
        )
    pairs = [(a, b) for a in [*ctx.tasks(ServiceKey.PROBE), *ctx.peers()] for b in others]
    outcome = pairs_matrix(ctx, pairs, ProbeKind.TCP, expect_ok=False)
    return Outcome(
        outcome.verdict,
        outcome.reason + " (control: reachable within its own overlay)",
        outcome.expected,
        outcome.observed,
        outcome.measurements,
    )


@CATALOGUE.register(
    spec(
        "isolation.internal.no-default-route",
        Area.ISOLATION,
        "isolation.internal.no-default-route",
        "An --internal overlay gives no default route and no gateway interface",
        INTERNAL_DOCS,
        not_catchable="configuration of the task's namespace; no lab fault adds a route",
    )
)
def internal_routes(ctx: SwarmCheckContext) -> Outcome:
    seen = {}
    for task in ctx.tasks(ServiceKey.INTERNAL):
        routes, ifaces = ctx.run(
            task, [ctx.probe(ProbeKind.ROUTES, ""), ctx.probe(ProbeKind.INTERFACES, "")]
        )
        unrun = not_run(
            {"routes": routes, "interfaces": ifaces}, f"routes and interfaces of {task.name}"
        )
        if unrun is not None:
            return unrun
        seen[task.name] = {
            "default_route": routes.values.get("has_default"),
            "interfaces": sorted(ifaces.values.get("interfaces", {})),
        }
    bad = {
        k: v
        for k, v in seen.items()
        if v["default_route"] is not False or v["interfaces"] != INTERNAL_INTERFACES
    }
    if not seen:
        return Outcome.failed("no internal task found")
    if bad:
        return Outcome.failed(f"internal tasks with egress plumbing: {bad}", observed=seen)
    return Outcome.passed(f"{len(seen)} internal tasks: no default route, only eth0", observed=seen)


def _egress(ctx: SwarmCheckContext, src: Endpoint) -> dict[str, ProbeResult]:
    """Probes to the outside from `src`: every other host's underlay address, gossip port;
    by `src->address:port`."""
    probes = [
        ctx.probe(ProbeKind.TCP, n.address, port=GOSSIP_PORT, connect_only=True)
        for n in ctx.nodes
        if n.name != src.node
    ]
    return {f"{src.name}->{r.target}:{GOSSIP_PORT}": r for r in ctx.run(src, probes)}


@CATALOGUE.register(
    spec(
        "isolation.internal.no-egress",
        Area.ISOLATION,
        "isolation.internal.no-egress",
        "An --internal overlay has no egress, yet works inside across hosts",
        INTERNAL_DOCS,
        catches=(Fault.VXLAN_BLOCKED,),
    )
)
def internal_egress(ctx: SwarmCheckContext) -> Outcome:
    internal = ctx.tasks(ServiceKey.INTERNAL)
    inside = pairs_matrix(ctx, cross_host(internal), ProbeKind.TCP, expect_ok=True)
    if inside.verdict != Verdict.PASS:
        return Outcome(
            Verdict.ERROR if inside.verdict == Verdict.ERROR else Verdict.FAIL,
            f"traffic inside the internal overlay broken: {inside.reason}",
        )
    control = {k: r for t in ctx.tasks(ServiceKey.PROBE)[:1] for k, r in _egress(ctx, t).items()}
    unrun = not_run(control, "egress control")
    if unrun is not None:
        return unrun
    if not all(r.ok for r in control.values()):
        return Outcome.failed(
            f"control failed: a normal overlay cannot reach the underlay either: "
            f"{[r.error for r in control.values()]}"
        )
    attempts = {k: r for t in internal for k, r in _egress(ctx, t).items()}
    # an egress probe that did not run never shows the way out blocked
    unrun = not_run(attempts, "egress from the internal overlay")
    if unrun is not None:
        return unrun
    blocked = {k: ("connected" if r.ok else r.error) for k, r in attempts.items()}
    leaks = sorted(k for k, v in blocked.items() if v == "connected")
    if leaks:
        return Outcome.failed(f"internal overlay reached the underlay: {leaks}", observed=blocked)
    return Outcome.passed(
        "no egress from the internal overlay (control: the normal overlay has egress); "
        "cross-host traffic inside works",
        observed=blocked,
    )


@CATALOGUE.register(
    spec(
        "isolation.encrypted.works",
        Area.ISOLATION,
        "isolation.encrypted.works",
        "An encrypted overlay carries traffic across hosts",
        DOCS,
        requires=frozenset({Capability.ESP}),
        catches=(Fault.VXLAN_BLOCKED,),
    )
)
def encrypted_works(ctx: SwarmCheckContext) -> Outcome:
    pairs = cross_host_pairs(ctx, ServiceKey.ENCRYPTED)
    return pairs_matrix(ctx, pairs, ProbeKind.TCP, expect_ok=True)


@CATALOGUE.register(
    spec(
        "isolation.encrypted.esp-only",
        Area.ISOLATION,
        "isolation.encrypted.on-the-wire",
        "An encrypted overlay's cross-host traffic is ESP on the underlay, no VXLAN in the clear",
        DOCS + " (encrypt: IPsec ESP between nodes)",
        requires=frozenset({Capability.ESP, Capability.UNDERLAY_CAPTURE}),
        catches=(Fault.VXLAN_BLOCKED,),
    )
)
def encrypted_esp_only(ctx: SwarmCheckContext) -> Outcome:
    vni, subnet = ctx.overlay(NetworkKey.ENCRYPTED)
    readable = f"VXLAN frames with VNI {vni} readable on the wire"
    return on_the_wire(
        ctx,
        ServiceKey.ENCRYPTED,
        ("esp", capture.esp(), "ESP packets"),
        {"vxlan": (capture.vxlan_vni(vni), readable), "clear": in_the_clear(subnet)},
        "as ESP only",
    )
