"""The Services checks (checks/k8s_services.py) against the scripted cluster plus the objects
workloads.service_objects adds: each passes on what a conformant cluster answers, fails on
one real fault (a hostPort not programmed, affinity off, a proxy that stops programming),
and errs when the agent crashes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest

from netconform.checks import k8s_services
from netconform.checks.base import CATALOGUE, execute
from netconform.k8s.kube import PodEndpoint
from netconform.k8s.workloads import (
    AFFINITY_SERVICE,
    ENDPOINT_LABEL,
    HOSTPORT_BASE,
    HOSTPORT_NODES,
    HOSTPORT_PROTOCOLS,
    HOSTPORT_SPAN,
    IN_SERVICE_LABEL,
    LATENCY_LANES,
    NODE_INDEX_LABEL,
    ROLE_LABEL,
    SLOT_LABEL,
    WorkloadSpec,
    hostport_pod_name,
    latency_name,
    service_objects,
)
from netconform.probes.model import Probe
from netconform.results import CheckResult, Measure, Verdict

from .scripted import SPEC, Reply, ScriptedContext, did_not_run

HOSTPORT = SPEC.hostport  # the scripted run's own

CHECKS = sorted(c.spec.id for c in CATALOGUE if c.spec.id.startswith("k8s.svc."))


class ServicesCluster(ScriptedContext):
    """The scripted cluster with the hostPort pods, the affinity Service and the latency
    lanes; the data plane answers them as a conformant cluster does. `effect_after_s`: how
    long a label change takes to reach the data plane (None: it never does)."""

    def __init__(self, effect_after_s: float | None = 0.0, **kw: Any) -> None:
        super().__init__(**kw)
        ns = SPEC.probe_namespace
        for i in range(HOSTPORT_NODES):
            for proto in HOSTPORT_PROTOCOLS:
                labels = {ROLE_LABEL: "hostport", NODE_INDEX_LABEL: str(i)}
                name = hostport_pod_name(i, proto)
                self.all.append(self._endpoint(ns, name, f"10.244.{i}.3{len(proto)}", i, labels))
        for lane in range(LATENCY_LANES):
            name = latency_name(lane)
            labels = {ROLE_LABEL: "latency", ENDPOINT_LABEL: name}
            node = (lane + 1) % len(SPEC.nodes)
            self.all.append(self._endpoint(ns, name, f"10.244.{node}.4{lane}", node, labels))
            self.services[name] = f"10.96.3.{10 + lane}"
        self.services[AFFINITY_SERVICE] = "10.96.3.1"
        self.effect_after_s = effect_after_s
        self.labelled_at: dict[str, float] = {}
        self.label_log: list[tuple[float, str, bool]] = []  # (time.time(), pod, in service)
        self.stopped = threading.Event()
        self.watch_lag_s = 0.0
        self.in_service: dict[str, bool] = {}  # what the data plane has programmed
        self.affinity: dict[str, str] = {}  # client -> backend, as ClientIP affinity keeps
        self.healthy = self.answer
        self.answer = self.services_answer

    @staticmethod
    def _endpoint(ns: str, name: str, ip: str, node: int, labels: dict[str, str]) -> PodEndpoint:
        return PodEndpoint(ns, name, "agent", ip, SPEC.nodes[node], tuple(sorted(labels.items())))

    def set_pod_labels(self, namespace: str, name: str, labels: Any) -> None:
        super().set_pod_labels(namespace, name, labels)
        self.labelled_at[name] = time.monotonic()
        self.label_log.append((time.time(), name, labels.get(IN_SERVICE_LABEL) == "true"))

    def run_python(
        self, endpoint: PodEndpoint, source: str, args: Sequence[str], timeout_s: float
    ) -> tuple[str, str]:
        """The watcher (service_watch.py) as the data plane would have shown it: each label
        change visible `effect_after_s` later; it runs until the check's stop file."""
        if source == k8s_services.STOP_SOURCE:
            self.stopped.set()
            return "", ""
        spec = json.loads(args[0])
        started = time.time()
        self.stopped.wait(spec["duration_s"])
        lines = [{"event": "start", "t": started}]
        for name in spec["targets"]:
            lines.append({"event": "change", "name": name, "answering": False, "t": started})
            state = False
            for t, who, wanted in self.label_log:
                if who != name or self.effect_after_s is None or wanted == state:
                    continue
                state = wanted
                at = t + self.effect_after_s + self.watch_lag_s
                lines.append({"event": "change", "name": name, "answering": wanted, "t": at})
        lines.append({"event": "end", "t": time.time(), "attempts": 4000})
        return "".join(json.dumps(line) + "\n" for line in lines), ""

    def _programmed(self, name: str) -> bool:
        wanted = self.pod(SPEC.probe_namespace, name).label(IN_SERVICE_LABEL) == "true"
        since = time.monotonic() - self.labelled_at.get(name, 0.0)
        if self.effect_after_s is not None and since >= self.effect_after_s:
            self.in_service[name] = wanted
        return self.in_service.get(name, False)

    def services_answer(self, src: PodEndpoint, p: Probe) -> Reply:
        nodes = self.node_addresses()
        if p.port == HOSTPORT and p.target in nodes.values():
            i = list(nodes.values()).index(p.target)
            name = hostport_pod_name(i, str(p.kind).upper())
            if i >= HOSTPORT_NODES:
                return False, "refused", {}
            return True, None, {"peer": name}
        lanes = {self.services[latency_name(k)]: latency_name(k) for k in range(LATENCY_LANES)}
        if p.target in lanes:
            name = lanes[p.target]
            return (
                (True, None, {"peer": name}) if self._programmed(name) else (False, "refused", {})
            )
        if p.target == self.services[AFFINITY_SERVICE]:
            backends = sorted(e.name for e in self.all if e.label(SLOT_LABEL) == "a")
            first = backends[len(self.affinity) % len(backends)]
            return True, None, {"peer": self.affinity.setdefault(src.name, first)}
        return self.healthy(src, p)


def run(check_id: str, ctx: ScriptedContext) -> CheckResult:
    return execute(CATALOGUE.get(check_id), ctx)


@pytest.fixture(autouse=True)
def _quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """A change the scripted plane never shows fails in 0.3 s, not 15."""
    monkeypatch.setattr(k8s_services, "CHANGE_DEADLINE_S", 0.3)
    monkeypatch.setattr(k8s_services, "CONFIRM_POLL_S", 0.001)


def test_the_workloads_have_what_the_checks_look_for() -> None:
    """service_objects renders the pods and Services this fake adds, under the same names."""
    spec = WorkloadSpec("r1", ("n0", "n1", "n2"), "probe:1", "10.96.0.10")
    objects = {(o["kind"], o["metadata"]["name"]): o for o in service_objects(spec)}
    for i in range(HOSTPORT_NODES):
        for proto in HOSTPORT_PROTOCOLS:
            pod = objects[("Pod", hostport_pod_name(i, proto))]
            ports = pod["spec"]["containers"][0]["ports"]
            published = [p for p in ports if "hostPort" in p]
            assert [(p["hostPort"], p["protocol"]) for p in published] == [(spec.hostport, proto)]
            assert pod["spec"]["nodeSelector"]["kubernetes.io/hostname"] == spec.nodes[i]
    affinity = objects[("Service", AFFINITY_SERVICE)]["spec"]
    assert affinity["sessionAffinity"] == "ClientIP"
    for lane in range(LATENCY_LANES):
        svc = objects[("Service", latency_name(lane))]["spec"]
        pod = objects[("Pod", latency_name(lane))]
        assert svc["selector"][IN_SERVICE_LABEL] == "true"
        assert IN_SERVICE_LABEL not in pod["metadata"]["labels"]  # out until the check
        assert all(
            pod["metadata"]["labels"].get(k) == v
            for k, v in svc["selector"].items()
            if k != IN_SERVICE_LABEL
        )


@pytest.mark.parametrize("check_id", CHECKS)
def test_every_services_check_passes_on_a_conformant_cluster(check_id: str) -> None:
    result = run(check_id, ServicesCluster())
    assert result.verdict == Verdict.PASS, result.reason


@pytest.mark.parametrize("check_id", CHECKS)
def test_an_agent_that_crashed_makes_every_services_check_an_error(check_id: str) -> None:
    ctx = ServicesCluster()
    ctx.answer = did_not_run
    result = run(check_id, ctx)
    assert result.verdict == Verdict.ERROR, result.reason
    assert "did not run" in result.reason


def test_a_run_without_the_objects_skips_hostport_and_latency() -> None:
    for check_id in ("k8s.svc.hostport", "k8s.svc.programming-latency"):
        result = run(check_id, ScriptedContext())
        assert result.verdict == Verdict.SKIP and "workloads" in result.reason


def test_hostport_probes_both_protocols_from_the_node_another_node_and_the_host() -> None:
    result = run("k8s.svc.hostport", ServicesCluster())
    cells = result.observed
    # 2 hostPort nodes x (same node, other node, the node itself) x (TCP, UDP)
    assert result.measurements[Measure.PROBES] == len(cells) == 12
    assert sum("(the node itself)" in c for c in cells) == 4
    assert {c["peer"] for c in cells.values()} == {
        hostport_pod_name(i, p) for i in range(HOSTPORT_NODES) for p in HOSTPORT_PROTOCOLS
    }
    assert result.aspect == "reachability.published-port.host-mode"


def test_hostport_fails_when_a_node_does_not_publish_one_protocol() -> None:
    ctx = ServicesCluster()
    node1 = ctx.node_addresses()["n1"]

    def no_udp_dnat(src: PodEndpoint, p: Probe) -> Reply:
        if p.target == node1 and p.port == HOSTPORT and str(p.kind) == "udp":
            return False, "timeout", {}
        return ctx.services_answer(src, p)

    ctx.answer = no_udp_dnat
    result = run("k8s.svc.hostport", ctx)
    assert result.verdict == Verdict.FAIL
    assert "3 of 12" in result.reason and f"{node1}:{HOSTPORT}/UDP" in result.reason
    assert "CNI-HOSTPORT-DNAT" in result.reason


def test_hostport_fails_when_the_other_protocols_pod_answers() -> None:
    """Same hostPort number, other protocol: the TCP pod answering UDP would be a conflict."""
    ctx = ServicesCluster()

    def crossed(src: PodEndpoint, p: Probe) -> Reply:
        if p.port == HOSTPORT and str(p.kind) == "udp":
            i = list(ctx.node_addresses().values()).index(p.target)
            return True, None, {"peer": hostport_pod_name(i, "TCP")}
        return ctx.services_answer(src, p)

    ctx.answer = crossed
    assert run("k8s.svc.hostport", ctx).verdict == Verdict.FAIL


def test_session_affinity_records_one_backend_and_the_controls_spread() -> None:
    result = run("k8s.svc.session-affinity", ServicesCluster())
    assert result.measurements[Measure.BACKENDS_ANSWERED] == 1
    assert result.measurements[Measure.BACKENDS] == 3
    (only,) = result.observed["affinity_answered_by"].values()
    assert only == k8s_services.AFFINITY_REQUESTS
    assert len(result.observed["control_answered_by"]) == 3


def test_session_affinity_none_fails_naming_the_backends_reached() -> None:
    ctx = ServicesCluster()
    turn = iter(range(10**6))

    def spread(src: PodEndpoint, p: Probe) -> Reply:
        if p.target == ctx.services[AFFINITY_SERVICE]:  # sessionAffinity: None
            return True, None, {"peer": f"probe-{next(turn) % 3}-a"}
        return ctx.services_answer(src, p)

    ctx.answer = spread
    result = run("k8s.svc.session-affinity", ctx)
    assert result.verdict == Verdict.FAIL, result.reason
    assert "reached 3 backends" in result.reason
    assert result.measurements[Measure.BACKENDS_ANSWERED] == 3


def test_session_affinity_errs_when_the_control_cannot_spread() -> None:
    """One backend behind both Services: stickiness cannot be told from chance."""
    ctx = ServicesCluster()

    def one_backend(src: PodEndpoint, p: Probe) -> Reply:
        if p.target in (ctx.services[AFFINITY_SERVICE], ctx.services["nodeport"]):
            return True, None, {"peer": "probe-0-a"}
        return ctx.services_answer(src, p)

    ctx.answer = one_backend
    result = run("k8s.svc.session-affinity", ctx)
    assert result.verdict == Verdict.ERROR and "chance" in result.reason


def test_programming_latency_times_twenty_joins_and_leaves() -> None:
    ctx = ServicesCluster(effect_after_s=0.02)
    result = run("k8s.svc.programming-latency", ctx)
    assert result.verdict == Verdict.PASS, result.reason
    found = result.measurements
    assert found[Measure.ENDPOINT_CHANGES] == {"add": 20, "remove": 20}
    # the watcher's times: the scripted 20 ms, less the moment between the fake logging the
    # change and the patch call returning
    for p50 in (Measure.ENDPOINT_ADD_P50_MS, Measure.ENDPOINT_REMOVE_P50_MS):
        assert 0 < found[p50] <= 20.5
    assert found[Measure.ENDPOINT_ADD_P99_MS] >= found[Measure.ENDPOINT_ADD_P50_MS]
    assert ctx.stopped.is_set()  # the watcher was told to stop once the changes were made
    # the check leaves each lane's pod out of its Service, as the workloads made it
    for lane in range(LATENCY_LANES):
        pod = ctx.pod(SPEC.probe_namespace, latency_name(lane))
        assert pod.label(IN_SERVICE_LABEL) == ""
        assert pod.label(ROLE_LABEL) == "latency"  # the other labels kept


def test_programming_latency_fails_when_the_proxy_stops_programming() -> None:
    ctx = ServicesCluster(effect_after_s=None)  # label changes never reach the data plane
    result = run("k8s.svc.programming-latency", ctx)
    assert result.verdict == Verdict.FAIL, result.reason
    assert "after its add" in result.reason and "never answered from it" in result.reason
    assert result.observed["last_round"]  # the probe that did not see it, with its argv
    assert all("reproduce" in r for r in result.observed["last_round"].values())


def test_programming_latency_takes_its_figures_from_the_watcher() -> None:
    """The exec rounds only confirm; a watcher that saw each change 0.1 s later makes the
    figures 0.1 s longer."""
    ctx = ServicesCluster(effect_after_s=0.0)
    ctx.watch_lag_s = 0.1
    found = run("k8s.svc.programming-latency", ctx).measurements
    assert 50 < found[Measure.ENDPOINT_ADD_P50_MS] <= 100.5
    assert 50 < found[Measure.ENDPOINT_REMOVE_P99_MS] <= 100.5


def test_programming_latency_is_not_timed_on_a_clock_it_cannot_trust() -> None:
    """The watcher's clock an hour off (another machine's): every change confirmed, no
    figures, an error saying why."""

    class Skewed(ServicesCluster):
        def run_python(self, *a: Any, **kw: Any) -> tuple[str, str]:
            out, err = super().run_python(*a, **kw)
            lines = [json.loads(line) for line in out.splitlines()]
            shifted = [{**e, "t": e["t"] + 3600} for e in lines]
            return "".join(json.dumps(e) + "\n" for e in shifted), err

    result = run("k8s.svc.programming-latency", Skewed())
    assert result.verdict == Verdict.ERROR and "clock" in result.reason
    assert result.measurements[Measure.ENDPOINT_ADD_P50_MS] is None


def test_programming_latency_stops_at_its_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """No change started within the budget: nothing was measured, so no pass."""
    monkeypatch.setattr(k8s_services, "BUDGET_S", 0.0)
    result = run("k8s.svc.programming-latency", ServicesCluster())
    assert result.verdict == Verdict.ERROR and "budget" in result.reason
    assert result.measurements[Measure.ENDPOINT_CHANGES] == {"add": 0, "remove": 0}


def test_each_run_has_its_own_hostport() -> None:
    """Found on a real cluster: a kept run's hostPort pods held the next run's Pending on the
    same port, and the next run never got its pods Ready."""
    ports = {WorkloadSpec(f"{i:06x}", ("n0",), "p", "10.96.0.10").hostport for i in range(50)}
    assert len(ports) > 40 and all(
        HOSTPORT_BASE <= p < HOSTPORT_BASE + HOSTPORT_SPAN for p in ports
    )
    assert WorkloadSpec("r1", ("n0",), "p", "x").hostport == SPEC.hostport  # stable per run
