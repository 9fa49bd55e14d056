"""The NetworkPolicy figures per platform (cases passed / diverged / failed / error /
skipped, time to take effect p50/p99) in comparison.html, comparison.md and comparison.json,
on the golden runs the real checks wrote."""

from __future__ import annotations

import json
from pathlib import Path

from netconform.report.cli import main
from netconform.report.compare import Column, Comparison, load_runs, merge_runs
from netconform.report.netpol_summary import summaries, summary_json
from netconform.results import NetpolReport, NetpolStep, Verdict
from netconform.stats import percentile

from .built import held_report, k8s, named_port_report, run
from .support import DATA, GOLDEN_RUNS


def _raw_counts(name: str) -> dict[str, int]:
    """Straight from results.json: the NetworkPolicy checks but the canary."""
    checks = json.loads((DATA / name / "results.json").read_text())["checks"]
    cases = [c for c in checks if c["area"] == "netpol" and c["id"] != "k8s.netpol.enforcement"]
    counts = {"passed": 0, "diverged": 0, "failed": 0, "error": 0, "skipped": 0}
    for c in cases:
        key = {"pass": "diverged" if c["profile"] else "passed", "fail": "failed"}.get(
            c["verdict"], {"error": "error", "skip": "skipped"}.get(c["verdict"], "")
        )
        counts[key] += 1
    return counts


def _golden() -> Comparison:
    return merge_runs(load_runs([DATA / n for n in GOLDEN_RUNS]))


def test_counts_per_platform_match_the_results_files() -> None:
    found = summary_json(_golden())
    assert "swarm-lab" not in found  # no NetworkPolicy cases: no row
    for name in GOLDEN_RUNS[1:]:
        entry = found[name]
        assert {k: entry[k] for k in _raw_counts(name)} == _raw_counts(name)
        assert entry["cases"] == sum(_raw_counts(name).values()) > 0
    # the fixtures' stories: flannel enforces nothing, calico ignores egress, cilium's
    # ipBlock does not match pods (a profile) and its agent crashes (an error)
    assert found["kind-flannel"]["skipped"] == found["kind-flannel"]["cases"]
    assert found["kind-calico"]["failed"] > 0
    assert found["kind-cilium"]["diverged"] > 0 and found["kind-cilium"]["error"] > 0


def test_latency_percentiles_are_over_held_steps_only() -> None:
    held = [0.2, 0.4, 0.6, 0.8, 5.0]
    never = k8s(
        "k8s.netpol.named", "netpol.case.named", verdict=Verdict.FAIL, netpol=named_port_report()
    )  # its step 2 ran into its 30 s deadline: no latency
    cases = [k8s("k8s.netpol.a", "netpol.case.a", netpol=held_report(*held)), never]
    comparison = merge_runs([(Path("r"), run("kind-cilium", cases))])
    (summary,) = summaries(comparison)
    assert (summary.passed, summary.failed, summary.cases) == (1, 1, 2)
    assert summary.steps == len(held) + 1
    assert summary.p50_s == percentile([*held, 1.2], 0.5) == 0.6
    assert summary.p99_s == 5.0


def test_relabel_steps_are_reported_apart_from_policy_changes() -> None:
    steps = (
        NetpolStep("create", True, 0.4, 2, ()),
        NetpolStep("relabel", True, 22.0, 9, (), label_change=True),
        NetpolStep("relabel back", True, 7.0, 5, (), label_change=True),
    )
    cases = [k8s("k8s.netpol.a", "netpol.case.a", netpol=NetpolReport("a", steps))]
    (summary,) = summaries(merge_runs([(Path("r"), run("kind-cilium", cases))]))
    assert (summary.steps, summary.p50_s, summary.p99_s) == (1, 0.4, 0.4)
    assert (summary.label_steps, summary.label_max_s) == (2, 22.0)
    assert summary.label_p50_s == percentile([22.0, 7.0], 0.5)


def test_the_report_files_carry_the_figures(tmp_path: Path) -> None:
    out = tmp_path / "report"
    assert main([*(str(DATA / n) for n in GOLDEN_RUNS), "--out", str(out), "--no-allure"]) == 0
    data = json.loads((out / "comparison.json").read_text())
    assert data["netpol"] == summary_json(_golden())
    assert data["netpol"]["kind-cilium"]["took_effect_s"]["steps"] > 0
    html = (out / "comparison.html").read_text()
    section = html[html.index('<h2 id="netpol">') :]
    assert section.index('<table class="netpol-summary">') < section.index("<h3>Failures</h3>")
    for name in GOLDEN_RUNS[1:]:
        assert f"<tr><td>{name}</td>" in section
    markdown = (out / "comparison.md").read_text()
    assert "## NetworkPolicy cases" in markdown
    netpol = markdown[markdown.index("## NetworkPolicy cases") :]
    row = next(line for line in netpol.splitlines() if line.startswith("| kind-cilium |"))
    cilium = data["netpol"]["kind-cilium"]
    assert row.split(" | ")[2:7] == [
        str(cilium[k]) for k in ("passed", "diverged", "failed", "error", "skipped")
    ]


def test_a_column_without_cases_has_no_row() -> None:
    column = _golden().columns[0]
    assert isinstance(column, Column) and column.label == "swarm-lab"
    assert [s.label for s in summaries(_golden())] == list(GOLDEN_RUNS[1:])
