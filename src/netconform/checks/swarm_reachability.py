"""Reachability on Swarm overlays: task to task across hosts and on one host (ICMP, TCP, UDP),
a service VIP to every backend, the routing mesh on every host, and VXLAN on the wire."""

from __future__ import annotations

from collections.abc import Callable

from netconform.checks.base import CATALOGUE, Outcome, poll
from netconform.checks.grid import describe, not_run
from netconform.checks.swarm_common import (
    DOCS,
    SWARM_NET,
    Pair,
    cross_host_pairs,
    in_the_clear,
    nodes_without_task,
    on_the_wire,
    pairs_matrix,
    spec,
)
from netconform.checks.swarm_context import SwarmCheckContext
from netconform.lab import capture
from netconform.platforms.swarm_plan import PUBLISHED_PORT, NetworkKey, ServiceKey
from netconform.probes.agent import SERVER_TCP_PORT
from netconform.probes.model import ProbeKind, ProbeResult
from netconform.results import Area, Measure
from netconform.vocab import Capability, Fault

INGRESS = "https://docs.docker.com/engine/swarm/ingress/"


def same_host_pairs(ctx: SwarmCheckContext) -> list[Pair]:
    """Each probe task with the standalone peer on its node, both directions."""
    peers = {p.node: p for p in ctx.peers()}
    pairs: list[Pair] = []
    for task in ctx.tasks(ServiceKey.PROBE):
        if task.node in peers:
            pairs += [(task, peers[task.node]), (peers[task.node], task)]
    return pairs


def _register_matrix(
    scope: str,
    kind: ProbeKind,
    pairs: Callable[[SwarmCheckContext], list[Pair]],
    title: str,
    catches: tuple[Fault, ...],
) -> None:
    @CATALOGUE.register(
        spec(
            f"reachability.{scope}.{kind}",
            Area.REACHABILITY,
            f"reachability.pod-to-pod.{scope}.{kind}",
            title,
            DOCS,
            catches=catches,
        )
    )
    def check(ctx: SwarmCheckContext) -> Outcome:
        missing = nodes_without_task(ctx, ServiceKey.PROBE)
        if missing:
            # a global service runs one task per node: a node without one is a finding
            return Outcome.failed(f"no running probe task on {', '.join(missing)}")
        return pairs_matrix(ctx, pairs(ctx), kind, expect_ok=True)


for _kind in (ProbeKind.ICMP, ProbeKind.TCP, ProbeKind.UDP):
    _register_matrix(
        "cross-host",
        _kind,
        cross_host_pairs,
        f"Task to task across every host pair, both directions ({_kind})",
        (Fault.VXLAN_BLOCKED, Fault.HOST_LOSS),
    )
    _register_matrix(
        "same-host",
        _kind,
        same_host_pairs,
        f"Task to a container on the same host, both directions ({_kind})",
        # the traffic stays on the host, but a lost host's tasks leave the swarm's view
        (Fault.HOST_LOSS,),
    )


@CATALOGUE.register(
    spec(
        "reachability.vip.round-robin",
        Area.REACHABILITY,
        "reachability.service.every-backend",
        "A service VIP reaches every backend (TCP, round robin)",
        SWARM_NET,
        requires=frozenset({Capability.IPVS}),
        catches=(Fault.VXLAN_BLOCKED,),
    )
)
def vip_round_robin(ctx: SwarmCheckContext) -> Outcome:
    vip = ctx.vip(ServiceKey.VIP, NetworkKey.MAIN)
    backends = {t.container_id[:12] for t in ctx.tasks(ServiceKey.VIP)}
    source = ctx.tasks(ServiceKey.PROBE)[0]
    n = ctx.scenario.vip.requests

    last: dict[str, ProbeResult] = {}

    def observe() -> set[str]:
        probes = [ctx.probe(ProbeKind.TCP, str(vip), port=SERVER_TCP_PORT) for _ in range(n)]
        last.clear()
        last.update({f"request {i}": r for i, r in enumerate(ctx.run(source, probes))})
        return {str(r.values.get("peer")) for r in last.values() if r.ok}

    polled = poll(observe, lambda seen: backends <= seen, ctx.scenario.converge_deadline_s)
    measurements = {
        Measure.PROBES: n,
        Measure.BACKENDS: len(backends),
        Measure.BACKENDS_ANSWERED: len(polled.value),
    }
    unrun = None if polled.held else not_run(last, f"VIP {vip}", measurements=measurements)
    if unrun is not None:
        return unrun
    if polled.held:
        return Outcome.passed(
            f"VIP {vip}: all {len(backends)} backends answered",
            expected=sorted(backends),
            observed=sorted(polled.value),
            measurements=measurements,
        )
    return Outcome.failed(
        f"VIP {vip}: backends never answering: {sorted(backends - polled.value)}",
        expected=sorted(backends),
        observed=sorted(polled.value),
        measurements=measurements,
    )


@CATALOGUE.register(
    spec(
        "reachability.ingress.routing-mesh",
        Area.REACHABILITY,
        "reachability.published-port.other-host",
        "A published port answers on every host's underlay address",
        INGRESS,
        requires=frozenset({Capability.IPVS, Capability.HOST_ACCESS}),
        catches=(Fault.VXLAN_BLOCKED,),
    )
)
def routing_mesh(ctx: SwarmCheckContext) -> Outcome:
    sources = [(n.name, ctx.host_executor(n.name)) for n in ctx.nodes]

    def observe() -> dict[str, ProbeResult]:
        cells = {}
        for name, executor in sources:
            assert executor is not None
            probes = [ctx.probe(ProbeKind.TCP, n.address, port=PUBLISHED_PORT) for n in ctx.nodes]
            results = executor.run_batch(probes)
            for node, r in zip(ctx.nodes, results, strict=True):
                cells[f"{name}->{node.name}:{PUBLISHED_PORT}"] = r
        return cells

    polled = poll(
        observe, lambda c: all(r.ok for r in c.values()), ctx.scenario.converge_deadline_s
    )
    observed = describe(polled.value)
    unrun = None if polled.held else not_run(polled.value, "published port", observed=observed)
    if unrun is not None:
        return unrun
    bad = {k: r.error for k, r in polled.value.items() if not r.ok}
    if polled.held:
        return Outcome.passed(
            f"published port answers on all {len(ctx.nodes)} hosts", observed=observed
        )
    return Outcome.failed(f"published port silent: {bad}", observed=observed)


@CATALOGUE.register(
    spec(
        "reachability.underlay.vxlan",
        Area.REACHABILITY,
        "reachability.underlay.encapsulated",
        "Cross-host overlay traffic is VXLAN on UDP 4789 with the network's VNI, never in the "
        "clear",
        DOCS + " (UDP port 4789 for overlay network traffic); RFC 7348 §5",
        requires=frozenset({Capability.UNDERLAY_CAPTURE}),
        catches=(Fault.VXLAN_BLOCKED, Fault.HOST_LOSS),
    )
)
def underlay_vxlan(ctx: SwarmCheckContext) -> Outcome:
    vni, subnet = ctx.overlay(NetworkKey.MAIN)
    return on_the_wire(
        ctx,
        ServiceKey.PROBE,
        ("vxlan", capture.vxlan_vni(vni), f"VXLAN frames with VNI {vni}"),
        {"clear": in_the_clear(subnet)},
        f"as VXLAN, VNI {vni}",
    )
