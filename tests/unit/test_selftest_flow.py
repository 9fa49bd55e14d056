"""The self-test's flow without a lab: the platform is prepared, preflighted, provisioned
and torn down once through `running`, also when a round fails; the healthy round keeps the
scenario's deadline, fault rounds the short one; a fault the lab cannot apply is a skip."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

import pytest

from netconform import selftest
from netconform.checks.base import Check
from netconform.core import Capabilities
from netconform.errors import EnvironmentUnfit
from netconform.platforms.swarm_deploy import Node
from netconform.platforms.swarm_platforms import SwarmHandle
from netconform.results import CheckResult, Verdict
from netconform.vocab import Fault


class FakeLab:
    events: ClassVar[list[str]] = []

    def __init__(self, scenario: Any, keep: bool, lab: Any, progress: Any, reuse: bool) -> None:
        self.scenario, self.keep, self.reuse = scenario, keep, reuse
        FakeLab.events.append(f"build keep={keep} reuse={reuse} lab={lab.name}")

    def prepare_host(self) -> None:
        FakeLab.events.append("prepare_host")

    def preflight(self) -> None:
        FakeLab.events.append("preflight")

    def provision(self) -> SwarmHandle:
        FakeLab.events.append("provision")
        caps = Capabilities(frozenset())
        return SwarmHandle("swarm-lab", (Node("h1", "unix:///x", "10.0.0.1"),), "r", "i", caps)

    def teardown(self) -> None:
        FakeLab.events.append("teardown")


class FakeCtx:
    def __init__(self, handle: SwarmHandle, scenario: Any) -> None:
        self.deadline = scenario.converge_deadline_s

    def wait_ready(self) -> None:
        FakeLab.events.append("wait_ready")

    def close(self) -> None:
        FakeLab.events.append(f"close {self.deadline:g}")


@pytest.fixture
def flow(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    FakeLab.events = []
    applied: list[str] = []

    def add(lab: str, kind: str, host: int) -> dict[str, Any]:
        if kind == Fault.LOSSY_UNDERLAY:
            raise EnvironmentUnfit("kernel lacks tc netem")
        applied.append(kind)
        return {"kind": kind, "host": f"h{host}"}

    def run(ctx: FakeCtx, checks: Iterable[Check[Any]]) -> list[CheckResult]:
        FakeLab.events.append(f"run deadline={ctx.deadline:g}")
        fault = applied[-1] if ctx.deadline == 6 else None
        return [
            CheckResult(
                c.spec.id,
                c.spec.area,
                c.spec.title,
                Verdict.FAIL if fault in c.spec.catches else Verdict.PASS,
                "",
                0.0,
            )
            for c in checks
        ]

    monkeypatch.setattr(selftest, "SwarmLabPlatform", FakeLab)
    monkeypatch.setattr(selftest, "context_from_handle", FakeCtx)
    monkeypatch.setattr(selftest, "_run", run)
    monkeypatch.setattr(selftest, "_residue", lambda lab, record: [])
    monkeypatch.setattr(selftest.faults, "add", add)
    monkeypatch.setattr(selftest.faults, "clear", lambda lab: [])
    return FakeLab.events


def test_every_fault_round_on_one_provisioned_lab(flow: list[str], tmp_path: Path) -> None:
    report = selftest.run_selftest(tmp_path, lab_name="st", keep=False)
    assert flow[:4] == ["build keep=False reuse=True lab=st", "prepare_host", "preflight",
                        "provision"]  # fmt: skip
    assert flow.count("provision") == flow.count("teardown") == 1 and flow[-1] == "teardown"
    assert flow[4:6] == ["run deadline=30", "close 30"]  # the healthy round: its own deadline
    assert flow.count("run deadline=6") == len(Fault) - 1  # lossy-underlay: not applied
    assert set(report.healthy.values()) == {"pass"}
    skipped = [r for r in report.rounds if r.skipped]
    assert [(r.fault, r.skipped) for r in skipped] == [("lossy-underlay", "kernel lacks tc netem")]
    assert report.problems() == [] and all(r.caught for r in report.rounds if not r.skipped)
    written = json.loads((tmp_path / "selftest.json").read_text())
    assert written["verdict"] == "pass" and len(written["rounds"]) == len(Fault)


def test_a_round_that_breaks_still_tears_the_lab_down(
    flow: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def clear_fails(lab: str) -> list[str]:
        raise EnvironmentUnfit("nft refused")

    monkeypatch.setattr(selftest.faults, "clear", clear_fails)
    with pytest.raises(EnvironmentUnfit, match="nft refused"):
        selftest.run_selftest(tmp_path / "out", lab_name="st")
    assert flow.count("teardown") == 1 and flow[-1] == "teardown"
    assert "close 6" in flow  # the fault round's context is closed on the way out
    assert not (tmp_path / "out" / "selftest.json").exists()
