from __future__ import annotations

from pathlib import Path

from netconform.report.truth_tables import DIFFERENT, SAME, diff_table, parse_tables, table_pairs
from netconform.results import Area, CheckResult, Verdict, read_results


def _table(cells: list[list[str]], port: int = 80) -> dict[str, object]:
    return {
        "port": port,
        "protocol": "TCP",
        "rows": ["x/a", "x/b"],
        "cols": ["y/a", "y/b"],
        "cells": cells,
    }


def _check(expected: object, observed: object, explanations: object = None) -> CheckResult:
    return CheckResult(
        id="netpol.case",
        area=Area.NETPOL,
        title="",
        verdict=Verdict.FAIL,
        reason="",
        duration_s=0,
        expected=expected,
        observed=observed,
        measurements={"explanations": explanations} if explanations is not None else {},
    )


def test_diff_marks_only_mismatching_probes() -> None:
    (expected,) = parse_tables({"tables": [_table([[".", "X"], ["X", "X"]])]}) or ()
    (observed,) = parse_tables({"tables": [_table([[".", "."], ["X", "X"]])]}) or ()
    diff = diff_table(expected, observed)
    assert diff.cells == ((SAME, DIFFERENT), (SAME, SAME))


def test_pairs_carry_explanations_by_probe_key() -> None:
    check = _check(
        {"tables": [_table([[".", "X"], ["X", "X"]])]},
        {"tables": [_table([[".", "."], ["X", "X"]])]},
        {"x/a->y/b:80/TCP": "no rule selects x/a"},
    )
    (pair,) = table_pairs(check)
    (mismatch,) = pair.mismatches
    assert (mismatch.source, mismatch.destination) == ("x/a", "y/b")
    assert (mismatch.expected, mismatch.observed) == ("X", ".")
    assert mismatch.explanation == "no rule selects x/a"


def test_tables_matched_by_port_and_unmatched_kept() -> None:
    check = _check(
        {"tables": [_table([[".", "."], [".", "."]], port=80)]},
        {"tables": [_table([[".", "."], [".", "."]], port=81)]},
    )
    pairs = table_pairs(check)
    assert [(p.expected is not None, p.observed is not None) for p in pairs] == [
        (True, False),
        (False, True),
    ]
    assert all(p.diff is None for p in pairs)


def test_no_tables_or_malformed_gives_nothing() -> None:
    assert table_pairs(_check(None, None)) == ()
    assert table_pairs(_check({"verdicts": 3}, "text")) == ()
    assert parse_tables({"tables": [{"port": 80}]}) is None


def test_fixture_named_port_failure(fixture_dirs: list[Path]) -> None:
    run = read_results(fixture_dirs[2] / "results.json")
    check = next(c for c in run.checks if c.id == "netpol.upstream.named-port")
    (pair,) = table_pairs(check)
    assert pair.key == "80/TCP"
    assert [(m.source, m.destination) for m in pair.mismatches] == [
        ("z/a", "y/a"),
        ("z/b", "y/a"),
        ("z/c", "y/a"),
    ]
    assert all("namespace z" in m.explanation for m in pair.mismatches)
