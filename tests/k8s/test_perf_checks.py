"""The Kubernetes perf checks at the KubeCheckContext seam, on the scripted cluster: which pods
measure which path (pod network between the first two nodes' `a` pods against their
hostNetwork pods, one node's pods against its loopback, a ClusterIP with its one backend on
another node), samples alternating one probe per exec, the figures and ratios, the skip
without hostNetwork, and the failures when a path cannot be measured."""

from __future__ import annotations

from typing import Any

from netconform.catalog.scenario import PerfParams
from netconform.checks.base import CATALOGUE, execute
from netconform.core import Capabilities
from netconform.k8s.kube import PodEndpoint
from netconform.probes.model import Probe
from netconform.results import CheckResult, Measure, Verdict

from .scripted import Conformant, ScriptedContext


def _run(check_id: str, ctx: ScriptedContext) -> tuple[CheckResult, list[tuple[str, Probe]]]:
    seen: list[tuple[str, Probe]] = []
    healthy = ctx.answer

    def answer(src: PodEndpoint, p: Probe) -> Any:
        seen.append((src.name, p))
        return healthy(src, p)

    ctx.answer = answer
    return execute(CATALOGUE.get(check_id), ctx), seen


def _measured(seen: list[tuple[str, Probe]], kind: str) -> list[tuple[str, str]]:
    return [(src, p.target) for src, p in seen if p.kind == kind]


def test_cross_node_alternates_pod_network_and_host_network() -> None:
    result, seen = _run("k8s.perf.tcp.cross-node", ScriptedContext())
    assert result.verdict == Verdict.PASS, result.reason
    assert (
        _measured(seen, "iperf3")
        == [
            ("probe-0-a", "10.244.1.10"),
            ("host-0", "172.18.0.3"),
        ]
        * 3
    )
    m = result.measurements
    assert m[Measure.MBIT_S] == 9450.0 and m[Measure.BASELINE_MBIT_S] == 14490.0  # best
    assert m[Measure.RATIO_TO_BASELINE] == 0.652 and m[Measure.BASELINE] == "host network"
    # servers started in both servers' pods, CPU read there before and after
    started = {src for src, p in seen if p.kind == "perf-server"}
    assert started == {"probe-1-a", "host-1"}
    assert [src for src, p in seen if p.kind == "cpu"].count("probe-1-a") == 2


def test_same_node_is_measured_against_the_node_loopback() -> None:
    result, seen = _run("k8s.perf.tcp.same-node", ScriptedContext())
    assert result.verdict == Verdict.PASS, result.reason
    assert set(_measured(seen, "iperf3")) == {("probe-0-a", "10.244.0.11"), ("host-0", "127.0.0.1")}
    assert result.measurements[Measure.BASELINE] == "host loopback"


def test_clusterip_goes_to_its_one_backend_on_another_node() -> None:
    ctx = ScriptedContext()
    result, seen = _run("k8s.perf.tcp.clusterip", ctx)
    assert result.verdict == Verdict.PASS, result.reason
    assert set(_measured(seen, "iperf3")) == {
        ("probe-0-b", ctx.services["svc-1-a"]),
        ("host-0", "172.18.0.3"),  # against hostNetwork pods between the same nodes
    }
    assert result.measurements[Measure.BASELINE] == "host network"


def test_latency_and_connection_rate_have_their_baselines() -> None:
    rr, seen = _run("k8s.perf.rr.cross-node", ScriptedContext())
    assert rr.verdict == Verdict.PASS and rr.measurements[Measure.SAMPLES] == 3000
    assert set(_measured(seen, "rr")) == {("probe-0-a", "10.244.1.10"), ("host-0", "172.18.0.3")}
    crr, _ = _run("k8s.perf.crr.cross-node", ScriptedContext())
    assert crr.measurements[Measure.CONNECTIONS_PER_S] == 1785.0
    assert crr.measurements[Measure.BASELINE_CONNECTIONS_PER_S] == 1942.5


def test_without_hostnetwork_the_baselined_checks_skip() -> None:
    ctx = ScriptedContext(capabilities=Capabilities(frozenset({"nodeport"}), {}))
    result, _ = _run("k8s.perf.tcp.cross-node", ctx)
    assert result.verdict == Verdict.SKIP and "hostnetwork" in result.reason
    clusterip, _ = _run("k8s.perf.tcp.clusterip", ctx)
    assert clusterip.verdict == Verdict.SKIP  # its baseline is hostNetwork pods too


def test_one_node_cannot_be_measured() -> None:
    ctx = ScriptedContext()
    ctx.all = [p for p in ctx.all if p.node == "n0"]
    result, _ = _run("k8s.perf.tcp.cross-node", ctx)
    assert result.verdict == Verdict.FAIL and "needs probe pods on 2+ nodes" in result.reason


def test_a_refused_server_fails_and_the_opt_in_threshold_fails() -> None:
    ctx = ScriptedContext()
    healthy = Conformant(ctx)

    def refused(src: PodEndpoint, p: Probe) -> Any:
        if p.kind == "iperf3" and src.name == "host-0":
            return False, "iperf3: unable to connect to server: Connection refused", {}
        return healthy(src, p)

    ctx.answer = refused
    result, _ = _run("k8s.perf.udp.cross-node", ctx)
    assert result.verdict == Verdict.FAIL and "could not measure" in result.reason
    strict = ScriptedContext()
    strict.params = strict.params.model_copy(update={"perf": PerfParams(min_throughput_ratio=0.9)})
    result, _ = _run("k8s.perf.tcp.cross-node", strict)
    assert result.verdict == Verdict.FAIL and "under the scenario's 0.9" in result.reason
