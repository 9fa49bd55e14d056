"""DNS on Kubernetes per the DNS specification (kubernetes/dns docs/specification.md v1.1.0),
every query over UDP and over TCP from a ClusterFirst client in the DNS namespace; plus
endpoint records following a backend leaving and rejoining, namespace scoping of short
names, and lookup latency."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from netconform.checks.base import CATALOGUE, CheckSpec, Outcome, ProbeDidNotRun
from netconform.checks.dns_latency import judge_latency, series_params
from netconform.checks.grid import Expect, observe
from netconform.checks.k8s_common import Cell, PodGrid, poll_grid, run_grid, spec
from netconform.k8s.context import KubeCheckContext, probe_pods_by_node
from netconform.k8s.kube import PodEndpoint
from netconform.k8s.workloads import (
    DNS_BACKENDS,
    DNS_EXTERNAL_NAME,
    dns_custom_search,
    probe_service_name,
)
from netconform.probes.model import ProbeKind, ProbeResult
from netconform.results import Area, Verdict

SPEC = "https://github.com/kubernetes/dns/blob/master/docs/specification.md"
POD_DNS = "https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/"
TRANSPORTS = ("udp", "tcp")


def _spec(id_: str, aspect: str, title: str, ref: str) -> CheckSpec:
    return spec(id_, Area.DNS, aspect, title, ref)


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
    as_specified = Expect("as the specification says", lambda r: _rcode(r) == rcode and want(r))
    cells = []
    for transport in TRANSPORTS:
        probe = ctx.probe(ProbeKind.DNS, name, qtype=qtype, transport=transport, search=search)
        cells.append(Cell(src, probe, f"{qtype} {name} over {transport}", as_specified))
    return run_grid(ctx, PodGrid(f"{qtype} {name} over UDP and TCP", cells, expected))


@CATALOGUE.register(
    _spec(
        "k8s.dns.service.a-fqdn",
        "dns.service.a",
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
        "dns.service.search-path",
        "Service by short and namespace-qualified name (search path, ndots:5)",
        POD_DNS + "#namespaces-of-services",
    )
)
def service_a_search(ctx: KubeCheckContext) -> Outcome:
    ip = ctx.service_ip(ctx.spec.dns_namespace, "dns-svc")
    for name in ("dns-svc", f"dns-svc.{ctx.spec.dns_namespace}"):
        outcome = _query(ctx, name, "A", lambda r: _answers(r, "A") == {ip}, [ip], search=True)
        if outcome.verdict != Verdict.PASS:
            return outcome
    return Outcome.passed("short and namespace-qualified names resolve through the search path")


def _resolv_conf(
    ctx: KubeCheckContext, pod: PodEndpoint
) -> tuple[dict[str, list[str]], ProbeResult]:
    cell = Cell(pod, ctx.probe(ProbeKind.READ, "/etc/resolv.conf"), "read /etc/resolv.conf")
    result = poll_grid(ctx, PodGrid(cell.label, [cell])).value[cell.label]
    if not result.ran:
        raise ProbeDidNotRun(f"{cell.label} in {pod.key}: {result.error}")
    conf: dict[str, list[str]] = {"nameserver": [], "search": [], "options": []}
    for line in str(result.values.get("content", "")).splitlines():
        parts = line.split()
        if parts and parts[0] in conf:
            conf[parts[0]] += parts[1:]
    return conf, result


@CATALOGUE.register(
    _spec(
        "k8s.dns.resolv-conf.cluster-first",
        "dns.resolv-conf.default",
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
        "dns.service.endpoints.a",
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
        "dns.service.endpoints.srv",
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
        "dns.service.srv",
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
        if outcome.verdict != Verdict.PASS:
            return outcome
    return Outcome.passed("SRV records for the named TCP and UDP ports")


@CATALOGUE.register(
    _spec(
        "k8s.dns.pod.hostname-subdomain",
        "dns.endpoint.name",
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
        "dns.service.alias",
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
        "dns.service.ptr",
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
        "dns.resolv-conf.custom",
        "dnsPolicy None with dnsConfig: resolv.conf as configured, lookups through it",
        POD_DNS + "#pod-dns-config",
    )
)
def policy_none(ctx: KubeCheckContext) -> Outcome:
    pod = _client(ctx, "dns-custom")
    ns, zone = ctx.spec.dns_namespace, ctx.spec.cluster_domain
    expected = {
        "nameserver": [ctx.spec.cluster_dns_ip],
        "search": [dns_custom_search(zone), f"{ns}.svc.{zone}"],
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
        "dns.service.aaaa-nodata",
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
        "dns.name.nxdomain",
        "A Service name that does not exist is NXDOMAIN (not a timeout, not SERVFAIL)",
        SPEC + "#23---records-for-a-service-with-clusterip; "
        "https://www.rfc-editor.org/rfc/rfc1035#section-4.1.1",
    )
)
def service_nxdomain(ctx: KubeCheckContext) -> Outcome:
    name = _fqdn(ctx, "netconform-no-such-service")
    return _query(ctx, name, "A", lambda r: not _answers(r, "A"), "NXDOMAIN", rcode="NXDOMAIN")


@CATALOGUE.register(
    _spec(
        "k8s.dns.headless.no-cluster-ip",
        "dns.service.no-virtual-ip",
        "Headless Service: no ClusterIP, its name gives the endpoint IPs only",
        SPEC + "#242---a--aaaa-records",
    )
)
def headless_no_cluster_ip(ctx: KubeCheckContext) -> Outcome:
    ns = ctx.spec.dns_namespace
    cluster_ip = ctx.service_ip(ns, "dns-headless")
    if cluster_ip != "None":
        return Outcome.failed(f"the headless Service has ClusterIP {cluster_ip}")
    ips = {ctx.pod(ns, f"dns-backend-{i}").ip for i in range(DNS_BACKENDS)}
    virtual = ctx.service_ip(ns, "dns-svc")  # the ClusterIP Service over the same backends
    return _query(
        ctx,
        _fqdn(ctx, "dns-headless"),
        "A",
        lambda r: _answers(r, "A") == ips and virtual not in _answers(r, "A"),
        sorted(ips),
    )


def _a_records_are(ips: set[str]) -> Callable[[ProbeResult], bool]:
    return lambda r: _answers(r, "A") == ips


# workloads.dns_objects: both DNS Services select their backends by this label.
BACKEND_SELECTOR = "app"


@CATALOGUE.register(
    _spec(
        "k8s.dns.headless.follows-endpoints",
        "dns.service.endpoints.follow-changes",
        "Headless A records drop a backend that leaves the selector and regain it when it returns",
        SPEC + "#242---a--aaaa-records",
    )
)
def headless_follows_endpoints(ctx: KubeCheckContext) -> Outcome:
    ns = ctx.spec.dns_namespace
    backends = [ctx.pod(ns, f"dns-backend-{i}") for i in range(DNS_BACKENDS)]
    leaving = backends[-1]
    labels = dict(leaving.labels)
    name = _fqdn(ctx, "dns-headless")
    steps: list[tuple[str, set[str]]] = [
        ("after it left", {b.ip for b in backends[:-1]}),
        ("after it returned", {b.ip for b in backends}),
    ]
    ctx.set_pod_labels(ns, leaving.name, {k: v for k, v in labels.items() if k != BACKEND_SELECTOR})
    try:
        for i, (when, ips) in enumerate(steps):
            if i:
                ctx.set_pod_labels(ns, leaving.name, labels)
            outcome = _query(ctx, name, "A", _a_records_are(ips), sorted(ips))
            if outcome.verdict != Verdict.PASS:
                return Outcome(
                    outcome.verdict,
                    f"{leaving.name} {when}: {outcome.reason}",
                    outcome.expected,
                    outcome.observed,
                    outcome.measurements,
                )
    finally:
        ctx.set_pod_labels(ns, leaving.name, labels)  # leave the deployment as planned
    return Outcome.passed(f"A records of {name} followed {leaving.name} out and back")


@CATALOGUE.register(
    _spec(
        "k8s.dns.service.other-namespace",
        "dns.scope.other-segment",
        "A Service of another namespace does not resolve by its short name (control: it does "
        "in its own namespace)",
        POD_DNS + "#namespaces-of-services",
    )
)
def service_other_namespace(ctx: KubeCheckContext) -> Outcome:
    by_node = probe_pods_by_node(ctx)
    if not by_node:
        return Outcome.skipped("no probe pods")
    own = by_node[min(by_node)]["b"]  # in the probe namespace, the Service's own
    short = probe_service_name(min(by_node), "a")
    ip = ctx.service_ip(ctx.spec.probe_namespace, short)
    control = _query(
        ctx, short, "A", lambda r: _answers(r, "A") == {ip}, [ip], source=own, search=True
    )
    if control.verdict != Verdict.PASS:
        return Outcome(
            control.verdict if control.verdict == Verdict.ERROR else Verdict.FAIL,
            f"control failed: {short} does not resolve in its own namespace: {control.reason}",
            control.expected,
            control.observed,
        )
    # The short name as the other namespace's search path expands it first. Not through the
    # whole search path: its last candidate, the bare name, leaves the cluster for the
    # machine's upstream resolver, which is not what this check tests.
    other = f"{short}.{ctx.spec.dns_namespace}.svc.{ctx.spec.cluster_domain}"
    outcome = _query(ctx, other, "A", lambda r: not _answers(r, "A"), "NXDOMAIN", rcode="NXDOMAIN")
    if outcome.verdict != Verdict.PASS:
        return outcome
    return Outcome.passed(
        f"{short} resolves in {ctx.spec.probe_namespace} only, NXDOMAIN from "
        f"{ctx.spec.dns_namespace}",
        expected=outcome.expected,
        observed=outcome.observed,
        measurements=outcome.measurements,
    )


@CATALOGUE.register(
    _spec(
        "k8s.dns.latency",
        "dns.latency",
        "Cluster DNS lookup latency p50/p90/p99 of a Service FQDN (UDP and TCP), one lookup "
        "at a time, with dig as a cross-check",
        SPEC,
    )
)
def latency(ctx: KubeCheckContext) -> Outcome:
    src, name = _client(ctx), _fqdn(ctx, "dns-svc")
    samples = ctx.params.dns.latency_samples
    # One transport after the other: two series at once would time each other.
    by_transport: dict[str, ProbeResult] = {}
    for transport in TRANSPORTS:
        series = ctx.probe(ProbeKind.DNS_LATENCY, name, **series_params(samples, transport))
        by_transport[transport] = observe(ctx, [Cell(src, series, transport)])[transport]
    return judge_latency(by_transport, samples, ctx.params.dns.latency_p90_max_ms)
