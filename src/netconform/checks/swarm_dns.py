"""Swarm's embedded DNS: service VIPs, tasks.<service>, dnsrr, network aliases, container
names, resolv.conf, AAAA on a v4-only name, isolation between overlays, and lookup latency.
Every lookup asks over UDP and TCP."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from netconform.checks.base import CATALOGUE, Outcome, poll
from netconform.checks.dns_latency import judge_latency, series_params
from netconform.checks.grid import not_run
from netconform.checks.swarm_common import SWARM_NET, spec
from netconform.checks.swarm_context import SwarmCheckContext
from netconform.platforms.swarm_plan import PROBE_ALIAS, Endpoint, NetworkKey, ServiceKey
from netconform.probes.model import ProbeKind, ProbeResult
from netconform.results import Area, Measure, Verdict
from netconform.vocab import Fault

DNS_DOCS = "https://docs.docker.com/engine/network/#dns-services"
EMBEDDED_DNS = "127.0.0.11"
TRANSPORTS = ("udp", "tcp")


def _a_records(result: ProbeResult) -> list[str]:
    return sorted(a["value"] for a in result.values.get("answers", []) if a.get("type") == "A")


def _dns_both(
    ctx: SwarmCheckContext, source: Endpoint, name: str, qtype: str = "A"
) -> dict[str, ProbeResult]:
    probes = {t: ctx.probe(ProbeKind.DNS, name, qtype=qtype, transport=t) for t in TRANSPORTS}
    results = ctx.run(source, list(probes.values()))
    return {t: r for t, r in zip(probes, results, strict=True)}


def _expect_answers(
    ctx: SwarmCheckContext, name: str, expected: Callable[[], list[str]], what: str
) -> Outcome:
    """Poll until both UDP and TCP answers equal the expected A set."""
    source = ctx.tasks(ServiceKey.PROBE)[0]
    want: list[str] = []
    last: dict[str, ProbeResult] = {}

    def observe() -> dict[str, list[str] | str]:
        nonlocal want
        want = expected()
        got = _dns_both(ctx, source, name)
        last.update(got)
        return {t: (_a_records(r) if r.ok else f"error: {r.error}") for t, r in got.items()}

    polled = poll(
        observe,
        lambda got: all(v == want for v in got.values()) and bool(want),
        ctx.scenario.converge_deadline_s,
    )
    evidence: dict[str, Any] = {
        "expected": want,
        "observed": polled.value,
        "measurements": {
            Measure.ATTEMPTS: polled.attempts,
            Measure.CONVERGED_S: round(polled.elapsed_s, 3),
        },
    }
    if polled.held:
        return Outcome.passed(f"{name} gives exactly {what} over UDP and TCP", **evidence)
    unrun = not_run(last, name, **evidence)
    if unrun is not None:
        return unrun
    return Outcome.failed(f"{name}: expected {what} {want}, got {polled.value}", **evidence)


def _the_vip(ctx: SwarmCheckContext, key: str) -> Callable[[], list[str]]:
    """The service's VIP on the main overlay, as the one expected answer (none yet: [])."""
    return lambda: [v] if (v := ctx.vip(key, NetworkKey.MAIN)) else []


def _task_ips(ctx: SwarmCheckContext, key: str) -> Callable[[], list[str]]:
    return lambda: sorted(t.ip for t in ctx.tasks(key, NetworkKey.MAIN))


@CATALOGUE.register(
    spec(
        "dns.service.vip",
        Area.DNS,
        "dns.service.a",
        "Service name resolves to exactly its VIP",
        SWARM_NET,
        catches=(Fault.DNS_BROKEN,),
    )
)
def dns_service_vip(ctx: SwarmCheckContext) -> Outcome:
    name = ctx.plan.service_name(ServiceKey.VIP)
    return _expect_answers(ctx, name, _the_vip(ctx, ServiceKey.VIP), "its VIP")


@CATALOGUE.register(
    spec(
        "dns.tasks.ips",
        Area.DNS,
        "dns.service.endpoints.a",
        "tasks.<service> gives exactly the running task IPs",
        SWARM_NET,
        catches=(Fault.DNS_BROKEN,),
    )
)
def dns_tasks(ctx: SwarmCheckContext) -> Outcome:
    name = f"tasks.{ctx.plan.service_name(ServiceKey.PROBE)}"
    return _expect_answers(ctx, name, _task_ips(ctx, ServiceKey.PROBE), "task IPs")


def _scale_step(ctx: SwarmCheckContext, name: str, replicas: int) -> tuple[Outcome, dict[str, Any]]:
    """Scale, then poll until tasks.<service> answers the `replicas` running task IPs."""

    def expected() -> list[str]:
        ips = _task_ips(ctx, ServiceKey.SCALE)()
        return ips if len(ips) == replicas else []  # [] never matches: keep polling

    ctx.scale(ServiceKey.SCALE, replicas)
    t0 = time.monotonic()
    outcome = _expect_answers(ctx, name, expected, f"{replicas} task IPs")
    step = {
        "replicas": replicas,
        "verdict": str(outcome.verdict),
        "converged_s": round(time.monotonic() - t0, 3),
        "observed": outcome.observed,
    }
    return outcome, step


@CATALOGUE.register(
    spec(
        "dns.tasks.follows-scale",
        Area.DNS,
        "dns.service.endpoints.follow-changes",
        "tasks.<service> follows a scale down and back up",
        SWARM_NET,
        catches=(Fault.DNS_BROKEN,),
    )
)
def dns_follows_scale(ctx: SwarmCheckContext) -> Outcome:
    name = f"tasks.{ctx.plan.service_name(ServiceKey.SCALE)}"
    steps = []
    for replicas in (ctx.scenario.scale.low, ctx.scenario.scale.high):
        outcome, step = _scale_step(ctx, name, replicas)
        steps.append(step)
        if outcome.verdict != Verdict.PASS:
            ctx.scale(ServiceKey.SCALE, ctx.scenario.scale.high)  # leave the deployment as planned
            return Outcome(
                Verdict.ERROR if outcome.verdict == Verdict.ERROR else Verdict.FAIL,
                f"after scaling to {replicas}: {outcome.reason}",
                observed=steps,
                measurements={Measure.SCALE_CONVERGED_S: _converged(steps)},
            )
    return Outcome.passed(
        "tasks.<service> followed the scale down and up",
        observed=steps,
        measurements={Measure.SCALE_CONVERGED_S: _converged(steps)},
    )


def _converged(steps: list[dict[str, Any]]) -> dict[str, float]:
    """Seconds until DNS followed, per replica count scaled to."""
    return {str(s["replicas"]): s["converged_s"] for s in steps}


@CATALOGUE.register(
    spec(
        "dns.dnsrr.task-ips",
        Area.DNS,
        "dns.service.no-virtual-ip",
        "dnsrr endpoint mode: the name gives the task IPs and no VIP",
        SWARM_NET,
        catches=(Fault.DNS_BROKEN,),
    )
)
def dns_dnsrr(ctx: SwarmCheckContext) -> Outcome:
    name = ctx.plan.service_name(ServiceKey.DNSRR)
    outcome = _expect_answers(ctx, name, _task_ips(ctx, ServiceKey.DNSRR), "task IPs")
    if outcome.verdict == Verdict.PASS and ctx.vip(ServiceKey.DNSRR, NetworkKey.MAIN) is not None:
        return Outcome.failed("dnsrr service has a VIP", observed=outcome.observed)
    return outcome


@CATALOGUE.register(
    spec(
        "dns.alias.network-alias",
        Area.DNS,
        "dns.service.alias",
        "A network alias gives the VIP, tasks.<alias> the task IPs",
        SWARM_NET,
        catches=(Fault.DNS_BROKEN,),
    )
)
def dns_alias(ctx: SwarmCheckContext) -> Outcome:
    alias = _expect_answers(ctx, PROBE_ALIAS, _the_vip(ctx, ServiceKey.PROBE), "the VIP")
    if alias.verdict != Verdict.PASS:
        return alias
    return _expect_answers(
        ctx, f"tasks.{PROBE_ALIAS}", _task_ips(ctx, ServiceKey.PROBE), "task IPs"
    )


@CATALOGUE.register(
    spec(
        "dns.container.name",
        Area.DNS,
        "dns.endpoint.name",
        "Standalone container names resolve across hosts",
        DNS_DOCS,
        catches=(Fault.DNS_BROKEN,),
    )
)
def dns_container_names(ctx: SwarmCheckContext) -> Outcome:
    source = ctx.tasks(ServiceKey.PROBE)[0]
    peers = ctx.peers()
    want = {p.name: [p.ip] for p in peers}
    last: dict[str, ProbeResult] = {}

    def observe() -> dict[str, list[str] | str]:
        asked = [(p, t) for p in peers for t in TRANSPORTS]
        probes = [ctx.probe(ProbeKind.DNS, p.name, transport=t) for p, t in asked]
        results = ctx.run(source, probes)
        last.update({f"{p.name}/{t}": r for (p, t), r in zip(asked, results, strict=True)})
        return {k: (_a_records(r) if r.ok else f"error: {r.error}") for k, r in last.items()}

    def holds(got: dict[str, list[str] | str]) -> bool:
        return all(v == want[k.split("/")[0]] for k, v in got.items())

    polled = poll(observe, holds, ctx.scenario.converge_deadline_s)
    if polled.held:
        return Outcome.passed(
            f"{len(peers)} container names resolve to their IPs (UDP, TCP)",
            expected=want,
            observed=polled.value,
        )
    unrun = not_run(last, "container names", expected=want)
    if unrun is not None:
        return unrun
    return Outcome.failed(
        "container names wrong or unresolved", expected=want, observed=polled.value
    )


def parse_resolv_conf(content: str) -> dict[str, list[str]]:
    """The nameservers and options of a resolv.conf, in file order."""
    lines = [
        line.split() for line in content.splitlines() if line.strip() and not line.startswith("#")
    ]
    return {
        "nameservers": [parts[1] for parts in lines if parts[0] == "nameserver" and len(parts) > 1],
        "options": [o for parts in lines if parts[0] == "options" for o in parts[1:]],
    }


@CATALOGUE.register(
    spec(
        "dns.resolv-conf",
        Area.DNS,
        "dns.resolv-conf.default",
        "resolv.conf points at the embedded DNS 127.0.0.11 with ndots:0",
        DNS_DOCS,
        not_catchable="configuration written by dockerd; no lab fault changes it",
    )
)
def dns_resolv_conf(ctx: SwarmCheckContext) -> Outcome:
    source = ctx.tasks(ServiceKey.PROBE)[0]
    result = ctx.run(source, [ctx.probe(ProbeKind.READ, "/etc/resolv.conf")])[0]
    unrun = not_run({source.name: result}, "read /etc/resolv.conf")
    if unrun is not None:
        return unrun
    if not result.ok:
        return Outcome.failed(f"cannot read resolv.conf: {result.error}")
    observed = parse_resolv_conf(str(result.values.get("content", "")))
    expected = {"nameservers": [EMBEDDED_DNS], "options": ["ndots:0"]}
    if observed["nameservers"] == [EMBEDDED_DNS] and "ndots:0" in observed["options"]:
        return Outcome.passed(
            f"nameserver {EMBEDDED_DNS}, ndots:0", expected=expected, observed=observed
        )
    return Outcome.failed(
        f"unexpected resolv.conf: {observed}", expected=expected, observed=observed
    )


@CATALOGUE.register(
    spec(
        "dns.aaaa.v4-only",
        Area.DNS,
        "dns.service.aaaa-nodata",
        "AAAA for a v4-only service name: NOERROR with no answer",
        DNS_DOCS,
        catches=(Fault.DNS_BROKEN,),
    )
)
def dns_aaaa(ctx: SwarmCheckContext) -> Outcome:
    source = ctx.tasks(ServiceKey.PROBE)[0]
    got = _dns_both(ctx, source, ctx.plan.service_name(ServiceKey.VIP), qtype="AAAA")
    observed = {
        t: {"ok": r.ok, "error": r.error, "answers": r.values.get("answers")}
        for t, r in got.items()
    }
    unrun = not_run(got, "AAAA", observed=observed)
    if unrun is not None:
        return unrun
    if all(r.ok and not r.values.get("answers") for r in got.values()):
        return Outcome.passed("NOERROR, empty answer over UDP and TCP", observed=observed)
    return Outcome.failed(f"AAAA answered unexpectedly: {observed}", observed=observed)


@CATALOGUE.register(
    spec(
        "dns.isolation.other-network",
        Area.DNS,
        "dns.scope.other-segment",
        "A service on another overlay does not resolve",
        SWARM_NET,
        catches=(Fault.ISOLATION_BREACH, Fault.DNS_BROKEN),
    )
)
def dns_other_network(ctx: SwarmCheckContext) -> Outcome:
    name = ctx.plan.service_name(ServiceKey.OTHER)
    own = ctx.tasks(ServiceKey.OTHER)[0]
    control = _dns_both(ctx, own, name)
    unrun = not_run(control, f"control lookup of {name}")
    if unrun is not None:
        return unrun
    if not all(r.ok and _a_records(r) for r in control.values()):
        return Outcome.failed(
            f"control failed: {name} does not resolve on its own network",
            observed={t: r.error for t, r in control.items()},
        )
    observed: dict[str, Any] = {}
    for source in [ctx.tasks(ServiceKey.PROBE)[0], *ctx.peers()[:1]]:
        got = _dns_both(ctx, source, name)
        # a lookup that did not run never shows the name unresolved
        unrun = not_run(got, f"{name} from {source.name}")
        if unrun is not None:
            return unrun
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
        "dns.latency",
        "Embedded DNS lookup latency p50/p90/p99 (UDP and TCP), one lookup at a time, "
        "with dig as a cross-check",
        DNS_DOCS,
        catches=(Fault.DNS_BROKEN, Fault.LOSSY_UNDERLAY),
    )
)
def dns_latency(ctx: SwarmCheckContext) -> Outcome:
    source = ctx.tasks(ServiceKey.PROBE)[0]
    name = f"tasks.{ctx.plan.service_name(ServiceKey.PROBE)}"
    samples = ctx.scenario.dns.latency_samples
    limit = ctx.scenario.dns.latency_p90_max_ms
    # One transport after the other: two series at once would time each other.
    by_transport = {
        t: ctx.run(source, [ctx.probe(ProbeKind.DNS_LATENCY, name, **series_params(samples, t))])[0]
        for t in TRANSPORTS
    }
    return judge_latency(by_transport, samples, limit)
