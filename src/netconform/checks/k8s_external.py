"""Traffic leaving a Kubernetes cluster and coming into it from outside, against the run's
external targets (k8s/external_target.py: on kind two containers on the `kind` network
beside the nodes; on `cluster` the --external-target address):

- pod to the world over TCP, UDP and ICMP from every node;
- the source address the world sees: the pod's node's (SNAT / masquerade / natOutgoing),
  recorded per node;
- egress NetworkPolicy by ipBlock, the seed's rule: allow 0.0.0.0/0 except the metadata
  address, with target B standing in for 169.254.169.254/32 (A answers, B is blocked);
- an outside client (target A) to a NodePort: externalTrafficPolicy Local keeps the
  client's address, Cluster through a node without the backend replaces it.

The targets run peer_echo, which answers with the address it saw, so every verdict rests on
what the far end observed."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from netconform.checks.base import CATALOGUE, CheckSpec, Outcome, Polled
from netconform.checks.grid import Cell as GridCell
from netconform.checks.grid import Expect, Grid, describe, not_run
from netconform.checks.k8s_common import Cell, PodGrid, poll_grid, spec
from netconform.k8s.context import KubeCheckContext, probe_pods_by_node
from netconform.k8s.external_target import (
    BACKEND_ROLE,
    CLUSTER_SERVICE,
    EGRESS_POLICY,
    EGRESS_ROLE,
    LOCAL_SERVICE,
    ExternalTarget,
    ExternalTargets,
    Role,
    TargetProber,
    seen_address,
)
from netconform.k8s.kube import PodEndpoint
from netconform.k8s.tools import SubprocessRunner
from netconform.k8s.workloads import ROLE_LABEL
from netconform.probes.model import BLOCKED, ProbeKind, ProbeResult
from netconform.results import Area, Measure, Verdict
from netconform.vocab import Capability

MODEL = "https://kubernetes.io/docs/concepts/services-networking/#the-kubernetes-network-model"
MASQUERADE = "https://kubernetes.io/docs/tasks/administer-cluster/ip-masq-agent/"
SOURCE_IP = "https://kubernetes.io/docs/tutorials/services/source-ip/"
EGRESS = "https://kubernetes.io/docs/concepts/services-networking/network-policies/#networkpolicy-resource"
SOURCE_SEEN = Measure.SOURCE_SEEN


def _spec(
    id_: str,
    aspect: str,
    title: str,
    ref: str,
    requires: frozenset[Capability] = frozenset(),
    area: Area = Area.REACHABILITY,
) -> CheckSpec:
    return spec(id_, area, aspect, title, ref, requires)


def _target(ctx: KubeCheckContext, role: Role) -> ExternalTarget | Outcome:
    """The run's target of `role`, or the outcome saying why there is none: an error where
    the platform tried to start it and could not, a skip where it has none."""
    targets = ExternalTargets.of(ctx.platform_info())
    target = targets.get(role)
    if target is not None:
        return target
    why = targets.why_missing(role)
    return Outcome.errored(why) if targets.unavailable else Outcome.skipped(why)


def _port(target: ExternalTarget, kind: ProbeKind) -> int | None:
    return {ProbeKind.TCP: target.tcp_port, ProbeKind.UDP: target.udp_port}.get(kind)


def _sources(ctx: KubeCheckContext) -> list[PodEndpoint]:
    """A probe pod on every node."""
    return [slots["a"] for _, slots in sorted(probe_pods_by_node(ctx).items())]


def _cell(
    ctx: KubeCheckContext,
    src: PodEndpoint,
    target: ExternalTarget,
    kind: ProbeKind,
    expect: Expect | None = None,
) -> Cell:
    port = _port(target, kind)
    where = f"{target.role} {target.address}" + (f" {kind}/{port}" if port else f" {kind}")
    probe = ctx.probe(kind, target.address, port=port)
    label = f"{src.name}@{src.node} -> {where}"
    return Cell(src, probe, label) if expect is None else Cell(src, probe, label, expect)


# --- pod to the world ------------------------------------------------------------------
LEAVING = (
    "traffic leaving the cluster is dropped, or leaves unmasqueraded and its reply has no way back"
)


def _register_to_world(kind: ProbeKind, requires: frozenset[Capability]) -> None:
    @CATALOGUE.register(
        _spec(
            f"k8s.reach.external.{kind}",
            f"reachability.external.{kind}",
            f"Pod to an address outside the cluster, from every node ({kind})",
            MODEL,
            requires,
        )
    )
    def check(ctx: KubeCheckContext) -> Outcome:
        target = _target(ctx, Role.WORLD)
        if isinstance(target, Outcome):
            return target
        if kind != ProbeKind.ICMP and _port(target, kind) is None:
            return Outcome.skipped(f"{target.describe()} serves no {kind} port")
        cells = [_cell(ctx, src, target, kind) for src in _sources(ctx)]
        if not cells:
            return Outcome.skipped("no probe pods")
        grid = PodGrid(f"pod to {target.describe()} over {kind}", cells, failing=LEAVING)
        return grid.judge(poll_grid(ctx, grid))


_register_to_world(ProbeKind.TCP, frozenset())
_register_to_world(ProbeKind.UDP, frozenset())
_register_to_world(ProbeKind.ICMP, frozenset({Capability.ICMP}))


# --- the source address the world sees ---------------------------------------------------
def _seen_as(address: str) -> Expect:
    return Expect(f"seen as {address}", lambda r: seen_address(r) == address)


def unreported(seen: Mapping[str, ProbeResult]) -> list[str]:
    """Cells that got an answer naming no address: the target is not peer_echo."""
    return [k for k, r in seen.items() if r.ok and seen_address(r) is None]


def with_seen(
    outcome: Outcome, seen: Mapping[str, str | None], expected: Mapping[str, Any] | None = None
) -> Outcome:
    """The outcome with the addresses the far end saw as its SOURCE_SEEN measurement; a
    failure's reason says what was seen (a grid's reason gives only how a probe ended)."""
    found = {**outcome.measurements, SOURCE_SEEN: dict(seen)}
    reason = outcome.reason
    if outcome.verdict == Verdict.FAIL:
        said = [
            f"{key} {address or 'no answer'}"
            for key, address in seen.items()
            if expected is None or address != expected.get(key)
        ]
        reason = f"{reason}; seen: {', '.join(said)}"
    return dataclasses.replace(
        outcome,
        reason=reason,
        measurements=found,
        expected=outcome.expected if expected is None else dict(expected),
    )


@CATALOGUE.register(
    _spec(
        "k8s.reach.external.source-address",
        "reachability.external.source-nat",
        "Pod traffic to an outside address leaves with its node's address (SNAT / masquerade)",
        MASQUERADE,
    )
)
def source_address(ctx: KubeCheckContext) -> Outcome:
    target = _target(ctx, Role.WORLD)
    if isinstance(target, Outcome):
        return target
    nodes = ctx.node_addresses()
    kinds = [k for k in (ProbeKind.TCP, ProbeKind.UDP) if _port(target, k) is not None]
    cells = [
        _cell(ctx, src, target, kind, _seen_as(nodes.get(src.node, "?")))
        for src in _sources(ctx)
        for kind in kinds
    ]
    if not cells:
        return Outcome.skipped("no probe pods")
    grid = PodGrid(
        f"the address {target.describe()} saw",
        cells,
        failing="pod traffic is not masqueraded to its node's address on the way out",
    )
    polled = poll_grid(ctx, grid)
    silent = unreported(polled.value)
    if silent:
        reply = polled.value[silent[0]].values.get("peer")
        return Outcome.skipped(
            f"{target.describe()} does not say which address it saw (its reply {reply!r}): "
            "run netconform/probes/peer_echo.py there"
        )
    # per node, over the first kind (TCP); every cell is in the evidence
    seen = {
        c.source.node: seen_address(polled.value[c.label])
        for c in cells
        if c.probe.kind == kinds[0]
    }
    expected = {src.node: nodes.get(src.node) for src in _sources(ctx)}
    return with_seen(grid.judge(polled), seen, expected)


# --- egress NetworkPolicy by ipBlock -------------------------------------------------------
def egress_policy(namespace: str, excepted: str) -> dict[str, Any]:
    """The seed's rule with `excepted` for 169.254.169.254: egress anywhere but that /32,
    for the egress clients only (no other check uses them)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": EGRESS_POLICY, "namespace": namespace},
        "spec": {
            "podSelector": {"matchLabels": {ROLE_LABEL: EGRESS_ROLE}},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": [f"{excepted}/32"]}}]}],
        },
    }


BLOCKED_EXPECT = Expect("blocked", lambda r: r.outcome in BLOCKED)
REACHABLE = Expect("reachable", lambda r: r.ok)


def _egress_cells(
    ctx: KubeCheckContext,
    clients: Sequence[PodEndpoint],
    world: ExternalTarget,
    metadata: ExternalTarget,
    metadata_expect: Expect,
) -> list[Cell]:
    cells = []
    for src in clients:
        for kind in (ProbeKind.TCP, ProbeKind.UDP):
            if _port(world, kind) is not None:
                cells.append(_cell(ctx, src, world, kind, REACHABLE))
            if _port(metadata, kind) is not None:
                cells.append(_cell(ctx, src, metadata, kind, metadata_expect))
    return cells


@CATALOGUE.register(
    _spec(
        "k8s.netpol.egress.ipblock-except",
        "netpol.egress.ipblock-except",
        "Egress allowed to 0.0.0.0/0 except the metadata address /32: the world answers, "
        "the excepted address is blocked",
        EGRESS,
        frozenset({Capability.NETWORKPOLICY}),
        Area.NETPOL,
    )
)
def egress_ipblock_except(ctx: KubeCheckContext) -> Outcome:
    world, metadata = _target(ctx, Role.WORLD), _target(ctx, Role.METADATA)
    if isinstance(world, Outcome):
        return world
    if isinstance(metadata, Outcome):
        return metadata
    clients = sorted(ctx.pods(EGRESS_ROLE), key=lambda p: p.name)
    if not clients:
        return Outcome.skipped("no egress client pods (the kind platforms create them)")
    # Positive control: without the policy both answer, so a block later is the policy's.
    control = PodGrid("without a policy", _egress_cells(ctx, clients, world, metadata, REACHABLE))
    before = poll_grid(ctx, control)
    unrun = not_run(before.value, control.what)
    if unrun is not None:
        return unrun
    if control.bad(before.value):
        return Outcome.errored(
            f"positive control: without any policy {', '.join(control.bad(before.value))} "
            "did not answer, so a block under the policy would prove nothing",
            observed=describe(before.value),
        )
    policy = egress_policy(ctx.spec.probe_namespace, metadata.address)
    ctx.apply_policy(policy)
    try:
        grid = PodGrid(
            f"egress 0.0.0.0/0 except {metadata.address}/32",
            _egress_cells(ctx, clients, world, metadata, BLOCKED_EXPECT),
            failing="the ipBlock's except is not enforced, or the allowed CIDR blocks the world",
        )
        deadline = max(ctx.params.netpol_deadline_s, ctx.params.converge_deadline_s)
        polled = poll_grid(ctx, grid, deadline)
    finally:
        ctx.delete_policy(ctx.spec.probe_namespace, EGRESS_POLICY)
    outcome = grid.judge(polled)
    took = {Measure.TOOK_EFFECT_S: round(polled.elapsed_s, 3)} if polled.held else {}
    return dataclasses.replace(
        outcome,
        expected={"policy": policy, "cells": outcome.expected},
        observed={"without a policy": describe(before.value), "with the policy": outcome.observed},
        measurements={**outcome.measurements, **took},
    )


# --- an outside client to a NodePort -------------------------------------------------------
TargetCell = GridCell[str]


def _outside_client(ctx: KubeCheckContext) -> tuple[ExternalTarget, PodEndpoint] | Outcome:
    world = _target(ctx, Role.WORLD)
    if isinstance(world, Outcome):
        return world
    if world.container is None:
        return Outcome.skipped(
            f"{world.describe()} is not a container this run started: no outside client to "
            "probe a NodePort from (kind starts one)"
        )
    backends = ctx.pods(BACKEND_ROLE)
    if not backends:
        return Outcome.skipped("no external backend pod (the kind platforms create it)")
    return world, backends[0]


def _nodeport_outcome(
    ctx: KubeCheckContext,
    service: str,
    via: Callable[[str, Mapping[str, str]], list[str]],
    expect: Callable[[ExternalTarget], Expect],
    failing: str,
) -> Outcome:
    found = _outside_client(ctx)
    if isinstance(found, Outcome):
        return found
    world, backend = found
    assert world.container is not None  # _outside_client said so
    addresses = ctx.node_addresses()
    port = ctx.node_port(ctx.spec.probe_namespace, service)
    cells = [
        TargetCell(
            world.container,
            ctx.probe(ProbeKind.TCP, addresses[node], port=port),
            f"{world.role} {world.address} -> {service} via {node} {addresses[node]}:{port}",
            expect(world),
        )
        for node in via(backend.node, addresses)
    ]
    if not cells:
        return Outcome.skipped(f"{service}: no node to reach it through (needs 2+ nodes)")
    grid: Grid[str] = Grid(
        f"{service} from outside (backend on {backend.node})", cells, failing=failing
    )
    prober = TargetProber(SubprocessRunner(), {world.container: world})
    polled: Polled[dict[str, ProbeResult]] = grid.poll(
        prober, ctx.params.converge_deadline_s, ctx.params.poll_interval_s
    )
    seen = {label: seen_address(result) for label, result in polled.value.items()}
    return with_seen(grid.judge(polled), seen)


@CATALOGUE.register(
    _spec(
        "k8s.reach.external.nodeport.local",
        "reachability.external.published-port.client-kept",
        "Outside client to a NodePort with externalTrafficPolicy Local on the backend's node: "
        "the backend sees the client's own address",
        SOURCE_IP + "#source-ip-for-services-with-type-nodeport",
        frozenset({Capability.NODEPORT}),
    )
)
def nodeport_local(ctx: KubeCheckContext) -> Outcome:
    return _nodeport_outcome(
        ctx,
        LOCAL_SERVICE,
        lambda backend_node, _: [backend_node],
        lambda world: _seen_as(world.address),
        "the client's address is rewritten on the way in",
    )


def _not_seen_as(address: str) -> Expect:
    return Expect(
        f"answered, seen as another address than {address}",
        lambda r: seen_address(r) not in (None, address),
    )


@CATALOGUE.register(
    _spec(
        "k8s.reach.external.nodeport.cluster",
        "reachability.external.published-port.forwarded-snat",
        "Outside client to a NodePort with externalTrafficPolicy Cluster through a node "
        "without the backend: forwarded, with the client's address replaced (SNAT)",
        SOURCE_IP + "#source-ip-for-services-with-type-nodeport",
        frozenset({Capability.NODEPORT}),
    )
)
def nodeport_cluster(ctx: KubeCheckContext) -> Outcome:
    return _nodeport_outcome(
        ctx,
        CLUSTER_SERVICE,
        lambda backend_node, addresses: [n for n in sorted(addresses) if n != backend_node],
        lambda world: _not_seen_as(world.address),
        "the forwarding node does not SNAT, so the backend answers the client directly",
    )
