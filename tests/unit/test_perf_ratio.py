"""The ratio to the baseline is the path's best sample over the baseline's best: on a shared
machine other work and the scheduler only ever slow a sample down, so the best samples are
the paths' own capacities; the rounds' own ratios give the spread."""

from __future__ import annotations

import statistics

from netconform.checks.perf_common import Ratio
from netconform.results import Measure


def test_a_slowdown_between_rounds_leaves_the_ratio_alone() -> None:
    speed = [1.0, 0.6, 0.6, 1.0, 1.0]  # the VM ran at 60% for two rounds
    path = [7000.0 * s for s in speed]
    baseline = [10000.0 * s for s in speed]
    path[1] *= 1.02  # one round slightly off, as real samples are
    ratio = Ratio.of_best(path, baseline, max)
    assert ratio.value == 0.7
    assert ratio.spread_pct == 2.0
    # the ratio of the medians carries the slowdown: over four rounds it is off
    assert round(statistics.median(path[:4]) / statistics.median(baseline[:4]), 3) != 0.7
    assert Ratio.of_best(path[:4], baseline[:4], max).value == 0.7


def test_a_sample_slowed_on_one_side_only_leaves_the_ratio_alone() -> None:
    """Loopback at 24 or 12 Gbit/s as iperf3's client and server land on two cores or one:
    two of three rounds caught the baseline on one core and the path on two, and the median
    of the rounds' ratios read 1.26 for a path at 0.69 (a real swarm-lab run)."""
    path = [14639.0, 12390.0, 16230.0]
    baseline = [11660.0, 24101.0, 12736.0]
    assert statistics.median(p / b for p, b in zip(path, baseline, strict=True)) > 1.2
    ratio = Ratio.of_best(path, baseline, max)
    assert ratio.value == 0.673
    assert ratio.spread_pct == 60.6  # the rounds disagreed


def test_a_latency_takes_its_lowest_sample() -> None:
    assert Ratio.of_best([0.07, 0.05, 0.09], [0.04, 0.06, 0.05], min).value == 1.25


def test_no_baseline_figure_gives_no_ratio() -> None:
    ratio = Ratio.of_best([5.0, 6.0], [0.0, 0.0], max)
    assert ratio == Ratio(None, None)
    assert ratio.measured() == {Measure.RATIO_TO_BASELINE: None, Measure.RATIO_SPREAD_PCT: None}


def test_the_reason_names_the_ratio_and_the_rounds_spread() -> None:
    assert str(Ratio.of_best([6.0, 7.0, 8.0], [10.0, 10.0, 10.0], max)) == (
        "ratio 0.8 (rounds spread 28.6%)"
    )
