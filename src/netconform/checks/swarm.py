"""Swarm checks: reachability, embedded DNS, MTU/PMTU and isolation on overlay networks.

Every expectation quotes its source (Docker docs, or the libnetwork code where the docs are
silent). Negative checks carry a positive control, so a pass always rests on observed traffic.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from netconform.checks.base import CATALOGUE, CheckSpec, Outcome, poll
from netconform.lab import capture
from netconform.platforms.swarm import Endpoint, SwarmContext
from netconform.probes.agent import SERVER_TCP_PORT, SERVER_UDP_PORT
from netconform.probes.model import Probe, ProbeKind, ProbeResult
from netconform.results import Area, Verdict
from netconform.vocab import Family

DOCS = "https://docs.docker.com/engine/network/drivers/overlay/"
SWARM_NET = "https://docs.docker.com/engine/swarm/networking/"
INGRESS = "https://docs.docker.com/engine/swarm/ingress/"
DNS_DOCS = "https://docs.docker.com/engine/network/#dns-services"
MTU_CODE = (
    "https://github.com/moby/moby/blob/v20.10.24/vendor/github.com/docker/libnetwork/"
    "drivers/overlay/encryption.go#L658 (maxMTU: (opt or 1500) - 50 VXLAN, - 26 ESP)"
)
VXLAN_OVERHEAD = 50
ESP_OVERHEAD = 26
ICMP_HEADER = 28  # IPv4 20 + ICMP 8: DF payload = MTU - 28

Pair = tuple[Endpoint, Endpoint]


def spec(id: str, area: Area, title: str, ref: str, **kw: Any) -> CheckSpec:
    return CheckSpec(id=id, area=area, title=title, spec=ref, family=Family.SWARM, **kw)


def _probe_for(ctx: SwarmContext, kind: ProbeKind, dst: Endpoint) -> Probe:
    port = {ProbeKind.TCP: SERVER_TCP_PORT, ProbeKind.UDP: SERVER_UDP_PORT}.get(kind)
    return ctx.probe(kind, dst.ip, port=port)


def _pairs_matrix(
    ctx: SwarmContext, pairs: Sequence[Pair], kind: ProbeKind, expect_ok: bool
) -> Outcome:
    """Probe every pair (one exec per source per round) until each cell matches."""
    if not pairs:
        return Outcome.failed("no endpoint pairs to probe: deployment incomplete")

    def observe() -> dict[str, ProbeResult]:
        batches: dict[Endpoint, list[Probe]] = {}
        order: list[tuple[str, Probe]] = []
        for src, dst in pairs:
            probe = _probe_for(ctx, kind, dst)
            batches.setdefault(src, []).append(probe)
            order.append((f"{src.name}->{dst.name}", probe))
        results = {r.id: r for res in ctx.run_many(batches).values() for r in res}
        return {label: results[p.id] for label, p in order}

    polled = poll(
        observe,
        lambda cells: all(r.ok == expect_ok for r in cells.values()),
        ctx.scenario.converge_deadline_s,
    )
    cells = polled.value
    wrong = {k: (r.error or "ok") for k, r in cells.items() if r.ok != expect_ok}
    latencies = [r.latency_ms for r in cells.values() if r.ok and r.latency_ms is not None]
    measurements: dict[str, Any] = {
        "pairs": len(cells),
        "attempts": polled.attempts,
        "converged_s": round(polled.elapsed_s, 3),
    }
    if latencies:
        measurements["latency_ms_median"] = round(statistics.median(latencies), 3)
    observed = {k: ("ok" if r.ok else r.error) for k, r in cells.items()}
    want = "reachable" if expect_ok else "unreachable"
    if polled.held:
        return Outcome.passed(
            f"all {len(cells)} pairs {want} over {kind}",
            expected=want,
            observed=observed,
            measurements=measurements,
        )
    return Outcome.failed(
        f"{len(wrong)}/{len(cells)} pairs not {want} over {kind}: "
        + ", ".join(f"{k} ({v})" for k, v in sorted(wrong.items())[:6]),
        expected=want,
        observed=observed,
        measurements=measurements,
    )


def _nodes_without_task(ctx: SwarmContext, service: str) -> list[str]:
    present = {t.node for t in ctx.tasks(service)}
    return [n.name for n in ctx.nodes if n.name not in present]


def _cross_host_pairs(ctx: SwarmContext, service: str = "probe") -> list[Pair]:
    tasks = ctx.tasks(service)
    return [(a, b) for a, b in itertools.permutations(tasks, 2) if a.node != b.node]


def _same_host_pairs(ctx: SwarmContext) -> list[Pair]:
    peers = {p.node: p for p in ctx.peers()}
    pairs: list[Pair] = []
    for task in ctx.tasks("probe"):
        if task.node in peers:
            pairs += [(task, peers[task.node]), (peers[task.node], task)]
    return pairs


# --- reachability ----------------------------------------------------------------------
def _register_matrix(
    scope: str,
    kind: ProbeKind,
    pairs: Callable[[SwarmContext], list[Pair]],
    title: str,
    catches: tuple[str, ...],
    not_catchable: str = "",
) -> None:
    @CATALOGUE.register(
        spec(
            f"reachability.{scope}.{kind}",
            Area.REACHABILITY,
            title,
            DOCS,
            catches=catches,
            not_catchable=not_catchable,
        )
    )
    def check(ctx: SwarmContext) -> Outcome:
        missing = _nodes_without_task(ctx, "probe")
        if missing:
            # a global service runs one task per node: a node without one is a finding
            return Outcome.failed(f"no running probe task on {', '.join(missing)}")
        return _pairs_matrix(ctx, pairs(ctx), kind, expect_ok=True)


for _kind in (ProbeKind.ICMP, ProbeKind.TCP, ProbeKind.UDP):
    _register_matrix(
        "cross-host",
        _kind,
        _cross_host_pairs,
        f"Task to task across every host pair, both directions ({_kind})",
        ("vxlan-blocked", "host-loss"),
    )
    _register_matrix(
        "same-host",
        _kind,
        _same_host_pairs,
        f"Task to a container on the same host, both directions ({_kind})",
        # the traffic stays on the host, but a lost host's tasks leave the swarm's view
        ("host-loss",),
    )


@CATALOGUE.register(
    spec(
        "reachability.vip.round-robin",
        Area.REACHABILITY,
        "A service VIP reaches every backend (TCP, round robin)",
        SWARM_NET,
        requires=frozenset({"ipvs"}),
        catches=("vxlan-blocked",),
    )
)
def vip_round_robin(ctx: SwarmContext) -> Outcome:
    vip = ctx.vip("vip", "main")
    backends = {t.container_id[:12] for t in ctx.tasks("vip")}
    source = ctx.tasks("probe")[0]
    n = ctx.scenario.vip.requests

    def observe() -> set[str]:
        probes = [ctx.probe(ProbeKind.TCP, str(vip), port=SERVER_TCP_PORT) for _ in range(n)]
        return {str(r.values.get("peer")) for r in ctx.run(source, probes) if r.ok}

    polled = poll(observe, lambda seen: backends <= seen, ctx.scenario.converge_deadline_s)
    measurements = {"requests": n, "backends": len(backends), "answered_by": len(polled.value)}
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
        "A published port answers on every host's underlay address",
        INGRESS,
        requires=frozenset({"ipvs", "host-access"}),
        catches=("vxlan-blocked",),
    )
)
def routing_mesh(ctx: SwarmContext) -> Outcome:
    from netconform.platforms.swarm_deploy import PUBLISHED_PORT

    sources = [(n.name, ctx.host_executor(n.name)) for n in ctx.nodes]

    def observe() -> dict[str, str]:
        cells = {}
        for name, executor in sources:
            assert executor is not None
            probes = [ctx.probe(ProbeKind.TCP, n.address, port=PUBLISHED_PORT) for n in ctx.nodes]
            for node, r in zip(ctx.nodes, executor.run_batch(probes), strict=True):
                cells[f"{name}->{node.name}:{PUBLISHED_PORT}"] = "ok" if r.ok else str(r.error)
        return cells

    polled = poll(
        observe, lambda c: all(v == "ok" for v in c.values()), ctx.scenario.converge_deadline_s
    )
    bad = {k: v for k, v in polled.value.items() if v != "ok"}
    if polled.held:
        return Outcome.passed(
            f"published port answers on all {len(ctx.nodes)} hosts", observed=polled.value
        )
    return Outcome.failed(f"published port silent: {bad}", observed=polled.value)


# Every exchange crosses the switch at least twice (request and answer).
FRAMES_PER_EXCHANGE = 2


def _on_the_wire(
    ctx: SwarmContext,
    service: str,
    carrier: tuple[str, str, str],
    forbidden: dict[str, tuple[str, str]],
    carried_as: str,
) -> Outcome:
    """Probe every cross-host pair of `service` over TCP while the underlay switch counts
    frames: `carrier` (name, match, what it is) must carry every exchange, at least twice
    (request and answer); each of `forbidden` (name -> match, what it is) must stay at 0."""
    missing = _nodes_without_task(ctx, service)
    if missing:  # a global service: a node without its task is a finding, not fewer pairs
        return Outcome.failed(f"no running {service} task on {', '.join(missing)}")
    carrier_name, carrier_match, carrier_what = carrier
    rules = {carrier_name: carrier_match, **{n: m for n, (m, _) in forbidden.items()}}
    with ctx.watch_underlay(rules) as watch:
        traffic = _pairs_matrix(ctx, _cross_host_pairs(ctx, service), ProbeKind.TCP, True)
        counts = watch.read()
    measurements = {**traffic.measurements, "wire_packets": counts}
    if traffic.verdict != Verdict.PASS:  # nothing to judge the wire by
        return replace(traffic, measurements=measurements)
    pairs = int(traffic.measurements["pairs"])
    least = FRAMES_PER_EXCHANGE * pairs
    found = []
    if counts.get(carrier_name, 0) < least:
        found.append(
            f"{counts.get(carrier_name, 0)} {carrier_what} on the wire for {pairs} exchanges "
            f"(at least {least} expected)"
        )
    found += [f"{counts[n]} {what}" for n, (_, what) in forbidden.items() if counts.get(n, 0)]
    if found:
        return Outcome.failed(
            "; ".join(found), expected=carried_as, observed=counts, measurements=measurements
        )
    return Outcome.passed(
        f"{pairs} cross-host TCP exchanges seen on the underlay {carried_as}: {counts}",
        expected=carried_as,
        observed=counts,
        measurements=measurements,
    )


@CATALOGUE.register(
    spec(
        "reachability.underlay.vxlan",
        Area.REACHABILITY,
        "Cross-host overlay traffic is VXLAN on UDP 4789 with the network's VNI, never in the "
        "clear",
        DOCS + " (UDP port 4789 for overlay network traffic); RFC 7348 §5",
        requires=frozenset({"underlay-capture"}),
        catches=("vxlan-blocked", "host-loss"),
    )
)
def underlay_vxlan(ctx: SwarmContext) -> Outcome:
    vni, subnet = ctx.overlay("main")
    return _on_the_wire(
        ctx,
        "probe",
        ("vxlan", capture.vxlan_vni(vni), f"VXLAN frames with VNI {vni}"),
        {"clear": _in_the_clear(subnet)},
        f"as VXLAN, VNI {vni}",
    )


def _in_the_clear(subnet: str) -> tuple[str, str]:
    return capture.unencapsulated(subnet), f"packets from {subnet} on the wire unencapsulated"


# --- DNS -------------------------------------------------------------------------------
def _a_records(result: ProbeResult) -> list[str]:
    return sorted(a["value"] for a in result.values.get("answers", []) if a.get("type") == "A")


def _dns_both(
    ctx: SwarmContext, source: Endpoint, name: str, qtype: str = "A"
) -> dict[str, ProbeResult]:
    probes = {t: ctx.probe(ProbeKind.DNS, name, qtype=qtype, transport=t) for t in ("udp", "tcp")}
    results = ctx.run(source, list(probes.values()))
    return {t: r for t, r in zip(probes, results, strict=True)}


def _expect_answers(
    ctx: SwarmContext, name: str, expected: Callable[[], list[str]], what: str
) -> Outcome:
    """Poll until both UDP and TCP answers equal the expected A set."""
    source = ctx.tasks("probe")[0]
    want: list[str] = []

    def observe() -> dict[str, list[str] | str]:
        nonlocal want
        want = expected()
        return {
            t: (_a_records(r) if r.ok else f"error: {r.error}")
            for t, r in _dns_both(ctx, source, name).items()
        }

    polled = poll(
        observe,
        lambda got: all(v == want for v in got.values()) and bool(want),
        ctx.scenario.converge_deadline_s,
    )
    measurements = {"attempts": polled.attempts, "converged_s": round(polled.elapsed_s, 3)}
    if polled.held:
        return Outcome.passed(
            f"{name} gives exactly {what} over UDP and TCP",
            expected=want,
            observed=polled.value,
            measurements=measurements,
        )
    return Outcome.failed(
        f"{name}: expected {what} {want}, got {polled.value}",
        expected=want,
        observed=polled.value,
        measurements=measurements,
    )


def _svc(ctx: SwarmContext, key: str) -> str:
    from netconform.platforms.swarm_deploy import service_name

    return service_name(ctx.run_id, key)


@CATALOGUE.register(
    spec(
        "dns.service.vip",
        Area.DNS,
        "Service name resolves to exactly its VIP",
        SWARM_NET,
        catches=("dns-broken",),
    )
)
def dns_service_vip(ctx: SwarmContext) -> Outcome:
    return _expect_answers(
        ctx, _svc(ctx, "vip"), lambda: [v] if (v := ctx.vip("vip", "main")) else [], "its VIP"
    )


@CATALOGUE.register(
    spec(
        "dns.tasks.ips",
        Area.DNS,
        "tasks.<service> gives exactly the running task IPs",
        SWARM_NET,
        catches=("dns-broken",),
    )
)
def dns_tasks(ctx: SwarmContext) -> Outcome:
    return _expect_answers(
        ctx,
        f"tasks.{_svc(ctx, 'probe')}",
        lambda: sorted(t.ip for t in ctx.tasks("probe", "main")),
        "task IPs",
    )


@CATALOGUE.register(
    spec(
        "dns.tasks.follows-scale",
        Area.DNS,
        "tasks.<service> follows a scale down and back up",
        SWARM_NET,
        catches=("dns-broken",),
    )
)
def dns_follows_scale(ctx: SwarmContext) -> Outcome:
    name = f"tasks.{_svc(ctx, 'scale')}"
    steps = []

    def task_ips_once_scaled(replicas: int) -> Callable[[], list[str]]:
        def expected() -> list[str]:
            ips = sorted(t.ip for t in ctx.tasks("scale", "main"))
            return ips if len(ips) == replicas else []  # [] never matches: keep polling

        return expected

    for replicas in (ctx.scenario.scale.low, ctx.scenario.scale.high):
        ctx.scale("scale", replicas)
        t0 = time.monotonic()
        outcome = _expect_answers(ctx, name, task_ips_once_scaled(replicas), f"{replicas} task IPs")
        steps.append(
            {
                "replicas": replicas,
                "verdict": str(outcome.verdict),
                "converged_s": round(time.monotonic() - t0, 3),
                "observed": outcome.observed,
            }
        )
        if outcome.verdict != "pass":
            ctx.scale("scale", ctx.scenario.scale.high)  # leave the deployment as planned
            return Outcome.failed(
                f"after scaling to {replicas}: {outcome.reason}",
                observed=steps,
                measurements={"steps": steps},
            )
    return Outcome.passed(
        "tasks.<service> followed the scale down and up",
        observed=steps,
        measurements={f"converged_s_to_{s['replicas']}": s["converged_s"] for s in steps},
    )


@CATALOGUE.register(
    spec(
        "dns.dnsrr.task-ips",
        Area.DNS,
        "dnsrr endpoint mode: the name gives the task IPs and no VIP",
        SWARM_NET,
        catches=("dns-broken",),
    )
)
def dns_dnsrr(ctx: SwarmContext) -> Outcome:
    outcome = _expect_answers(
        ctx,
        _svc(ctx, "dnsrr"),
        lambda: sorted(t.ip for t in ctx.tasks("dnsrr", "main")),
        "task IPs",
    )
    if outcome.verdict == "pass" and ctx.vip("dnsrr", "main") is not None:
        return Outcome.failed("dnsrr service has a VIP", observed=outcome.observed)
    return outcome


@CATALOGUE.register(
    spec(
        "dns.alias.network-alias",
        Area.DNS,
        "A network alias gives the VIP, tasks.<alias> the task IPs",
        SWARM_NET,
        catches=("dns-broken",),
    )
)
def dns_alias(ctx: SwarmContext) -> Outcome:
    alias = _expect_answers(
        ctx, "probe-alias", lambda: [v] if (v := ctx.vip("probe", "main")) else [], "the VIP"
    )
    if alias.verdict != "pass":
        return alias
    return _expect_answers(
        ctx,
        "tasks.probe-alias",
        lambda: sorted(t.ip for t in ctx.tasks("probe", "main")),
        "task IPs",
    )


@CATALOGUE.register(
    spec(
        "dns.container.name",
        Area.DNS,
        "Standalone container names resolve across hosts",
        DNS_DOCS,
        catches=("dns-broken",),
    )
)
def dns_container_names(ctx: SwarmContext) -> Outcome:
    source = ctx.tasks("probe")[0]
    peers = ctx.peers()
    want = {p.name: [p.ip] for p in peers}

    def observe() -> dict[str, list[str] | str]:
        asked = [(p, t) for p in peers for t in ("udp", "tcp")]
        probes = [ctx.probe(ProbeKind.DNS, p.name, transport=t) for p, t in asked]
        return {
            f"{p.name}/{t}": (_a_records(r) if r.ok else f"error: {r.error}")
            for (p, t), r in zip(asked, ctx.run(source, probes), strict=True)
        }

    def holds(got: dict[str, list[str] | str]) -> bool:
        return all(v == want[k.split("/")[0]] for k, v in got.items())

    polled = poll(observe, holds, ctx.scenario.converge_deadline_s)
    if polled.held:
        return Outcome.passed(
            f"{len(peers)} container names resolve to their IPs (UDP, TCP)",
            expected=want,
            observed=polled.value,
        )
    return Outcome.failed(
        "container names wrong or unresolved", expected=want, observed=polled.value
    )


@CATALOGUE.register(
    spec(
        "dns.resolv-conf",
        Area.DNS,
        "resolv.conf points at the embedded DNS 127.0.0.11 with ndots:0",
        DNS_DOCS,
        not_catchable="configuration written by dockerd; no lab fault changes it",
    )
)
def dns_resolv_conf(ctx: SwarmContext) -> Outcome:
    source = ctx.tasks("probe")[0]
    result = ctx.run(source, [ctx.probe(ProbeKind.READ, "/etc/resolv.conf")])[0]
    if not result.ok:
        return Outcome.failed(f"cannot read resolv.conf: {result.error}")
    content = str(result.values.get("content", ""))
    lines = [
        line.split() for line in content.splitlines() if line.strip() and not line.startswith("#")
    ]
    servers = [parts[1] for parts in lines if parts[0] == "nameserver" and len(parts) > 1]
    options = [o for parts in lines if parts[0] == "options" for o in parts[1:]]
    observed = {"nameservers": servers, "options": options}
    expected = {"nameservers": ["127.0.0.11"], "options": ["ndots:0"]}
    if servers == ["127.0.0.11"] and "ndots:0" in options:
        return Outcome.passed(
            "nameserver 127.0.0.11, ndots:0", expected=expected, observed=observed
        )
    return Outcome.failed(
        f"unexpected resolv.conf: {observed}", expected=expected, observed=observed
    )


@CATALOGUE.register(
    spec(
        "dns.aaaa.v4-only",
        Area.DNS,
        "AAAA for a v4-only service name: NOERROR with no answer",
        DNS_DOCS,
        catches=("dns-broken",),
    )
)
def dns_aaaa(ctx: SwarmContext) -> Outcome:
    source = ctx.tasks("probe")[0]
    got = _dns_both(ctx, source, _svc(ctx, "vip"), qtype="AAAA")
    observed = {
        t: {"ok": r.ok, "error": r.error, "answers": r.values.get("answers")}
        for t, r in got.items()
    }
    if all(r.ok and not r.values.get("answers") for r in got.values()):
        return Outcome.passed("NOERROR, empty answer over UDP and TCP", observed=observed)
    return Outcome.failed(f"AAAA answered unexpectedly: {observed}", observed=observed)


@CATALOGUE.register(
    spec(
        "dns.isolation.other-network",
        Area.DNS,
        "A service on another overlay does not resolve",
        SWARM_NET,
        catches=("isolation-breach", "dns-broken"),
    )
)
def dns_other_network(ctx: SwarmContext) -> Outcome:
    name = _svc(ctx, "other")
    own = ctx.tasks("other")[0]
    control = _dns_both(ctx, own, name)
    if not all(r.ok and _a_records(r) for r in control.values()):
        return Outcome.failed(
            f"control failed: {name} does not resolve on its own network",
            observed={t: r.error for t, r in control.items()},
        )
    observed: dict[str, Any] = {}
    for source in [ctx.tasks("probe")[0], *ctx.peers()[:1]]:
        got = _dns_both(ctx, source, name)
        observed.update(
            {f"{source.name}/{t}": (_a_records(r) if r.ok else r.error) for t, r in got.items()}
        )
    if any(isinstance(v, list) and v for v in observed.values()):
        return Outcome.failed(
            f"{name} resolved from another overlay: {observed}", observed=observed
        )
    return Outcome.passed(
        f"{name} resolves on its own overlay only",
        observed=observed,
        expected="no A record (NXDOMAIN, SERVFAIL or timeout)",
    )


@CATALOGUE.register(
    spec(
        "dns.latency",
        Area.DNS,
        "Embedded DNS lookup latency p50/p99 (UDP and TCP)",
        DNS_DOCS,
        catches=("dns-broken", "lossy-underlay"),
    )
)
def dns_latency(ctx: SwarmContext) -> Outcome:
    source = ctx.tasks("probe")[0]
    name = f"tasks.{_svc(ctx, 'probe')}"
    samples = ctx.scenario.dns.latency_samples
    limit = ctx.scenario.dns.latency_p99_max_ms
    measurements: dict[str, Any] = {"samples_per_transport": samples}
    failures = 0
    worst = 0.0
    for transport in ("udp", "tcp"):
        probes = [ctx.probe(ProbeKind.DNS, name, transport=transport) for _ in range(samples)]
        results = ctx.run(source, probes)
        lat = sorted(r.latency_ms for r in results if r.ok and r.latency_ms is not None)
        failures += sum(1 for r in results if not r.ok)
        if lat:
            p50 = lat[len(lat) // 2]
            p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
            measurements[f"dns_latency_{transport}_p50_ms"] = round(p50, 3)
            measurements[f"dns_latency_{transport}_p99_ms"] = round(p99, 3)
            worst = max(worst, p99)
    measurements["dns_latency_p50_ms"] = measurements.get("dns_latency_udp_p50_ms")
    measurements["dns_latency_p99_ms"] = measurements.get("dns_latency_udp_p99_ms")
    measurements["failures"] = failures
    if failures:
        return Outcome.failed(f"{failures}/{2 * samples} lookups failed", measurements=measurements)
    if worst > limit:
        return Outcome.failed(
            f"p99 {worst:.1f} ms over the limit {limit} ms", measurements=measurements
        )
    return Outcome.passed(
        f"{2 * samples} lookups answered, worst p99 {worst:.1f} ms", measurements=measurements
    )


# --- MTU -------------------------------------------------------------------------------
def expected_overlay_mtu(option: int | None, encrypted: bool) -> int:
    """libnetwork's rule: the option (or 1500) is the *underlay* packet size."""
    mtu = (option or 1500) - VXLAN_OVERHEAD
    if encrypted:
        mtu -= ESP_OVERHEAD
        mtu -= mtu % 4
    return mtu


def _interface_mtu(ctx: SwarmContext, endpoint: Endpoint) -> int | None:
    result = ctx.run(endpoint, [ctx.probe(ProbeKind.INTERFACES, "")])[0]
    if not result.ok:
        return None
    return int(result.values["interfaces"]["eth0"]["mtu"])


NETWORK_VARIANTS = {
    # check id part -> (service key, mtu option or None, encrypted, capability)
    "default": ("probe", None, False, ""),
    "option": ("mtu", "scenario", False, ""),
    "encrypted": ("encrypted", None, True, "esp"),
}


def _option(ctx: SwarmContext, variant: str) -> int | None:
    return ctx.scenario.networks.mtu_option if NETWORK_VARIANTS[variant][1] == "scenario" else None


def _register_mtu(variant: str) -> None:
    service, _, encrypted, cap = NETWORK_VARIANTS[variant]
    requires = frozenset({cap}) if cap else frozenset()

    @CATALOGUE.register(
        spec(
            f"mtu.interface.{variant}",
            Area.MTU,
            f"Container MTU follows the overlay rule ({variant} network)",
            MTU_CODE,
            requires=requires,
            not_catchable="the MTU is set by dockerd at attach; lab faults change the "
            "underlay, which the rule ignores by design",
        )
    )
    def interface(ctx: SwarmContext) -> Outcome:
        option = _option(ctx, variant)
        want = expected_overlay_mtu(option, encrypted)
        seen = {t.name: _interface_mtu(ctx, t) for t in ctx.tasks(service)}
        measurements = {
            "requested_mtu_option": option,
            "effective_mtu": want
            if all(v == want for v in seen.values())
            else sorted({v for v in seen.values() if v}),
            "underlay_mtu": ctx.platform_info().get("underlay_mtu"),
        }
        if all(v == want for v in seen.values()):
            return Outcome.passed(
                f"eth0 MTU {want} on all {len(seen)} tasks (option {option})",
                expected=want,
                observed=seen,
                measurements=measurements,
            )
        return Outcome.failed(
            f"eth0 MTU differs from the rule's {want}: {seen}",
            expected=want,
            observed=seen,
            measurements=measurements,
        )

    @CATALOGUE.register(
        spec(
            f"mtu.pmtu.{variant}.df-at-limit",
            Area.MTU,
            f"Cross-host DF ping at exactly the interface MTU passes ({variant})",
            MTU_CODE,
            requires=requires,
            catches=("mtu-mismatch",),
        )
    )
    def at_limit(ctx: SwarmContext) -> Outcome:
        tasks = ctx.tasks(service)
        mtu = _interface_mtu(ctx, tasks[0]) or expected_overlay_mtu(
            _option(ctx, variant), encrypted
        )
        size = mtu - ICMP_HEADER
        pairs = [(a, b) for a, b in itertools.permutations(tasks, 2) if a.node != b.node]
        batches = {
            a: [ctx.probe(ProbeKind.ICMP, b.ip, size=size, df=True) for a2, b in pairs if a2 == a]
            for a in {p[0] for p in pairs}
        }
        polled = poll(
            lambda: ctx.run_many(batches),
            lambda res: all(r.ok for rs in res.values() for r in rs),
            ctx.scenario.converge_deadline_s,
        )
        observed = {
            f"{s.name}->{r.target}": ("ok" if r.ok else r.error)
            for s, rs in polled.value.items()
            for r in rs
        }
        measurements = {
            "largest_df_payload": size if polled.held else None,
            "interface_mtu": mtu,
            "pairs": len(observed),
        }
        if polled.held:
            return Outcome.passed(
                f"DF payload {size} (MTU {mtu}) crosses every host pair",
                observed=observed,
                measurements=measurements,
            )
        return Outcome.failed(
            f"DF payload {size} lost between hosts (PMTU blackhole?)",
            observed=observed,
            measurements=measurements,
        )

    @CATALOGUE.register(
        spec(
            f"mtu.pmtu.{variant}.df-over-limit",
            Area.MTU,
            f"DF ping one byte over the MTU fails locally with an error ({variant})",
            MTU_CODE,
            requires=requires,
            not_catchable="decided by the sender's own interface MTU",
        )
    )
    def over_limit(ctx: SwarmContext) -> Outcome:
        tasks = ctx.tasks(service)
        src = tasks[0]
        dst = next(t for t in tasks if t.node != src.node)
        mtu = _interface_mtu(ctx, src) or expected_overlay_mtu(_option(ctx, variant), encrypted)
        size = mtu - ICMP_HEADER + 1
        result = ctx.run(src, [ctx.probe(ProbeKind.ICMP, dst.ip, size=size, df=True)])[0]
        observed = {
            "ok": result.ok,
            "error": result.error,
            "local_mtu": result.values.get("local_mtu"),
        }
        if result.error == "emsgsize":
            return Outcome.passed(
                f"payload {size} refused locally: message too long (mtu {mtu})",
                observed=observed,
                measurements={"interface_mtu": mtu},
            )
        if result.ok:
            return Outcome.failed(
                f"payload {size} over MTU {mtu} was sent with DF set", observed=observed
            )
        return Outcome.failed(
            f"payload {size} failed silently ({result.error}), not with EMSGSIZE", observed=observed
        )


for _variant in NETWORK_VARIANTS:
    _register_mtu(_variant)


@CATALOGUE.register(
    spec(
        "mtu.transfer.cross-host",
        Area.MTU,
        "A 4 MiB TCP transfer completes across every host pair",
        DOCS,
        catches=("vxlan-blocked", "mtu-mismatch"),
    )
)
def bulk_transfer(ctx: SwarmContext) -> Outcome:
    size = ctx.scenario.mtu.transfer_bytes
    pairs = _cross_host_pairs(ctx)
    timeout = max(10.0, ctx.scenario.probe_timeout_s * 5)
    batches: dict[Endpoint, list[Probe]] = {}
    for a, b in pairs:
        batches.setdefault(a, []).append(
            ctx.probe(ProbeKind.TRANSFER, b.ip, port=SERVER_TCP_PORT, bytes=size, timeout_s=timeout)
        )
    results = ctx.run_many(batches)
    observed = {
        f"{s.name}->{r.target}": (
            f"{r.values.get('mbit_s')} Mbit/s"
            if r.ok
            else f"{r.error} after {r.values.get('bytes', 0)} bytes"
        )
        for s, rs in results.items()
        for r in rs
    }
    rates = [
        float(r.values["mbit_s"])
        for rs in results.values()
        for r in rs
        if r.ok and r.values.get("mbit_s")
    ]
    measurements = {
        "bytes": size,
        "pairs": len(observed),
        "throughput_mbit_s_min": min(rates) if rates else None,
    }
    if all(r.ok for rs in results.values() for r in rs):
        return Outcome.passed(
            f"{size} bytes crossed all {len(observed)} host pairs",
            observed=observed,
            measurements=measurements,
        )
    return Outcome.failed(
        "bulk transfer stalled or reset", observed=observed, measurements=measurements
    )


# --- isolation -------------------------------------------------------------------------
@CATALOGUE.register(
    spec(
        "isolation.overlays.cross-network",
        Area.ISOLATION,
        "Two overlays cannot reach each other (same host and cross host)",
        DOCS,
        catches=("isolation-breach",),
    )
)
def overlays_isolated(ctx: SwarmContext) -> Outcome:
    others = ctx.tasks("other")
    control = _pairs_matrix(
        ctx, [(a, b) for a, b in itertools.permutations(others, 2)], ProbeKind.TCP, expect_ok=True
    )
    if control.verdict != "pass":
        return Outcome.failed(
            f"control failed (the other overlay is broken itself): {control.reason}"
        )
    pairs = [(a, b) for a in [*ctx.tasks("probe"), *ctx.peers()] for b in others]
    outcome = _pairs_matrix(ctx, pairs, ProbeKind.TCP, expect_ok=False)
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
        "An --internal overlay gives no default route and no gateway interface",
        "https://docs.docker.com/reference/cli/docker/network/create/#internal",
        not_catchable="configuration of the task's namespace; no lab fault adds a route",
    )
)
def internal_routes(ctx: SwarmContext) -> Outcome:
    seen = {}
    for task in ctx.tasks("internal"):
        routes, ifaces = ctx.run(
            task, [ctx.probe(ProbeKind.ROUTES, ""), ctx.probe(ProbeKind.INTERFACES, "")]
        )
        seen[task.name] = {
            "default_route": routes.values.get("has_default"),
            "interfaces": sorted(ifaces.values.get("interfaces", {})),
        }
    bad = {
        k: v
        for k, v in seen.items()
        if v["default_route"] is not False or v["interfaces"] != ["eth0", "lo"]
    }
    if not seen:
        return Outcome.failed("no internal task found")
    if bad:
        return Outcome.failed(f"internal tasks with egress plumbing: {bad}", observed=seen)
    return Outcome.passed(f"{len(seen)} internal tasks: no default route, only eth0", observed=seen)


@CATALOGUE.register(
    spec(
        "isolation.internal.no-egress",
        Area.ISOLATION,
        "An --internal overlay has no egress, yet works inside across hosts",
        "https://docs.docker.com/reference/cli/docker/network/create/#internal",
        catches=("vxlan-blocked",),
    )
)
def internal_egress(ctx: SwarmContext) -> Outcome:
    internal = ctx.tasks("internal")
    inside = _pairs_matrix(
        ctx,
        [(a, b) for a, b in itertools.permutations(internal, 2) if a.node != b.node],
        ProbeKind.TCP,
        expect_ok=True,
    )
    if inside.verdict != "pass":
        return Outcome.failed(f"traffic inside the internal overlay broken: {inside.reason}")

    # "Outside" = another host's underlay address, gossip port 7946/tcp (always listening).
    def egress(src: Endpoint) -> list[ProbeResult]:
        return ctx.run(
            src,
            [
                ctx.probe(ProbeKind.TCP, n.address, port=7946, connect_only=True)
                for n in ctx.nodes
                if n.name != src.node
            ],
        )

    control = [r for t in ctx.tasks("probe")[:1] for r in egress(t)]
    if not all(r.ok for r in control):
        return Outcome.failed(
            f"control failed: a normal overlay cannot reach the underlay either: "
            f"{[r.error for r in control]}"
        )
    blocked = {
        f"{t.name}->{r.target}:7946": ("connected" if r.ok else r.error)
        for t in internal
        for r in egress(t)
    }
    leaks = {k: v for k, v in blocked.items() if v == "connected"}
    if leaks:
        return Outcome.failed(
            f"internal overlay reached the underlay: {sorted(leaks)}", observed=blocked
        )
    return Outcome.passed(
        "no egress from the internal overlay (control: the normal overlay has egress); "
        "cross-host traffic inside works",
        observed=blocked,
    )


@CATALOGUE.register(
    spec(
        "isolation.encrypted.works",
        Area.ISOLATION,
        "An encrypted overlay carries traffic across hosts",
        DOCS,
        requires=frozenset({"esp"}),
        catches=("vxlan-blocked",),
    )
)
def encrypted_works(ctx: SwarmContext) -> Outcome:
    return _pairs_matrix(ctx, _cross_host_pairs(ctx, "encrypted"), ProbeKind.TCP, expect_ok=True)


@CATALOGUE.register(
    spec(
        "isolation.encrypted.esp-only",
        Area.ISOLATION,
        "An encrypted overlay's cross-host traffic is ESP on the underlay, no VXLAN in the clear",
        DOCS + " (encrypt: IPsec ESP between nodes)",
        requires=frozenset({"esp", "underlay-capture"}),
        catches=("vxlan-blocked",),
    )
)
def encrypted_esp_only(ctx: SwarmContext) -> Outcome:
    vni, subnet = ctx.overlay("encrypted")
    readable = f"VXLAN frames with VNI {vni} readable on the wire"
    return _on_the_wire(
        ctx,
        "encrypted",
        ("esp", capture.esp(), "ESP packets"),
        {"vxlan": (capture.vxlan_vni(vni), readable), "clear": _in_the_clear(subnet)},
        "as ESP only",
    )
