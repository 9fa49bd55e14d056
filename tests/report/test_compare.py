from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from netconform.errors import InputError
from netconform.report.compare import (
    COMPARISON_SCHEMA,
    CellState,
    comparison_to_json,
    load_runs,
    merge_runs,
    run_time_s,
)
from netconform.results import SCHEMA_V1, Area, Verdict, read_results

from .built import (
    CANARY,
    CROSS_HOST,
    DF_OVER,
    HAIRPIN,
    NAMED_PORT,
    SWARM_ONLY,
    check,
    k8s,
    run,
    sample_runs,
    write_run,
)

PATH = Path("runs")


def test_one_row_per_aspect_with_each_platforms_own_check_id() -> None:
    comparison = merge_runs([(PATH, r) for r in sample_runs()])
    assert [c.label for c in comparison.columns] == [
        "swarm-lab",
        "kind-flannel",
        "kind-calico",
        "kind-cilium",
    ]
    rows = {r.aspect: r for r in comparison.rows}
    assert len(rows) == len(comparison.rows)
    cross = rows[CROSS_HOST]
    assert [c.id if c else None for c in cross.cells] == [
        "reachability.cross-host.tcp",
        "k8s.reach.pod-to-pod.cross-node",
        "k8s.reach.pod-to-pod.cross-node",
        "k8s.reach.pod-to-pod.cross-node",
    ]
    assert cross.states == (CellState.PASS,) * 4
    assert not cross.differs
    assert cross.shared
    # the family-neutral title of the aspect table, not one family's check title
    assert cross.title == "Endpoint to endpoint across hosts (tcp)"


def test_rows_grouped_by_area_in_canonical_order() -> None:
    comparison = merge_runs([(PATH, r) for r in sample_runs()])
    sequence = [r.area for r in comparison.rows]
    blocks = [a for i, a in enumerate(sequence) if i == 0 or sequence[i - 1] != a]
    assert blocks == list(comparison.areas)
    assert comparison.areas == tuple(a for a in Area if a in set(sequence))
    mtu = [r.aspect for r in comparison.rows_in(Area.MTU)]
    assert mtu == sorted(mtu)


def test_absent_cells_say_why() -> None:
    comparison = merge_runs([(PATH, r) for r in sample_runs()])
    rows = {r.aspect: r for r in comparison.rows}
    # a Swarm-only aspect: the Kubernetes platforms have no check of it
    assert rows[SWARM_ONLY].states == (
        CellState.PASS,
        CellState.NOT_APPLICABLE,
        CellState.NOT_APPLICABLE,
        CellState.NOT_APPLICABLE,
    )
    assert not rows[SWARM_ONLY].differs  # nothing to compare it with
    # a Kubernetes aspect the crashed cilium run never reached; Swarm has none
    assert rows[CANARY].states == (
        CellState.NOT_APPLICABLE,
        CellState.FAIL,
        CellState.PASS,
        CellState.NOT_REACHED,
    )
    assert rows[CANARY].differs  # flannel and calico disagree


def test_a_run_that_never_got_there_is_not_a_difference() -> None:
    comparison = merge_runs([(PATH, r) for r in sample_runs()])
    rows = {r.aspect: r for r in comparison.rows}
    # the crashed run reached the cross-host check, not the canary; the others agree on it
    reached = [r for r in comparison.rows if r.states[3] is CellState.NOT_REACHED]
    agreeing = [
        r for r in reached if len({s for s in r.states[:3]} - {CellState.NOT_APPLICABLE}) == 1
    ]
    assert agreeing, "the sample has rows only the crashed run lacks"
    assert not any(r.differs for r in agreeing)
    assert rows[CANARY] not in agreeing


def test_a_complete_run_without_its_familys_check_is_not_run() -> None:
    full = run("kind-calico", [k8s("k8s.a", CROSS_HOST), k8s("k8s.b", CANARY)])
    narrow = run("kind-flannel", [k8s("k8s.a", CROSS_HOST)])
    (row,) = [r for r in merge_runs([(PATH, full), (PATH, narrow)]).rows if r.aspect == CANARY]
    assert row.states == (CellState.PASS, CellState.NOT_RUN)
    assert row.differs


def test_differs_compares_verdicts_per_aspect() -> None:
    comparison = merge_runs([(PATH, r) for r in sample_runs()[:3]])
    rows = {r.aspect: r for r in comparison.rows}
    assert rows[DF_OVER].states == (CellState.FAIL, CellState.PASS, CellState.PASS)
    assert rows[DF_OVER].differs
    assert not rows[CROSS_HOST].differs
    # calico measured another effective MTU on df-at-limit, but the verdicts agree
    assert {r.aspect for r in comparison.differing_rows} == {DF_OVER, HAIRPIN, CANARY, NAMED_PORT}


def test_profile_rows_come_from_the_profile_field() -> None:
    comparison = merge_runs([(PATH, r) for r in sample_runs()])
    assert [r.aspect for r in comparison.profile_rows] == [HAIRPIN]
    # an id that merely looks like a profile is not one
    lookalike = run(
        "swarm-lab", [check("profile.hairpin", "profile.hairpin", area=Area.REACHABILITY)]
    )
    assert merge_runs([(PATH, lookalike)]).profile_rows == ()


def test_second_check_of_one_aspect_in_a_run_keeps_its_own_row() -> None:
    doubled = run("swarm-lab", [check("a.one", CROSS_HOST), check("a.two", CROSS_HOST)])
    rows = merge_runs([(PATH, doubled)]).rows
    assert sorted((r.aspect, r.cells[0].id) for r in rows if r.cells[0]) == [
        ("a.two", "a.two"),
        (CROSS_HOST, "a.one"),
    ]


def test_v1_results_read_with_the_id_as_aspect(tmp_path: Path) -> None:
    results = run("swarm-lab", [check("reachability.cross-host.tcp", CROSS_HOST)])
    v2_dir = write_run(tmp_path, results)
    data = json.loads((v2_dir / "results.json").read_text())
    # what a v1 writer wrote: no aspect, family, profile or netpol
    data["schema"] = SCHEMA_V1
    for entry in data["checks"]:
        for key in ("aspect", "family", "profile", "netpol"):
            del entry[key]
    v1_dir = tmp_path / "v1"
    v1_dir.mkdir()
    (v1_dir / "results.json").write_text(json.dumps(data))
    comparison = merge_runs(load_runs([v1_dir, v2_dir]))
    # v1 has no aspects: its rows are its ids, so they line up with v1 runs only
    assert sorted((r.aspect, r.states) for r in comparison.rows) == [
        ("reachability.cross-host.tcp", (CellState.PASS, CellState.NOT_RUN)),
        (CROSS_HOST, (CellState.NOT_RUN, CellState.PASS)),
    ]
    assert comparison.columns[0].family == "swarm"  # from the id, as v1 ids said it


def test_area_summary_counts_add_up() -> None:
    comparison = merge_runs([(PATH, r) for r in sample_runs()])
    for area in comparison.areas:
        summary = comparison.area_summary(area)
        for counts in summary.counts:
            assert sum(counts.values()) == summary.rows
    netpol = comparison.area_summary(Area.NETPOL)
    assert netpol.counts[0]["not-applicable"] == 2
    assert netpol.counts[1]["fail"] == 1  # flannel's canary
    assert netpol.counts[1]["skip"] == 1
    assert netpol.counts[3]["not-reached"] == 2


def test_same_platform_twice_gets_distinct_columns() -> None:
    swarm = sample_runs()[0]
    later = replace(swarm, started="2025-11-26T02:00:04+00:00")
    comparison = merge_runs([(PATH, swarm), (PATH, later), (PATH, later)])
    assert [c.label for c in comparison.columns] == [
        "swarm-lab 2025-11-25T02:00",
        "swarm-lab 2025-11-26T02:00",
        "swarm-lab 2025-11-26T02:00 #2",
    ]


def test_comparison_json_rows_by_aspect(sample_dirs: list[Path]) -> None:
    comparison = merge_runs(load_runs(sample_dirs))
    data = json.loads(json.dumps(comparison_to_json(comparison)))
    assert data["schema"] == COMPARISON_SCHEMA == "netconform/comparison/v2"
    assert [p["label"] for p in data["platforms"]] == [c.label for c in comparison.columns]
    assert [p["family"] for p in data["platforms"]] == [
        "swarm",
        "kubernetes",
        "kubernetes",
        "kubernetes",
    ]
    assert [p["complete"] for p in data["platforms"]] == [True, True, True, False]
    rows = {r["aspect"]: r for r in data["rows"]}
    assert len(rows) == len(comparison.rows)
    named = rows[NAMED_PORT]
    assert named["area"] == "netpol"
    calico = named["cells"]["kind-calico"]
    assert calico["check_id"] == "k8s.netpol.upstream.named-port"
    assert calico["verdict"] == "fail"
    assert calico["netpol"]["steps"][1]["tables"][0]["observed"][2][0] == "e"  # error
    assert named["cells"]["swarm-lab"] is None
    assert named["cells"]["kind-cilium"] is None
    assert named["absent"] == {"swarm-lab": "not-applicable", "kind-cilium": "not-reached"}
    assert rows[HAIRPIN]["profile"] is True
    assert rows[DF_OVER]["differs"] is True
    assert data["areas"]["netpol"]["kind-flannel"]["fail"] == 1


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


def test_results_file_may_be_named_directly(sample_dirs: list[Path]) -> None:
    ((path, results),) = load_runs([sample_dirs[0] / "results.json"])
    assert results.platform == "swarm-lab"
    assert path.name == "results.json"
    assert read_results(path).checks[0].verdict is Verdict.PASS


def test_a_result_built_without_an_aspect_is_its_own_row() -> None:
    bare = replace(check("dns.x", "dns.service.a"), aspect="")
    (row,) = merge_runs([(PATH, run("swarm-lab", [bare]))]).rows
    assert row.aspect == "dns.x"
