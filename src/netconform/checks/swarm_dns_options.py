"""DNS options on Swarm: `--dns`, `--dns-search` and `--dns-option` given to a service
(`docker service create --dns ...`) and to a standalone container (`docker run --dns ...`)
are honoured: the endpoint's resolv.conf carries the search domain and the options (the
nameserver stays the embedded DNS 127.0.0.11 on a user-defined network, which forwards to
the given server), and a short name is answered through the search domain by the given
upstream, a DNS server the run serves itself (probes/dns_upstream.py), which answers every
name of its domain with one TEST-NET address. The positive control: the same lookup from a
default endpoint is not answered with it."""

from __future__ import annotations

from typing import Any

from netconform.checks.base import CATALOGUE, Outcome
from netconform.checks.grid import not_run
from netconform.checks.swarm_common import spec
from netconform.checks.swarm_context import SwarmCheckContext
from netconform.checks.swarm_dns import parse_resolv_conf
from netconform.platforms.swarm_plan import (
    DNS_ANSWER,
    DNS_DOMAIN,
    DNS_OPTIONS,
    ContainerRole,
    Endpoint,
    ServiceKey,
)
from netconform.probes.model import ProbeKind
from netconform.results import Area, Measure

DOCS_SERVICE = "https://docs.docker.com/reference/cli/docker/service/create/#dns"
DOCS_RUN = "https://docs.docker.com/engine/network/#dns-services"
EMBEDDED_DNS = "127.0.0.11"
SHORT_NAME = "www"  # resolved through the search domain: www.netconform.test


def _configured(ctx: SwarmCheckContext) -> list[Endpoint]:
    """The service task and the standalone container given the DNS options."""
    return [*ctx.tasks(ServiceKey.DNS_OPTIONS), *ctx.standalone(ContainerRole.DNS_OPTIONS)]


def _ext_servers(content: str) -> list[str]:
    """The upstreams Docker's embedded DNS forwards to, from its `# ExtServers: [...]`
    comment (Docker 25+; other versions may leave it out)."""
    for line in content.splitlines():
        if line.startswith("# ExtServers:"):
            inner = line.split(":", 1)[1].strip().strip("[]")
            return [s.split("(")[-1].rstrip(")") for s in inner.split()]
    return []


@CATALOGUE.register(
    spec(
        "dns.options.resolv-conf",
        Area.DNS,
        "dns.resolv-conf.custom",
        "--dns-search and --dns-option (service and container) are in resolv.conf",
        DOCS_SERVICE,
        not_catchable="written by dockerd when the endpoint starts; no lab fault changes it",
    )
)
def resolv_conf(ctx: SwarmCheckContext) -> Outcome:
    endpoints = _configured(ctx)
    if len(endpoints) < 2:
        return Outcome.failed(f"expected the DNS-options task and container, found {endpoints}")
    results = ctx.run_many({e: [ctx.probe(ProbeKind.READ, "/etc/resolv.conf")] for e in endpoints})
    unrun = not_run({e.name: r for e, (r,) in results.items()}, "read /etc/resolv.conf")
    if unrun is not None:
        return unrun
    expected = {
        "nameserver": [EMBEDDED_DNS],
        "search": [DNS_DOMAIN],
        "options": list(DNS_OPTIONS),
    }
    observed: dict[str, Any] = {}
    wrong = []
    for endpoint, (result,) in results.items():
        if not result.ok:
            wrong.append(f"{endpoint.name}: cannot read resolv.conf ({result.error})")
            continue
        content = str(result.values.get("content", ""))
        parsed = parse_resolv_conf(content)
        search = [d for line in content.splitlines() if line.startswith("search ")
                  for d in line.split()[1:]]  # fmt: skip
        seen = {
            "nameserver": parsed.get("nameservers", []),
            "search": search,
            "options": parsed.get("options", []),
            "ext_servers": _ext_servers(content),
        }
        observed[endpoint.name] = seen
        for key, want in expected.items():
            if seen[key] != want:
                wrong.append(f"{endpoint.name}: {key} {seen[key]}, expected {want}")
    measurements = {Measure.PROBES: len(results)}
    if wrong:
        return Outcome.failed(
            "; ".join(wrong), expected=expected, observed=observed, measurements=measurements
        )
    return Outcome.passed(
        f"{len(observed)} endpoints (service task, container): search {DNS_DOMAIN}, options "
        f"{' '.join(DNS_OPTIONS)}, nameserver {EMBEDDED_DNS}",
        expected=expected,
        observed=observed,
        measurements=measurements,
    )


@CATALOGUE.register(
    spec(
        "dns.options.search-upstream",
        Area.DNS,
        "dns.resolv-conf.search-upstream",
        "A short name resolves through --dns-search, answered by the --dns upstream",
        DOCS_RUN,
        not_catchable="dns-broken breaks one host's containers; which host the DNS-options "
        "endpoints run on is the scheduler's choice",
    )
)
def search_upstream(ctx: SwarmCheckContext) -> Outcome:
    endpoints = _configured(ctx)
    controls = ctx.tasks(ServiceKey.PROBE)[:1]
    if len(endpoints) < 2 or not controls:
        return Outcome.failed("the DNS-options task and container or a probe task are missing")
    batches = {
        e: [ctx.probe(ProbeKind.DNS, SHORT_NAME, search=True, server=EMBEDDED_DNS)]
        for e in [*endpoints, *controls]
    }
    results = {e: rs[0] for e, rs in ctx.run_many(batches).items()}
    unrun = not_run({e.name: r for e, r in results.items()}, f"lookups of {SHORT_NAME}")
    if unrun is not None:
        return unrun
    observed: dict[str, dict[str, Any]] = {
        e.name: {
            "answers": list(r.values.get("answers", [])),
            "qname": r.values.get("qname"),
            "error": r.error,
        }
        for e, r in results.items()
    }
    fqdn = f"{SHORT_NAME}.{DNS_DOMAIN}."
    wrong = [
        f"{e.name}: {observed[e.name]}"
        for e in endpoints
        if not (
            results[e].ok
            and observed[e.name]["answers"] == [DNS_ANSWER]
            and observed[e.name]["qname"] == fqdn
        )
    ]
    leaked = [e.name for e in controls if DNS_ANSWER in observed[e.name]["answers"]]
    expected = {
        "configured": f"{SHORT_NAME} -> {fqdn} A {DNS_ANSWER} (from the --dns upstream)",
        "default endpoint": f"{SHORT_NAME} not answered with {DNS_ANSWER}",
    }
    if leaked:
        return Outcome.failed(
            f"control: a default endpoint got the upstream's answer too ({leaked}): the lookup "
            "does not prove the options",
            expected=expected,
            observed=observed,
        )
    if wrong:
        return Outcome.failed(
            "not answered through the search domain by the given upstream: " + "; ".join(wrong),
            expected=expected,
            observed=observed,
        )
    return Outcome.passed(
        f"{SHORT_NAME} resolved as {fqdn} -> {DNS_ANSWER} by the --dns upstream on "
        f"{len(endpoints)} endpoints; a default endpoint does not get it",
        expected=expected,
        observed=observed,
        measurements={Measure.PROBES: len(results)},
    )
