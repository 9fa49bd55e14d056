"""The perf area's own figures and cost on the swarm lab (run as root):

    python benchmarks/bench_perf.py [--runs 3] [--keep-results DIR]

`--runs` consecutive full swarm-lab runs on one kept lab, then one run without the perf area
(`-k "not perf"`). Prints, per perf check, each run's main figure, its ratio to the baseline
and the baseline's own figure, each with its spread over the runs ((max - min) / median),
then request/response latency, the DNS latency, where each run's time went, and the area's
cost two ways: the sum of the perf checks' own durations, and the median full run's wall
time minus the run without perf, each less its provisioning (the deployment is the same in
both, but deploying onto the kept lab takes 12 or 36 s from one run to the next).

Targets (issue 12 §5): throughput figures of the runs within 15% of each other; the perf area
adds at most 60 s to a platform run. A shared VM's own speed moves between runs (the host
network's figure moves with the overlay's): the ratio, measured alternately with its
baseline in one check, is the figure that must hold still; the absolute spread is printed
beside it with the baseline's, so a drift of the machine shows as such. On a loaded machine
the difference of two wall times is noisy (one slow run swings it by tens of seconds):
`perf_checks_seconds_per_run`, the perf checks' own durations, is the direct figure.
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
from netconform.lab.config import LabConfig
from netconform.results import Measure
from netconform.stats import spread_pct

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
BASELINE_FIGURE = {
    Measure.MBIT_S: Measure.BASELINE_MBIT_S,
    Measure.RR_P50_MS: Measure.BASELINE_RR_P50_MS,
    Measure.CONNECTIONS_PER_S: Measure.BASELINE_CONNECTIONS_PER_S,
}
THROUGHPUT = {k for k, m in MAIN_FIGURE.items() if m == Measure.MBIT_S}


def run(*extra: str, keep_in: Path | None = None) -> tuple[float, dict[str, Any]]:
    """One `netconform run` on the bench lab (kept): wall seconds and its results.json (the
    whole results directory kept in `keep_in` when given)."""
    with tempfile.TemporaryDirectory() as scratch:
        out = keep_in or Path(scratch)
        argv = [sys.executable, "-m", "netconform.cli", "run", "--platform", "swarm-lab"]
        t0 = time.monotonic()
        subprocess.run(
            [*argv, "--lab-name", NAME, "--keep", "--out", str(out), *extra],
            capture_output=True,
            check=False,
        )
        seconds = round(time.monotonic() - t0, 1)
        return seconds, json.loads((out / "results.json").read_text())


def _over_runs(seen: list[dict[str, Any]], measure: Measure) -> dict[str, Any]:
    values = [float(c["measurements"][measure]) for c in seen]
    return {"values": values, "spread_over_runs_pct": spread_pct(values)}


def _per_check(seen: list[dict[str, Any]], measure: Measure) -> dict[str, Any]:
    """A check's figure, ratio and baseline over the runs that measured it."""
    found: dict[str, Any] = {
        str(measure): _over_runs(seen, measure),
        "ratio_to_baseline": _over_runs(seen, Measure.RATIO_TO_BASELINE),
        "baseline": seen[-1]["measurements"][Measure.BASELINE],
        "baseline_" + str(measure): _over_runs(seen, BASELINE_FIGURE[measure]),
        "within_run_spread_pct": [c["measurements"].get(Measure.SPREAD_PCT) for c in seen],
        "ratio_rounds_spread_pct": [c["measurements"].get(Measure.RATIO_SPREAD_PCT) for c in seen],
    }
    if measure == Measure.RR_P50_MS:
        found["p99_ms"] = [c["measurements"].get(Measure.RR_P99_MS) for c in seen]
    return found


def _worst(per_check: dict[str, Any], key: str) -> float | None:
    spreads = [
        v[key]["spread_over_runs_pct"]
        for check_id, v in per_check.items()
        if check_id in THROUGHPUT and key in v
    ]
    return max(spreads, default=None)


def throughput_verdict(absolute: float | None, ratio: float | None, baseline: float | None) -> str:
    """The §5 target on the worst throughput spreads over the runs, said as it is."""
    if absolute is None or ratio is None:
        return "not measured"
    if absolute <= SPREAD_TARGET_PCT:
        return "met: figures and ratios"
    if ratio <= SPREAD_TARGET_PCT:
        return (
            f"met on the ratios; the absolute figures moved with the machine (baseline {baseline}%)"
        )
    return "missed"


def breakdown(seconds: float, results: dict[str, Any]) -> dict[str, Any]:
    """Where a run's wall time went: provisioning (deploying onto the kept lab), every
    check's own duration, the perf checks' among them; the rest is start-up and teardown."""
    checks = results["checks"]
    return {
        "wall_s": seconds,
        "provision_s": results["platform_info"].get("provision_s"),
        "checks_s": round(sum(c["duration_s"] for c in checks), 1),
        "perf_checks_s": round(sum(c["duration_s"] for c in checks if c["area"] == "perf"), 1),
    }


def _unprovisioned_s(seconds: float, results: dict[str, Any]) -> float:
    return seconds - float(results["platform_info"].get("provision_s") or 0.0)


def figures(
    runs: list[tuple[float, dict[str, Any]]], without: tuple[float, dict[str, Any]]
) -> dict[str, Any]:
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
        if seen:
            per_check[check_id] = _per_check(seen, measure)
        else:
            per_check[check_id] = {"verdicts": [c["verdict"] for c in by_check.get(check_id, [])]}
    dns = [c["measurements"] for c in by_check.get("dns.latency", []) if c["verdict"] == "pass"]
    worst = {
        "absolute": _worst(per_check, str(Measure.MBIT_S)),
        "ratio": _worst(per_check, "ratio_to_baseline"),
        "baseline": _worst(per_check, "baseline_" + str(Measure.MBIT_S)),
    }
    full = statistics.median(_unprovisioned_s(*r) for r in runs)
    return {
        "runs": len(runs),
        "perf": per_check,
        "dns_latency": [
            {k: d.get(k) for k in (Measure.DNS_P50_MS, Measure.DNS_P99_MS, Measure.SAMPLES)}
            for d in dns
        ],
        "worst_throughput_spread_over_runs_pct": worst,
        "throughput_spread_target_pct": SPREAD_TARGET_PCT,
        "throughput_target": throughput_verdict(**worst),
        "ratio_over_target": sorted(
            check_id
            for check_id, v in per_check.items()
            if check_id in THROUGHPUT
            and "ratio_to_baseline" in v
            and v["ratio_to_baseline"]["spread_over_runs_pct"] > SPREAD_TARGET_PCT
        ),
        "perf_checks_seconds_per_run": perf_seconds,
        "full_run_s": [seconds for seconds, _ in runs],
        "where_the_time_went": [breakdown(seconds, results) for seconds, results in runs],
        "run_without_perf_s": without[0],
        "where_the_time_went_without_perf": breakdown(*without),
        "perf_area_adds_s": round(full - _unprovisioned_s(*without), 1),
        "cost_target_s": COST_TARGET_S,
        "exit_verdicts": [r["summary"] for _, r in runs],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep-results", type=Path, help="keep each run's results in DIR/run-N")
    args = parser.parse_args()
    keep: list[Path | None] = [None] * (args.runs + 1)
    if args.keep_results:
        keep = [args.keep_results / f"run-{i + 1}" for i in range(args.runs)]
        keep.append(args.keep_results / "run-without-perf")
    lab.down(NAME)
    try:
        lab.up(LabConfig(name=NAME, hosts=3))
        runs = [run(keep_in=keep[i]) for i in range(args.runs)]
        without = run("-k", "not perf", keep_in=keep[-1])
    finally:
        lab.down(NAME)
    print(json.dumps(figures(runs, without), indent=2))


if __name__ == "__main__":
    main()
