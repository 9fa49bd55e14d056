"""Services and published ports on Kubernetes beyond plain reachability: hostPort (TCP and UDP
through a node's address, from that node and from another, and the same hostPort number
held by two pods over different protocols), Service session affinity (ClientIP), and how
long a Service takes to follow an endpoint joining and leaving it (programming latency).

The objects are workloads.service_objects (the probe namespace); a run whose workloads lack
them (an older handle) skips these checks, naming what is missing."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import Any

from netconform.checks.base import CATALOGUE, CheckSpec, Outcome, poll
from netconform.checks.grid import Expect, describe, measurements, not_run, observe
from netconform.checks.k8s_common import Cell, PodGrid, run_grid, spec
from netconform.k8s.context import KubeCheckContext, probe_pods_by_node
from netconform.k8s.kube import PodEndpoint
from netconform.k8s.workloads import (
    AFFINITY_SERVICE,
    HOSTPORT_PROTOCOLS,
    IN_SERVICE_LABEL,
    LATENCY_LANES,
    NODE_INDEX_LABEL,
    hostport_pod_name,
    latency_name,
)
from netconform.probes.agent import SERVER_TCP_PORT
from netconform.probes.model import ProbeKind, ProbeResult
from netconform.results import Area, Measure
from netconform.stats import percentile
from netconform.vocab import Capability

SERVICE = "https://kubernetes.io/docs/concepts/services-networking/service/"
HOSTPORT_REF = (
    "https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#ports"
)
AFFINITY_REF = SERVICE + "#session-affinity"
LATENCY_REF = "https://kubernetes.io/docs/concepts/services-networking/endpoint-slices/"


def _spec(
    id_: str, aspect: str, title: str, ref: str, requires: frozenset[Capability] = frozenset()
) -> CheckSpec:
    return spec(id_, Area.REACHABILITY, aspect, title, ref, requires)


def _answered_by(name: str) -> Expect:
    return Expect(f"answered by {name}", lambda r: r.ok and r.values.get("peer") == name)


# --- hostPort -------------------------------------------------------------------------------
KINDS = {proto: ProbeKind(proto.lower()) for proto in HOSTPORT_PROTOCOLS}


def _hostport_cells(ctx: KubeCheckContext) -> list[Cell]:
    """For every node with hostPort pods, both protocols through nodeIP:hostPort from a pod
    on that node, from a pod on another node and (hostNetwork) from the node itself."""
    port = ctx.spec.hostport
    published = {p.name: p for p in ctx.pods("hostport")}
    probes = probe_pods_by_node(ctx)
    hosts = {int(h.label(NODE_INDEX_LABEL)): h for h in ctx.pods("host")}
    with_host = Capability.HOSTNETWORK in ctx.capabilities.available
    addresses = ctx.node_addresses()
    cells = []
    for i in sorted(probes):
        servers = {proto: published.get(hostport_pod_name(i, proto)) for proto in KINDS}
        if not all(servers.values()):
            continue
        node = next(s.node for s in servers.values() if s is not None)
        other = next((j for j in sorted(probes) if probes[j]["a"].node != node), None)
        sources = [("same node", probes[i]["a"])]
        if other is not None:
            sources.append(("other node", probes[other]["a"]))
        if with_host and i in hosts:
            sources.append(("the node itself", hosts[i]))
        for where, src in sources:
            for proto, kind in KINDS.items():
                target = hostport_pod_name(i, proto)
                label = f"{src.name} ({where}) -> {node} {addresses[node]}:{port}/{proto}"
                probe = ctx.probe(kind, addresses[node], port=port)
                cells.append(Cell(src, probe, label, _answered_by(target)))
    return cells


@CATALOGUE.register(
    _spec(
        "k8s.svc.hostport",
        "reachability.published-port.host-mode",
        "hostPort over TCP and UDP through the node's address, from that node and another; "
        "one hostPort number, two protocols, two pods, both answer",
        HOSTPORT_REF,
        frozenset({Capability.HOST_PORT}),
    )
)
def hostport(ctx: KubeCheckContext) -> Outcome:
    """A pod's hostPort is a port published on its own node only (Swarm's `mode=host`
    publishing is the same thing, hence the shared aspect). On each hostPort node one pod
    publishes the run's hostPort over TCP and another over UDP (upstream's "no conflict" case by
    protocol): every cell must be answered by the pod publishing that protocol."""
    cells = _hostport_cells(ctx)
    if not cells:
        return Outcome.skipped("no hostPort pods in this run's workloads (needs 2+ nodes)")
    grid = PodGrid(
        f"hostPort {ctx.spec.hostport}",
        cells,
        failing="hostPort not programmed on the node (CNI portmap / CNI-HOSTPORT-DNAT)",
    )
    return run_grid(ctx, grid)


# --- session affinity -----------------------------------------------------------------------
AFFINITY_REQUESTS = 12
CONTROL_SERVICE = "nodeport"  # the same backends (slot `a` probe pods), no affinity


def _peers(seen: dict[str, ProbeResult], prefix: str) -> list[str]:
    return [str(r.values.get("peer")) for k, r in seen.items() if k.startswith(prefix) and r.ok]


@CATALOGUE.register(
    _spec(
        "k8s.svc.session-affinity",
        "reachability.service.session-affinity",
        "A ClientIP session-affinity Service sends every request of one client to one backend",
        AFFINITY_REF,
    )
)
def session_affinity(ctx: KubeCheckContext) -> Outcome:
    """One client makes a first request to the affinity Service alone, then the others at
    once: every request must be answered by the first one's backend. The positive control is
    the same number of requests from the same client to a Service without affinity over the
    same backends (the NodePort Service): it must reach 2+ backends, or a single backend
    could be chance (or the only ready one) and the check errs instead of passing."""
    by_node = probe_pods_by_node(ctx)
    if len(by_node) < 2:
        return Outcome.skipped("session affinity needs backends on 2+ nodes")
    backends = {slots["a"].name for slots in by_node.values()}
    src = by_node[min(by_node)]["b"]
    ns = ctx.spec.probe_namespace
    ip, control_ip = ctx.service_ip(ns, AFFINITY_SERVICE), ctx.service_ip(ns, CONTROL_SERVICE)

    def request(target: str, label: str) -> Cell:
        return Cell(src, ctx.probe(ProbeKind.TCP, target, port=SERVER_TCP_PORT), label)

    def round_() -> dict[str, ProbeResult]:
        seen = observe(ctx, [request(ip, "affinity 00")])
        rest = [request(ip, f"affinity {k:02}") for k in range(1, AFFINITY_REQUESTS)]
        rest += [request(control_ip, f"control {k:02}") for k in range(AFFINITY_REQUESTS)]
        return {**seen, **observe(ctx, rest)}

    def holds(seen: dict[str, ProbeResult]) -> bool:
        answered = _peers(seen, "affinity")
        complete = len(answered) == AFFINITY_REQUESTS
        return complete and len(set(answered)) == 1 and len(set(_peers(seen, "control"))) > 1

    polled = poll(round_, holds, ctx.params.converge_deadline_s, ctx.params.poll_interval_s)
    seen = polled.value
    sticky, control = _peers(seen, "affinity"), _peers(seen, "control")
    found = {
        **measurements(polled),
        Measure.BACKENDS: len(backends),
        Measure.BACKENDS_ANSWERED: len(set(sticky)),
    }
    counts = {peer: sticky.count(peer) for peer in sorted(set(sticky))}
    observed = {
        "affinity_answered_by": counts,
        "control_answered_by": {p: control.count(p) for p in sorted(set(control))},
        "requests": describe(seen),
    }
    evidence: dict[str, Any] = {
        "expected": f"all {AFFINITY_REQUESTS} requests to {ip} answered by one of "
        f"{sorted(backends)}; the control ({control_ip}) by 2+",
        "observed": observed,
        "measurements": found,
    }
    if polled.held:
        return Outcome.passed(
            f"ClientIP affinity {ip}: all {AFFINITY_REQUESTS} requests of {src.name} answered "
            f"by {sticky[0]}; without affinity they reached {len(set(control))} backends",
            **evidence,
        )
    unrun = not_run(seen, f"affinity Service {ip}", **evidence)
    if unrun is not None:
        return unrun
    if len(set(sticky)) > 1:
        return Outcome.failed(
            f"ClientIP affinity {ip}: one client's {AFFINITY_REQUESTS} requests reached "
            f"{len(set(sticky))} backends: {counts}",
            **evidence,
        )
    if len(sticky) < AFFINITY_REQUESTS:
        failed = [k for k, r in seen.items() if k.startswith("affinity") and not r.ok]
        return Outcome.failed(
            f"ClientIP affinity {ip}: {len(failed)} of {AFFINITY_REQUESTS} requests got no "
            f"answer, e.g. {failed[0]} ({seen[failed[0]].error or seen[failed[0]].outcome})",
            **evidence,
        )
    return Outcome.errored(
        f"control {control_ip} (no affinity) reached {len(set(control))} backend(s): one "
        f"backend through {ip} cannot be told from chance",
        **evidence,
    )


# --- programming latency --------------------------------------------------------------------
CHANGES_PER_LANE = 10  # joins, and as many leaves, per lane: 20 of each over the lanes
BUDGET_S = 60.0  # no change starts after this; a started one may take CHANGE_DEADLINE_S
CHANGE_DEADLINE_S = 15.0  # a join or leave not visible by then is a failure
CONFIRM_PROBE_TIMEOUT_S = 1.0  # a leave may be a drop (timeout) rather than a refusal
CONFIRM_POLL_S = 0.05  # between confirmation rounds; a round is one exec, which costs more
WATCH_INTERVAL_S = 0.01  # the watcher's pacing between its rounds of connections
WATCH_TIMEOUT_S = 0.3  # one watcher connection
CLOCK_TOLERANCE_S = 0.5  # how far the watcher's start may lie outside the exec's window
STOP_SOURCE = "import sys; open(sys.argv[1], 'w').close()"


class Direction(StrEnum):
    ADD = "add"
    REMOVE = "remove"


@dataclass(frozen=True)
class Change:
    """One label change of a lane's pod, confirmed (or not) by exec rounds through its
    ClusterIP; the watcher's events give its time."""

    lane: str
    direction: Direction
    timed: bool  # False: the untimed start state
    held: bool  # seen through the ClusterIP within CHANGE_DEADLINE_S
    patched_at: float  # time.time() when the API server had accepted the patch
    confirm_s: float  # patch -> the confirming round's end (or the deadline)
    last: dict[str, ProbeResult]


Clock = Callable[[], float]


def _run_lane(
    ctx: KubeCheckContext, src: PodEndpoint, name: str, ends_at: float, clock: Clock
) -> list[Change]:
    """Toggle `name` in and out of its Service CHANGES_PER_LANE times, each change confirmed
    by exec rounds through the ClusterIP before the next. First it is put out (the start
    state, untimed)."""
    ns = ctx.spec.probe_namespace
    ip = ctx.service_ip(ns, name)
    base = {k: v for k, v in ctx.pod(ns, name).labels if k != IN_SERVICE_LABEL}
    joined = {**base, IN_SERVICE_LABEL: "true"}
    label = f"{src.name} -> {name} ({ip}) tcp/{SERVER_TCP_PORT}"

    def from_pod(seen: dict[str, ProbeResult]) -> bool:
        return seen[label].ok and seen[label].values.get("peer") == name

    def gone(seen: dict[str, ProbeResult]) -> bool:
        return seen[label].ran and not from_pod(seen)

    steps: dict[Direction, tuple[dict[str, str], Callable[[dict[str, ProbeResult]], bool]]] = {
        Direction.ADD: (joined, from_pod),
        Direction.REMOVE: (base, gone),
    }
    changes: list[Change] = []

    def round_() -> dict[str, ProbeResult]:
        probe = ctx.probe(
            ProbeKind.TCP, ip, port=SERVER_TCP_PORT, timeout_s=CONFIRM_PROBE_TIMEOUT_S
        )
        return observe(ctx, [Cell(src, probe, label)])

    def change(direction: Direction, timed: bool) -> bool:
        labels, holds = steps[direction]
        ctx.set_pod_labels(ns, name, labels)
        since, patched_at = clock(), time.time()  # the API server has accepted it
        polled = poll(round_, holds, CHANGE_DEADLINE_S, CONFIRM_POLL_S, clock=clock, since=since)
        changes.append(
            Change(name, direction, timed, polled.held, patched_at, polled.elapsed_s, polled.value)
        )
        return polled.held

    if not change(Direction.REMOVE, timed=False):
        return changes
    for _ in range(CHANGES_PER_LANE):
        for direction in (Direction.ADD, Direction.REMOVE):
            if clock() > ends_at or not change(direction, timed=True):
                return changes
    return changes


@dataclass(frozen=True)
class Watched:
    """What the watcher printed: its start, each target's state changes, its end."""

    started: float | None
    events: dict[str, list[tuple[float, bool]]]  # name -> (t, answering), in order
    ended: float | None
    attempts: int
    stderr: str

    @classmethod
    def parse(cls, stdout: str, stderr: str) -> Watched:
        started = ended = None
        attempts = 0
        events: dict[str, list[tuple[float, bool]]] = {}
        for line in stdout.splitlines():
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            kind = event.get("event")
            if kind == "start":
                started = float(event["t"])
            elif kind == "change":
                events.setdefault(str(event["name"]), []).append(
                    (float(event["t"]), bool(event["answering"]))
                )
            elif kind == "end":
                ended, attempts = float(event["t"]), int(event["attempts"])
        return cls(started, events, ended, attempts, stderr.strip())

    def took_s(self, change: Change) -> float | None:
        """Patch accepted -> the first watcher connection after it that showed the change."""
        want = change.direction == Direction.ADD
        for t, answering in self.events.get(change.lane, []):
            if t >= change.patched_at and answering == want:
                return t - change.patched_at
        return None

    def period_ms(self, targets: int) -> float | None:
        """The watcher's mean time between two looks at one target: its resolution."""
        if self.started is None or self.ended is None or not self.attempts:
            return None
        return round((self.ended - self.started) / (self.attempts / targets) * 1000, 1)


def _ms(values: list[float], fraction: float) -> float | None:
    return round(percentile(values, fraction) * 1000, 1) if values else None


def _watch(
    ctx: KubeCheckContext, src: PodEndpoint, ips: dict[str, str], run: Callable[[], list[Change]]
) -> tuple[Watched, list[Change], tuple[float, float]]:
    """The watcher in `src`, watching every lane's ClusterIP, while `run` makes the changes;
    stopped (stop file) once they are made. Returns the window its exec ran in."""
    stop_file = f"/tmp/netconform-watch-{uuid.uuid4().hex[:8]}"
    duration_s = BUDGET_S + CHANGE_DEADLINE_S * 2
    spec: dict[str, Any] = {
        "targets": ips,
        "port": SERVER_TCP_PORT,
        "timeout_s": WATCH_TIMEOUT_S,
        "interval_s": WATCH_INTERVAL_S,
        "duration_s": duration_s,
        "changes": 2 * CHANGES_PER_LANE,
        "stop_file": stop_file,
    }
    source = resources.files("netconform.probes").joinpath("service_watch.py").read_text()
    with ThreadPoolExecutor(1) as pool:
        began = time.time()
        watching = pool.submit(ctx.run_python, src, source, [json.dumps(spec)], duration_s + 30)
        changes = run()
        if not watching.done():
            ctx.run_python(src, STOP_SOURCE, [stop_file], 30)
        stdout, stderr = watching.result()
    return Watched.parse(stdout, stderr), changes, (began, time.time())


@CATALOGUE.register(
    _spec(
        "k8s.svc.programming-latency",
        "reachability.service.programming-latency",
        "A Service follows an endpoint joining and leaving it: time until its ClusterIP "
        "answers from it, and until it no longer does (p50/p99)",
        LATENCY_REF,
    )
)
def programming_latency(ctx: KubeCheckContext) -> Outcome:
    """Each lane is a Ready pod and a Service selecting it only while the pod carries
    IN_SERVICE_LABEL. A join sets the label, a leave removes it; the pod is Ready throughout,
    so on a join it is a Ready endpoint as soon as the EndpointSlice controller sees it.

    The interval measured: the clock starts when the API server has accepted the label patch
    (the patch call returned, time.time() here) and stops at the first connection of the
    watcher (probes/service_watch.py, one exec in a probe pod on another node, connecting to
    every lane's ClusterIP in turn every WATCH_INTERVAL_S) that shows the change: for a join,
    answered by that pod; for a leave, not (refused, or silent for WATCH_TIMEOUT_S). It
    includes the EndpointSlice controller and the proxy's (kube-proxy's or the CNI's)
    programming of the client's node; the watcher's period is its resolution
    (poll_round_ms). Both times are read on the same kernel's clock on kind; elsewhere the
    watcher's start must lie inside the exec's window or the figures are not given.

    The verdict does not rest on the watcher: each change is confirmed by exec rounds
    through the ClusterIP (polled, CHANGE_DEADLINE_S) before the next is made, and a change
    never confirmed fails the check (e.g. a proxy no longer programming the node). The lanes
    run side by side, CHANGES_PER_LANE joins and leaves each, within BUDGET_S. Swarm's
    equivalent, a task joining a service's VIP, would share the aspect."""
    by_node = probe_pods_by_node(ctx)
    present = {p.name for p in ctx.pods("latency")}
    lanes = [latency_name(k) for k in range(LATENCY_LANES) if latency_name(k) in present]
    if not by_node or not lanes:
        return Outcome.skipped("no latency lanes in this run's workloads")
    src = by_node[min(by_node)]["b"]
    ns = ctx.spec.probe_namespace
    ips = {name: ctx.service_ip(ns, name) for name in lanes}
    clock = time.monotonic
    ends_at = clock() + BUDGET_S

    def run() -> list[Change]:
        with ThreadPoolExecutor(len(lanes)) as pool:
            runs = pool.map(lambda name: _run_lane(ctx, src, name, ends_at, clock), lanes)
            return [c for lane in runs for c in lane]

    watched, changes, (began, ended) = _watch(ctx, src, ips, run)
    return _judge(watched, changes, lanes, began, ended)


def _judge(
    watched: Watched, changes: list[Change], lanes: list[str], began: float, ended: float
) -> Outcome:
    series = {
        lane: [
            f"{c.direction}{'' if c.timed else ' (start state)'} "
            f"{'confirmed' if c.held else 'NOT SEEN'} after {c.confirm_s:.3f}s"
            for c in changes
            if c.lane == lane
        ]
        for lane in lanes
    }
    stuck = [c for c in changes if not c.held]
    evidence: dict[str, Any] = {
        "expected": f"every join and leave visible through the ClusterIP within "
        f"{CHANGE_DEADLINE_S:.0f} s",
    }
    if stuck:
        seen = {f"{c.lane} {c.direction}: {k}": r for c in stuck for k, r in c.last.items()}
        unrun = not_run(seen, "programming latency", observed=series, **evidence)
        if unrun is not None:
            return unrun
        first = stuck[0]
        verb = "answered from it" if first.direction == Direction.ADD else "stopped answering"
        return Outcome.failed(
            f"{first.lane}: after its {first.direction}, its ClusterIP never {verb} within "
            f"{CHANGE_DEADLINE_S:.0f} s ({len(stuck)} change(s) not seen)",
            observed={"changes": series, "last_round": describe(seen)},
            **evidence,
        )
    timed = [c for c in changes if c.timed]
    in_window = watched.started is not None and (
        began - CLOCK_TOLERANCE_S <= watched.started <= ended + CLOCK_TOLERANCE_S
    )
    watched_from = watched.started if in_window and watched.started is not None else float("inf")
    took = [(c, watched.took_s(c)) for c in timed if c.patched_at > watched_from]
    samples = {d: [t for c, t in took if c.direction == d and t is not None] for d in Direction}
    found: dict[Measure, Any] = {
        Measure.ENDPOINT_ADD_P50_MS: _ms(samples[Direction.ADD], 0.5),
        Measure.ENDPOINT_ADD_P99_MS: _ms(samples[Direction.ADD], 0.99),
        Measure.ENDPOINT_REMOVE_P50_MS: _ms(samples[Direction.REMOVE], 0.5),
        Measure.ENDPOINT_REMOVE_P99_MS: _ms(samples[Direction.REMOVE], 0.99),
        Measure.ENDPOINT_CHANGES: {str(d): len(v) for d, v in samples.items()},
        Measure.POLL_ROUND_MS: watched.period_ms(len(lanes)),
    }
    observed = {
        "changes": series,
        "watched_ms": {
            f"{c.lane} {c.direction} #{k}": None if t is None else round(t * 1000, 1)
            for k, (c, t) in enumerate(took)
        },
        "watcher": {
            "started": watched.started,
            "ended": watched.ended,
            "attempts": watched.attempts,
            "exec_window": [round(began, 3), round(ended, 3)],
            "stderr": watched.stderr[-500:],
        },
    }
    evidence.update(observed=observed, measurements=found)
    n = {d: len(v) for d, v in samples.items()}
    if not in_window:
        why = (
            "the watcher printed nothing"
            if watched.started is None
            else "the watcher's clock disagrees with this machine's (its start lies outside "
            "the exec's window)"
        )
        return Outcome.errored(
            f"every change was confirmed, but not timed: {why}; stderr: "
            f"{watched.stderr[-200:] or '-'}",
            **evidence,
        )
    if not all(n.values()):  # a pass rests on changes measured
        return Outcome.errored(
            f"no join or no leave was timed within the {BUDGET_S:.0f} s budget: {n}", **evidence
        )
    return Outcome.passed(
        f"{n[Direction.ADD]} joins, {n[Direction.REMOVE]} leaves over {len(lanes)} Services: "
        f"join p50 {found[Measure.ENDPOINT_ADD_P50_MS]} ms, p99 "
        f"{found[Measure.ENDPOINT_ADD_P99_MS]} ms; leave p50 "
        f"{found[Measure.ENDPOINT_REMOVE_P50_MS]} ms, p99 "
        f"{found[Measure.ENDPOINT_REMOVE_P99_MS]} ms (resolution {found[Measure.POLL_ROUND_MS]} "
        "ms)",
        **evidence,
    )
