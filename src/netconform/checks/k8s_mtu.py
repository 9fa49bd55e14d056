"""MTU on Kubernetes: the pod's effective MTU against the node's minus the CNI's
encapsulation overhead, DF pings across nodes at the limit (pass) and one byte over (fails
locally: EMSGSIZE, never silence), and 4 MiB transfers across nodes by pod IP and ClusterIP.

`measure()` runs once per run (the context's run_state.mtu); pod-interface reports it."""

from __future__ import annotations

from typing import Any

from netconform.checks.base import CATALOGUE, CheckSpec, Outcome, ProbeDidNotRun
from netconform.checks.grid import describe, not_run, observe
from netconform.checks.k8s_common import Cell, ok, poll_cells, spec
from netconform.k8s.context import KubeCheckContext, probe_pods_by_node
from netconform.k8s.kube import PodEndpoint
from netconform.k8s.run_state import MtuFinding
from netconform.k8s.workloads import probe_service_name
from netconform.probes.agent import SERVER_TCP_PORT
from netconform.probes.model import Connectivity, ProbeKind
from netconform.results import Area, Measure

PMTU = "https://www.rfc-editor.org/rfc/rfc1191"
CNI_MTU = "https://www.cni.dev/plugins/current/main/bridge/#network-configuration-reference"
IP_ICMP_HEADERS = 28  # IPv4 20 + ICMP 8: ping -s payload = MTU - 28
PROBE_SIZE = 65000  # a DF ping this large always fails locally and reports the path MTU


def _spec(id_: str, aspect: str, title: str, ref: str) -> CheckSpec:
    return spec(id_, Area.MTU, aspect, title, ref)


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
