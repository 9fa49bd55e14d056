"""Perf on Kubernetes (informational): the pod network against hostNetwork pods between the
same two nodes, pods on one node against the node's loopback, and a ClusterIP with one
backend on another node, each against its hostNetwork baseline (see perf_common)."""

from __future__ import annotations

from collections.abc import Callable

from netconform.checks.base import CATALOGUE, Outcome
from netconform.checks.k8s_common import spec
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
from netconform.k8s.context import KubeCheckContext, probe_pods_by_node
from netconform.k8s.kube import PodEndpoint
from netconform.k8s.workloads import NODE_INDEX_LABEL, probe_service_name
from netconform.results import Area
from netconform.vocab import Capability

HOST = frozenset({Capability.HOSTNETWORK})

Path = PerfPath[PodEndpoint]
PerfCheck = Callable[[KubeCheckContext], Outcome]


class Unplaced(Exception):
    """The pods a path needs are not there (deployment incomplete, or one node)."""


def _bench(ctx: KubeCheckContext) -> Bench[PodEndpoint]:
    return Bench(ctx.run_many, ctx.probe, ctx.params.perf)


def _path(name: str, client: PodEndpoint, server: PodEndpoint, target: str = "") -> Path:
    target = target or server.ip
    return PerfPath(name, client, server, target, f"{client.key} -> {server.key} ({target})")


def _hosts(ctx: KubeCheckContext) -> dict[int, PodEndpoint]:
    return {int(p.label(NODE_INDEX_LABEL)): p for p in ctx.pods("host")}


def _pods(ctx: KubeCheckContext) -> dict[int, dict[str, PodEndpoint]]:
    by_node = probe_pods_by_node(ctx)
    if len(by_node) < 2:
        raise Unplaced("needs probe pods on 2+ nodes")
    return by_node


def _host(hosts: dict[int, PodEndpoint], index: int) -> PodEndpoint:
    if index not in hosts:
        raise Unplaced(f"no hostNetwork pod on node {index}")
    return hosts[index]


def _host_network(ctx: KubeCheckContext, a: int, b: int) -> Path:
    """hostNetwork pods from node a to node b (the node's loopback when a == b): the
    baseline every perf path is measured against."""
    hosts = _hosts(ctx)
    return host_baseline(_path, _host(hosts, a), _host(hosts, b), same_host=a == b)


def cross_node(ctx: KubeCheckContext) -> tuple[Path, Path]:
    """Pod network between the `a` pods of the first two nodes; hostNetwork pods between
    the same nodes."""
    pods = _pods(ctx)
    first, second = sorted(pods)[:2]
    return _path("pod network", pods[first]["a"], pods[second]["a"]), _host_network(
        ctx, first, second
    )


def same_node(ctx: KubeCheckContext) -> tuple[Path, Path]:
    pods = _pods(ctx)
    first = min(pods)
    return _path("pod network", pods[first]["a"], pods[first]["b"]), _host_network(
        ctx, first, first
    )


def service(ctx: KubeCheckContext) -> Outcome:
    """Through the ClusterIP of the second node's `a` pod (its only backend), from the first
    node's `b` pod, against hostNetwork pods between the same nodes."""
    pods = _pods(ctx)
    first, second = sorted(pods)[:2]
    ip = ctx.service_ip(ctx.spec.probe_namespace, probe_service_name(second, "a"))
    path = _path("ClusterIP", pods[first]["b"], pods[second]["a"], ip)
    return measure_throughput(_bench(ctx), path, _host_network(ctx, first, second))


def _placed(measure: PerfCheck) -> PerfCheck:
    def run(ctx: KubeCheckContext) -> Outcome:
        try:
            return measure(ctx)
        except Unplaced as exc:
            return Outcome.failed(f"could not measure: {exc}")

    return run


def _register(id_: str, aspect: str, title: str, ref: str, measure: PerfCheck) -> None:
    # every perf path is measured against hostNetwork pods (its baseline)
    CATALOGUE.register(spec(id_, Area.PERF, aspect, title, ref, HOST))(_placed(measure))


_register(
    "k8s.perf.tcp.cross-node",
    "perf.tcp.cross-host.1-stream",
    "TCP throughput pod to pod across nodes, 1 stream, against hostNetwork pods",
    IPERF3,
    lambda ctx: measure_throughput(_bench(ctx), *cross_node(ctx)),
)
_register(
    "k8s.perf.tcp.cross-node.streams",
    "perf.tcp.cross-host.streams",
    "TCP throughput pod to pod across nodes, several streams, against hostNetwork pods",
    IPERF3,
    lambda ctx: measure_throughput(_bench(ctx), *cross_node(ctx), streams=ctx.params.perf.streams),
)
_register(
    "k8s.perf.tcp.same-node",
    "perf.tcp.same-host.1-stream",
    "TCP throughput pod to pod on one node, against the node's loopback",
    IPERF3,
    lambda ctx: measure_throughput(_bench(ctx), *same_node(ctx)),
)
_register(
    "k8s.perf.udp.cross-node",
    "perf.udp.cross-host",
    "UDP throughput and loss pod to pod across nodes, against hostNetwork pods",
    IPERF3,
    lambda ctx: measure_throughput(_bench(ctx), *cross_node(ctx), udp=True),
)
_register(
    "k8s.perf.rr.cross-node",
    "perf.rr.cross-host",
    "TCP request/response latency pod to pod across nodes, against hostNetwork pods",
    NETPERF_RR,
    lambda ctx: measure_latency(_bench(ctx), *cross_node(ctx)),
)
_register(
    "k8s.perf.crr.cross-node",
    "perf.crr.cross-host",
    "TCP connection rate pod to pod across nodes, against hostNetwork pods",
    K8S_NETPERF,
    lambda ctx: measure_connection_rate(_bench(ctx), *cross_node(ctx)),
)
_register(
    "k8s.perf.tcp.clusterip",
    "perf.tcp.service",
    "TCP throughput through a ClusterIP to its one backend on another node",
    IPERF3,
    service,
)
