"""The NetworkPolicy checks against an oracle-backed fake data plane on the run's real
namespace names: every catalogue case passes when the platform enforces correctly, one
finding and skips when it does not enforce, wrong cells explained when it is wrong, a
legitimate divergence recorded as a profile, and a probe that did not run an error cell,
never a deny."""

from __future__ import annotations

import pytest

from netconform.checks import k8s_mtu, k8s_netpol
from netconform.checks.base import CATALOGUE, execute
from netconform.checks.k8s_netpol import CANARY_ID
from netconform.k8s.facts import CniFacts
from netconform.k8s.run_state import Enforcement, KubeRunState
from netconform.netpol.catalogue import load_catalogue
from netconform.netpol.model import Protocol
from netconform.netpol.oracle import Profile
from netconform.platforms.registry import TakesRunOptions
from netconform.results import CellValue, Measure, Verdict

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
    assert ctx.run_state.enforcement.enforced


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
    assert execute(CATALOGUE.get(CANARY_ID), ctx).measurements[Measure.TOOK_EFFECT_S] > 0
    ctx = FakeNetpolContext(FakeDataPlane(delay_observations=3))
    ctx.run_state.enforcement = Enforcement(True, "known", 0.1)
    result = execute(CATALOGUE.get("k8s.netpol.upstream.tcp.default-deny-ingress"), ctx)
    assert result.verdict == Verdict.PASS
    assert result.measurements[Measure.TOOK_EFFECT_S] > 0
    assert result.netpol is not None and result.netpol.steps[0].took_effect_s > 0


def test_time_to_take_effect_counts_from_the_apply_to_the_observation_that_held() -> None:
    """Not from when polling started, and not including the matching observation's own
    duration (a denied probe's timeout): the policy takes 0.3 s, an observation 0.2 s."""
    plane = FakeDataPlane(effect_after_s=0.3, observation_s=0.2)
    ctx = FakeNetpolContext(plane)
    ctx.params = ctx.params.model_copy(update={"netpol_deadline_s": 3.0, "poll_interval_s": 0.05})
    ctx.run_state.enforcement = Enforcement(True, "known", 0.1)
    result = execute(CATALOGUE.get("k8s.netpol.upstream.tcp.default-deny-ingress"), ctx)
    assert result.verdict == Verdict.PASS, result.reason
    assert result.netpol is not None
    (step,) = result.netpol.steps
    # Observations begin at ~0, 0.25, 0.5: the first after 0.3 s holds.
    assert step.attempts == 3
    assert 0.3 <= step.took_effect_s < 0.3 + 0.2 + 0.05 + 0.05, step.took_effect_s


def test_a_change_in_effect_at_once_took_no_time_however_long_probing_took() -> None:
    ctx = FakeNetpolContext(FakeDataPlane(observation_s=0.2))
    ctx.run_state.enforcement = Enforcement(True, "known", 0.1)
    result = execute(CATALOGUE.get("k8s.netpol.upstream.tcp.default-deny-ingress"), ctx)
    assert result.netpol is not None
    (step,) = result.netpol.steps
    assert step.held and step.attempts == 1 and step.took_effect_s < 0.05


def _relabelling_context(
    label_change_s: float | None, label_effect_after_s: float = 0.5
) -> FakeNetpolContext:
    """Label changes take 0.5 s to show, against a 0.3 s step deadline."""
    ctx = FakeNetpolContext(FakeDataPlane(label_effect_after_s=label_effect_after_s))
    ctx.params = ctx.params.model_copy(update={"poll_interval_s": 0.05})
    ctx.run_state.enforcement = Enforcement(True, "known", 0.1)
    if label_change_s is not None:
        ctx.facts = CniFacts(label_change_s=label_change_s)
    return ctx


RELABEL = "k8s.netpol.generated.action.relabel-target"


def test_a_cni_slow_by_design_on_relabels_gets_its_profiles_time_for_them() -> None:
    result = execute(CATALOGUE.get(RELABEL), _relabelling_context(None))
    assert result.verdict == Verdict.FAIL, result.reason
    assert "relabel x/b to pod=d" in result.reason
    result = execute(CATALOGUE.get(RELABEL), _relabelling_context(1.0))
    assert result.verdict == Verdict.PASS, result.reason
    assert result.netpol is not None
    create, relabel = result.netpol.steps
    assert (create.label_change, relabel.label_change) == (False, True)
    assert create.took_effect_s < 0.3  # only label changes get the extra time
    assert 0.5 <= relabel.took_effect_s < 1.0  # measured, not slept for


def test_the_case_after_a_relabelling_one_waits_for_the_labels_put_back() -> None:
    """The labels a case puts back are a change too: the next case in the lane starts while
    x/b still shows pod=d, and its first step is given until they have settled."""
    ctx = _relabelling_context(1.0)
    assert execute(CATALOGUE.get(RELABEL), ctx).verdict == Verdict.PASS
    again = execute(CATALOGUE.get(RELABEL), ctx)
    assert again.verdict == Verdict.PASS, again.reason
    assert again.netpol is not None and again.netpol.steps[0].took_effect_s > 0.1
    # without the settling, the first step of the next case fails on x/b's old labels (labels
    # that take 3 s to show: a loaded machine's pause between the cases must not hide it)
    ctx = _relabelling_context(4.0, label_effect_after_s=3.0)
    assert execute(CATALOGUE.get(RELABEL), ctx).verdict == Verdict.PASS
    ctx.run_state = KubeRunState.for_spec(ctx.spec)  # the label settle times forgotten
    ctx.run_state.enforcement = Enforcement(True, "known", 0.1)
    stale = execute(CATALOGUE.get(RELABEL), ctx)
    assert stale.verdict == Verdict.FAIL and "'create'" in stale.reason, stale.reason


def test_a_cell_lost_once_in_every_matrix_is_probed_again_not_failed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case = "k8s.netpol.upstream.tcp.default-deny-ingress"
    ctx = FakeNetpolContext(FakeDataPlane(loses_one_of_a_matrix=True))
    ctx.run_state.enforcement = Enforcement(True, "known", 0.1)
    assert execute(CATALOGUE.get(case), ctx).verdict == Verdict.PASS
    monkeypatch.setattr(k8s_netpol, "CELL_RETRIES", 0)  # without the re-probe: fails
    result = execute(CATALOGUE.get(case), ctx)
    assert result.verdict == Verdict.FAIL and "expected allowed" in result.reason, result.reason


def test_wrong_cells_come_with_tables_and_the_oracles_explanation() -> None:
    ctx = FakeNetpolContext(FakeDataPlane(ignore_egress=True))
    result = execute(CATALOGUE.get("k8s.netpol.upstream.tcp.default-deny-all"), ctx)
    assert result.verdict == Verdict.FAIL
    assert "expected denied" in result.reason
    assert result.netpol is not None
    step = result.netpol.steps[-1]
    assert not step.held and step.tables and not step.errors
    table = step.tables[0]
    assert (table.port, table.protocol) == (80, "TCP")
    wrong = step.difference()
    assert wrong and set(wrong) == set(step.explanations)
    src, dst = wrong[0].split(" ")[0], wrong[0].split(" ")[2]
    i, j = table.sources.index(src), table.destinations.index(dst)
    assert (table.expected[i][j], table.observed[i][j]) == (CellValue.DENY, CellValue.ALLOW)
    assert "isolated" in step.explanations[wrong[0]]
    assert ctx.policies == {}  # cleaned up after a failure too


def test_ipblock_not_matching_pods_is_a_profile_not_a_failure() -> None:
    ctx = FakeNetpolContext(FakeDataPlane(profile=Profile(ipblock_matches_pods=False)))
    ipblock = [c for c in CASES if "ip-block" in c.tags]
    assert ipblock
    for case in ipblock:
        result = execute(CATALOGUE.get(f"k8s.netpol.{case.id}"), ctx)
        assert result.verdict == Verdict.PASS, result.reason
    profiled = [execute(CATALOGUE.get(f"k8s.netpol.{c.id}"), ctx) for c in ipblock]
    assert any(r.profile for r in profiled)
    steps = [s for r in profiled if r.profile and r.netpol for s in r.netpol.steps]
    assert {s.profile for s in steps} >= {"ipblock-does-not-match-pods"}


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


def test_an_agent_crash_on_expected_deny_cells_is_an_error_never_a_pass() -> None:
    """Before probe outcomes, a crash read as "blocked": every expected-deny cell passed."""
    ctx = FakeNetpolContext(FakeDataPlane(crash_on_deny=True))
    ctx.run_state.enforcement = Enforcement(True, "known", 0.1)
    result = execute(CATALOGUE.get("k8s.netpol.upstream.tcp.default-deny-ingress"), ctx)
    assert result.verdict == Verdict.ERROR
    assert "could not be probed" in result.reason and "probe failed to run" in result.reason
    assert result.netpol is not None
    step = result.netpol.steps[-1]
    denied = {
        t.label(s, d)
        for t in step.tables
        for i, s in enumerate(t.sources)
        for j, d in enumerate(t.destinations)
        if t.expected[i][j] == CellValue.DENY
    }
    assert denied and {e.cell for e in step.errors} == denied
    assert all(
        t.observed[i][j] != CellValue.DENY
        for t in step.tables
        for i in range(len(t.sources))
        for j in range(len(t.destinations))
    )
    first = step.errors[0]
    assert first.reproduce[:3] == ("kubectl", "exec", "-n") and "batch" in first.reproduce
    assert ctx.policies == {}


def test_a_canary_whose_probe_did_not_run_decides_nothing() -> None:
    ctx = FakeNetpolContext(FakeDataPlane(crash_on_deny=True))
    canary = execute(CATALOGUE.get(CANARY_ID), ctx)
    assert canary.verdict == Verdict.ERROR and "did not run" in canary.reason
    case = execute(CATALOGUE.get(f"k8s.netpol.{CASES[0].id}"), ctx)
    assert case.verdict == Verdict.ERROR and CANARY_ID in case.reason


def test_the_netpol_module_declares_that_its_catalogue_takes_the_run_s_options() -> None:
    assert isinstance(k8s_netpol, TakesRunOptions)
    assert not isinstance(k8s_mtu, TakesRunOptions)  # a fixed catalogue
