"""Reachability, DNS and MTU checks against a scripted data plane: each passes on the answers
a conformant cluster gives and fails, naming the cell, on a specific fault; a probe that did
not run makes a check an error, never a pass."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from netconform.checks.base import CATALOGUE, execute
from netconform.k8s.facts import CniFacts
from netconform.k8s.kube import PodEndpoint
from netconform.probes.model import Probe
from netconform.results import CheckResult, Measure, Verdict
from netconform.vocab import Family

from .scripted import SPEC, Answer, Reply, ScriptedContext, did_not_run, override


def run(check_id: str, ctx: ScriptedContext) -> CheckResult:
    return execute(CATALOGUE.get(check_id), ctx)


# The Services checks need objects this scripted cluster lacks (tests/k8s/test_services.py),
# the external ones a target outside it (tests/k8s/test_external_target.py).
PROBE_CHECKS = sorted(
    c.spec.id
    for c in CATALOGUE.for_family(Family.KUBERNETES)
    if not c.spec.id.startswith(("k8s.netpol.", "k8s.svc.", "k8s.reach.external."))
)


@pytest.mark.parametrize("check_id", PROBE_CHECKS)
def test_every_check_passes_on_a_conformant_cluster(check_id: str) -> None:
    result = run(check_id, ScriptedContext())
    assert result.verdict == Verdict.PASS, result.reason


@pytest.mark.parametrize("check_id", PROBE_CHECKS)
def test_an_agent_that_crashed_makes_every_check_an_error(check_id: str) -> None:
    result = run(check_id, ScriptedContext(did_not_run))
    assert result.verdict == Verdict.ERROR, result.reason
    assert "did not run" in result.reason or "DidNotRun" in result.reason


def test_cross_node_fails_naming_the_broken_path() -> None:
    def answer(src: PodEndpoint, p: Probe) -> Reply:
        broken = src.name == "probe-0-a" and p.target == "10.244.2.10" and str(p.kind) == "udp"
        return (False, "timeout", {}) if broken else (True, None, {})

    result = run("k8s.reach.pod-to-pod.cross-node.udp", ScriptedContext(answer))
    assert result.verdict == Verdict.FAIL
    assert "1 of 6" in result.reason and "probe-0-a -> probe-2-a udp/8081" in result.reason
    assert result.aspect == "reachability.pod-to-pod.cross-host.udp"
    # each protocol is a check of its own: TCP is untouched by the UDP fault
    tcp = run("k8s.reach.pod-to-pod.cross-node.tcp", ScriptedContext(answer))
    assert tcp.verdict == Verdict.PASS and tcp.measurements[Measure.PROBES] == 6


def test_clusterip_checks_the_backend_that_answered() -> None:
    def wrong_backend(src: PodEndpoint, p: Probe) -> Reply:
        return True, None, {"peer": "probe-9-z"}

    assert (
        run("k8s.reach.clusterip.remote-backend", ScriptedContext(wrong_backend)).verdict
        == Verdict.FAIL
    )


def test_hairpin_is_a_profile_fact() -> None:
    result = run("k8s.reach.hairpin", ScriptedContext(lambda s, p: (False, "timeout", {})))
    assert result.verdict == Verdict.PASS and result.profile
    assert result.measurements[Measure.HAIRPIN_WORKS] is False
    assert run("k8s.reach.hairpin", ScriptedContext()).measurements[Measure.HAIRPIN_WORKS]


def _mtu_answer(pod_mtu: int, route_mtu: int | None, over_error: str = "emsgsize") -> Answer:
    def answer(src: PodEndpoint, p: Probe) -> Reply:
        kind = str(p.kind)
        host = src.name.startswith("host")
        if kind == "interfaces":
            return (
                True,
                None,
                {"interfaces": {"lo": {"mtu": 65536}, "eth0": {"mtu": 1500 if host else pod_mtu}}},
            )
        if kind == "routes":
            return (
                True,
                None,
                {
                    "routes": [
                        {"iface": "eth0", "dst": "0.0.0.0", "mask": "0.0.0.0", "gateway": "x"}
                    ]
                },
            )
        limit = min(pod_mtu, route_mtu or pod_mtu) - 28
        size = int(p.params["size"])
        if size <= limit:
            return True, None, {"size": size}
        if size == limit + 1:
            return False, over_error, {"size": size}
        return False, "emsgsize", {"local_mtu": route_mtu} if route_mtu else {}

    return answer


def test_pod_mtu_must_be_node_mtu_minus_overhead() -> None:
    good = ScriptedContext(_mtu_answer(1450, None), facts=CniFacts(50))
    assert run("k8s.mtu.pod-interface", good).verdict == Verdict.PASS
    bad = ScriptedContext(_mtu_answer(1500, None), facts=CniFacts(50))
    result = run("k8s.mtu.pod-interface", bad)
    assert result.verdict == Verdict.FAIL and "expected 1500 - 50 = 1450" in result.reason


def test_a_configured_mtu_is_what_pods_must_get_and_must_fit_the_underlay() -> None:
    """The seed's calico-config sets 1400 on a 1500 underlay: pods get 1400, not 1450."""
    pinned = CniFacts(overhead_bytes=50, configured_mtu=1400)
    result = run("k8s.mtu.pod-interface", ScriptedContext(_mtu_answer(1400, None), facts=pinned))
    assert result.verdict == Verdict.PASS and "configured MTU" in result.reason
    auto = run("k8s.mtu.pod-interface", ScriptedContext(_mtu_answer(1450, None), facts=pinned))
    assert auto.verdict == Verdict.FAIL and "configured 1400" in auto.reason
    too_big = CniFacts(overhead_bytes=50, configured_mtu=1480)
    over = run("k8s.mtu.pod-interface", ScriptedContext(_mtu_answer(1480, None), facts=too_big))
    assert over.verdict == Verdict.FAIL and "over node MTU 1500 - 50 = 1450" in over.reason


def test_a_route_mtu_counts_like_cilium_sets_it() -> None:
    ctx = ScriptedContext(_mtu_answer(1500, 1450), facts=CniFacts(50))
    assert run("k8s.mtu.pod-interface", ctx).verdict == Verdict.PASS
    assert run("k8s.mtu.pmtu.df-at-limit", ctx).verdict == Verdict.PASS
    assert run("k8s.mtu.pmtu.df-over-limit", ctx).verdict == Verdict.PASS


def test_silence_one_byte_over_the_mtu_is_a_blackhole() -> None:
    ctx = ScriptedContext(_mtu_answer(1450, None, over_error="timeout"), facts=CniFacts(50))
    result = run("k8s.mtu.pmtu.df-over-limit", ctx)
    assert result.verdict == Verdict.FAIL and "EMSGSIZE" in result.reason
    assert run("k8s.mtu.pmtu.df-at-limit", ctx).verdict == Verdict.PASS


def _dns(
    answers: Callable[[str, str], list[dict[str, Any]] | list[str]], resolv: str = ""
) -> Answer:
    def answer(src: PodEndpoint, p: Probe) -> Reply:
        if str(p.kind) == "read":
            return True, None, {"content": resolv}
        return True, None, {"rcode": "NOERROR", "answers": answers(p.target, p.params["qtype"])}

    return answer


ZONE = f"{SPEC.dns_namespace}.svc.cluster.local"


def test_dns_srv_for_the_headless_service_lists_every_endpoint() -> None:
    full = [
        {"type": "SRV", "value": f"0 50 8080 dns-backend-{i}.dns-headless.{ZONE}.", "ttl": 30}
        for i in range(2)
    ]
    ok = ScriptedContext(_dns(lambda name, qtype: full))
    assert run("k8s.dns.headless.srv", ok).verdict == Verdict.PASS
    short = ScriptedContext(_dns(lambda name, qtype: full[:1]))
    assert run("k8s.dns.headless.srv", short).verdict == Verdict.FAIL


def test_resolv_conf_under_cluster_first() -> None:
    conf = (
        f"search {ZONE} svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n"
    )
    assert (
        run(
            "k8s.dns.resolv-conf.cluster-first", ScriptedContext(_dns(lambda n, q: [], conf))
        ).verdict
        == Verdict.PASS
    )
    wrong = conf.replace("ndots:5", "ndots:1")
    result = run("k8s.dns.resolv-conf.cluster-first", ScriptedContext(_dns(lambda n, q: [], wrong)))
    assert result.verdict == Verdict.FAIL and "options" in result.reason


def test_externalname_and_ptr() -> None:
    def answers(name: str, qtype: str) -> list[dict[str, Any]]:
        if qtype == "CNAME":
            return [{"type": "CNAME", "value": "dns-target.example.com.", "ttl": 5}]
        return (
            [{"type": "PTR", "value": f"dns-svc.{ZONE}.", "ttl": 5}]
            if name == "5.5.96.10.in-addr.arpa"
            else []
        )

    ctx = ScriptedContext(_dns(answers))
    assert run("k8s.dns.externalname.cname", ctx).verdict == Verdict.PASS
    assert run("k8s.dns.service.ptr", ctx).verdict == Verdict.PASS


def test_aaaa_of_an_ipv4_service_is_nodata_and_a_missing_name_nxdomain() -> None:
    def nodata_and_nxdomain(src: PodEndpoint, p: Probe) -> Reply:
        if "no-such-service" in p.target:
            return False, "nxdomain", {"rcode": "NXDOMAIN", "answers": []}
        return True, None, {"rcode": "NOERROR", "answers": []}

    conformant = ScriptedContext(nodata_and_nxdomain)
    assert run("k8s.dns.service.aaaa-nodata", conformant).verdict == Verdict.PASS
    assert run("k8s.dns.service.nxdomain", conformant).verdict == Verdict.PASS

    # a resolver answering NXDOMAIN for AAAA of an existing name breaks happy-eyeballs clients
    def nxdomain_everywhere(src: PodEndpoint, p: Probe) -> Reply:
        return False, "nxdomain", {"rcode": "NXDOMAIN", "answers": []}

    wrong = run("k8s.dns.service.aaaa-nodata", ScriptedContext(nxdomain_everywhere))
    assert wrong.verdict == Verdict.FAIL and "AAAA" in wrong.reason

    # a missing name that times out instead of NXDOMAIN is a finding, never a pass
    def silent(src: PodEndpoint, p: Probe) -> Reply:
        return False, "timeout", {}

    timed_out = run("k8s.dns.service.nxdomain", ScriptedContext(silent))
    assert timed_out.verdict == Verdict.FAIL and "timeout" in str(timed_out.observed)


def test_a_clusterip_must_spread_over_every_backend() -> None:
    ctx = ScriptedContext()
    override(ctx, lambda s, p: (True, None, {"peer": "probe-0-a"}) if p.port == 8080 else None)
    result = run("k8s.reach.clusterip.every-backend", ctx)
    assert result.verdict == Verdict.FAIL and "probe-1-a" in result.reason
    assert result.measurements[Measure.BACKENDS_ANSWERED] == 1
    assert result.aspect == "reachability.service.every-backend"


def test_the_api_server_counts_as_reached_on_a_handshake_without_reply() -> None:
    result = run("k8s.reach.kubernetes-default", ScriptedContext())  # TLS: no reply to a line
    assert result.verdict == Verdict.PASS
    ctx = ScriptedContext()
    override(ctx, lambda s, p: (False, "refused", {}) if p.port == 443 else None)
    assert run("k8s.reach.kubernetes-default", ctx).verdict == Verdict.FAIL


def test_a_failed_probe_shows_the_command_that_reproduces_it() -> None:
    ctx = ScriptedContext()
    healthy = ctx.run_many

    def with_argv(batches: Any) -> Any:
        out = healthy(batches)
        return {
            src: [replace(r, reproduce=("kubectl", "exec", src.name)) for r in rs]
            for src, rs in out.items()
        }

    ctx.run_many = with_argv  # type: ignore[method-assign]
    override(ctx, lambda s, p: (False, "timeout", {}) if p.target == "10.244.1.10" else None)
    result = run("k8s.reach.pod-to-pod.cross-node.tcp", ctx)
    assert result.verdict == Verdict.FAIL
    failed = result.observed["probe-0-a -> probe-1-a tcp/8080"]
    assert failed["outcome"] == "timeout" and failed["reproduce"] == [
        "kubectl",
        "exec",
        "probe-0-a",
    ]


def test_headless_service_has_no_cluster_ip() -> None:
    ctx = ScriptedContext()
    ctx.services["dns-headless"] = "10.96.9.9"
    result = run("k8s.dns.headless.no-cluster-ip", ctx)
    assert result.verdict == Verdict.FAIL and "10.96.9.9" in result.reason


def test_headless_records_follow_a_backend_out_and_back() -> None:
    ctx = ScriptedContext()
    assert run("k8s.dns.headless.follows-endpoints", ctx).verdict == Verdict.PASS
    assert ctx.pod(SPEC.dns_namespace, "dns-backend-1").label("app") == "dns-backend"
    stale = ScriptedContext()
    every = [p.ip for p in stale.all if p.name.startswith("dns-backend")]
    frozen = {"rcode": "NOERROR", "answers": [{"type": "A", "value": ip} for ip in every]}
    override(stale, lambda s, p: (True, None, frozen) if "dns-headless" in p.target else None)
    result = run("k8s.dns.headless.follows-endpoints", stale)
    assert result.verdict == Verdict.FAIL and "dns-backend-1 after it left" in result.reason
    # restored even when the check failed
    assert stale.pod(SPEC.dns_namespace, "dns-backend-1").label("app") == "dns-backend"


def test_a_short_name_of_another_namespace_must_not_resolve() -> None:
    ctx = ScriptedContext()
    leaky = {"rcode": "NOERROR", "answers": ["10.96.1.10"]}
    override(ctx, lambda s, p: (True, None, leaky) if s.name == "dns-client" else None)
    result = run("k8s.dns.service.other-namespace", ctx)
    assert result.verdict == Verdict.FAIL
    broken = ScriptedContext()
    override(broken, lambda s, p: (False, "timeout", {}) if s.name == "probe-0-b" else None)
    control = run("k8s.dns.service.other-namespace", broken)
    assert control.verdict == Verdict.FAIL and "control failed" in control.reason


def test_dns_latency_has_percentiles_per_transport_and_a_limit() -> None:
    result = run("k8s.dns.latency", ScriptedContext())
    assert result.measurements[Measure.DNS_P99_MS] == 1.0
    assert result.measurements[Measure.DNS_TCP_P50_MS] == 1.0
    ctx = ScriptedContext()
    override(
        ctx, lambda s, p: (False, "timeout", {}) if p.params.get("transport") == "tcp" else None
    )
    failed = run("k8s.dns.latency", ctx)
    assert failed.verdict == Verdict.FAIL and failed.measurements[Measure.FAILED_PROBES] == 40
