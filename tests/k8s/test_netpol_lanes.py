"""NetworkPolicy cases side by side, one per lane (a copy of the model in its own
namespaces): the planned cases start in the background at the first case, each case check
returns its own case's outcome and the time its case took in its lane (not how long the
check waited), lanes never disturb each other's cells, and rounds of probes in different
lanes overlap."""

from __future__ import annotations

import threading
import time

from netconform.checks.base import CATALOGUE, execute
from netconform.k8s.netpol_binding import NetpolBinding
from netconform.k8s.netpol_runner import Lanes, NetpolRunner
from netconform.k8s.plan import netpol_binding
from netconform.k8s.run_state import Enforcement
from netconform.k8s.workloads import NETPOL_LANES
from netconform.netpol.catalogue import Case, load_catalogue
from netconform.netpol.model import Protocol
from netconform.results import Verdict

from .fake_cluster import FakeDataPlane, FakeNetpolContext


def test_a_lane_is_the_lowest_free_one_and_taking_waits_for_one() -> None:
    lanes = Lanes(["l0", "l1"])
    taken: list[str] = []
    with lanes.take() as first, lanes.take() as second:
        assert (first, second) == ("l0", "l1")
        waiter = threading.Thread(target=lambda: taken.extend(_take(lanes)))
        waiter.start()
        time.sleep(0.05)
        assert taken == []  # both busy: it waits
    waiter.join(1)
    assert taken == ["l0"]
    with lanes.take() as again:
        assert again == "l0"  # a run that never overlaps cases stays in lane 0


def _take(lanes: Lanes[str]) -> list[str]:
    with lanes.take() as lane:
        return [lane]


def test_planned_cases_run_in_every_lane_at_once_and_all_pass() -> None:
    cases = load_catalogue()
    ids = [f"k8s.netpol.{c.id}" for c in cases]
    plane = FakeDataPlane(observation_s=0.02)
    ctx = FakeNetpolContext(plane)
    ctx.plan_checks(ids)
    ctx.run_state.enforcement = Enforcement(True, "known", 0.1)
    initial = (dict(ctx.ns_labels), dict(ctx.pod_labels))
    results = {i: execute(CATALOGUE.get(i), ctx) for i in ids}
    failed = {i: r.reason for i, r in results.items() if r.verdict not in (Verdict.PASS,)}
    sctp = {f"k8s.netpol.{c.id}" for c in cases if Protocol.SCTP in c.protocols}
    assert set(failed) == sctp and all("sctp" in why for why in failed.values())
    # every lane was used, and cleaned up after
    targets = [c.split()[1].split("/") for c in ctx.api_calls if c.startswith("apply")]
    applied = {ns for ns, _ in targets if ns}
    lanes = {f"nc-r1-{ns}{lane or ''}" for lane in range(NETPOL_LANES) for ns in "xyz"}
    assert {f"nc-r1-x{lane or ''}" for lane in range(NETPOL_LANES)} <= applied <= lanes
    # cluster-scoped policies: named by their lane, in every lane
    cluster_lanes = {name.split("-")[2] for ns, name in targets if not ns}
    assert cluster_lanes == {f"l{lane}" for lane in range(NETPOL_LANES)}
    assert ctx.policies == {} and (ctx.ns_labels, ctx.pod_labels) == initial
    # rounds of probes in different lanes were under way at the same time
    assert ctx.most_in_flight == NETPOL_LANES
    # SCTP cases (no sctp capability) were never started in the background
    started = {f"k8s.netpol.{c.id}" for c in cases if c.id in ctx.run_state.netpol}
    assert started and not sctp & started
    ctx.close()


def test_a_case_not_in_the_plan_runs_at_once_in_a_free_lane() -> None:
    ctx = FakeNetpolContext()
    ctx.plan_checks(["k8s.netpol.upstream.tcp.default-deny-ingress"])
    ctx.run_state.enforcement = Enforcement(True, "known", 0.1)
    result = execute(CATALOGUE.get("k8s.netpol.upstream.tcp.default-deny-all"), ctx)
    assert result.verdict == Verdict.PASS, result.reason
    planned = execute(CATALOGUE.get("k8s.netpol.upstream.tcp.default-deny-ingress"), ctx)
    assert planned.verdict == Verdict.PASS, planned.reason
    assert ctx.policies == {}


def test_closing_cancels_cases_not_started_and_waits_for_running_ones() -> None:
    ids = [f"k8s.netpol.{c.id}" for c in load_catalogue() if Protocol.SCTP not in c.protocols]
    ctx = FakeNetpolContext(FakeDataPlane(observation_s=0.01))
    ctx.plan_checks(ids)
    ctx.run_state.enforcement = Enforcement(True, "known", 0.1)
    assert execute(CATALOGUE.get(ids[0]), ctx).verdict == Verdict.PASS
    ctx.close()  # as the run's end (or Ctrl-C) does: returns, and leaves nothing applied
    assert ctx.policies == {}
    assert ctx.run_state.netpol.cancelled()


def test_the_plugin_plans_the_checks_it_collected_in_order() -> None:
    from types import SimpleNamespace
    from typing import Any

    from netconform.plugin import NoChecks, _planned

    def item(check: Any) -> Any:
        return SimpleNamespace(callspec=SimpleNamespace(params={"netconform_check": check}))

    first, second = (
        CATALOGUE.get(f"k8s.netpol.upstream.tcp.{n}") for n in ("egress-cidr", "default-deny-all")
    )
    session: Any = SimpleNamespace(
        items=[item(first), SimpleNamespace(), item(NoChecks("none")), item(second)]
    )
    assert _planned(session) == [first.spec.id, second.spec.id]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_two_cases_in_one_lane_each_record_the_time_they_took_there() -> None:
    """The second case, asked for first, is waited for behind the first; its run says what
    it took itself (5 s), not the 8 s its caller waited."""
    clock = FakeClock()
    first, second = load_catalogue()[:2]
    took = {first.id: 3.0, second.id: 5.0}

    def judge(case: Case, lane: NetpolBinding) -> str:
        clock.now += took[case.id]
        return f"{case.id} in {lane.real('x')}"

    runner = NetpolRunner([netpol_binding(FakeNetpolContext().spec)], clock)
    runner.start([first, second], judge)
    second_run = runner.result(second, judge)
    first_run = runner.result(first, judge)
    runner.close()
    assert (first_run.duration_s, second_run.duration_s) == (3.0, 5.0)
    assert second_run.started == first_run.finished  # one lane: one after the other
    assert second_run.outcome == f"{second.id} in nc-r1-x"


def test_a_case_that_raises_keeps_its_time_and_its_error() -> None:
    clock = FakeClock()
    (case,) = load_catalogue()[:1]

    def judge(case: Case, lane: NetpolBinding) -> str:
        clock.now += 2.0
        raise RuntimeError("the API server went away")

    runner = NetpolRunner([netpol_binding(FakeNetpolContext().spec)], clock)
    run = runner.result(case, judge)  # not started: runs now, in this thread
    assert run.outcome is None and isinstance(run.error, RuntimeError)
    assert run.duration_s == 2.0


def test_a_case_check_records_its_case_s_time_in_the_lane_not_its_wait() -> None:
    """One lane, two planned cases, the second's check reached first: it waits for both
    cases but records the second's own time; the first's check, reached when its case has
    long finished, records its case's time, not the nothing it waited."""
    first, second = (
        f"k8s.netpol.upstream.tcp.{n}" for n in ("default-deny-ingress", "default-deny-all")
    )
    ctx = FakeNetpolContext(FakeDataPlane(observation_s=0.05), lanes=1)
    ctx.plan_checks([first, second])
    ctx.run_state.enforcement = Enforcement(True, "known", 0.1)
    began = time.monotonic()
    later = execute(CATALOGUE.get(second), ctx)
    waited = time.monotonic() - began
    began = time.monotonic()
    earlier = execute(CATALOGUE.get(first), ctx)
    earlier_waited = time.monotonic() - began
    ctx.close()
    assert later.verdict == earlier.verdict == Verdict.PASS
    # each case observes its matrix at least once, 0.05 s
    assert earlier.duration_s >= 0.05 and later.duration_s >= 0.05
    assert earlier.duration_s > earlier_waited  # its own time, though it waited nothing
    # not the sum: the second check's wait held both cases, its duration only its own
    assert later.duration_s <= waited - earlier.duration_s
