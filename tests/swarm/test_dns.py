"""Swarm embedded DNS checks against the scripted swarm: each passes on what Docker's
embedded DNS answers, and fails on one wrong, stale or missing answer."""

from __future__ import annotations

from typing import Any

import pytest
from tests.dns_series import series_values

from netconform.checks.swarm_dns import parse_resolv_conf
from netconform.platforms.swarm_plan import Endpoint, ServiceKey
from netconform.probes.model import Probe, ProbeKind
from netconform.results import Measure, Verdict

from .cases import Case, fails, passes
from .fake_swarm import (
    NOT_RUN,
    Answer,
    FakeSwarm,
    Override,
    a_records,
    answered,
    failed,
    nxdomain,
    servfail,
    when,
)

VIP = "10.10.0.7"  # ncr1-vip's VIP on the main overlay
PROBE_VIP = "10.10.0.2"
PROBE_IPS = ["10.10.0.10", "10.10.0.11", "10.10.0.12"]
SCALE_IPS = ["10.10.0.220", "10.10.0.221", "10.10.0.222"]
DNSRR_IPS = ["10.10.0.190", "10.10.0.191"]


def _dnsrr_with_a_vip() -> FakeSwarm:
    """The name still answers the task IPs, but the service has a VIP."""
    ctx = FakeSwarm(when(a_records(*DNSRR_IPS), kind=ProbeKind.DNS, target="ncr1-dnsrr"))
    ctx.vips[ServiceKey.DNSRR] = "10.10.0.8"
    return ctx


def _vip_service_without_a_vip() -> FakeSwarm:
    ctx = FakeSwarm(when(a_records(), target="ncr1-vip"))
    del ctx.vips[ServiceKey.VIP]
    return ctx


CASES = [
    passes(
        "dns.service.vip",
        "ncr1-vip gives exactly its VIP over UDP and TCP",
        measurements={Measure.ATTEMPTS: 1},
        holds=lambda r, _: r.expected == [VIP] and r.observed == {"udp": [VIP], "tcp": [VIP]},
    ),
    fails(
        "dns.service.vip",
        "TCP answers another address",
        f"ncr1-vip: expected its VIP ['{VIP}'], got {{'udp': ['{VIP}'], 'tcp': ['10.10.0.99']}}",
        ctx=lambda: FakeSwarm(when(a_records("10.10.0.99"), target="ncr1-vip", transport="tcp")),
    ),
    fails(
        "dns.service.vip",
        "the name does not resolve",
        "'udp': 'error: nxdomain'",
        ctx=lambda: FakeSwarm(when(nxdomain(), target="ncr1-vip")),
    ),
    fails(
        "dns.service.vip",
        "no VIP, and the name answers nothing",
        "ncr1-vip: expected its VIP [], got {'udp': [], 'tcp': []}",  # nothing is not a match
        ctx=_vip_service_without_a_vip,
    ),
    passes(
        "dns.tasks.ips",
        "tasks.ncr1-probe gives exactly task IPs over UDP and TCP",
        holds=lambda r, _: r.expected == PROBE_IPS,
    ),
    fails(
        "dns.tasks.ips",
        "a stale task IP over UDP",
        "tasks.ncr1-probe: expected task IPs",
        ctx=lambda: FakeSwarm(
            when(a_records(*PROBE_IPS, "10.10.0.13"), target="tasks.ncr1-probe", transport="udp")
        ),
        observed={"udp": [*PROBE_IPS, "10.10.0.13"], "tcp": PROBE_IPS},
    ),
    passes(
        "dns.tasks.follows-scale",
        "tasks.<service> followed the scale down and up",
        holds=lambda r, ctx: (
            ctx.scaled == [("scale", 1), ("scale", 3)]
            and set(r.measurements[Measure.SCALE_CONVERGED_S]) == {"1", "3"}
            and [s["verdict"] for s in r.observed] == ["pass", "pass"]
        ),
    ),
    fails(
        "dns.tasks.follows-scale",
        "DNS keeps the three old IPs after the scale down",
        "after scaling to 1: tasks.ncr1-scale: expected 1 task IPs",
        ctx=lambda: FakeSwarm(when(a_records(*SCALE_IPS), target="tasks.ncr1-scale")),
        # the service is put back as planned
        holds=lambda r, ctx: ctx.scaled == [("scale", 1), ("scale", 3)] and len(r.observed) == 1,
    ),
    fails(
        "dns.tasks.follows-scale",
        "DNS never learns the tasks of the scale up",
        "after scaling to 3: tasks.ncr1-scale: expected 3 task IPs",
        ctx=lambda: FakeSwarm(when(a_records(SCALE_IPS[0]), target="tasks.ncr1-scale")),
        holds=lambda r, ctx: (
            ctx.scaled[-1] == ("scale", 3)
            and [s["verdict"] for s in r.observed] == ["pass", "fail"]
        ),
    ),
    passes(
        "dns.dnsrr.task-ips",
        "ncr1-dnsrr gives exactly task IPs over UDP and TCP",
        holds=lambda r, _: r.expected == DNSRR_IPS,
    ),
    fails(
        "dns.dnsrr.task-ips",
        "the name answers one VIP-like address",
        "ncr1-dnsrr: expected task IPs",
        ctx=lambda: FakeSwarm(when(a_records("10.10.0.8"), target="ncr1-dnsrr")),
    ),
    fails(
        "dns.dnsrr.task-ips",
        "the dnsrr service has a VIP",
        "dnsrr service has a VIP",
        ctx=_dnsrr_with_a_vip,
    ),
    passes(
        "dns.alias.network-alias",
        "tasks.probe-alias gives exactly task IPs over UDP and TCP",
        holds=lambda r, _: r.expected == PROBE_IPS,
    ),
    fails(
        "dns.alias.network-alias",
        "the alias does not resolve",
        f"probe-alias: expected the VIP ['{PROBE_VIP}'], got "
        "{'udp': 'error: nxdomain', 'tcp': 'error: nxdomain'}",
        ctx=lambda: FakeSwarm(when(nxdomain(), target="probe-alias")),
    ),
    fails(
        "dns.alias.network-alias",
        "tasks.<alias> misses a task",
        "tasks.probe-alias: expected task IPs",
        ctx=lambda: FakeSwarm(when(a_records(*PROBE_IPS[:2]), target="tasks.probe-alias")),
    ),
    passes(
        "dns.container.name",
        "3 container names resolve to their IPs (UDP, TCP)",
        observed={"ncr1-peer-h3/tcp": ["10.10.0.252"]},
    ),
    fails(
        "dns.container.name",
        "one peer's name unknown over TCP",
        "container names wrong or unresolved",
        ctx=lambda: FakeSwarm(when(nxdomain(), target="ncr1-peer-h3", transport="tcp")),
        observed={"ncr1-peer-h3/tcp": "error: nxdomain", "ncr1-peer-h3/udp": ["10.10.0.252"]},
    ),
    passes(
        "dns.resolv-conf",
        "nameserver 127.0.0.11, ndots:0",
        observed={"nameservers": ["127.0.0.11"], "options": ["ndots:0"]},
    ),
    fails(
        "dns.resolv-conf",
        "the host's resolver copied in",
        "unexpected resolv.conf: {'nameservers': ['10.0.0.2'], 'options': ['edns0']}",
        ctx=lambda: FakeSwarm(
            when(answered(content="nameserver 10.0.0.2\noptions edns0\n"), kind=ProbeKind.READ)
        ),
    ),
    fails(
        "dns.resolv-conf",
        "the embedded DNS without ndots:0",
        "unexpected resolv.conf: {'nameservers': ['127.0.0.11'], 'options': ['ndots:1']}",
        ctx=lambda: FakeSwarm(
            when(answered(content="nameserver 127.0.0.11\noptions ndots:1\n"), kind=ProbeKind.READ)
        ),
    ),
    fails(
        "dns.resolv-conf",
        "the file cannot be read",
        "cannot read resolv.conf: error: [Errno 13] Permission denied",
        ctx=lambda: FakeSwarm(
            when(failed("error: [Errno 13] Permission denied"), kind=ProbeKind.READ)
        ),
    ),
    passes(
        "dns.aaaa.v4-only",
        "NOERROR, empty answer over UDP and TCP",
        observed={"udp": {"ok": True, "error": None, "answers": []}},
    ),
    fails(
        "dns.aaaa.v4-only",
        "an AAAA record for a v4-only name",
        "AAAA answered unexpectedly",
        ctx=lambda: FakeSwarm(
            when(answered(answers=[{"type": "AAAA", "value": "fd00::7"}]), qtype="AAAA")
        ),
    ),
    fails(
        "dns.aaaa.v4-only",
        "SERVFAIL over TCP",
        "'tcp': {'ok': False, 'error': 'servfail'",
        ctx=lambda: FakeSwarm(when(servfail(), qtype="AAAA", transport="tcp")),
    ),
    passes(
        "dns.isolation.other-network",
        "ncr1-other resolves on its own overlay only",
        observed={"probe@h1/udp": "nxdomain", "ncr1-peer-h1/tcp": "nxdomain"},
    ),
    fails(
        "dns.isolation.other-network",
        "the other overlay's service resolves from the main overlay",
        "ncr1-other resolved from another overlay",
        ctx=lambda: FakeSwarm(when(a_records("10.20.0.3"), source="probe@h1", target="ncr1-other")),
        observed={"probe@h1/udp": ["10.20.0.3"]},
    ),
    fails(
        "dns.isolation.other-network",
        "control: no answer on its own overlay",
        "control failed: ncr1-other does not resolve on its own network",
        ctx=lambda: FakeSwarm(when(nxdomain(), source="other@h1")),
        holds=lambda r, _: r.observed == {"udp": "nxdomain", "tcp": "nxdomain"},
    ),
    passes(
        "dns.latency",
        "40 lookups per transport, one at a time: UDP p50 1.00 ms, p90 1.00 ms",
        "dig over UDP p50 1.00 ms",
        measurements={
            Measure.SAMPLES: 40,
            Measure.CONCURRENCY: 1,
            Measure.DNS_P50_MS: 1.0,
            Measure.DNS_P90_MS: 1.0,
            Measure.DNS_P99_MS: 1.0,
            Measure.DNS_TCP_P99_MS: 1.0,
            Measure.DIG_P50_MS: 1.0,
            Measure.DIG_SAMPLES: 40,
            Measure.FAILED_PROBES: 0,
        },
        # one series per transport, one after the other, in separate execs
        holds=lambda _, ctx: [len(probes) for _, probes in ctx.batches] == [1, 1],
    ),
    fails(
        "dns.latency",
        "TCP lookups take 300 ms",
        "TCP p90 300.0 ms over the limit 250.0 ms",
        ctx=lambda: FakeSwarm(series(ms=300.0, transport="tcp")),
        measurements={
            Measure.DNS_TCP_P99_MS: 300.0,
            Measure.DNS_P99_MS: 1.0,
            Measure.FAILED_PROBES: 0,
        },
    ),
    fails(
        "dns.latency",
        "one lookup times out",
        "1/80 lookups failed",
        ctx=lambda: FakeSwarm(series(failed=1, transport="udp")),
        measurements={Measure.FAILED_PROBES: 1},
        observed={"udp errors": {"timeout": 1}},
    ),
    passes(
        "dns.latency",
        "(dig: dig not in the endpoint image)",
        script="no dig in the image",
        ctx=lambda: FakeSwarm(series(dig_ms=None, transport="udp")),
        observed={"dig": "dig not in the endpoint image"},
        holds=lambda r, _: Measure.DIG_P50_MS not in r.measurements,
    ),
    Case(
        "dns.latency",
        "the agent crashed",
        Verdict.ERROR,
        ("the udp lookup series did not run",),
        ctx=lambda: FakeSwarm(when(NOT_RUN, kind=ProbeKind.DNS_LATENCY)),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_dns_check(case: Case) -> None:
    case.run()


def series(transport: str, **figures: Any) -> Override:
    """The dns-latency series over `transport` with other figures (ms, failed, dig_ms)."""

    def override(_: Endpoint, probe: Probe) -> Answer | None:
        if probe.kind != ProbeKind.DNS_LATENCY or probe.params["transport"] != transport:
            return None
        return answered(**series_values(probe, **figures))

    return override


def test_resolv_conf_parsing_skips_comments_and_keeps_file_order() -> None:
    content = "# from dockerd\nsearch lab\nnameserver 127.0.0.11\nnameserver 10.0.0.2\n\n"
    content += "options ndots:0 timeout:2\noptions attempts:3\nnameserver\n"
    assert parse_resolv_conf(content) == {
        "nameservers": ["127.0.0.11", "10.0.0.2"],
        "options": ["ndots:0", "timeout:2", "attempts:3"],
    }
