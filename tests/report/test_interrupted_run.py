"""An interrupted run in the comparison: its column says `interrupted` with the count of the
planned checks it never ran, and the aspects it never reached are never shown as passing."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from netconform.report.compare import CellState, load_runs, merge_runs
from netconform.report.html import render_html
from netconform.report.markdown import render_markdown
from netconform.results import Phase, RunStatus, Verdict, read_results, write_results

from .support import DATA

KEPT = 16


def _interrupted_beside_complete(tmp_path: Path) -> list[Path]:
    """The golden swarm-lab run twice: as it is, and cut off after its first KEPT checks by
    a Ctrl-C (what plugin.RunState.end writes)."""
    whole = read_results(DATA / "swarm-lab" / "results.json")
    cut = replace(
        whole,
        checks=whole.checks[:KEPT],
        status=RunStatus.INTERRUPTED,
        phase=Phase.CHECKS,
        not_run=tuple(c.id for c in whole.checks[KEPT:]),
        platform="swarm-lab-cut",
    )
    write_results(tmp_path / "cut" / "results.json", cut)
    return [DATA / "swarm-lab", tmp_path / "cut"]


def test_the_interrupted_column_is_never_green_by_omission(tmp_path: Path) -> None:
    comparison = merge_runs(load_runs(_interrupted_beside_complete(tmp_path)))
    whole, cut = comparison.columns
    missing = len(whole.run.checks) - KEPT
    assert missing > 0
    assert cut.incomplete and cut.status is RunStatus.INTERRUPTED and not cut.run.complete
    assert cut.ending == f"interrupted, {missing} checks not run"
    assert whole.ending == "complete"
    states = [row.states[1] for row in comparison.rows]
    assert states.count(CellState.NOT_REACHED) == missing
    # the checks it did run keep their verdicts
    passed_before = sum(c.verdict is Verdict.PASS for c in cut.run.checks)
    assert (
        states.count(CellState.PASS)
        == passed_before
        < sum(s is CellState.PASS for s in (row.states[0] for row in comparison.rows))
    )


def test_html_and_markdown_say_interrupted_and_how_many_never_ran(tmp_path: Path) -> None:
    dirs = _interrupted_beside_complete(tmp_path)
    comparison = merge_runs(load_runs(dirs))
    missing = len(comparison.columns[0].run.checks) - KEPT
    page = render_html(comparison)
    assert "swarm-lab-cut was interrupted</span> while checks" in page
    assert f"{missing} planned checks never ran" in page
    assert f"⚠ interrupted, {missing} checks not run</span></th>" in page
    assert "crashed / incomplete" not in page
    text = render_markdown(comparison)
    assert "**swarm-lab-cut was interrupted while checks**" in text
    assert f"{missing} planned checks never ran." in text
    status = next(line for line in text.splitlines() if line.startswith("| status"))
    assert status.split("|")[2:4] == [" complete ", f" 💥 interrupted, {missing} checks not run "]


def test_interrupted_while_provisioning_reads_as_no_check_reached(tmp_path: Path) -> None:
    golden = read_results(DATA / "swarm-lab" / "results.json")
    stopped = replace(
        golden, checks=(), status=RunStatus.INTERRUPTED, phase=Phase.PROVISIONING, not_run=()
    )
    write_results(tmp_path / "stopped" / "results.json", stopped)
    comparison = merge_runs(load_runs([DATA / "swarm-lab", tmp_path / "stopped"]))
    assert {row.states[1] for row in comparison.rows} == {CellState.NOT_REACHED}
    assert not any(row.differs for row in comparison.rows if row.states[0] is CellState.PASS)
    assert "was interrupted while provisioning" in render_markdown(comparison)
    data = json.loads((tmp_path / "stopped" / "results.json").read_text())
    assert (data["status"], data["phase"], data["complete"]) == (
        "interrupted", "provisioning", False,
    )  # fmt: skip
