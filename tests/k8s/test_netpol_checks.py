"""The NetworkPolicy checks against an oracle-backed fake data plane on the run's real
namespace names: every catalogue case passes when the platform enforces correctly, one
finding and skips when it does not enforce, wrong cells explained when it is wrong, and a
legitimate divergence recorded as a profile."""

from __future__ import annotations

import pytest

from netconform.checks.base import CATALOGUE, execute
from netconform.checks.k8s_netpol import CANARY_ID, Enforcement
from netconform.netpol.catalogue import load_catalogue
from netconform.netpol.model import Protocol
from netconform.netpol.oracle import Profile
from netconform.results import Verdict

from .fake_cluster import FakeDataPlane, FakeNetpolContext

CASES = [c for c in load_catalogue() if Protocol.SCTP not in c.protocols]


def test_every_catalogue_case_passes_on_a_correct_platform() -> None:
    ctx = FakeNetpolContext()
    initial_labels = (dict(ctx.ns_labels), dict(ctx.pod_labels))
    results = {c.id: execute(CATALOGUE.get(f"k8s.netpol.{c.id}"), ctx) for c in CASES}
    failed = {i: r.reason for i, r in results.items() if r.verdict != Verdict.PASS}
    assert failed == {}
    assert len(results) > 120
    # Every case cleans up: no policy left, labels as they were.
    assert ctx.policies == {}
    assert (ctx.ns_labels, ctx.pod_labels) == initial_labels
    assert ctx.findings["netpol_enforcement"].enforced


def test_a_platform_that_does_not_enforce_gets_one_finding_and_skips() -> None:
    ctx = FakeNetpolContext(FakeDataPlane(enforce=False))
    canary = execute(CATALOGUE.get(CANARY_ID), ctx)
    assert canary.verdict == Verdict.FAIL
    assert "does not enforce NetworkPolicy" in canary.reason
    case = execute(CATALOGUE.get(f"k8s.netpol.{CASES[0].id}"), ctx)
    assert case.verdict == Verdict.SKIP and CANARY_ID in case.reason
    assert ctx.policies == {}  # the canary removed its policy


def test_slow_enforcement_is_measured_not_failed() -> None:
    ctx = FakeNetpolContext(FakeDataPlane(delay_observations=3))
    assert execute(CATALOGUE.get(CANARY_ID), ctx).measurements["took_effect_s"] > 0
    ctx = FakeNetpolContext(FakeDataPlane(delay_observations=3))
    ctx.findings["netpol_enforcement"] = Enforcement(True, "known", 0.1)
    result = execute(CATALOGUE.get("k8s.netpol.upstream.tcp.default-deny-ingress"), ctx)
    assert result.verdict == Verdict.PASS
    assert result.measurements["took_effect_s"][0] > 0


def test_wrong_cells_come_with_tables_and_the_oracles_explanation() -> None:
    ctx = FakeNetpolContext(FakeDataPlane(ignore_egress=True))
    result = execute(CATALOGUE.get("k8s.netpol.upstream.tcp.default-deny-all"), ctx)
    assert result.verdict == Verdict.FAIL
    assert "expected denied" in result.reason
    report = result.observed
    assert report["expected"].startswith("expected 80/TCP")
    assert "X" in report["difference"]
    wrong = report["wrong"][0]
    assert wrong["observed"] is True and wrong["allowed"] is False
    assert "isolated" in wrong["egress"]["reason"]
    assert ctx.policies == {}  # cleaned up after a failure too


def test_ipblock_not_matching_pods_is_a_profile_not_a_failure() -> None:
    ctx = FakeNetpolContext(FakeDataPlane(profile=Profile(ipblock_matches_pods=False)))
    ipblock = [c for c in CASES if "ip-block" in c.tags]
    assert ipblock
    for case in ipblock:
        result = execute(CATALOGUE.get(f"k8s.netpol.{case.id}"), ctx)
        assert result.verdict == Verdict.PASS, result.reason
    assert any(
        "profile" in execute(CATALOGUE.get(f"k8s.netpol.{c.id}"), ctx).measurements for c in ipblock
    )


def test_sctp_cases_need_the_sctp_capability() -> None:
    sctp = [c for c in load_catalogue() if Protocol.SCTP in c.protocols]
    assert sctp
    result = execute(CATALOGUE.get(f"k8s.netpol.{sctp[0].id}"), FakeNetpolContext())
    assert result.verdict == Verdict.SKIP and "sctp" in result.reason


@pytest.mark.parametrize("check_id", ["k8s.netpol.upstream.tcp.allow-from-pod-in-namespace"])
def test_policies_are_applied_to_the_runs_namespaces(check_id: str) -> None:
    ctx = FakeNetpolContext()
    execute(CATALOGUE.get(check_id), ctx)
    applied = [c for c in ctx.api_calls if c.startswith("apply")]
    assert applied and all(c.startswith("apply nc-r1-") for c in applied)
