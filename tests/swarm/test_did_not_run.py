"""A probe that did not run (agent crash, exec failure) is an error for the check, never a
pass or a fail: what it would have shown is unknown (issue 11 §3).

Before the Swarm checks judged `ProbeResult.outcome`, a crash failed the check, and where
only the cells expected to be blocked crashed, the three checks below passed: a false pass."""

from __future__ import annotations

import pytest

from netconform.checks.base import CATALOGUE
from netconform.platforms.swarm_plan import Endpoint
from netconform.probes.model import Probe
from netconform.results import Verdict

from .fake_swarm import NOT_RUN, Answer, FakeSwarm, Override, run_check

OVERLAY_OTHER = "10.20.0."
UNDERLAY = "192.168.100."


def _to_the_other_overlay(src: Endpoint, probe: Probe) -> Answer | None:
    crossing = src.network == "main" and probe.target.startswith(OVERLAY_OTHER)
    return NOT_RUN if crossing else None


def _from_the_internal_overlay_out(src: Endpoint, probe: Probe) -> Answer | None:
    return NOT_RUN if src.network == "internal" and probe.target.startswith(UNDERLAY) else None


def _lookups_from_the_main_overlay(src: Endpoint, probe: Probe) -> Answer | None:
    return NOT_RUN if src.network == "main" and probe.target == "ncr1-other" else None


@pytest.mark.parametrize("check_id", sorted(c.spec.id for c in CATALOGUE.for_family("swarm")))
def test_an_agent_that_never_answers_is_an_error(check_id: str) -> None:
    result = run_check(check_id, FakeSwarm(lambda src, probe: NOT_RUN))
    assert result.verdict == Verdict.ERROR, result.reason


@pytest.mark.parametrize(
    ("check_id", "crashes"),
    [
        ("isolation.overlays.cross-network", _to_the_other_overlay),
        ("isolation.internal.no-egress", _from_the_internal_overlay_out),
        ("dns.isolation.other-network", _lookups_from_the_main_overlay),
    ],
)
def test_crashes_on_the_cells_expected_blocked_are_no_pass(
    check_id: str, crashes: Override
) -> None:
    # the controls answer; every probe that should find the way blocked did not run
    result = run_check(check_id, FakeSwarm(crashes))
    assert result.verdict == Verdict.ERROR, result.reason
