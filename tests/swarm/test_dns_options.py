"""Swarm DNS options (--dns, --dns-search, --dns-option) against the scripted swarm: the
configured task and container pass; a resolv.conf without the search domain, a lookup the
upstream never answered, and a default endpoint getting the same answer (the control) fail."""

from __future__ import annotations

import pytest

from netconform.platforms.swarm_plan import DNS_ANSWER
from netconform.probes.model import ProbeKind

from .cases import Case, fails, passes
from .fake_swarm import FakeSwarm, answered, nxdomain, when

CONTAINER = "ncr1-dns-options-h3"
TASK = "dnsopts.1@h1"

CASES = [
    passes(
        "dns.options.resolv-conf",
        "2 endpoints (service task, container): search netconform.test, options ndots:2 "
        "attempts:2, nameserver 127.0.0.11",
        holds=lambda result, ctx: (
            result.observed[CONTAINER]["ext_servers"]
            == [ctx.standalone_endpoints["dns-upstream"][0].ip]
        ),
    ),
    fails(
        "dns.options.resolv-conf",
        "the service task's resolv.conf lacks the search domain and options",
        f"{TASK}: search [], expected ['netconform.test']",
        f"{TASK}: options ['ndots:0']",
        ctx=lambda: FakeSwarm(
            when(
                answered(content="nameserver 127.0.0.11\noptions ndots:0\n"),
                kind=ProbeKind.READ,
                source=TASK,
            )
        ),
    ),
    fails(
        "dns.options.resolv-conf",
        "the standalone container is missing",
        "expected the DNS-options task and container",
        ctx=lambda: FakeSwarm(absent=[("dns-options", "h3")]),
    ),
    passes(
        "dns.options.search-upstream",
        f"www resolved as www.netconform.test. -> {DNS_ANSWER} by the --dns upstream on 2 "
        "endpoints",
    ),
    fails(
        "dns.options.search-upstream",
        "the container's lookup is not answered (upstream not used)",
        "not answered through the search domain",
        CONTAINER,
        ctx=lambda: FakeSwarm(when(nxdomain(), kind=ProbeKind.DNS, source=CONTAINER)),
    ),
    fails(
        "dns.options.search-upstream",
        "a default endpoint gets the upstream's answer too",
        "control: a default endpoint got the upstream's answer",
        ctx=lambda: FakeSwarm(
            when(
                answered(rcode="NOERROR", answers=[DNS_ANSWER], qname="www.lab."),
                kind=ProbeKind.DNS,
                source="probe@h1",
            )
        ),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_dns_options_check(case: Case) -> None:
    case.run()
