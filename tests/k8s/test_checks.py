"""Reachability, DNS and MTU checks against a scripted data plane: each passes on the answers
a conformant cluster gives and fails, naming the cell, on a specific fault."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from netconform.catalog.scenario import KubernetesScenario
from netconform.checks.base import CATALOGUE, execute
from netconform.core import Capabilities
from netconform.k8s.context import make_probe
from netconform.k8s.kube import PodEndpoint
from netconform.k8s.workloads import NODE_INDEX_LABEL, ROLE_LABEL, SLOT_LABEL, WorkloadSpec
from netconform.probes.model import Connectivity, Probe, ProbeResult
from netconform.results import Verdict

Answer = Callable[[PodEndpoint, Probe], tuple[bool, str | None, dict[str, Any]]]
SPEC = WorkloadSpec("r1", ("n0", "n1", "n2"), "probe:1", "10.96.0.10")


def _pod(ns: str, name: str, ip: str, node: str, **labels: str) -> PodEndpoint:
    return PodEndpoint(ns, name, "agent", ip, node, tuple(sorted(labels.items())))


class ScriptedContext:
    def __init__(self, answer: Answer, info: Mapping[str, Any] | None = None) -> None:
        self.answer = answer
        self.spec = SPEC
        self.params = KubernetesScenario(
            converge_deadline_s=0.05, poll_interval_s=0.01, probe_timeout_s=0.01
        )
        self.findings: dict[str, Any] = {}
        self.info = dict(info or {})
        pods = []
        for i, node in enumerate(SPEC.nodes):
            for s, slot in enumerate("ab"):
                pods.append(
                    _pod(
                        SPEC.probe_namespace,
                        f"probe-{i}-{slot}",
                        f"10.244.{i}.{10 + s}",
                        node,
                        **{ROLE_LABEL: "probe", NODE_INDEX_LABEL: str(i), SLOT_LABEL: slot},
                    )
                )
            pods.append(
                _pod(
                    SPEC.probe_namespace,
                    f"host-{i}",
                    f"172.18.0.{2 + i}",
                    node,
                    **{ROLE_LABEL: "host", NODE_INDEX_LABEL: str(i)},
                )
            )
        ns = SPEC.dns_namespace
        pods += [
            _pod(ns, "dns-backend-0", "10.244.0.20", "n0", **{ROLE_LABEL: "dns-backend"}),
            _pod(ns, "dns-backend-1", "10.244.1.20", "n1", **{ROLE_LABEL: "dns-backend"}),
            _pod(ns, "dns-client", "10.244.2.20", "n2", **{ROLE_LABEL: "dns-client"}),
            _pod(ns, "dns-custom", "10.244.0.21", "n0", **{ROLE_LABEL: "dns-custom"}),
        ]
        self.all = pods

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(frozenset({"nodeport", "hostnetwork"}))

    def platform_info(self) -> dict[str, Any]:
        return dict(self.info)

    def pods(self, role: str) -> list[PodEndpoint]:
        return [p for p in self.all if p.label(ROLE_LABEL) == role]

    def pod(self, namespace: str, name: str) -> PodEndpoint:
        return next(p for p in self.all if p.namespace == namespace and p.name == name)

    def service_ip(self, namespace: str, name: str) -> str:
        return {"dns-svc": "10.96.5.5"}.get(name, f"10.96.1.{len(name)}")

    def node_port(self, namespace: str, name: str) -> int:
        return 30080

    def node_addresses(self) -> dict[str, str]:
        return {"n0": "172.18.0.2", "n1": "172.18.0.3", "n2": "172.18.0.4"}

    def probe(self, kind: Any, target: str, **kw: Any) -> Probe:
        return make_probe(kind, target, self.params.probe_timeout_s, **kw)

    def run_many(
        self, batches: Mapping[PodEndpoint, Sequence[Probe]]
    ) -> dict[PodEndpoint, list[ProbeResult]]:
        out = {}
        for src, probes in batches.items():
            out[src] = []
            for p in probes:
                ok, error, values = self.answer(src, p)
                outcome = scripted_outcome(p, ok, error)
                out[src].append(
                    ProbeResult(
                        p.id, str(p.kind), p.target, ok, error, 1.0, values, outcome=outcome
                    )
                )
        return out


CONNECTION_KINDS = {"tcp", "udp", "icmp", "transfer"}


def scripted_outcome(p: Probe, ok: bool, error: str | None) -> Connectivity:
    """The outcome the agent would classify for a scripted answer: success by kind, else
    the scripted error when it names an outcome (timeout, emsgsize, failed, ...)."""
    if ok:
        return Connectivity.CONNECTED if str(p.kind) in CONNECTION_KINDS else Connectivity.ANSWERED
    if str(p.kind) == "dns" and error not in {"timeout", "failed"}:
        return Connectivity.ANSWERED  # a negative answer (nxdomain, servfail)
    try:
        return Connectivity(error)
    except ValueError:
        return Connectivity.ERROR


def run(check_id: str, ctx: ScriptedContext) -> Any:
    return execute(CATALOGUE.get(check_id), ctx)


def test_cross_node_fails_naming_the_broken_path() -> None:
    def answer(src: PodEndpoint, p: Probe) -> tuple[bool, str | None, dict[str, Any]]:
        broken = src.name == "probe-0-a" and p.target == "10.244.2.10" and str(p.kind) == "udp"
        return (False, "timeout", {}) if broken else (True, None, {})

    result = run("k8s.reach.pod-to-pod.cross-node", ScriptedContext(answer))
    assert result.verdict == Verdict.FAIL
    assert "1 of 18" in result.reason and "probe-0-a -> probe-2-a udp/8081" in result.reason
    ok = run("k8s.reach.pod-to-pod.cross-node", ScriptedContext(lambda s, p: (True, None, {})))
    assert ok.verdict == Verdict.PASS


def test_clusterip_checks_the_backend_that_answered() -> None:
    def wrong_backend(src: PodEndpoint, p: Probe) -> tuple[bool, str | None, dict[str, Any]]:
        return True, None, {"peer": "probe-9-z"}

    assert (
        run("k8s.reach.clusterip.remote-backend", ScriptedContext(wrong_backend)).verdict
        == Verdict.FAIL
    )


def test_hairpin_is_a_profile_fact() -> None:
    result = run("k8s.reach.hairpin", ScriptedContext(lambda s, p: (False, "timeout", {})))
    assert result.verdict == Verdict.PASS and result.measurements["profile.hairpin"] is False


def _mtu_answer(pod_mtu: int, route_mtu: int | None, over_error: str = "emsgsize") -> Answer:
    def answer(src: PodEndpoint, p: Probe) -> tuple[bool, str | None, dict[str, Any]]:
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
    good = ScriptedContext(_mtu_answer(1450, None), {"overhead_bytes": 50})
    assert run("k8s.mtu.pod-interface", good).verdict == Verdict.PASS
    bad = ScriptedContext(_mtu_answer(1500, None), {"overhead_bytes": 50})
    result = run("k8s.mtu.pod-interface", bad)
    assert result.verdict == Verdict.FAIL and "expected 1500 - 50 = 1450" in result.reason


def test_a_route_mtu_counts_like_cilium_sets_it() -> None:
    ctx = ScriptedContext(_mtu_answer(1500, 1450), {"overhead_bytes": 50})
    assert run("k8s.mtu.pod-interface", ctx).verdict == Verdict.PASS
    assert run("k8s.mtu.pmtu.df-at-limit", ctx).verdict == Verdict.PASS


def test_silence_one_byte_over_the_mtu_is_a_blackhole() -> None:
    ctx = ScriptedContext(_mtu_answer(1450, None, over_error="timeout"), {"overhead_bytes": 50})
    result = run("k8s.mtu.pmtu.df-at-limit", ctx)
    assert result.verdict == Verdict.FAIL and "EMSGSIZE" in result.reason


def _dns(
    answers: Callable[[str, str], list[dict[str, Any]] | list[str]], resolv: str = ""
) -> Answer:
    def answer(src: PodEndpoint, p: Probe) -> tuple[bool, str | None, dict[str, Any]]:
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
    def nodata_and_nxdomain(src: PodEndpoint, p: Probe) -> tuple[bool, str | None, dict[str, Any]]:
        if "no-such-service" in p.target:
            return False, "nxdomain", {"rcode": "NXDOMAIN", "answers": []}
        return True, None, {"rcode": "NOERROR", "answers": []}

    conformant = ScriptedContext(nodata_and_nxdomain)
    assert run("k8s.dns.service.aaaa-nodata", conformant).verdict == Verdict.PASS
    assert run("k8s.dns.service.nxdomain", conformant).verdict == Verdict.PASS

    # a resolver answering NXDOMAIN for AAAA of an existing name breaks happy-eyeballs clients
    def nxdomain_everywhere(src: PodEndpoint, p: Probe) -> tuple[bool, str | None, dict[str, Any]]:
        return False, "nxdomain", {"rcode": "NXDOMAIN", "answers": []}

    wrong = run("k8s.dns.service.aaaa-nodata", ScriptedContext(nxdomain_everywhere))
    assert wrong.verdict == Verdict.FAIL and "AAAA" in wrong.reason

    # a missing name that times out instead of NXDOMAIN is a finding, never a pass
    def silent(src: PodEndpoint, p: Probe) -> tuple[bool, str | None, dict[str, Any]]:
        return False, "timeout", {}

    timed_out = run("k8s.dns.service.nxdomain", ScriptedContext(silent))
    assert timed_out.verdict == Verdict.FAIL and "timeout" in str(timed_out.observed)
