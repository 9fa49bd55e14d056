"""One scripted run of one Swarm check and what it must conclude."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from netconform.results import CheckResult, Verdict

from .fake_swarm import FakeSwarm, run_check


@dataclass(frozen=True)
class Case:
    check_id: str
    script: str  # what the script does to the healthy swarm ("healthy" for nothing)
    verdict: Verdict
    reason: tuple[str, ...] = ()  # fragments the reason must contain
    ctx: Callable[[], FakeSwarm] = FakeSwarm
    measurements: Mapping[str, Any] = field(default_factory=dict)  # a subset, exactly
    observed: Mapping[str, Any] = field(default_factory=dict)  # a subset of a dict observed
    holds: Callable[[CheckResult, FakeSwarm], bool] | None = None  # anything else to insist on

    def __str__(self) -> str:
        return f"{self.check_id}:{self.script}"

    def run(self) -> CheckResult:
        ctx = self.ctx()
        result = run_check(self.check_id, ctx)
        assert result.verdict == self.verdict, result.reason
        for fragment in self.reason:
            assert fragment in result.reason, (fragment, result.reason)
        for key, value in self.measurements.items():
            assert key in result.measurements and result.measurements[key] == value, (
                key,
                dict(result.measurements),
            )
        for key, value in self.observed.items():
            assert seen(result.observed[key]) == value, (key, result.observed)
        if self.holds is not None:
            assert self.holds(result, ctx), result
        return result


def seen(observed: Any) -> Any:
    """A probe's evidence as the cases spell it: "ok", or how it ended (its error)."""
    if isinstance(observed, dict) and "ok" in observed and "outcome" in observed:
        return "ok" if observed["ok"] else observed["error"]
    return observed


def passes(check_id: str, *reason: str, **kw: Any) -> Case:
    return Case(check_id, kw.pop("script", "healthy"), Verdict.PASS, reason, **kw)


def fails(check_id: str, script: str, *reason: str, **kw: Any) -> Case:
    return Case(check_id, script, Verdict.FAIL, reason, **kw)


def skips(check_id: str, script: str, *reason: str, **kw: Any) -> Case:
    return Case(check_id, script, Verdict.SKIP, reason, **kw)
