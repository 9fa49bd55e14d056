"""NetworkPolicy cases side by side, one per lane (a copy of the model in its own
namespaces): the planned cases start in the background at the first case, each case check
returns its own case's outcome, lanes never disturb each other's cells, and rounds of
probes in different lanes overlap."""

from __future__ import annotations

import threading
import time

from netconform.checks.base import CATALOGUE, execute
from netconform.checks.k8s_netpol import PREFETCH_KEY, Enforcement
from netconform.checks.netpol_lanes import Lanes
from netconform.k8s.workloads import NETPOL_LANES
from netconform.netpol.catalogue import load_catalogue
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
    ctx.planned = tuple(ids)
    ctx.findings["netpol_enforcement"] = Enforcement(True, "known", 0.1)
    initial = (dict(ctx.ns_labels), dict(ctx.pod_labels))
    results = {i: execute(CATALOGUE.get(i), ctx) for i in ids}
    failed = {i: r.reason for i, r in results.items() if r.verdict not in (Verdict.PASS,)}
    sctp = {f"k8s.netpol.{c.id}" for c in cases if Protocol.SCTP in c.protocols}
    assert set(failed) == sctp and all("sctp" in why for why in failed.values())
    # every lane was used, and cleaned up after
    applied = {c.split()[1].split("/")[0] for c in ctx.api_calls if c.startswith("apply")}
    lanes = {f"nc-r1-{ns}{lane or ''}" for lane in range(NETPOL_LANES) for ns in "xyz"}
    assert {f"nc-r1-x{lane or ''}" for lane in range(NETPOL_LANES)} <= applied <= lanes
    assert ctx.policies == {} and (ctx.ns_labels, ctx.pod_labels) == initial
    # rounds of probes in different lanes were under way at the same time
    assert ctx.most_in_flight == NETPOL_LANES
    # SCTP cases (no sctp capability) were never started in the background
    prefetch = ctx.findings[PREFETCH_KEY]
    assert not sctp & {f"k8s.netpol.{i}" for i in prefetch._futures}
    for close in ctx.closers:
        close()


def test_a_case_not_in_the_plan_runs_at_once_in_a_free_lane() -> None:
    ctx = FakeNetpolContext()
    ctx.planned = ("k8s.netpol.upstream.tcp.default-deny-ingress",)
    ctx.findings["netpol_enforcement"] = Enforcement(True, "known", 0.1)
    result = execute(CATALOGUE.get("k8s.netpol.upstream.tcp.default-deny-all"), ctx)
    assert result.verdict == Verdict.PASS, result.reason
    planned = execute(CATALOGUE.get("k8s.netpol.upstream.tcp.default-deny-ingress"), ctx)
    assert planned.verdict == Verdict.PASS, planned.reason
    assert ctx.policies == {}


def test_closing_cancels_cases_not_started_and_waits_for_running_ones() -> None:
    ids = [f"k8s.netpol.{c.id}" for c in load_catalogue() if Protocol.SCTP not in c.protocols]
    ctx = FakeNetpolContext(FakeDataPlane(observation_s=0.01))
    ctx.planned = tuple(ids)
    ctx.findings["netpol_enforcement"] = Enforcement(True, "known", 0.1)
    assert execute(CATALOGUE.get(ids[0]), ctx).verdict == Verdict.PASS
    (close,) = ctx.closers
    close()  # as the run's end (or Ctrl-C) does: returns, and leaves nothing applied
    assert ctx.policies == {}
    futures = ctx.findings[PREFETCH_KEY]._futures
    assert any(f.cancelled() for f in futures.values())


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
