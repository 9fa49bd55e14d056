"""`netconform selftest`: prove every check can fail. The suite runs once on a healthy lab,
then once per fault (the lab reused; each round only the checks of the fault's area and
those declaring the fault), and a fault x check matrix says which checks caught what."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from netconform.catalog.scenario import SwarmScenario, load_swarm_scenario
from netconform.checks.base import CATALOGUE, Check, execute
from netconform.core import running
from netconform.errors import EnvironmentUnfit
from netconform.lab import faults, nft, state
from netconform.lab.config import LabConfig
from netconform.platforms.registry import load_checks
from netconform.platforms.swarm import (
    SwarmContext,
    SwarmHandle,
    SwarmLabPlatform,
    context_from_handle,
)
from netconform.progress import NoProgress, Progress
from netconform.results import CheckResult, Verdict
from netconform.vocab import Family, Fault

# Which host each fault goes to: the DNS checks ask from h1's tasks, the rest use h2.
FAULT_HOST = {Fault.DNS_BROKEN: 1, Fault.ISOLATION_BREACH: 1}


@dataclass(frozen=True)
class FaultRound:
    fault: str
    area: str
    host: str
    skipped: str  # why the fault could not be applied ("" when it was)
    declared: tuple[str, ...]  # checks that must fail
    failed: tuple[str, ...]  # checks that did fail (fail or error)
    passed: tuple[str, ...]  # checks that passed despite the fault
    duration_s: float
    residue: tuple[str, ...] = ()  # what clearing left behind (must be empty)

    @property
    def caught(self) -> bool:
        return any(c.split(".")[0] == self.area for c in self.failed)

    @property
    def missed(self) -> tuple[str, ...]:
        # a declared check skipped for a missing feature is not a miss: it never ran
        return tuple(c for c in self.declared if c in self.passed)

    @property
    def unexpected(self) -> tuple[str, ...]:
        return tuple(c for c in self.failed if c not in self.declared)


@dataclass(frozen=True)
class SelftestReport:
    healthy: dict[str, str]  # check id -> verdict
    rounds: tuple[FaultRound, ...]
    uncatchable: dict[str, str]  # check id -> why no lab fault can reach it
    duration_s: float
    verdict: str = field(default="")

    def problems(self) -> list[str]:
        found = [
            f"healthy round: {c} {v}"
            for c, v in self.healthy.items()
            if v in (Verdict.FAIL, Verdict.ERROR)
        ]
        for r in self.rounds:
            if r.skipped:
                continue
            if not r.caught:
                found.append(f"fault {r.fault} caught by no {r.area} check")
            found += [f"fault {r.fault}: declared check {c} did not fail" for c in r.missed]
            found += [f"fault {r.fault}: clearing left {x}" for x in r.residue]
        return found

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "netconform/selftest/v1",
            "verdict": "pass" if not self.problems() else "fail",
            "problems": self.problems(),
            "duration_s": round(self.duration_s, 1),
            "healthy": self.healthy,
            "rounds": [
                {
                    **asdict(r),
                    "caught": r.caught,
                    "missed": list(r.missed),
                    "unexpected": list(r.unexpected),
                }
                for r in self.rounds
            ],
            "uncatchable": self.uncatchable,
        }


def _run(ctx: SwarmContext, checks: Iterable[Check[Any]]) -> list[CheckResult]:
    return [execute(c, ctx) for c in sorted(checks, key=lambda c: c.spec.id)]


def _nft_tables(netns_name: str) -> str:
    """`nft list tables` in a namespace; nothing when nft cannot tell."""
    with contextlib.suppress(EnvironmentUnfit):
        return nft.run(f"/run/netns/{netns_name}", "list tables")
    return ""


def _residue(lab_name: str, record: dict[str, Any]) -> list[str]:
    """Check, after clearing, that the fault left nothing: nft tables, qdiscs, MTUs."""
    import subprocess

    from netconform.lab import netns

    lab = state.load(lab_name)
    assert lab is not None
    host = lab.host(record["host"])
    left = []
    ns = ["nsenter", f"--net=/run/netns/{host.netns}"]
    if faults.NFT_TABLE in _nft_tables(host.netns):
        left.append(f"nft table {faults.NFT_TABLE} in {host.netns}")
    if faults.NFT_TABLE in _nft_tables(lab.underlay_netns):
        left.append(f"nft table {faults.NFT_TABLE}* on the underlay switch")
    qdisc = subprocess.run(
        [*ns, "tc", "qdisc", "show", "dev", "eth0"], capture_output=True, text=True, check=False
    )
    if "netem" in qdisc.stdout:
        left.append(f"netem qdisc on {host.netns} eth0")
    for ns_name, link in ((host.netns, "eth0"), (lab.underlay_netns, f"{host.name}-port")):
        if netns.link_mtu(ns_name, link) != lab.underlay_mtu:
            left.append(f"MTU of {link} in {ns_name} not back to {lab.underlay_mtu}")
    if lab.faults:
        left.append(f"{len(lab.faults)} fault records")
    return left


def run_selftest(
    out: Path,
    lab_name: str = "selftest",
    keep: bool = False,
    scenario: SwarmScenario | None = None,
    progress: Progress | None = None,
) -> SelftestReport:
    progress = progress or NoProgress()
    start = time.monotonic()
    load_checks(SwarmLabPlatform.name)
    checks = CATALOGUE.for_family(Family.SWARM)
    scenario = scenario or load_swarm_scenario()
    # A fault round must not wait the full convergence deadline on every broken cell.
    fast = scenario.model_copy(update={"converge_deadline_s": min(scenario.converge_deadline_s, 6)})
    # The self-test runs on a lab that is up, if one is, and takes down only one it made.
    platform = SwarmLabPlatform(
        fast, keep=keep, lab=LabConfig(name=lab_name), progress=progress, reuse=True
    )
    platform.prepare_host()
    platform.preflight()
    with running(platform) as handle:
        assert isinstance(handle, SwarmHandle)
        progress.step("healthy round: every check")
        # The healthy round keeps the scenario's own deadline: a pass may take its time
        # (a scale-up on a busy machine), only broken cells must not wait it out.
        with contextlib.closing(context_from_handle(handle, scenario)) as unhurried:
            healthy = {r.id: str(r.verdict) for r in _run(unhurried, checks)}
        with contextlib.closing(context_from_handle(handle, fast)) as ctx:
            rounds = [
                _fault_round(ctx, kind, checks, lab_name, progress) for kind in faults.FAULT_KINDS
            ]
        uncatchable = {c.spec.id: c.spec.not_catchable for c in checks if not c.spec.catches}
        report = SelftestReport(healthy, tuple(rounds), uncatchable, time.monotonic() - start)
    out.mkdir(parents=True, exist_ok=True)
    (out / "selftest.json").write_text(json.dumps(report.to_json(), indent=2) + "\n")
    (out / "selftest.md").write_text(render_markdown(report))
    return report


def _fault_round(
    ctx: SwarmContext, kind: Fault, checks: list[Check[Any]], lab_name: str, progress: Progress
) -> FaultRound:
    """Apply one fault, run the checks of its area and those declaring it, clear it, and
    wait for the lab to heal before the next round."""
    area = faults.FAULT_KINDS[kind][0]
    host = FAULT_HOST.get(kind, 2)
    declared = tuple(sorted(c.spec.id for c in checks if kind in c.spec.catches))
    selected = [c for c in checks if c.spec.area == area or kind in c.spec.catches]
    t0 = time.monotonic()
    try:
        record = faults.add(lab_name, kind, host)
    except EnvironmentUnfit as exc:
        progress.step(f"fault {kind}: skipped ({exc})")
        return FaultRound(kind, area, f"h{host}", str(exc), declared, (), (), 0.0)
    try:
        progress.step(f"fault {kind} on h{host}: {len(selected)} checks")
        results = _run(ctx, selected)
    finally:
        faults.clear(lab_name)
    residue = tuple(_residue(lab_name, record))
    ctx.wait_ready()  # the lab heals before the next round
    return FaultRound(
        kind,
        area,
        f"h{host}",
        "",
        declared,
        tuple(r.id for r in results if r.verdict in (Verdict.FAIL, Verdict.ERROR)),
        tuple(r.id for r in results if r.verdict == Verdict.PASS),
        time.monotonic() - t0,
        residue,
    )


def render_markdown(report: SelftestReport) -> str:
    data = report.to_json()
    lines = [
        f"# netconform self-test: {data['verdict']}",
        "",
        f"{len(report.healthy)} checks, {len(report.rounds)} faults, {report.duration_s:.0f} s.",
        "",
        "| fault | area | host | caught | failed checks | declared but passed "
        "| outside the declared |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report.rounds:
        if r.skipped:
            lines.append(f"| {r.fault} | {r.area} | {r.host} | skipped: {r.skipped} | | | |")
            continue
        lines.append(
            f"| {r.fault} | {r.area} | {r.host} | {'yes' if r.caught else '**no**'} | "
            f"{', '.join(r.failed) or '-'} | {', '.join(r.missed) or '-'} | "
            f"{', '.join(r.unexpected) or '-'} |"
        )
    lines += ["", "## Checks no lab fault can fail", ""]
    lines += [f"- `{c}`: {why}" for c, why in sorted(report.uncatchable.items())]
    if report.problems():
        lines += ["", "## Problems", ""] + [f"- {p}" for p in report.problems()]
    return "\n".join(lines) + "\n"
