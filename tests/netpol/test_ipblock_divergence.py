"""The conflict found on real Cilium (issue 22): a deny-all egress policy by pod selector
meets an allow-all egress policy by `ipBlock 0.0.0.0/0`. Upstream, the ipBlock covers every
pod IP, so the selected pod reaches every pod; on a CNI whose CIDR rules never select
in-cluster endpoints it reaches none. Those pod-to-pod cells, and only those, are the
profile's divergence: at the oracle, and where a step is judged (run_case)."""

from __future__ import annotations

from typing import Any

import pytest
from tests.k8s.fake_cluster import FakeDataPlane, FakeNetpolContext

from netconform.checks.k8s_netpol import ALTERNATIVE_PROFILES, run_case
from netconform.netpol.catalogue import Case, parse_case
from netconform.netpol.oracle import Probe, ProbeVerdict, Profile
from netconform.results import Verdict

CILIUM = Profile(ipblock_matches_pods=False)
DIVERGENCE = "ipblock-does-not-match-pods"
PODS = ["x/a", "x/b", "y/a", "y/b"]


def conflict_case(ipblock_targets: dict[str, Any]) -> Case:
    """Step 1: deny-all egress for x's pod=a; step 2: another policy allows egress to
    0.0.0.0/0 for `ipblock_targets` (pod=a, or every pod of x)."""
    deny = {
        "metadata": {"name": "deny-egress", "namespace": "x"},
        "spec": {"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"]},
    }
    allow = {
        "metadata": {"name": "allow-egress-anywhere", "namespace": "x"},
        "spec": {
            "podSelector": ipblock_targets,
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}],
        },
    }
    return parse_case(
        {
            "id": "issue22.deny-all-plus-ipblock-allow-all",
            "pods": PODS,
            "ports": [80, 81],
            "protocols": ["TCP", "UDP"],
            "steps": [
                {"name": "deny-all", "actions": [{"create-policy": deny}], "probes": ["80/TCP"]},
                {
                    "name": "allow by ipBlock",
                    "actions": [{"create-policy": allow}],
                    "probes": ["80/TCP", "81/TCP", "80/UDP"],
                },
            ],
        },
        "cases[0]",
    )


def _by_probe(verdicts: list[ProbeVerdict]) -> dict[Probe, ProbeVerdict]:
    return {v.probe: v for v in verdicts if not v.ignored}


# who the ipBlock policy selects -> the sources whose egress it governs
TARGETS = {"pod=a": ({"matchLabels": {"pod": "a"}}, ["x/a"]), "all of x": ({}, ["x/a", "x/b"])}


@pytest.mark.parametrize("targets", TARGETS, ids=str)
def test_the_pod_to_pod_cells_are_the_divergence_and_nothing_else(targets: str) -> None:
    selector, sources = TARGETS[targets]
    deny_all, allow = conflict_case(selector).resolve().steps
    assert _by_probe(deny_all.expected()) == _by_probe(deny_all.expected(CILIUM))

    upstream, cilium = _by_probe(allow.expected()), _by_probe(allow.expected(CILIUM))
    assert upstream.keys() == cilium.keys()
    diverging = {p for p in upstream if upstream[p].allowed != cilium[p].allowed}
    pod_to_pod = {p for p in upstream if p.source in sources}
    assert len(pod_to_pod) == len(sources) * (len(PODS) - 1) * 3
    assert diverging == pod_to_pod
    for probe in pod_to_pod:
        assert upstream[probe].allowed, upstream[probe].reason  # the ipBlock covers the pod
        assert upstream[probe].egress.allowed_by[0].policy == "x/allow-egress-anywhere"
        assert not cilium[probe].allowed
        assert "ipBlock 0.0.0.0/0" in cilium[probe].egress.reason


def _judged(plane: FakeDataPlane, selector: dict[str, Any]) -> Any:
    return run_case(FakeNetpolContext(plane), conflict_case(selector))


@pytest.mark.parametrize("targets", TARGETS, ids=str)
def test_on_the_cni_the_judged_step_is_the_divergence_not_a_failure(targets: str) -> None:
    assert ALTERNATIVE_PROFILES[DIVERGENCE] == CILIUM
    selector, sources = TARGETS[targets]
    result = _judged(FakeDataPlane(profile=CILIUM), selector)
    assert result.verdict == Verdict.PASS, result.reason
    assert result.profile and DIVERGENCE in result.reason
    assert result.netpol is not None
    deny_all, allow = result.netpol.steps
    assert (deny_all.held, deny_all.profile) == (True, "")
    assert (allow.held, allow.profile) == (False, DIVERGENCE)
    wrong = allow.difference()
    assert wrong and {cell.split(" ")[0] for cell in wrong} == set(sources)
    assert not allow.errors


def test_under_upstream_semantics_the_same_case_holds_as_expected() -> None:
    result = _judged(FakeDataPlane(), {"matchLabels": {"pod": "a"}})
    assert result.verdict == Verdict.PASS and not result.profile, result.reason
    assert result.netpol is not None
    assert all(s.held and not s.profile for s in result.netpol.steps)


def test_a_cell_lost_once_does_not_turn_the_divergence_into_a_failure() -> None:
    """Every observation of a whole matrix loses one allowed cell, which a re-probe recovers:
    on the default expectation the step holds (tests/k8s: the re-probe); on the divergence
    the same lost cell must not fail it either."""
    upstream = _judged(FakeDataPlane(loses_one_of_a_matrix=True), {"matchLabels": {"pod": "a"}})
    assert upstream.verdict == Verdict.PASS and not upstream.profile, upstream.reason
    result = _judged(
        FakeDataPlane(profile=CILIUM, loses_one_of_a_matrix=True), {"matchLabels": {"pod": "a"}}
    )
    assert result.verdict == Verdict.PASS, result.reason
    assert result.netpol is not None and result.netpol.steps[-1].profile == DIVERGENCE
