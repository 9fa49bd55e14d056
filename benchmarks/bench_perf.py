"""The perf area's own figures and cost on the swarm lab (run as root):

    python benchmarks/bench_perf.py [--runs 3]

`--runs` consecutive full swarm-lab runs on one kept lab, then one run without the perf area
(`-k "not perf"`). Prints, per perf check, each run's main figure and the spread over the
runs ((max - min) / median), the overlay/underlay ratios, request/response latency, the DNS
latency, and the area's cost two ways: the sum of the perf checks' own durations, and the
median full run's wall time minus the run without perf (the deployment is the same in both).

Targets (issue 12 §5): throughput figures of the runs within 15% of each other; the perf area
adds at most 60 s to a platform run. On a loaded machine the difference of two wall times is
noisy (one slow run swings it by tens of seconds): `perf_checks_seconds_per_run`, the perf
checks' own durations, is the direct figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from netconform.lab import lab
from netconform.results import Measure

NAME = "benchperf"
SPREAD_TARGET_PCT = 15.0
COST_TARGET_S = 60.0
MAIN_FIGURE = {  # per perf check: the figure its spread is reported on
    "perf.tcp.cross-host": Measure.MBIT_S,
    "perf.tcp.cross-host.streams": Measure.MBIT_S,
    "perf.tcp.same-host": Measure.MBIT_S,
    "perf.udp.cross-host": Measure.MBIT_S,
    "perf.tcp.vip": Measure.MBIT_S,
    "perf.bridge.same-host": Measure.MBIT_S,
    "perf.rr.cross-host": Measure.RR_P50_MS,
    "perf.crr.cross-host": Measure.CONNECTIONS_PER_S,
}
THROUGHPUT = {k for k, m in MAIN_FIGURE.items() if m == Measure.MBIT_S}


def run(*extra: str) -> tuple[float, dict[str, Any]]:
    """One `netconform run` on the bench lab (kept): wall seconds and its results.json."""
    with tempfile.TemporaryDirectory() as out:
        argv = [sys.executable, "-m", "netconform.cli", "run", "--platform", "swarm-lab"]
        t0 = time.monotonic()
        subprocess.run(
            [*argv, "--lab-name", NAME, "--keep", "--out", out, *extra],
            capture_output=True,
            check=False,
        )
        seconds = round(time.monotonic() - t0, 1)
        return seconds, json.loads((Path(out) / "results.json").read_text())


def spread_pct(values: list[float]) -> float:
    middle = statistics.median(values)
    return round((max(values) - min(values)) / middle * 100, 1) if middle else 0.0


def figures(runs: list[tuple[float, dict[str, Any]]], without: float) -> dict[str, Any]:
    by_check: dict[str, list[dict[str, Any]]] = {}
    perf_seconds = []
    for _, results in runs:
        perf = [c for c in results["checks"] if c["area"] == "perf"]
        perf_seconds.append(round(sum(c["duration_s"] for c in perf), 1))
        for check in results["checks"]:
            by_check.setdefault(check["id"], []).append(check)
    per_check: dict[str, Any] = {}
    for check_id, measure in MAIN_FIGURE.items():
        seen = [c for c in by_check.get(check_id, []) if c["verdict"] == "pass"]
        if not seen:
            verdicts = [c["verdict"] for c in by_check.get(check_id, [])]
            per_check[check_id] = {"verdicts": verdicts}
            continue
        values = [float(c["measurements"][measure]) for c in seen]
        m = seen[-1]["measurements"]
        per_check[check_id] = {
            str(measure): values,
            "spread_over_runs_pct": spread_pct(values),
            "within_run_spread_pct": [c["measurements"].get(Measure.SPREAD_PCT) for c in seen],
            "ratio_to_baseline": [c["measurements"].get(Measure.RATIO_TO_BASELINE) for c in seen],
            "baseline": m.get(Measure.BASELINE),
            "p99_ms": [c["measurements"].get(Measure.RR_P99_MS) for c in seen],
        }
    dns = [c["measurements"] for c in by_check.get("dns.latency", []) if c["verdict"] == "pass"]
    throughput_spreads = [
        v["spread_over_runs_pct"]
        for k, v in per_check.items()
        if k in THROUGHPUT and "baseline" in v
    ]
    full = statistics.median(seconds for seconds, _ in runs)
    return {
        "runs": len(runs),
        "perf": per_check,
        "dns_latency": [
            {k: d.get(k) for k in (Measure.DNS_P50_MS, Measure.DNS_P99_MS, Measure.SAMPLES)}
            for d in dns
        ],
        "worst_throughput_spread_over_runs_pct": max(throughput_spreads, default=None),
        "throughput_spread_target_pct": SPREAD_TARGET_PCT,
        "perf_checks_seconds_per_run": perf_seconds,
        "full_run_s": [seconds for seconds, _ in runs],
        "run_without_perf_s": without,
        "perf_area_adds_s": round(full - without, 1),
        "cost_target_s": COST_TARGET_S,
        "exit_verdicts": [r["summary"] for _, r in runs],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    lab.down(NAME)
    try:
        lab.up(lab.LabConfig(name=NAME, hosts=3))
        runs = [run() for _ in range(args.runs)]
        without, _ = run("-k", "not perf")
    finally:
        lab.down(NAME)
    print(json.dumps(figures(runs, without), indent=2))


if __name__ == "__main__":
    main()
