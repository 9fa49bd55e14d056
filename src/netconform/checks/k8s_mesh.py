"""The node-pair mesh on Kubernetes: from every mesh node's pod agent to every other node's
pod agent over TCP, UDP and ICMP and to its hostNetwork agent over TCP, and a DNS lookup
from every node; the node x node matrix in results.json and the failing pairs named. The
planner and the matrix are k8s/mesh.py; the agents are k8s/workloads.mesh_objects."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from netconform.checks.base import CATALOGUE, Outcome, poll
from netconform.checks.k8s_common import spec
from netconform.k8s import mesh
from netconform.k8s.context import KubeCheckContext
from netconform.k8s.kube import PodEndpoint
from netconform.k8s.mesh import MatrixBuilder, MeshPath, MeshPlan, Target
from netconform.k8s.workloads import MESH_HOST_ROLE, MESH_ROLE
from netconform.probes.agent import SERVER_TCP_PORT, SERVER_UDP_PORT
from netconform.probes.model import Probe, ProbeKind
from netconform.results import Area, Measure
from netconform.vocab import Capability

MODEL = "https://kubernetes.io/docs/concepts/services-networking/#the-kubernetes-network-model"
# Paths and what each needs from the platform; one without its capability is not probed
# (its plane of the matrix is blank, and the reason says so).
NEEDS: Mapping[MeshPath, Capability | None] = {
    MeshPath.POD_TCP: None,
    MeshPath.POD_UDP: None,
    MeshPath.POD_ICMP: Capability.ICMP,
    MeshPath.HOST_TCP: Capability.HOSTNETWORK,
}
SHOWN_FAILURES = 10  # failing pairs named in the reason; results.json holds every one


def _probe(ctx: KubeCheckContext, target: Target) -> Probe:
    if target.path is MeshPath.POD_UDP:
        return ctx.probe(ProbeKind.UDP, target.address, port=SERVER_UDP_PORT)
    if target.path is MeshPath.POD_ICMP:
        return ctx.probe(ProbeKind.ICMP, target.address)
    port = ctx.spec.mesh_host_port if target.path is MeshPath.HOST_TCP else SERVER_TCP_PORT
    return ctx.probe(ProbeKind.TCP, target.address, port=port)


def _by_node(pods: Sequence[PodEndpoint]) -> dict[str, PodEndpoint]:
    return {p.node: p for p in pods}


def _wave(
    ctx: KubeCheckContext,
    agents: Mapping[str, PodEndpoint],
    batches: Mapping[str, Sequence[Target]],
    builder: MatrixBuilder,
    with_dns: bool,
) -> None:
    """One batch (one exec) per source node of the wave, at once; the DNS lookup last in
    each. The answers go into the matrix and are dropped."""
    dns_name = f"kubernetes.default.svc.{ctx.spec.cluster_domain}"
    probes: dict[PodEndpoint, list[Probe]] = {}
    for src, targets in batches.items():
        probes[agents[src]] = [_probe(ctx, t) for t in targets]
        if with_dns:
            probes[agents[src]].append(ctx.probe(ProbeKind.DNS, dns_name))
    ran = ctx.run_many(probes)
    for src, targets in batches.items():
        got = ran[agents[src]]
        if with_dns:
            builder.add_dns(src, got[-1])
        builder.add(src, targets, got[: len(targets)])


@CATALOGUE.register(
    spec(
        mesh.CHECK_ID,
        Area.REACHABILITY,
        "reachability.node-mesh",
        "Every ordered node pair: pod to pod (TCP, UDP, ICMP), pod to the other node's "
        "hostNetwork, and DNS from every node",
        MODEL,
    )
)
def node_mesh(ctx: KubeCheckContext) -> Outcome:
    pods = _by_node(ctx.pods(MESH_ROLE))
    hosts = _by_node(ctx.pods(MESH_HOST_ROLE))
    nodes = [n for n in ctx.spec.mesh if n in pods and n in hosts]
    if len(nodes) < 2:
        return Outcome.skipped(f"node mesh: agents on {len(nodes)} node(s), needs 2+")
    why_not = {p: ctx.capabilities.why_missing([need] if need else []) for p, need in NEEDS.items()}
    paths = [p for p, why in why_not.items() if why is None]
    left_out = {str(p): why for p, why in why_not.items() if why is not None}
    plan = mesh.MeshPlan(
        tuple(nodes),
        {n: pods[n].ip for n in nodes},
        {n: hosts[n].ip for n in nodes},
        tuple(paths),
    )
    builder = MatrixBuilder(nodes, paths)
    started = time.monotonic()
    for wave in plan.waves():
        _wave(ctx, pods, {src: plan.targets(src) for src in wave}, builder, with_dns=True)
    round_s = round(time.monotonic() - started, 3)
    _retry_failures(ctx, pods, plan, builder)
    matrix = builder.done()
    found = {
        Measure.MESH_NODES: len(nodes),
        Measure.MESH_PAIRS: matrix.pairs,
        Measure.MESH_FAILING_PAIRS: len(matrix.failing_pairs),
        Measure.PROBES: mesh.probe_count(len(nodes), len(paths)),
        Measure.RTT_P50_MS: matrix.rtt_p50_ms(),
        Measure.ROUND_S: round_s,
    }
    observed = {**matrix.to_json(), "paths_not_probed": left_out}
    expected = f"every path of every ordered pair connected; DNS answered on every node ({nodes})"
    scope = f"{len(nodes)} nodes, {matrix.pairs} ordered pairs, paths {[str(p) for p in paths]}"
    evidence = {"expected": expected, "observed": observed, "measurements": found}
    failing, dns_failing = matrix.failing_pairs, matrix.dns_failing
    if not failing and not dns_failing:
        return Outcome.passed(
            f"node mesh: {scope}: all connected; DNS answered on every node", **evidence
        )
    named = ", ".join(f"{a} -> {b}" for a, b in failing[:SHOWN_FAILURES])
    more = f" (+{len(failing) - SHOWN_FAILURES} more)" if len(failing) > SHOWN_FAILURES else ""
    what = [f"{len(failing)} failing pairs: {named}{more}"] if failing else []
    what += [f"DNS failed on {dns_failing}"] if dns_failing else []
    reason = f"node mesh: {scope}: {'; '.join(what)}"
    if not matrix.network_said_no:
        # only probes that never ran (exec failures): what the network does is unknown
        return Outcome.errored(f"{reason} (probes did not run)", **evidence)
    return Outcome.failed(reason, **evidence)


def _retry_failures(
    ctx: KubeCheckContext,
    agents: Mapping[str, PodEndpoint],
    plan: MeshPlan,
    builder: MatrixBuilder,
) -> None:
    """Probes that failed in the first round are asked again until they pass or the
    scenario's converge deadline passes (a new pod's first packets may race its CNI
    programming); the rest of the matrix stands. The matrix keeps the last answers."""

    def again() -> bool:
        batches: dict[str, list[Target]] = {}
        for src, dst, path in builder.failing():
            batches.setdefault(src, []).append(plan.target(dst, path))
        for wave in plan.waves():
            chosen = {src: batches[src] for src in wave if src in batches}
            if chosen:
                _wave(ctx, agents, chosen, builder, with_dns=False)
        return not builder.failing()

    if builder.failing():
        poll(again, bool, ctx.params.converge_deadline_s, ctx.params.poll_interval_s)
