"""NetworkPolicy truth tables carried by a failed netpol check, and their difference.

A check stores `{"tables": [{"port", "protocol", "rows", "cols", "cells"}]}` in expected and
observed, "." meaning connected and "X" blocked, as in the upstream e2e netpol suite.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from netconform.results import CheckResult, JSONValue

SAME = "."
DIFFERENT = "X"


@dataclass(frozen=True)
class TruthTable:
    port: JSONValue
    protocol: str
    rows: tuple[str, ...]
    cols: tuple[str, ...]
    cells: tuple[tuple[str, ...], ...]

    @property
    def key(self) -> str:
        return f"{self.port}/{self.protocol}"

    def cell(self, row: str, col: str) -> str | None:
        try:
            return self.cells[self.rows.index(row)][self.cols.index(col)]
        except (ValueError, IndexError):
            return None


@dataclass(frozen=True)
class Explained:
    """One probe whose observation differs from the expectation, with the oracle's why."""

    source: str
    destination: str
    expected: str | None
    observed: str | None
    explanation: str


@dataclass(frozen=True)
class TablePair:
    expected: TruthTable | None
    observed: TruthTable | None
    diff: TruthTable | None
    mismatches: tuple[Explained, ...]

    @property
    def key(self) -> str:
        table = self.expected or self.observed
        return table.key if table is not None else "?"


def parse_tables(value: JSONValue) -> tuple[TruthTable, ...] | None:
    """The tables in an expected/observed value, or None when it holds no truth table."""
    if not isinstance(value, Mapping) or not isinstance(value.get("tables"), list):
        return None
    tables: list[TruthTable] = []
    for raw in value["tables"]:
        try:
            tables.append(
                TruthTable(
                    port=raw.get("port"),
                    protocol=str(raw.get("protocol", "TCP")),
                    rows=tuple(str(r) for r in raw["rows"]),
                    cols=tuple(str(c) for c in raw["cols"]),
                    cells=tuple(tuple(str(x) for x in line) for line in raw["cells"]),
                )
            )
        except (AttributeError, KeyError, TypeError):
            return None
    return tuple(tables)


def diff_table(expected: TruthTable, observed: TruthTable) -> TruthTable:
    rows = tuple(r for r in expected.rows if r in observed.rows)
    cols = tuple(c for c in expected.cols if c in observed.cols)
    cells = tuple(
        tuple(SAME if expected.cell(r, c) == observed.cell(r, c) else DIFFERENT for c in cols)
        for r in rows
    )
    return TruthTable(expected.port, expected.protocol, rows, cols, cells)


def table_pairs(check: CheckResult) -> tuple[TablePair, ...]:
    """Expected, observed and difference per port/protocol; empty when the check has none."""
    expected = parse_tables(check.expected) or ()
    observed = parse_tables(check.observed) or ()
    if not expected and not observed:
        return ()
    raw_explanations = check.measurements.get("explanations")
    explanations = raw_explanations if isinstance(raw_explanations, Mapping) else {}
    observed_by_key = {t.key: t for t in observed}
    pairs: list[TablePair] = []
    for exp in expected:
        obs = observed_by_key.pop(exp.key, None)
        diff = diff_table(exp, obs) if obs is not None else None
        mismatches: list[Explained] = []
        if diff is not None and obs is not None:
            for r_index, row in enumerate(diff.rows):
                for c_index, col in enumerate(diff.cols):
                    if diff.cells[r_index][c_index] == DIFFERENT:
                        probe = f"{row}->{col}:{exp.key}"
                        mismatches.append(
                            Explained(
                                source=row,
                                destination=col,
                                expected=exp.cell(row, col),
                                observed=obs.cell(row, col),
                                explanation=str(explanations.get(probe, "")),
                            )
                        )
        pairs.append(TablePair(exp, obs, diff, tuple(mismatches)))
    pairs.extend(TablePair(None, obs, None, ()) for obs in observed_by_key.values())
    return tuple(pairs)
