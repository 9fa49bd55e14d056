"""Benchmark: merge 10 runs x 500 checks and render the comparison (budget: < 2 s, HTML < 2 MB).

Run: python benchmarks/bench_report.py [--runs 10] [--checks 500]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

from netconform.report.compare import comparison_to_json, load_runs, merge_runs
from netconform.report.html import render_html
from netconform.report.markdown import render_markdown
from netconform.results import Area, CheckResult, RunResults, Verdict, write_results

TIME_BUDGET_S = 2.0
HTML_BUDGET_BYTES = 2 * 1024 * 1024
PLATFORMS = ("swarm-lab", "kind-flannel", "kind-calico", "kind-cilium", "cluster")
ENDPOINTS = [f"{ns}/{pod}" for ns in "xyz" for pod in "abc"]


def _table(rng: random.Random, flip: bool) -> dict[str, object]:
    cells = [["." if rng.random() < 0.6 else "X" for _ in ENDPOINTS] for _ in ENDPOINTS]
    if flip:
        cells[0][3] = "." if cells[0][3] == "X" else "X"
    return {"port": 80, "protocol": "TCP", "rows": ENDPOINTS, "cols": ENDPOINTS, "cells": cells}


def _check(rng: random.Random, index: int) -> CheckResult:
    area = list(Area)[index % len(Area)]
    verdict = rng.choices(list(Verdict), weights=(85, 5, 8, 2))[0]
    measurements: dict[str, object] = {"probes": rng.randint(6, 81), "connect_p50_ms": 0.3}
    expected = observed = None
    if area is Area.MTU:
        measurements |= {"effective_mtu": 1450, "largest_df_payload": 1422}
    elif area is Area.DNS:
        measurements |= {"dns_latency_p50_ms": round(rng.uniform(0.3, 0.8), 2)}
    elif area is Area.NETPOL:
        measurements |= {"enforcement_latency_s": round(rng.uniform(0.5, 3.0), 2)}
        if verdict is Verdict.FAIL:
            seed = rng.random()
            expected = {"tables": [_table(random.Random(seed), flip=False)]}
            observed = {"tables": [_table(random.Random(seed), flip=True)]}
            measurements["explanations"] = {"x/a->y/a:80/TCP": "no rule allows x/a to reach y/a"}
    return CheckResult(
        id=f"{area}.case-{index:04d}",
        area=area,
        title=f"Synthetic {area} case {index}",
        verdict=verdict,
        reason=f"{verdict}: 18/18 probes as expected" if verdict is Verdict.PASS else "differs",
        duration_s=rng.uniform(0.1, 10),
        expected=expected,
        observed=observed,
        measurements=measurements,
    )


def synthetic_run(platform: str, checks: int, seed: int) -> RunResults:
    rng = random.Random(seed)
    return RunResults(
        platform=platform,
        platform_info={"kernel": "6.1.0-27-amd64", "underlay_mtu": 1500, "nodes": 3},
        started="2025-11-25T02:00:00+00:00",
        finished="2025-11-25T02:12:00+00:00",
        checks=tuple(_check(rng, i) for i in range(checks)),
    )


def write_synthetic_runs(root: Path, runs: int, checks: int) -> list[Path]:
    dirs = []
    for index in range(runs):
        run_dir = root / f"run-{index:02d}"
        platform = PLATFORMS[index % len(PLATFORMS)]
        write_results(run_dir / "results.json", synthetic_run(platform, checks, seed=index))
        dirs.append(run_dir)
    return dirs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--checks", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dirs = write_synthetic_runs(Path(tmp), args.runs, args.checks)
        began = time.perf_counter()
        comparison = merge_runs(load_runs(dirs))
        merged = time.perf_counter()
        html = render_html(comparison)
        markdown = render_markdown(comparison)
        comparison_to_json(comparison)
        done = time.perf_counter()
    size = len(html.encode())
    total = done - began
    print(f"runs x checks      : {args.runs} x {args.checks}")
    print(f"read + merge       : {merged - began:.3f} s")
    print(f"render html/md/json: {done - merged:.3f} s")
    print(f"total              : {total:.3f} s (budget {TIME_BUDGET_S} s)")
    print(f"comparison.html    : {size / 1024 / 1024:.2f} MiB (budget 2 MiB)")
    print(f"comparison.md      : {len(markdown.encode()) / 1024:.0f} KiB")
    within = total < TIME_BUDGET_S and size < HTML_BUDGET_BYTES
    print("within budget" if within else "OVER BUDGET")
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
