from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from netconform.errors import InputError
from netconform.report.compare import (
    COMPARISON_SCHEMA,
    comparison_to_json,
    load_runs,
    merge_runs,
    run_time_s,
)
from netconform.report.key_measurements import key_measurement_rows
from netconform.results import Area, Verdict, read_results


def test_columns_follow_argument_order_and_rows_group_by_area(fixture_dirs: list[Path]) -> None:
    comparison = merge_runs(load_runs(fixture_dirs))
    assert [c.label for c in comparison.columns] == [
        "swarm-lab",
        "kind-flannel",
        "kind-calico",
        "kind-cilium",
    ]
    area_sequence = [r.area for r in comparison.rows]
    # grouped: each area appears in one contiguous block, in the canonical order
    blocks = [a for i, a in enumerate(area_sequence) if i == 0 or area_sequence[i - 1] != a]
    assert blocks == list(comparison.areas)
    assert comparison.areas == tuple(a for a in Area if a in set(area_sequence))
    ids = [r.id for r in comparison.rows]
    assert len(ids) == len(set(ids))


def test_crashed_run_is_kept_and_marked(fixture_dirs: list[Path]) -> None:
    comparison = merge_runs(load_runs(fixture_dirs))
    cilium = comparison.columns[3]
    assert cilium.crashed
    assert cilium.run.finished is None
    assert cilium.run_time_s is None
    assert not any(c.crashed for c in comparison.columns[:3])
    row = next(r for r in comparison.rows if r.id == "perf.throughput.cross-host")
    assert row.cells[3] is None
    assert row.differs
    summary = comparison.area_summary(Area.PERF)
    assert summary.counts[3]["not-reached"] == 1
    assert summary.counts[0]["missing"] == 0


def test_differs_and_profile(fixture_dirs: list[Path]) -> None:
    comparison = merge_runs(load_runs(fixture_dirs[:3]))
    rows = {r.id: r for r in comparison.rows}
    assert not rows["reachability.cross-host.tcp"].differs
    assert rows["mtu.pmtu.df-over-limit"].differs
    assert rows["mtu.pmtu.df-over-limit"].verdicts == (Verdict.FAIL, Verdict.PASS, Verdict.PASS)
    # by id prefix, and by the measurement flag on a check without the prefix
    assert rows["profile.service.hairpin"].is_profile
    assert rows["netpol.ipblock.pod-ip"].is_profile
    assert not rows["netpol.enforcement.canary"].is_profile
    assert {r.id for r in comparison.profile_rows} == {
        "profile.service.hairpin",
        "netpol.ipblock.pod-ip",
    }


def test_area_summary_counts_add_up(fixture_dirs: list[Path]) -> None:
    comparison = merge_runs(load_runs(fixture_dirs))
    for area in comparison.areas:
        summary = comparison.area_summary(area)
        for counts in summary.counts:
            assert sum(counts.values()) == summary.rows
    netpol = comparison.area_summary(Area.NETPOL)
    assert netpol.counts[1]["fail"] == 1  # flannel: the canary, reported once
    assert netpol.counts[1]["skip"] == 6  # five cases, and the ipBlock profile


def test_same_platform_twice_gets_distinct_columns(
    tmp_path: Path, fixture_dirs: list[Path]
) -> None:
    run = read_results(fixture_dirs[0] / "results.json")
    later = replace(run, started="2025-11-26T02:00:04+00:00")
    comparison = merge_runs([(fixture_dirs[0], run), (tmp_path, later), (tmp_path, later)])
    labels = [c.label for c in comparison.columns]
    assert labels == [
        "swarm-lab 2025-11-25T02:00",
        "swarm-lab 2025-11-26T02:00",
        "swarm-lab 2025-11-26T02:00 #2",
    ]


def test_comparison_json_is_complete(fixture_dirs: list[Path]) -> None:
    comparison = merge_runs(load_runs(fixture_dirs))
    data = json.loads(json.dumps(comparison_to_json(comparison)))
    assert data["schema"] == COMPARISON_SCHEMA
    assert [c["complete"] for c in data["columns"]] == [True, True, True, False]
    assert data["columns"][3]["finished"] is None
    assert len(data["checks"]) == len(comparison.rows)
    named = next(c for c in data["checks"] if c["id"] == "netpol.upstream.named-port")
    assert named["results"]["kind-calico"]["verdict"] == "fail"
    assert named["results"]["kind-cilium"] is None
    assert named["results"]["kind-calico"]["expected"]["tables"][0]["port"] == 80
    assert data["areas"]["netpol"]["kind-flannel"]["fail"] == 1


def test_key_measurements_one_row_each(fixture_dirs: list[Path]) -> None:
    rows = key_measurement_rows(merge_runs(load_runs(fixture_dirs)))
    by_label = {r.label: r for r in rows}
    assert by_label["Run time"].values == (397.0, 682.0, 837.0, None)
    assert by_label["Effective MTU"].check_id == "mtu.effective"
    assert by_label["Effective MTU"].values == (1450, 1450, 1480, 1450)
    assert by_label["DNS latency p99"].values == (2.9, 4.8, 3.7, 2.1)
    assert by_label["Policy enforcement latency"].check_id == "netpol.enforcement.canary"
    assert by_label["Policy enforcement latency"].values == (None, None, 1.8, 0.9)
    assert len(rows) == len(by_label)


def test_run_time_handles_z_suffix_and_garbage() -> None:
    assert run_time_s("2025-11-25T02:00:00Z", "2025-11-25T02:01:30Z") == 90.0
    assert run_time_s("2025-11-25T02:00:00Z", None) is None
    assert run_time_s("yesterday", "today") is None


def test_missing_run_dir_is_input_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(InputError, match="nope: no such run directory"):
        load_runs([missing])


def test_dir_without_results_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"results\.json: no such results file"):
        load_runs([tmp_path])


def test_results_file_may_be_named_directly(fixture_dirs: list[Path]) -> None:
    ((path, run),) = load_runs([fixture_dirs[0] / "results.json"])
    assert run.platform == "swarm-lab"
    assert path.name == "results.json"
