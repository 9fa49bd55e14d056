"""The ratio to the baseline is taken round by round: a machine that slows down between
rounds moves both samples of a round, so the round's ratio, and their median, hold still."""

from __future__ import annotations

import statistics

from netconform.checks.perf_common import Ratio
from netconform.results import Measure


def test_a_slowdown_between_rounds_leaves_the_ratio_alone() -> None:
    speed = [1.0, 0.6, 0.6, 1.0, 1.0]  # the VM ran at 60% for two rounds
    path = [7000.0 * s for s in speed]
    baseline = [10000.0 * s for s in speed]
    path[1] *= 1.02  # one round slightly off, as real samples are
    ratio = Ratio.of_rounds(path, baseline)
    assert ratio.value == 0.7
    assert ratio.spread_pct == 2.0
    # the ratio of the medians carries the slowdown: over four rounds it is off
    assert round(statistics.median(path[:4]) / statistics.median(baseline[:4]), 3) != 0.7
    assert Ratio.of_rounds(path[:4], baseline[:4]).value == 0.7


def test_no_baseline_figure_gives_no_ratio() -> None:
    ratio = Ratio.of_rounds([5.0, 6.0], [0.0, 0.0])
    assert ratio == Ratio(None, None)
    assert ratio.measured() == {Measure.RATIO_TO_BASELINE: None, Measure.RATIO_SPREAD_PCT: None}


def test_the_reason_names_the_ratio_and_the_rounds_spread() -> None:
    assert str(Ratio.of_rounds([6.0, 7.0, 8.0], [10.0, 10.0, 10.0])) == (
        "ratio 0.7 (rounds spread 28.6%)"
    )
