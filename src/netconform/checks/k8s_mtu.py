"""MTU on Kubernetes: the pod's effective MTU against the node's minus the CNI's
encapsulation overhead, DF pings across nodes at the limit (pass) and one byte over (fails
locally: EMSGSIZE, never silence), 4 MiB transfers across nodes by pod IP and ClusterIP,
and the sweep: the largest DF payload each path carries (pod to pod on one node and across
nodes, to a ClusterIP, to a NodePort, hostNetwork to pod), searched around the CNI's
declared MTU and judged against it.

`measure()` runs once per run (the context's run_state.mtu); pod-interface reports it."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from netconform.checks.base import CATALOGUE, CheckSpec, Outcome, ProbeDidNotRun
from netconform.checks.grid import describe, not_run, observe
from netconform.checks.k8s_common import Cell, ok, poll_cells, spec
from netconform.k8s.context import KubeCheckContext, probe_pods_by_node
from netconform.k8s.facts import CniFacts
from netconform.k8s.kube import PodEndpoint
from netconform.k8s.run_state import MtuFinding
from netconform.k8s.workloads import NODE_INDEX_LABEL, probe_service_name
from netconform.probes.agent import SERVER_TCP_PORT, SERVER_UDP_PORT
from netconform.probes.model import Connectivity, ProbeKind, ProbeResult
from netconform.results import Area, Measure
from netconform.vocab import Capability

PMTU = "https://www.rfc-editor.org/rfc/rfc1191"
CNI_MTU = "https://www.cni.dev/plugins/current/main/bridge/#network-configuration-reference"
IP_ICMP_HEADERS = 28  # IPv4 20 + ICMP 8: ping -s payload = MTU - 28
PROBE_SIZE = 65000  # a DF ping this large always fails locally and reports the path MTU


def _spec(
    id_: str, aspect: str, title: str, ref: str, requires: frozenset[Capability] = frozenset()
) -> CheckSpec:
    return spec(id_, Area.MTU, aspect, title, ref, requires)


def _pair(ctx: KubeCheckContext) -> tuple[PodEndpoint, PodEndpoint] | None:
    by_node = probe_pods_by_node(ctx)
    nodes = sorted(by_node)
    if len(nodes) < 2:
        return None
    return by_node[nodes[0]]["a"], by_node[nodes[1]]["a"]


def _default_iface_mtu(values: dict[str, Any], routes: dict[str, Any]) -> tuple[str, int]:
    iface = next((r["iface"] for r in routes.get("routes", []) if r["dst"] == "0.0.0.0"), "eth0")
    return iface, int(values["interfaces"][iface]["mtu"])


def measure(ctx: KubeCheckContext) -> MtuFinding:
    """Node MTU (a hostNetwork pod's default-route interface) and the pod's effective MTU
    (its interface, lowered by a route MTU when the CNI sets one), measured once per run."""
    if ctx.run_state.mtu is not None:
        return ctx.run_state.mtu
    pair = _pair(ctx)
    hosts = ctx.pods("host")
    if pair is None or not hosts:
        raise RuntimeError("MTU checks need probe pods on 2+ nodes and a hostNetwork pod")
    src, dst = pair
    host = next((h for h in hosts if h.node == src.node), hosts[0])
    cells = [
        Cell(host, ctx.probe(ProbeKind.INTERFACES, ""), "node interfaces"),
        Cell(host, ctx.probe(ProbeKind.ROUTES, ""), "node routes"),
        Cell(src, ctx.probe(ProbeKind.INTERFACES, ""), "pod interfaces"),
        Cell(src, ctx.probe(ProbeKind.ROUTES, ""), "pod routes"),
        Cell(
            src, ctx.probe(ProbeKind.ICMP, dst.ip, size=PROBE_SIZE, df=True), "pod oversize DF ping"
        ),
    ]
    seen = observe(ctx, cells)
    for label, result in seen.items():
        if not result.ran:
            raise ProbeDidNotRun(f"{label}: {result.error}")
    for label in ("node interfaces", "node routes", "pod interfaces", "pod routes"):
        if not seen[label].ok:
            raise RuntimeError(f"{label}: {seen[label].error}")
    node_iface, node_mtu = _default_iface_mtu(
        dict(seen["node interfaces"].values), dict(seen["node routes"].values)
    )
    pod_iface, iface_mtu = _default_iface_mtu(
        dict(seen["pod interfaces"].values), dict(seen["pod routes"].values)
    )
    local_mtu = seen["pod oversize DF ping"].values.get("local_mtu")
    route_mtu = int(local_mtu) if local_mtu is not None else None
    effective = min(iface_mtu, route_mtu) if route_mtu else iface_mtu
    found = MtuFinding(
        node=host.node,
        node_iface=node_iface,
        node_mtu=node_mtu,
        pod_iface=pod_iface,
        pod_iface_mtu=iface_mtu,
        pod_route_mtu=route_mtu,
        pod_mtu=effective,
    )
    ctx.run_state.mtu = found
    return found


def _mtu_measurements(found: MtuFinding) -> dict[Measure, Any]:
    return {
        Measure.EFFECTIVE_MTU: found.pod_mtu,
        Measure.INTERFACE_MTU: found.pod_iface_mtu,
        Measure.ROUTE_MTU: found.pod_route_mtu,
        Measure.HOST_MTU: found.node_mtu,
    }


@CATALOGUE.register(
    _spec(
        "k8s.mtu.pod-interface",
        "mtu.interface.overlay-rule",
        "Pod MTU = node MTU minus the CNI's encapsulation overhead",
        CNI_MTU,
    )
)
def pod_interface(ctx: KubeCheckContext) -> Outcome:
    found = measure(ctx)
    evidence: dict[str, Any] = {
        "observed": found.to_json(),
        "measurements": _mtu_measurements(found),
    }
    overhead = ctx.facts.overhead_bytes
    if overhead is None:
        # An unknown CNI: only "not above the node's" can be asserted.
        if found.pod_mtu <= found.node_mtu:
            return Outcome.passed(
                f"pod MTU {found.pod_mtu} <= node MTU {found.node_mtu}", **evidence
            )
        return Outcome.failed(
            f"pod MTU {found.pod_mtu} exceeds node MTU {found.node_mtu}", **evidence
        )
    expected = found.node_mtu - overhead
    pinned = ctx.facts.configured_mtu
    if pinned is not None and pinned != expected:
        # a pinned MTU is what pods get; one over node - overhead would need fragmenting
        fits = pinned <= expected
        if found.pod_mtu == pinned and fits:
            return Outcome.passed(
                f"pod MTU {pinned}: the CNI's configured MTU, within {found.node_mtu} - "
                f"{overhead} = {expected}",
                expected=pinned,
                **evidence,
            )
        return Outcome.failed(
            f"pod MTU {found.pod_mtu}, configured {pinned}"
            + ("" if fits else f", over node MTU {found.node_mtu} - {overhead} = {expected}"),
            expected=pinned,
            **evidence,
        )
    if found.pod_mtu == expected:
        configured = " (the CNI's configured MTU)" if pinned is not None else ""
        return Outcome.passed(
            f"pod MTU {expected} = {found.node_mtu} - {overhead}{configured}",
            expected=expected,
            **evidence,
        )
    return Outcome.failed(
        f"pod MTU {found.pod_mtu}, expected {found.node_mtu} - {overhead} = {expected}",
        expected=expected,
        **evidence,
    )


def _df_ping(ctx: KubeCheckContext, over: bool) -> Outcome:
    """A DF ping across nodes of the pod MTU's payload (`over`: one byte more)."""
    found = measure(ctx)
    pair = _pair(ctx)
    assert pair is not None
    src, dst = pair
    size = found.pod_mtu - IP_ICMP_HEADERS + (1 if over else 0)
    cell = Cell(
        src, ctx.probe(ProbeKind.ICMP, dst.ip, size=size, df=True), f"DF ping {size}+28 bytes"
    )
    if over:
        want, why = (
            "emsgsize",
            "one byte over must fail locally with EMSGSIZE, not be lost silently",
        )
    else:
        want, why = "ok", "at the MTU the ping must pass (a drop here is a PMTU blackhole)"
    polled, bad = poll_cells(
        ctx, [cell], lambda _, r: r.outcome == Connectivity.EMSGSIZE if over else r.ok
    )
    measurements: dict[Measure, Any] = {Measure.EFFECTIVE_MTU: found.pod_mtu}
    if not over and not bad:
        measurements[Measure.LARGEST_DF_PAYLOAD] = size
    evidence: dict[str, Any] = {
        "expected": {cell.label: want},
        "observed": describe(polled.value, [cell.label]),
        "measurements": measurements,
    }
    unrun = not_run(polled.value, **evidence)
    if unrun is not None:
        return unrun
    if bad:
        return Outcome.failed(why, **evidence)
    if over:
        return Outcome.passed(
            f"{src.node} -> {dst.node}: {size} bytes over MTU {found.pod_mtu} fail locally",
            **evidence,
        )
    return Outcome.passed(
        f"{src.node} -> {dst.node}: MTU {found.pod_mtu} passes with DF", **evidence
    )


@CATALOGUE.register(
    _spec(
        "k8s.mtu.pmtu.df-at-limit",
        "mtu.pmtu.df-at-limit",
        "DF ping across nodes at exactly the pod MTU passes",
        PMTU,
    )
)
def df_at_limit(ctx: KubeCheckContext) -> Outcome:
    return _df_ping(ctx, over=False)


@CATALOGUE.register(
    _spec(
        "k8s.mtu.pmtu.df-over-limit",
        "mtu.pmtu.df-over-limit",
        "DF ping across nodes one byte over the pod MTU fails locally (EMSGSIZE)",
        PMTU,
    )
)
def df_over_limit(ctx: KubeCheckContext) -> Outcome:
    return _df_ping(ctx, over=True)


def _transfer(ctx: KubeCheckContext, by_service: bool) -> Outcome:
    pair = _pair(ctx)
    if pair is None:
        return Outcome.skipped("needs probe pods on 2+ nodes")
    src, dst = pair
    target = dst.ip
    if by_service:
        index = next(i for i, s in probe_pods_by_node(ctx).items() if s["a"] == dst)
        target = ctx.service_ip(ctx.spec.probe_namespace, probe_service_name(index, "a"))
    size = ctx.params.transfer_bytes
    timeout = max(10.0, ctx.params.converge_deadline_s)
    cell = Cell(
        src,
        ctx.probe(ProbeKind.TRANSFER, target, port=SERVER_TCP_PORT, bytes=size, timeout_s=timeout),
        f"{src.name} <- {dst.name} via {target} {size} bytes",
    )
    polled, bad = poll_cells(ctx, [cell], ok)
    result = polled.value[cell.label]
    measurements = {
        Measure.TRANSFER_BYTES: result.values.get("bytes"),
        Measure.TRANSFER_S: result.values.get("seconds"),
        Measure.THROUGHPUT_MBIT_S: result.values.get("mbit_s"),
    }
    unrun = not_run(polled.value, measurements=measurements)
    if unrun is not None:
        return unrun
    if bad:
        return Outcome.failed(
            f"transfer failed: {result.error} (a PMTU or MSS problem stalls bulk data)",
            observed=describe(polled.value, bad),
            measurements=measurements,
        )
    return Outcome.passed(
        f"{size} bytes across nodes at {result.values.get('mbit_s')} Mbit/s",
        measurements=measurements,
    )


@CATALOGUE.register(
    _spec(
        "k8s.mtu.transfer.pod-ip",
        "mtu.transfer.cross-host",
        "4 MiB TCP transfer across nodes by pod IP",
        PMTU,
    )
)
def transfer_pod_ip(ctx: KubeCheckContext) -> Outcome:
    return _transfer(ctx, by_service=False)


@CATALOGUE.register(
    _spec(
        "k8s.mtu.transfer.clusterip",
        "mtu.transfer.service",
        "4 MiB TCP transfer across nodes by ClusterIP",
        PMTU,
    )
)
def transfer_clusterip(ctx: KubeCheckContext) -> Outcome:
    return _transfer(ctx, by_service=True)


# --- the MTU sweep ---------------------------------------------------------------------
# Each path's largest DF payload, found by searching around the payload the CNI's declared
# MTU allows (E): one round tries E and E + 1 on every pair of the path (a conformant path:
# E passes, E + 1 fails, done); otherwise rounds of SWEEP_POINTS sizes split what is left
# between the largest size that passed and the smallest that failed (a k-ary bisection),
# trying first the size a failure named (the path MTU an EMSGSIZE or an ICMP "fragmentation
# needed" reported), until they are one byte apart. A figure other than E is re-tried once
# (its size and one over, and E): a size that passed once and failed once makes the pair
# unstable, never a figure. Every round is one batch per source pod through the context's
# executor; a probe waits SWEEP_TIMEOUT_S at most, so a path costs seconds.
#
# Tolerance: none. A DF packet fits or it does not; the limit is the sender's interface or
# route MTU or the narrowest hop, all whole bytes the CNI declares; a lost probe can only
# make a figure smaller, and a smaller figure is re-tried before it is reported.

SWEEP_FLOOR_MTU = 576  # every IPv4 host takes 576-byte datagrams (RFC 791): the search's floor
SWEEP_CAP_MTU = 9000  # jumbo frames: the ceiling when more than the declared MTU passes
SWEEP_POINTS = 4  # sizes a search round tries per pair
SWEEP_ROUNDS = 8  # search rounds at most (4 points a round narrow 8424 sizes in 6)
SWEEP_TIMEOUT_S = 1.0  # one DF probe: an answer inside the cluster takes milliseconds
SWEEP_TOLERANCE_BYTES = 0
BLACKHOLE = "PMTU blackhole?"  # a failure's words the report files it by (as swarm_mtu's)

P = TypeVar("P", bound=Hashable)  # a pair the sweep searches (the check's SweepPair)
RunRound = Callable[[Sequence[tuple[P, int]]], Sequence[ProbeResult]]


@dataclass(frozen=True)
class Tried:
    """One probe of the sweep: its round, the payload it carried and what it showed."""

    round: int
    payload: int
    result: ProbeResult

    @property
    def passed(self) -> bool:
        return self.result.ran and self.result.ok


@dataclass(frozen=True)
class PairSweep:
    """What the sweep found on one pair. `largest`: the largest payload that passed below
    every failure (None: not even the floor); `smallest_failing`: None when nothing up to
    the cap failed; `unstable`: payloads that passed in one round and failed in another."""

    largest: int | None
    smallest_failing: int | None
    tried: tuple[Tried, ...]
    unstable: tuple[int, ...]

    @property
    def rounds(self) -> int:
        return max((t.round for t in self.tried), default=0)


def _bounds(tried: Sequence[Tried], floor: int, cap: int) -> tuple[int, int]:
    """(largest passing, smallest failing), exclusive bounds of what is left to search;
    floor - 1 and cap + 1 stand in for sizes never tried."""
    high = min((t.payload for t in tried if not t.passed), default=cap + 1)
    low = max((t.payload for t in tried if t.passed and t.payload < high), default=floor - 1)
    return low, high


def _next_points(
    tried: Sequence[Tried], floor: int, cap: int, points: int, hint: Callable[[Tried], int | None]
) -> list[int]:
    """The next round's payloads: the sizes failures named, then evenly spread ones."""
    low, high = _bounds(tried, floor, cap)
    left = high - low - 1
    if left <= 0:
        return []
    chosen: list[int] = []
    for t in tried:
        named = hint(t) if not t.passed else None
        for size in (named, None if named is None else named + 1):
            if size is not None and low < size < high and size not in chosen:
                chosen.append(size)
    step = (high - low) / (min(points, left) + 1)
    spread = sorted({low + round(step * (i + 1)) for i in range(min(points, left))})
    chosen += [size for size in spread if low < size < high and size not in chosen]
    return sorted(chosen[: max(points, 2)])


def _unstable(tried: Sequence[Tried]) -> tuple[int, ...]:
    seen: dict[int, set[bool]] = {}
    for t in tried:
        seen.setdefault(t.payload, set()).add(t.passed)
    return tuple(sorted(size for size, passed in seen.items() if len(passed) > 1))


def sweep(
    pairs: Sequence[P],
    expected: int,
    run_round: RunRound[P],
    hint: Callable[[Tried], int | None] = lambda _: None,
    floor: int = SWEEP_FLOOR_MTU - 28,
    cap: int = SWEEP_CAP_MTU - 28,
) -> dict[P, PairSweep]:
    """Every pair's largest passing payload, searched around `expected` (see the section's
    comment). `run_round` runs one round (pair, payload) -> result in order, all at once;
    it is the seam the tests fake. A round with a probe that did not run ends the search:
    the caller turns that into an error verdict."""
    tried: dict[P, list[Tried]] = {pair: [] for pair in pairs}
    asks: dict[P, list[int]] = {pair: [expected, expected + 1] for pair in pairs}
    rounds = 0

    def run(asks: Mapping[P, Sequence[int]]) -> bool:
        nonlocal rounds
        rounds += 1
        flat = [(pair, size) for pair, sizes in asks.items() for size in sizes]
        results = run_round(flat)
        for (pair, size), result in zip(flat, results, strict=True):
            tried[pair].append(Tried(rounds, size, result))
        return all(r.ran for r in results)

    ran = True
    while asks and rounds < SWEEP_ROUNDS and ran:
        ran = run(asks)
        asks = {}
        for pair in pairs:
            more = _next_points(tried[pair], floor, cap, SWEEP_POINTS, hint)
            if more:
                asks[pair] = more
    # A figure other than the expected one is tried once more, with one over and E itself.
    retry: dict[P, list[int]] = {}
    for pair in pairs:
        low, high = _bounds(tried[pair], floor, cap)
        if ran and low != expected:
            sizes = {low, high, expected, expected + 1}
            retry[pair] = sorted(s for s in sizes if floor <= s <= cap)
    if retry:
        run(retry)
    found = {}
    for pair in pairs:
        low, high = _bounds(tried[pair], floor, cap)
        found[pair] = PairSweep(
            largest=None if low < floor else low,
            smallest_failing=None if high > cap else high,
            tried=tuple(tried[pair]),
            unstable=_unstable(tried[pair]),
        )
    return found


@dataclass(frozen=True)
class Carrier:
    """How a path's probes carry a payload: the probe kind, the IP and transport headers
    around the payload (payload + headers = the packet, the path MTU it proves), and what a
    failed probe says the path MTU is."""

    kind: ProbeKind
    headers: int
    mtu_value: str  # the failed probe's value naming a path MTU (or MSS for TCP)

    def params(self, payload: int) -> dict[str, Any]:
        if self.kind == ProbeKind.ICMP:
            return {"size": payload, "df": True}
        return {"size": payload}

    def hint(self, tried: Tried) -> int | None:
        """The payload a failed probe named as the most the path takes."""
        named = tried.result.values.get(self.mtu_value)
        if not isinstance(named, int) or named <= 0:
            return None
        return named if self.kind == ProbeKind.TCP_MSS else named - self.headers


ICMP_DF = Carrier(ProbeKind.ICMP, IP_ICMP_HEADERS, "local_mtu")  # ping -M do -s payload
UDP_DF = Carrier(ProbeKind.UDP_DF, 28, "path_mtu")  # IPv4 20 + UDP 8
TCP_DF = Carrier(ProbeKind.TCP_MSS, 40, "mss_after")  # IPv4 20 + TCP 20; the payload is the MSS


@dataclass(frozen=True)
class SweepPair:
    """One source and destination of a path (a pod and a pod, Service or node address)."""

    source: PodEndpoint
    target: str
    port: int | None
    label: str


def _ring(by_node: Mapping[int, Any]) -> list[tuple[int, int]]:
    """Each node with the next one: every node sends once and receives once."""
    nodes = sorted(by_node)
    if len(nodes) < 2:
        return []
    return [(i, nodes[(n + 1) % len(nodes)]) for n, i in enumerate(nodes)]


def _same_node(ctx: KubeCheckContext) -> list[SweepPair]:
    return [
        SweepPair(s["a"], s["b"].ip, None, f"{s['a'].name} -> {s['b'].name}")
        for _, s in sorted(probe_pods_by_node(ctx).items())
        if {"a", "b"} <= set(s)
    ]


def _cross_node(ctx: KubeCheckContext) -> list[SweepPair]:
    by_node = probe_pods_by_node(ctx)
    return [
        SweepPair(by_node[i]["a"], by_node[j]["a"].ip, None, f"probe-{i}-a -> probe-{j}-a")
        for i, j in _ring(by_node)
    ]


def _clusterip(ctx: KubeCheckContext) -> list[SweepPair]:
    """To the Service of a pod on the next node: the ClusterIP's DNAT and the overlay."""
    by_node = probe_pods_by_node(ctx)
    pairs = []
    for i, j in _ring(by_node):
        svc = probe_service_name(j, "a")
        ip = ctx.service_ip(ctx.spec.probe_namespace, svc)
        label = f"{by_node[i]['a'].name} -> {svc} ({ip}) udp/{SERVER_UDP_PORT}"
        pairs.append(SweepPair(by_node[i]["a"], ip, SERVER_UDP_PORT, label))
    return pairs


def _nodeport(ctx: KubeCheckContext) -> list[SweepPair]:
    """A `b` pod to the next node's NodePort (TCP, the only protocol it has): its backends
    are the `a` pods, so the client is never its own backend."""
    by_node = probe_pods_by_node(ctx)
    addresses = ctx.node_addresses()
    names = sorted(addresses)
    port = ctx.node_port(ctx.spec.probe_namespace, "nodeport")
    pairs = []
    for i, _ in _ring(by_node):
        src = by_node[i].get("b")
        if src is None or src.node not in addresses:
            continue
        after = names[names.index(src.node) + 1 :] + names  # the next node, wrapping round
        node = next((n for n in after if n != src.node), "")
        if not node:
            continue
        label = f"{src.name} -> {node} ({addresses[node]}):{port} tcp"
        pairs.append(SweepPair(src, addresses[node], port, label))
    return pairs


def _hostnetwork(ctx: KubeCheckContext) -> list[SweepPair]:
    """A node's hostNetwork pod to the pod on the next node (UDP): the node's route into
    the pod network."""
    by_node = probe_pods_by_node(ctx)
    hosts = {int(h.label(NODE_INDEX_LABEL)): h for h in ctx.pods("host")}
    return [
        SweepPair(
            hosts[i],
            by_node[j]["a"].ip,
            SERVER_UDP_PORT,
            f"{hosts[i].name} -> probe-{j}-a udp/{SERVER_UDP_PORT}",
        )
        for i, j in _ring(by_node)
        if i in hosts
    ]


@dataclass(frozen=True)
class SweepPath:
    """One path of the sweep: its check id part, aspect, title, carrier and pairs."""

    name: str  # k8s.mtu.sweep.<name>
    aspect: str
    title: str
    carrier: Carrier
    pairs: Callable[[KubeCheckContext], list[SweepPair]]
    requires: frozenset[Capability] = frozenset()


SWEEP_PATHS = (
    SweepPath(
        "pod-to-pod.same-node",
        "mtu.sweep.pod-to-pod.same-host",
        "Largest DF payload pod to pod on one node (ICMP) = the CNI's declared MTU",
        ICMP_DF,
        _same_node,
    ),
    SweepPath(
        "pod-to-pod.cross-node",
        "mtu.sweep.pod-to-pod.cross-host",
        "Largest DF payload pod to pod across nodes (ICMP) = the CNI's declared MTU",
        ICMP_DF,
        _cross_node,
    ),
    SweepPath(
        "clusterip",
        "mtu.sweep.service",
        "Largest DF payload pod to a ClusterIP (UDP) = the CNI's declared MTU",
        UDP_DF,
        _clusterip,
    ),
    SweepPath(
        "nodeport",
        "mtu.sweep.published-port",
        "Largest DF segment pod to another node's NodePort (TCP MSS) = the CNI's declared MTU",
        TCP_DF,
        _nodeport,
        frozenset({Capability.NODEPORT}),
    ),
    SweepPath(
        "hostnetwork-to-pod",
        "mtu.sweep.host-to-pod",
        "Largest DF payload hostNetwork to a pod on another node (UDP) = the declared MTU",
        UDP_DF,
        _hostnetwork,
        frozenset({Capability.HOSTNETWORK}),
    ),
)


@dataclass(frozen=True)
class Declared:
    """The path MTU the CNI declares, and how it follows from its facts."""

    mtu: int
    rule: str


def declared_mtu(facts: CniFacts, found: MtuFinding) -> Declared:
    """The configured MTU when the CNI pins one, else the node's minus the encapsulation
    overhead; a CNI with neither (not profiled) declares nothing: the pod's own MTU."""
    if facts.configured_mtu is not None:
        return Declared(facts.configured_mtu, f"the CNI's configured MTU {facts.configured_mtu}")
    if facts.overhead_bytes is not None:
        mtu = found.node_mtu - facts.overhead_bytes
        return Declared(mtu, f"node MTU {found.node_mtu} - overhead {facts.overhead_bytes}")
    return Declared(found.pod_mtu, f"no declared MTU (CNI not profiled): pod MTU {found.pod_mtu}")


def _run_round(
    ctx: KubeCheckContext, carrier: Carrier
) -> Callable[[Sequence[tuple[SweepPair, int]]], list[ProbeResult]]:
    def run(asked: Sequence[tuple[SweepPair, int]]) -> list[ProbeResult]:
        cells = [
            Cell(
                pair.source,
                ctx.probe(
                    carrier.kind,
                    pair.target,
                    port=pair.port,
                    timeout_s=SWEEP_TIMEOUT_S,
                    **carrier.params(size),
                ),
                f"{pair.label} payload {size}",
            )
            for pair, size in asked
        ]
        seen = observe(ctx, cells)
        return [seen[cell.label] for cell in cells]

    return run


def _pair_evidence(
    label: str, found: PairSweep, carrier: Carrier, declared: Declared
) -> dict[str, Any]:
    """A pair's figures, every probe (round, payload, outcome) and, when the pair differs
    from the declared MTU, the decisive probes (the largest that passed, the smallest that
    failed) with the argv that re-runs them, keyed by the pair and payload (the report lists
    a failed probe by its key; a conforming pair's one byte over is no failure to list)."""
    largest = found.largest
    path_mtu = None if largest is None else largest + carrier.headers
    conforms = path_mtu == declared.mtu and not found.unstable
    decisive = {}
    for size in () if conforms else (found.largest, found.smallest_failing):
        last = next((t for t in reversed(found.tried) if t.payload == size), None)
        if last is not None:
            decisive[f"{label} payload {size}"] = last.result.evidence()
    return {
        "largest_payload": largest,
        "path_mtu": path_mtu,
        "expected_path_mtu": declared.mtu,
        "difference": None if path_mtu is None else path_mtu - declared.mtu,
        "smallest_failing_payload": found.smallest_failing,
        "unstable_payloads": list(found.unstable),
        "probes": [f"r{t.round} {t.payload} {t.result.outcome}" for t in found.tried],
        "decisive": decisive,
    }


def _differs(pair: SweepPair, found: PairSweep, carrier: Carrier, declared: Declared) -> str:
    if found.unstable:
        return f"{pair.label}: unstable, payloads {list(found.unstable)} passed and failed"
    if found.largest is None:
        return f"{pair.label}: not even {SWEEP_FLOOR_MTU - carrier.headers} bytes passed"
    mtu = found.largest + carrier.headers
    return f"{pair.label}: {found.largest} (path MTU {mtu}, {mtu - declared.mtu:+d})"


def mtu_sweep(ctx: KubeCheckContext, path: SweepPath) -> Outcome:
    pairs = path.pairs(ctx)
    if not pairs:
        return Outcome.skipped(f"{path.name}: no pairs to sweep (needs probe pods on 2+ nodes)")
    found = measure(ctx)
    declared = declared_mtu(ctx.facts, found)
    carrier = path.carrier
    want = declared.mtu - carrier.headers
    start = time.monotonic()
    swept = sweep(pairs, want, _run_round(ctx, carrier), carrier.hint)
    elapsed = time.monotonic() - start
    tried = {
        f"{pair.label} r{t.round} payload {t.payload}": t.result
        for pair in pairs
        for t in swept[pair].tried
    }
    largest = [x for x in (swept[p].largest for p in pairs) if x is not None]
    measurements: dict[Measure, Any] = {
        # the least any pair carried (None: a pair carried not even the floor)
        Measure.LARGEST_DF_PAYLOAD: min(largest) if len(largest) == len(pairs) else None,
        Measure.HOST_MTU: found.node_mtu,
        Measure.PROBES: len(tried),
        Measure.ATTEMPTS: max(s.rounds for s in swept.values()),
        Measure.CONVERGED_S: round(elapsed, 3),
    }
    evidence: dict[str, Any] = {
        "expected": {
            "path_mtu": declared.mtu,
            "largest_payload": want,
            "rule": declared.rule,
            "probe": str(carrier.kind),
            "headers": carrier.headers,
            "tolerance_bytes": SWEEP_TOLERANCE_BYTES,
        },
        "observed": {p.label: _pair_evidence(p.label, swept[p], carrier, declared) for p in pairs},
        "measurements": measurements,
    }
    unrun = not_run(tried, f"{path.name} sweep", **evidence)
    if unrun is not None:
        return unrun
    bad = [p for p in pairs if swept[p].unstable or swept[p].largest != want]
    if not bad:
        return Outcome.passed(
            f"largest DF payload {want} ({carrier.kind}, path MTU {declared.mtu} = "
            f"{declared.rule}) on all {len(pairs)} pairs; {len(tried)} probes",
            **evidence,
        )
    named = "; ".join(_differs(p, swept[p], carrier, declared) for p in bad)
    silent = any(
        t.result.outcome == Connectivity.TIMEOUT
        for p in bad
        for t in swept[p].tried
        if t.payload == swept[p].smallest_failing
    )
    return Outcome.failed(
        f"{len(bad)} of {len(pairs)} pairs differ from the declared path MTU {declared.mtu} "
        f"({declared.rule}, payload {want}): {named}" + (f"; {BLACKHOLE}" if silent else ""),
        **evidence,
    )


def _register_sweep(path: SweepPath) -> None:
    @CATALOGUE.register(
        _spec(f"k8s.mtu.sweep.{path.name}", path.aspect, path.title, PMTU, path.requires)
    )
    def check(ctx: KubeCheckContext) -> Outcome:
        return mtu_sweep(ctx, path)


for _path in SWEEP_PATHS:
    _register_sweep(_path)
