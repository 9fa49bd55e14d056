"""The page stays usable at benchmark scale: 10 runs x 500 checks (timing: benchmarks/)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from netconform.report.compare import load_runs, merge_runs
from netconform.report.html import render_html

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_report.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_report", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_html_under_two_megabytes_at_ten_by_five_hundred(tmp_path: Path) -> None:
    bench = _bench()
    dirs = bench.write_synthetic_runs(tmp_path, runs=10, checks=500)
    comparison = merge_runs(load_runs(dirs))
    assert len(comparison.rows) == 500
    assert len(comparison.columns) == 10
    html = render_html(comparison)
    assert len(html.encode()) < bench.HTML_BUDGET_BYTES
    assert html.count('<tr class="chk"') == 500
    # every cell names its platform's check, and the Swarm and Kubernetes ids share rows
    assert html.count("<small>") == 5000
    assert all(row.shared for row in comparison.rows)
    assert html.count('class="copy"') > 0
