"""benchmarks/bench_perf.py's arithmetic on the golden swarm-lab run (written by the real
checks): the spread over runs of each figure, its ratio and its baseline, and the verdict on
the issue's 15% target, which tells a machine that drifted (figure and baseline move
together, the ratio holds) from a path that did not hold still."""

from __future__ import annotations

import copy
import json
from typing import Any

from benchmarks import bench_perf

from netconform.results import Measure

from .support import DATA

SCALED = (Measure.MBIT_S, Measure.BASELINE_MBIT_S)


def _golden() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / "swarm-lab" / "results.json").read_text())
    return data


def _scaled(results: dict[str, Any], factor: float, keys: tuple[Measure, ...]) -> dict[str, Any]:
    """The same run on a machine `factor` as fast: every throughput figure in `keys` scaled,
    and the ratio (best over best, so exactly) by the path's factor over the baseline's."""
    out = copy.deepcopy(results)
    path = factor if Measure.MBIT_S in keys else 1.0
    baseline = factor if Measure.BASELINE_MBIT_S in keys else 1.0
    for check in out["checks"]:
        m = check["measurements"]
        if check["area"] != "perf" or Measure.MBIT_S not in m:
            continue
        for key in keys:
            m[key] = round(m[key] * factor, 1)
        m[Measure.RATIO_TO_BASELINE] = round(m[Measure.RATIO_TO_BASELINE] * path / baseline, 3)
    return out


def test_a_machine_that_slowed_down_moves_the_figures_not_the_ratios() -> None:
    golden = _golden()
    runs = [(100.0, golden), (101.0, golden), (99.0, _scaled(golden, 0.8, SCALED))]
    found = bench_perf.figures(runs, (60.0, golden))
    cross = found["perf"]["perf.tcp.cross-host"]
    assert cross["mbit_s"]["spread_over_runs_pct"] == 20.0
    assert cross["baseline_mbit_s"]["spread_over_runs_pct"] == 20.0
    assert cross["ratio_to_baseline"]["spread_over_runs_pct"] <= 0.2  # rounding only
    assert cross["baseline"] == "host network"
    assert found["perf"]["perf.bridge.same-host"]["baseline"] == "host loopback"
    worst = found["worst_throughput_spread_over_runs_pct"]
    assert worst["absolute"] == 20.0 and worst["ratio"] <= 0.2
    assert found["throughput_target"].startswith("met on the ratios")
    assert found["perf_area_adds_s"] == 40.0


def test_a_path_that_moved_alone_misses_the_target() -> None:
    golden = _golden()
    slower = _scaled(golden, 0.8, (Measure.MBIT_S,))  # the baseline held still
    found = bench_perf.figures([(100.0, golden), (100.0, golden), (100.0, slower)], (60.0, golden))
    assert found["worst_throughput_spread_over_runs_pct"]["ratio"] >= 19.9
    assert found["throughput_target"] == "missed"
    assert "perf.tcp.cross-host.streams" in found["ratio_over_target"]


def test_steady_runs_meet_it_on_both() -> None:
    golden = _golden()
    found = bench_perf.figures([(100.0, golden)] * 3, (60.0, golden))
    assert found["worst_throughput_spread_over_runs_pct"]["absolute"] == 0.0
    assert found["throughput_target"] == "met: figures and ratios"
    assert found["ratio_over_target"] == []
    assert found["perf"]["perf.tcp.cross-host"]["ratio_rounds_spread_pct"] == [0.0] * 3
    assert found["perf"]["perf.tcp.vip"]["ratio_to_baseline"]["values"] == [0.623] * 3


def test_where_a_runs_time_went() -> None:
    timed = _golden()
    timed["platform_info"]["provision_s"] = 20.0
    for check in timed["checks"]:
        check["duration_s"] = 2.0 if check["area"] == "perf" else 0.5
    perf = sum(c["area"] == "perf" for c in timed["checks"])
    other = len(timed["checks"]) - perf
    found = bench_perf.breakdown(100.0, timed)
    assert found == {
        "wall_s": 100.0,
        "provision_s": 20.0,
        "checks_s": 2.0 * perf + 0.5 * other,
        "perf_checks_s": 2.0 * perf,
    }
    without = copy.deepcopy(timed)
    without["platform_info"]["provision_s"] = 45.0  # deploying took 25 s longer this time
    for check in without["checks"]:
        check["duration_s"] = 0.0 if check["area"] == "perf" else 0.5
    figures = bench_perf.figures([(100.0, timed)] * 3, (65.0, without))
    assert figures["where_the_time_went"] == [found] * 3
    # 100 - 20 s against 65 - 45 s: the slower deployment is not the perf area's
    assert figures["perf_area_adds_s"] == 60.0
    assert figures["where_the_time_went_without_perf"]["provision_s"] == 45.0


def test_a_check_that_did_not_pass_is_reported_by_its_verdicts() -> None:
    golden = _golden()
    skipped = copy.deepcopy(golden)
    vip = next(c for c in skipped["checks"] if c["id"] == "perf.tcp.vip")
    vip.update(verdict="skip", measurements={})  # a kernel without IPVS
    found = bench_perf.figures([(100.0, golden), (100.0, skipped)], (60.0, golden))
    assert found["perf"]["perf.tcp.vip"]["ratio_to_baseline"]["values"] == [0.623]
    found = bench_perf.figures([(100.0, skipped)] * 2, (60.0, golden))
    assert found["perf"]["perf.tcp.vip"] == {"verdicts": ["skip", "skip"]}
