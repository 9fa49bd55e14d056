"""Perf on Swarm (informational): the overlay between two hosts, the overlay on one host,
through a service VIP, and a plain Docker bridge network on one host as a reference row,
each against the host network between the same hosts (the loopback on one host; see
perf_common)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from netconform.checks.base import CATALOGUE, CheckSpec, Outcome
from netconform.checks.perf_common import (
    IPERF3,
    K8S_NETPERF,
    NETPERF_RR,
    Bench,
    PerfPath,
    host_baseline,
    measure_connection_rate,
    measure_latency,
    measure_throughput,
)
from netconform.checks.swarm_common import spec
from netconform.checks.swarm_context import SwarmCheckContext
from netconform.platforms.swarm_plan import ContainerRole, Endpoint, NetworkKey, ServiceKey
from netconform.results import Area
from netconform.vocab import Capability

NOT_CATCHABLE = "informational: a figure, not a verdict on the data path (it fails only when "
NOT_CATCHABLE += "it could not measure, which the reachability checks already catch)"


def _spec(id_: str, aspect: str, title: str, ref: str, **kw: Any) -> CheckSpec:
    return spec(id_, Area.PERF, aspect, title, ref, not_catchable=NOT_CATCHABLE, **kw)


def _bench(ctx: SwarmCheckContext) -> Bench[Endpoint]:
    return Bench(ctx.run_many, ctx.probe, ctx.scenario.perf)


def _path(name: str, client: Endpoint, server: Endpoint, target: str = "") -> PerfPath[Endpoint]:
    target = target or server.ip
    return PerfPath(name, client, server, target, f"{client.name} -> {server.name} ({target})")


def _by_node(endpoints: list[Endpoint]) -> dict[str, Endpoint]:
    found: dict[str, Endpoint] = {}
    for e in endpoints:
        found.setdefault(e.node, e)
    return found


class Unplaced(Exception):
    """The endpoints a path needs are not there (deployment incomplete)."""


def _two_nodes(ctx: SwarmCheckContext) -> tuple[str, str]:
    if len(ctx.nodes) < 2:
        raise Unplaced("needs 2+ nodes")
    return ctx.nodes[0].name, ctx.nodes[1].name


def _pick(found: dict[str, Endpoint], node: str, what: str) -> Endpoint:
    if node not in found:
        raise Unplaced(f"no {what} on {node}")
    return found[node]


def _host_network(ctx: SwarmCheckContext, a: str, b: str) -> PerfPath[Endpoint]:
    """The host network from node a to node b (the host's loopback when a == b): the
    baseline every perf path is measured against."""
    hosts = _by_node(ctx.standalone(ContainerRole.HOST))
    client, server = _pick(hosts, a, "host container"), _pick(hosts, b, "host container")
    return host_baseline(_path, client, server, same_host=a == b)


def cross_host(ctx: SwarmCheckContext) -> tuple[PerfPath[Endpoint], PerfPath[Endpoint]]:
    """The overlay between a probe task on the first and one on the second node, and the
    host network between the same two nodes."""
    a, b = _two_nodes(ctx)
    tasks = _by_node(ctx.tasks(ServiceKey.PROBE))
    overlay = _path("overlay", _pick(tasks, a, "probe task"), _pick(tasks, b, "probe task"))
    return overlay, _host_network(ctx, a, b)


def same_host(ctx: SwarmCheckContext) -> tuple[PerfPath[Endpoint], PerfPath[Endpoint]]:
    a, _ = _two_nodes(ctx)
    task = _pick(_by_node(ctx.tasks(ServiceKey.PROBE)), a, "probe task")
    peer = _pick(_by_node(ctx.peers()), a, "peer container")
    return _path("overlay", task, peer), _host_network(ctx, a, a)


PerfCheck = Callable[[SwarmCheckContext], Outcome]


def _placed(measure: PerfCheck) -> PerfCheck:
    def run(ctx: SwarmCheckContext) -> Outcome:
        try:
            return measure(ctx)
        except Unplaced as exc:
            return Outcome.failed(f"could not measure: {exc}")

    return run


def _register(id_: str, aspect: str, title: str, ref: str, measure: PerfCheck, **kw: Any) -> None:
    CATALOGUE.register(_spec(id_, aspect, title, ref, **kw))(_placed(measure))


_register(
    "perf.tcp.cross-host",
    "perf.tcp.cross-host.1-stream",
    "TCP throughput across hosts on the overlay, 1 stream, against the host network",
    IPERF3,
    lambda ctx: measure_throughput(_bench(ctx), *cross_host(ctx)),
)
_register(
    "perf.tcp.cross-host.streams",
    "perf.tcp.cross-host.streams",
    "TCP throughput across hosts on the overlay, several streams, against the host network",
    IPERF3,
    lambda ctx: measure_throughput(
        _bench(ctx), *cross_host(ctx), streams=ctx.scenario.perf.streams
    ),
)
_register(
    "perf.tcp.same-host",
    "perf.tcp.same-host.1-stream",
    "TCP throughput between overlay endpoints on one host, against the host's loopback",
    IPERF3,
    lambda ctx: measure_throughput(_bench(ctx), *same_host(ctx)),
)
_register(
    "perf.udp.cross-host",
    "perf.udp.cross-host",
    "UDP throughput and loss across hosts on the overlay, against the host network",
    IPERF3,
    lambda ctx: measure_throughput(_bench(ctx), *cross_host(ctx), udp=True),
)
_register(
    "perf.rr.cross-host",
    "perf.rr.cross-host",
    "TCP request/response latency across hosts on the overlay, against the host network",
    NETPERF_RR,
    lambda ctx: measure_latency(_bench(ctx), *cross_host(ctx)),
)
_register(
    "perf.crr.cross-host",
    "perf.crr.cross-host",
    "TCP connection rate across hosts on the overlay, against the host network",
    K8S_NETPERF,
    lambda ctx: measure_connection_rate(_bench(ctx), *cross_host(ctx)),
)


def vip(ctx: SwarmCheckContext) -> Outcome:
    """Through the perf service's VIP (one backend) from a probe task on another node."""
    backends = ctx.tasks(ServiceKey.PERF)
    address = ctx.vip(ServiceKey.PERF, NetworkKey.MAIN)
    if not backends or address is None:
        raise Unplaced("the perf service has no running task or no VIP")
    backend = backends[0]
    clients = [t for t in ctx.tasks(ServiceKey.PROBE) if t.node != backend.node]
    if not clients:
        raise Unplaced(f"no probe task on a node other than {backend.node}")
    path = _path("service VIP", clients[0], backend, address)
    return measure_throughput(_bench(ctx), path, _host_network(ctx, clients[0].node, backend.node))


_register(
    "perf.tcp.vip",
    "perf.tcp.service",
    "TCP throughput through a service VIP to its backend on another host",
    IPERF3,
    vip,
    requires=frozenset({Capability.IPVS}),
)


def bridge(ctx: SwarmCheckContext) -> Outcome:
    """Two containers on a plain bridge network on the first node (a reference row), against
    that node's loopback."""
    pair = ctx.standalone(ContainerRole.BRIDGE)
    if len(pair) < 2:
        raise Unplaced("the bridge pair is not running")
    path = _path("bridge", pair[0], pair[1])
    return measure_throughput(_bench(ctx), path, _host_network(ctx, pair[0].node, pair[1].node))


_register(
    "perf.bridge.same-host",
    "perf.reference.bridge",
    "Reference: TCP throughput on a plain Docker bridge network on one host, against its loopback",
    IPERF3,
    bridge,
)
