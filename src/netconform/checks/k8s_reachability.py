"""Reachability on Kubernetes: pod to pod on one node and across nodes (TCP, UDP, ICMP, one
check each), a ClusterIP to every backend and to a local and a remote backend, NodePort on
the pod's own and another node, hostNetwork to pod, pod to kubernetes.default, and hairpin
(a profile fact, not a verdict)."""

from __future__ import annotations

from netconform.checks.base import CATALOGUE, CheckSpec, Outcome, poll
from netconform.checks.grid import Expect, describe, measurements, not_run, observe
from netconform.checks.k8s_common import Cell, PodGrid, poll_grid, run_grid, spec
from netconform.k8s.context import KubeCheckContext, probe_pods_by_node
from netconform.k8s.workloads import NODE_INDEX_LABEL, probe_service_name
from netconform.probes.agent import SERVER_TCP_PORT, SERVER_UDP_PORT
from netconform.probes.model import Connectivity, ProbeKind, ProbeResult
from netconform.results import Area, Measure
from netconform.vocab import Capability

MODEL = "https://kubernetes.io/docs/concepts/services-networking/#the-kubernetes-network-model"
SERVICE = "https://kubernetes.io/docs/concepts/services-networking/service/"


def _spec(
    id_: str, aspect: str, title: str, ref: str, requires: frozenset[Capability] = frozenset()
) -> CheckSpec:
    return spec(id_, Area.REACHABILITY, aspect, title, ref, requires)


PORTS = {ProbeKind.TCP: SERVER_TCP_PORT, ProbeKind.UDP: SERVER_UDP_PORT, ProbeKind.ICMP: None}


def _pod_cells(ctx: KubeCheckContext, same_node: bool, kind: ProbeKind) -> list[Cell]:
    by_node = probe_pods_by_node(ctx)
    cells = []
    port = PORTS[kind]
    for i, slots in sorted(by_node.items()):
        src = slots["a"]
        targets = (
            [slots["b"]] if same_node else [s["a"] for j, s in sorted(by_node.items()) if j != i]
        )
        for dst in targets:
            label = f"{src.name} -> {dst.name} {kind}" + (f"/{port}" if port else "")
            cells.append(Cell(src, ctx.probe(kind, dst.ip, port=port), label))
    return cells


def _verdict(ctx: KubeCheckContext, cells: list[Cell], what: str) -> Outcome:
    if not cells:
        return Outcome.skipped(f"{what}: no probe pods to pair (needs 2+ nodes)")
    return run_grid(ctx, PodGrid(what, cells))


def _register_pod_to_pod(same_node: bool, kind: ProbeKind) -> None:
    scope, host, where = (
        ("same-node", "same-host", "on the same node")
        if same_node
        else ("cross-node", "cross-host", "across nodes")
    )
    what = f"{scope} pod to pod over {kind}"

    @CATALOGUE.register(
        _spec(
            f"k8s.reach.pod-to-pod.{scope}.{kind}",
            f"reachability.pod-to-pod.{host}.{kind}",
            f"Pod to pod {where} ({kind})",
            MODEL,
        )
    )
    def check(ctx: KubeCheckContext) -> Outcome:
        return _verdict(ctx, _pod_cells(ctx, same_node, kind), what)


for _same_node in (True, False):
    for _kind in PORTS:
        _register_pod_to_pod(_same_node, _kind)

# A ClusterIP over several backends: the NodePort Service selects every node's `a` pod; the
# client is a `b` pod, which no selector of it matches (no hairpin).
SPREAD_SERVICE = "nodeport"
REQUESTS_PER_BACKEND = 4


@CATALOGUE.register(
    _spec(
        "k8s.reach.clusterip.every-backend",
        "reachability.service.every-backend",
        "Pod to a ClusterIP with a backend on every node: every backend answers",
        SERVICE,
    )
)
def clusterip_every_backend(ctx: KubeCheckContext) -> Outcome:
    by_node = probe_pods_by_node(ctx)
    if not by_node:
        return Outcome.skipped("no probe pods")
    backends = {slots["a"].name for slots in by_node.values()}
    src = by_node[min(by_node)]["b"]
    ip = ctx.service_ip(ctx.spec.probe_namespace, SPREAD_SERVICE)
    n = REQUESTS_PER_BACKEND * len(backends)

    def round_() -> dict[str, ProbeResult]:
        cells = [
            Cell(src, ctx.probe(ProbeKind.TCP, ip, port=SERVER_TCP_PORT), f"request {i}")
            for i in range(n)
        ]
        return observe(ctx, cells)

    def answered(seen: dict[str, ProbeResult]) -> set[str]:
        return {str(r.values.get("peer")) for r in seen.values() if r.ok}

    polled = poll(
        round_,
        lambda seen: backends <= answered(seen),
        ctx.params.converge_deadline_s,
        ctx.params.poll_interval_s,
    )
    got = answered(polled.value)
    found = {
        **measurements(polled),
        Measure.BACKENDS: len(backends),
        Measure.BACKENDS_ANSWERED: len(got & backends),
    }
    evidence = {"expected": sorted(backends), "measurements": found}
    if polled.held:
        return Outcome.passed(
            f"ClusterIP {ip}: all {len(backends)} backends answered {n} requests",
            observed=sorted(got),
            **evidence,
        )
    unrun = not_run(polled.value, f"ClusterIP {ip}", **evidence)
    if unrun is not None:
        return unrun
    return Outcome.failed(
        f"ClusterIP {ip}: backends never answering: {sorted(backends - got)}",
        observed={
            "answered_by": sorted(got),
            "failed": describe(polled.value, [k for k, r in polled.value.items() if not r.ok]),
        },
        **evidence,
    )


def _answered_by(backend: str) -> Expect:
    return Expect(f"answered by {backend}", lambda r: r.ok and r.values.get("peer") == backend)


def _service_cells(ctx: KubeCheckContext, remote: bool) -> list[Cell]:
    by_node = probe_pods_by_node(ctx)
    nodes = sorted(by_node)
    cells = []
    ns = ctx.spec.probe_namespace
    for n, i in enumerate(nodes):
        src = by_node[i]["a"]
        j, slot = (nodes[(n + 1) % len(nodes)], "a") if remote else (i, "b")
        if remote and j == i:
            continue
        svc = probe_service_name(j, slot)
        ip = ctx.service_ip(ns, svc)
        for kind, port in ((ProbeKind.TCP, SERVER_TCP_PORT), (ProbeKind.UDP, SERVER_UDP_PORT)):
            label = f"{src.name} -> {svc} ({ip}) {kind}/{port}"
            expect = _answered_by(by_node[j][slot].name)
            cells.append(Cell(src, ctx.probe(kind, ip, port=port), label, expect))
    return cells


def _via_service(ctx: KubeCheckContext, remote: bool) -> Outcome:
    where = "remote" if remote else "local"
    return _verdict(ctx, _service_cells(ctx, remote), f"ClusterIP with a {where} backend")


@CATALOGUE.register(
    _spec(
        "k8s.reach.clusterip.local-backend",
        "reachability.service.local-backend",
        "Pod to ClusterIP whose backend is on the same node",
        SERVICE,
    )
)
def clusterip_local(ctx: KubeCheckContext) -> Outcome:
    return _via_service(ctx, remote=False)


@CATALOGUE.register(
    _spec(
        "k8s.reach.clusterip.remote-backend",
        "reachability.service.remote-backend",
        "Pod to ClusterIP whose backend is on another node",
        SERVICE,
    )
)
def clusterip_remote(ctx: KubeCheckContext) -> Outcome:
    return _via_service(ctx, remote=True)


def _nodeport(ctx: KubeCheckContext, own: bool) -> Outcome:
    by_node = probe_pods_by_node(ctx)
    addresses = ctx.node_addresses()
    port = ctx.node_port(ctx.spec.probe_namespace, "nodeport")
    cells = []
    for _, slots in sorted(by_node.items()):
        src = slots["a"]
        node = src.node if own else next((n for n in sorted(addresses) if n != src.node), "")
        if not node:
            continue
        label = f"{src.name} -> {node} ({addresses[node]}):{port}"
        cells.append(Cell(src, ctx.probe(ProbeKind.TCP, addresses[node], port=port), label))
    return _verdict(ctx, cells, "NodePort on its own node" if own else "NodePort on another node")


@CATALOGUE.register(
    _spec(
        "k8s.reach.nodeport.own-node",
        "reachability.published-port.own-host",
        "Pod to NodePort on its own node",
        SERVICE + "#type-nodeport",
        frozenset({Capability.NODEPORT}),
    )
)
def nodeport_own(ctx: KubeCheckContext) -> Outcome:
    return _nodeport(ctx, own=True)


@CATALOGUE.register(
    _spec(
        "k8s.reach.nodeport.other-node",
        "reachability.published-port.other-host",
        "Pod to NodePort on another node",
        SERVICE + "#type-nodeport",
        frozenset({Capability.NODEPORT}),
    )
)
def nodeport_other(ctx: KubeCheckContext) -> Outcome:
    return _nodeport(ctx, own=False)


@CATALOGUE.register(
    _spec(
        "k8s.reach.hostnetwork-to-pod",
        "reachability.host-to-pod",
        "hostNetwork pod to pods on every node (TCP)",
        MODEL,
        frozenset({Capability.HOSTNETWORK}),
    )
)
def hostnetwork_to_pod(ctx: KubeCheckContext) -> Outcome:
    by_node = probe_pods_by_node(ctx)
    cells = []
    for host in ctx.pods("host"):
        for _, slots in sorted(by_node.items()):
            dst = slots["a"]
            label = (
                f"{host.name}@{host.label(NODE_INDEX_LABEL)} -> {dst.name} tcp/{SERVER_TCP_PORT}"
            )
            cells.append(Cell(host, ctx.probe(ProbeKind.TCP, dst.ip, port=SERVER_TCP_PORT), label))
    return _verdict(ctx, cells, "hostNetwork to pod")


# The agent's TCP probe sends a line and waits for a reply; the API server's TLS listener
# closes on a non-TLS first record, so a handshake without a reply means the path works.
CONNECTED = Expect(
    "reachable (a TLS listener's close counts)",
    lambda r: r.ok or r.outcome == Connectivity.NO_REPLY,
)


@CATALOGUE.register(
    _spec(
        "k8s.reach.kubernetes-default",
        "reachability.api-server",
        "Pod to kubernetes.default (TCP 443 by name)",
        SERVICE,
    )
)
def kubernetes_default(ctx: KubeCheckContext) -> Outcome:
    name = f"kubernetes.default.svc.{ctx.spec.cluster_domain}"
    cells = [
        Cell(
            slots["a"],
            ctx.probe(ProbeKind.TCP, name, port=443),
            f"{slots['a'].name} -> {name}:443",
            CONNECTED,
        )
        for _, slots in sorted(probe_pods_by_node(ctx).items())
    ]
    return _verdict(ctx, cells, "pod to kubernetes.default")


@CATALOGUE.register(
    _spec(
        "k8s.reach.hairpin",
        "reachability.hairpin",
        "Pod to itself through its own Service (profile)",
        SERVICE,
    )
)
def hairpin(ctx: KubeCheckContext) -> Outcome:
    """Hairpin support legitimately differs by CNI: recorded in the profile, never a fail."""
    by_node = probe_pods_by_node(ctx)
    cells = []
    for i, slots in sorted(by_node.items()):
        ip = ctx.service_ip(ctx.spec.probe_namespace, probe_service_name(i, "a"))
        src = slots["a"]
        cells.append(
            Cell(
                src,
                ctx.probe(ProbeKind.TCP, ip, port=SERVER_TCP_PORT),
                f"{src.name} -> own Service {ip}",
            )
        )
    if not cells:
        return Outcome.skipped("no probe pods")
    grid = PodGrid("hairpin", cells)
    polled = poll_grid(ctx, grid, deadline_s=ctx.params.probe_timeout_s * 3)
    unrun = not_run(polled.value, grid.what)
    if unrun is not None:  # a probe that never ran says nothing about hairpin
        return unrun
    works = not grid.bad(polled.value)
    return Outcome.passed(
        f"hairpin {'works' if works else 'does not work'} (a profile fact, not a verdict)",
        observed=describe(polled.value),
        measurements={Measure.HAIRPIN_WORKS: works},
        profile=True,
    )
