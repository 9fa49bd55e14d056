"""DNS on Kubernetes per the DNS specification (kubernetes/dns docs/specification.md v1.1.0),
every query over UDP and over TCP from a ClusterFirst client in the DNS namespace."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from netconform.checks.base import CATALOGUE, CheckSpec, Outcome
from netconform.checks.k8s_common import NOT_CATCHABLE, Cell, describe, poll_cells
from netconform.k8s.context import KubeCheckContext
from netconform.k8s.kube import PodEndpoint
from netconform.k8s.workloads import DNS_BACKENDS, DNS_CUSTOM_SEARCH, DNS_EXTERNAL_NAME
from netconform.probes.model import ProbeKind, ProbeResult
from netconform.results import Area
from netconform.vocab import Family

SPEC = "https://github.com/kubernetes/dns/blob/master/docs/specification.md"
POD_DNS = "https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/"
TRANSPORTS = ("udp", "tcp")


def _spec(id_: str, title: str, ref: str) -> CheckSpec:
    return CheckSpec(id_, Area.DNS, title, ref, Family.KUBERNETES, not_catchable=NOT_CATCHABLE)


def _fqdn(ctx: KubeCheckContext, name: str) -> str:
    return f"{name}.{ctx.spec.dns_namespace}.svc.{ctx.spec.cluster_domain}"


def _client(ctx: KubeCheckContext, name: str = "dns-client") -> PodEndpoint:
    return ctx.pod(ctx.spec.dns_namespace, name)


def _answers(result: ProbeResult, rtype: str) -> set[str]:
    """Values of the answer records of one type (search-mode answers are plain strings)."""
    out = set()
    for answer in result.values.get("answers", []):
        if isinstance(answer, str):
            out.add(answer.lower())
        elif answer.get("type") == rtype:
            out.add(str(answer["value"]).lower())
    return out


def _rcode(result: ProbeResult) -> str:
    """The DNS rcode of an answer; a probe that got none (timeout, refused) names its error."""
    if result.values.get("rcode"):
        return str(result.values["rcode"])
    return "NOERROR" if result.ok else (result.error or "no answer").upper()


def _query(
    ctx: KubeCheckContext,
    name: str,
    qtype: str,
    want: Callable[[ProbeResult], bool],
    expected: Any,
    source: PodEndpoint | None = None,
    search: bool = False,
    rcode: str = "NOERROR",
) -> Outcome:
    src = source or _client(ctx)
    cells = []
    for transport in TRANSPORTS:
        probe = ctx.probe(ProbeKind.DNS, name, qtype=qtype, transport=transport, search=search)
        cells.append(Cell(src, probe, f"{qtype} {name} over {transport}"))
    polled, bad = poll_cells(ctx, cells, lambda _, r: _rcode(r) == rcode and want(r))
    observed = describe(polled.value, [c.label for c in cells])
    latency = {c.label: polled.value[c.label].latency_ms for c in cells}
    measurements = {"latency_ms": latency, "attempts": polled.attempts}
    if bad:
        return Outcome.failed(
            f"{bad[0]}: not as the specification says",
            expected=expected,
            observed=observed,
            measurements=measurements,
        )
    return Outcome.passed(
        f"{qtype} {name} over UDP and TCP",
        expected=expected,
        observed=observed,
        measurements=measurements,
    )


@CATALOGUE.register(
    _spec(
        "k8s.dns.service.a-fqdn",
        "A record of a ClusterIP Service by FQDN",
        SPEC + "#241---a--aaaa-records",
    )
)
def service_a_fqdn(ctx: KubeCheckContext) -> Outcome:
    ip = ctx.service_ip(ctx.spec.dns_namespace, "dns-svc")
    return _query(ctx, _fqdn(ctx, "dns-svc"), "A", lambda r: _answers(r, "A") == {ip}, [ip])


@CATALOGUE.register(
    _spec(
        "k8s.dns.service.a-search",
        "Service by short and namespace-qualified name (search path, ndots:5)",
        POD_DNS + "#namespaces-of-services",
    )
)
def service_a_search(ctx: KubeCheckContext) -> Outcome:
    ip = ctx.service_ip(ctx.spec.dns_namespace, "dns-svc")
    for name in ("dns-svc", f"dns-svc.{ctx.spec.dns_namespace}"):
        outcome = _query(ctx, name, "A", lambda r: _answers(r, "A") == {ip}, [ip], search=True)
        if outcome.verdict != "pass":
            return outcome
    return Outcome.passed("short and namespace-qualified names resolve through the search path")


def _resolv_conf(
    ctx: KubeCheckContext, pod: PodEndpoint
) -> tuple[dict[str, list[str]], ProbeResult]:
    cell = Cell(pod, ctx.probe(ProbeKind.READ, "/etc/resolv.conf"), "read /etc/resolv.conf")
    polled, _ = poll_cells(ctx, [cell], lambda _, r: r.ok)
    result = polled.value[cell.label]
    conf: dict[str, list[str]] = {"nameserver": [], "search": [], "options": []}
    for line in str(result.values.get("content", "")).splitlines():
        parts = line.split()
        if parts and parts[0] in conf:
            conf[parts[0]] += parts[1:]
    return conf, result


@CATALOGUE.register(
    _spec(
        "k8s.dns.resolv-conf.cluster-first",
        "resolv.conf under ClusterFirst: cluster DNS, search path, ndots:5",
        POD_DNS + "#pod-s-dns-policy",
    )
)
def resolv_conf_cluster_first(ctx: KubeCheckContext) -> Outcome:
    zone, ns = ctx.spec.cluster_domain, ctx.spec.dns_namespace
    expected = {
        "nameserver": [ctx.spec.cluster_dns_ip],
        "search_prefix": [f"{ns}.svc.{zone}", f"svc.{zone}", zone],
        "options": ["ndots:5"],
    }
    conf, result = _resolv_conf(ctx, _client(ctx))
    if not result.ok:
        return Outcome.failed(f"cannot read resolv.conf: {result.error}")
    problems = []
    if conf["nameserver"] != expected["nameserver"]:
        problems.append(f"nameserver {conf['nameserver']}")
    if conf["search"][:3] != expected["search_prefix"]:
        problems.append(f"search {conf['search']}")
    if "ndots:5" not in conf["options"]:
        problems.append(f"options {conf['options']}")
    if problems:
        return Outcome.failed("; ".join(problems), expected=expected, observed=conf)
    return Outcome.passed(
        "nameserver, search path and ndots:5 as specified", expected=expected, observed=conf
    )


@CATALOGUE.register(
    _spec(
        "k8s.dns.headless.a",
        "Headless Service A records: every ready endpoint",
        SPEC + "#242---a--aaaa-records",
    )
)
def headless_a(ctx: KubeCheckContext) -> Outcome:
    ips = {ctx.pod(ctx.spec.dns_namespace, f"dns-backend-{i}").ip for i in range(DNS_BACKENDS)}
    return _query(
        ctx, _fqdn(ctx, "dns-headless"), "A", lambda r: _answers(r, "A") == ips, sorted(ips)
    )


@CATALOGUE.register(
    _spec(
        "k8s.dns.headless.srv",
        "Headless Service SRV: one record per endpoint and named port",
        SPEC + "#243---srv-records",
    )
)
def headless_srv(ctx: KubeCheckContext) -> Outcome:
    want = {
        f"0 {100 // DNS_BACKENDS} 8080 {_fqdn(ctx, f'dns-backend-{i}.dns-headless')}."
        for i in range(DNS_BACKENDS)
    }

    def targets(r: ProbeResult) -> set[str]:
        return {" ".join(v.split()[2:]) for v in _answers(r, "SRV")}

    expected_targets = {" ".join(w.split()[2:]) for w in want}
    name = f"_http._tcp.{_fqdn(ctx, 'dns-headless')}"
    return _query(
        ctx, name, "SRV", lambda r: targets(r) == expected_targets, sorted(expected_targets)
    )


@CATALOGUE.register(
    _spec(
        "k8s.dns.service.srv",
        "ClusterIP Service SRV for named TCP and UDP ports",
        SPEC + "#243---srv-records",
    )
)
def service_srv(ctx: KubeCheckContext) -> Outcome:
    target = f"{_fqdn(ctx, 'dns-svc')}."
    for port, proto, number in (("http", "tcp", 80), ("echo", "udp", 81)):
        want = f"{number} {target}"

        def matches(r: ProbeResult, want: str = want) -> bool:
            return {" ".join(v.split()[2:]) for v in _answers(r, "SRV")} == {want}

        outcome = _query(ctx, f"_{port}._{proto}.{_fqdn(ctx, 'dns-svc')}", "SRV", matches, want)
        if outcome.verdict != "pass":
            return outcome
    return Outcome.passed("SRV records for the named TCP and UDP ports")


@CATALOGUE.register(
    _spec(
        "k8s.dns.pod.hostname-subdomain",
        "Pod hostname + subdomain A record",
        POD_DNS + "#pod-s-hostname-and-subdomain-fields",
    )
)
def pod_hostname_subdomain(ctx: KubeCheckContext) -> Outcome:
    ip = ctx.pod(ctx.spec.dns_namespace, "dns-backend-0").ip
    name = _fqdn(ctx, "dns-backend-0.dns-headless")
    return _query(ctx, name, "A", lambda r: _answers(r, "A") == {ip}, [ip])


@CATALOGUE.register(
    _spec(
        "k8s.dns.externalname.cname",
        "ExternalName Service gives its CNAME",
        SPEC + "#25---records-for-external-name-services",
    )
)
def externalname_cname(ctx: KubeCheckContext) -> Outcome:
    want = f"{DNS_EXTERNAL_NAME}."
    return _query(
        ctx, _fqdn(ctx, "dns-external"), "CNAME", lambda r: _answers(r, "CNAME") == {want}, want
    )


@CATALOGUE.register(
    _spec(
        "k8s.dns.service.ptr",
        "PTR of a ClusterIP gives the Service FQDN",
        SPEC + "#244---ptr-records",
    )
)
def service_ptr(ctx: KubeCheckContext) -> Outcome:
    ip = ctx.service_ip(ctx.spec.dns_namespace, "dns-svc")
    reverse = ipaddress.ip_address(ip).reverse_pointer
    want = f"{_fqdn(ctx, 'dns-svc')}."
    return _query(ctx, reverse, "PTR", lambda r: _answers(r, "PTR") == {want}, want)


@CATALOGUE.register(
    _spec(
        "k8s.dns.policy.none-dnsconfig",
        "dnsPolicy None with dnsConfig: resolv.conf as configured, lookups through it",
        POD_DNS + "#pod-dns-config",
    )
)
def policy_none(ctx: KubeCheckContext) -> Outcome:
    pod = _client(ctx, "dns-custom")
    ns, zone = ctx.spec.dns_namespace, ctx.spec.cluster_domain
    expected = {
        "nameserver": [ctx.spec.cluster_dns_ip],
        "search": [DNS_CUSTOM_SEARCH, f"{ns}.svc.{zone}"],
        "options": ["ndots:2", "edns0"],
    }
    conf, result = _resolv_conf(ctx, pod)
    if not result.ok:
        return Outcome.failed(f"cannot read resolv.conf: {result.error}")
    if (
        conf["nameserver"] != expected["nameserver"]
        or conf["search"] != expected["search"]
        or sorted(conf["options"]) != sorted(expected["options"])
    ):
        return Outcome.failed(
            "resolv.conf differs from the pod's dnsConfig", expected=expected, observed=conf
        )
    ip = ctx.service_ip(ns, "dns-svc")
    return _query(
        ctx, "dns-svc", "A", lambda r: _answers(r, "A") == {ip}, [ip], source=pod, search=True
    )


@CATALOGUE.register(
    _spec(
        "k8s.dns.service.aaaa-nodata",
        "AAAA of an IPv4 Service: NOERROR with no answer (NODATA), not NXDOMAIN",
        SPEC + "#241---a--aaaa-records; https://www.rfc-editor.org/rfc/rfc2308#section-2.2",
    )
)
def service_aaaa_nodata(ctx: KubeCheckContext) -> Outcome:
    ip = ctx.service_ip(ctx.spec.dns_namespace, "dns-svc")
    if ipaddress.ip_address(ip).version != 4:
        return Outcome.skipped(f"the Service's ClusterIP {ip} is IPv6: no IPv4-only name to ask")
    name = _fqdn(ctx, "dns-svc")
    return _query(ctx, name, "AAAA", lambda r: not _answers(r, "AAAA"), "NOERROR, no records")


@CATALOGUE.register(
    _spec(
        "k8s.dns.service.nxdomain",
        "A Service name that does not exist is NXDOMAIN (not a timeout, not SERVFAIL)",
        SPEC + "#23---records-for-a-service-with-clusterip; "
        "https://www.rfc-editor.org/rfc/rfc1035#section-4.1.1",
    )
)
def service_nxdomain(ctx: KubeCheckContext) -> Outcome:
    name = _fqdn(ctx, "netconform-no-such-service")
    return _query(ctx, name, "A", lambda r: not _answers(r, "A"), "NXDOMAIN", rcode="NXDOMAIN")
