"""Merge runs into one comparison: aspects (rows, grouped by area) x runs (columns).

A row is one aspect, the family-neutral thing a check tests; each cell is the check of that
column's platform testing it, under the platform's own check id. The renderers (html, markdown,
comparison.json) only read the values built here, so they all show the same matrix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from netconform.aspects import STATIC
from netconform.errors import InputError
from netconform.results import (
    PROVISIONING_ERROR,
    Area,
    CheckResult,
    JSONValue,
    RunResults,
    RunStatus,
    read_results,
)

RESULTS_FILE = "results.json"
COMPARISON_SCHEMA = "netconform/comparison/v2"
AREA_ORDER: tuple[Area, ...] = tuple(Area)


class CellState(StrEnum):
    """What one cell shows: a verdict, or why the column has no check of the row's aspect."""

    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"
    ERROR = "error"
    # the column's family has a check of this aspect (another run of it shows one), this
    # complete run does not: a narrower selection or an older catalogue
    NOT_RUN = "not-run"
    # the run stopped (crashed, interrupted, never provisioned) before it got there
    NOT_REACHED = "not-reached"
    # the platform's family has no check of this aspect: nothing to compare, not a difference
    NOT_APPLICABLE = "not-applicable"


_NOT_COMPARED = frozenset({CellState.NOT_APPLICABLE, CellState.NOT_REACHED})

# How a run ended, as every renderer says it.
STATUS_WORDS: Mapping[RunStatus, str] = {
    RunStatus.COMPLETE: "complete",
    RunStatus.INTERRUPTED: "interrupted",
    RunStatus.CRASHED: "crashed",
    RunStatus.NOT_PROVISIONED: "not provisioned",
}


@dataclass(frozen=True)
class Column:
    """One run shown as one column of the matrix."""

    label: str
    source: Path
    run: RunResults

    @property
    def incomplete(self) -> bool:
        """The run stopped before its end (crashed, interrupted or never provisioned): what
        it has no check of it never reached. `status` says which."""
        return not self.run.complete

    @property
    def status(self) -> RunStatus:
        return self.run.status

    @property
    def ending(self) -> str:
        """How the run ended, and the planned checks it never ran when it recorded them:
        `interrupted, 29 checks not run`."""
        word = STATUS_WORDS[self.run.status]
        missing = len(self.run.not_run)
        if not missing:
            return word
        return f"{word}, {missing} {'check' if missing == 1 else 'checks'} not run"

    @property
    def provisioning_error(self) -> str | None:
        """Why the platform could not be provisioned (the run then recorded no check)."""
        error = self.run.platform_info.get(PROVISIONING_ERROR)
        return str(error) if error is not None and self.incomplete else None

    @property
    def family(self) -> str | None:
        """The family of the run's checks; None for a run that recorded none."""
        return next((str(c.family) for c in self.run.checks), None)

    @property
    def run_time_s(self) -> float | None:
        return run_time_s(self.run.started, self.run.finished)


@dataclass(frozen=True)
class Row:
    """One aspect across every column; a cell is None when that run has no check of it."""

    aspect: str
    area: Area
    title: str
    cells: tuple[CheckResult | None, ...]
    states: tuple[CellState, ...]

    @property
    def differs(self) -> bool:
        """True when the platforms that have this aspect do not all agree. A check a complete
        run did not run counts as a difference; a family without the aspect does not, nor does
        a run that never got there (it crashed or was never provisioned: its banner says so,
        and a platform that measured nothing would otherwise make every row differ)."""
        compared = {s for s in self.states if s not in _NOT_COMPARED}
        return len(compared) > 1

    @property
    def profile(self) -> bool:
        """A legitimate divergence: the checks record behaviour rather than conformance."""
        return any(c is not None and c.profile for c in self.cells)

    @property
    def shared(self) -> bool:
        """Every column has a verdict for this aspect."""
        return all(c is not None for c in self.cells)


@dataclass(frozen=True)
class AreaSummary:
    area: Area
    rows: int
    # one state -> count mapping per column
    counts: tuple[Mapping[str, int], ...]


@dataclass(frozen=True)
class Comparison:
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]

    @property
    def areas(self) -> tuple[Area, ...]:
        present = {r.area for r in self.rows}
        return tuple(a for a in AREA_ORDER if a in present)

    def rows_in(self, area: Area) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if r.area == area)

    def area_summary(self, area: Area) -> AreaSummary:
        rows = self.rows_in(area)
        counts: list[dict[str, int]] = []
        for index in range(len(self.columns)):
            tally = {str(s): 0 for s in CellState}
            for row in rows:
                tally[row.states[index]] += 1
            counts.append(tally)
        return AreaSummary(area=area, rows=len(rows), counts=tuple(counts))

    @property
    def differing_rows(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if r.differs)

    @property
    def profile_rows(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if r.profile)


def run_time_s(started: str, finished: str | None) -> float | None:
    if not finished:
        return None
    try:
        return (_parse_time(finished) - _parse_time(started)).total_seconds()
    except ValueError:
        return None


def _parse_time(text: str) -> datetime:
    # fromisoformat in 3.11 accepts the trailing "Z" too
    return datetime.fromisoformat(text)


def results_path(run_dir: Path) -> Path:
    """RUN_DIR may name the run directory or its results.json directly."""
    if run_dir.is_file():
        return run_dir
    if not run_dir.exists():
        raise InputError(f"{run_dir}: no such run directory")
    return run_dir / RESULTS_FILE


def load_runs(run_dirs: Sequence[Path]) -> list[tuple[Path, RunResults]]:
    if not run_dirs:
        raise InputError("report: at least one RUN_DIR is needed")
    return [(d, read_results(results_path(d))) for d in run_dirs]


def column_labels(runs: Sequence[RunResults]) -> list[str]:
    """The platform name, made unique with the start time when a platform appears twice."""
    labels = [r.platform for r in runs]
    repeated = {p for p in labels if labels.count(p) > 1}
    labels = [
        f"{r.platform} {r.started[:16]}" if r.platform in repeated else r.platform for r in runs
    ]
    seen: dict[str, int] = {}
    unique: list[str] = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        unique.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return unique


def _by_row_key(checks: Iterable[CheckResult]) -> dict[str, CheckResult]:
    """A run's checks keyed by aspect. A second check of one aspect in the same run (the aspect
    table forbids it within a family) keeps its own row, under its check id, rather than
    hiding the first."""
    keyed: dict[str, CheckResult] = {}
    for check in checks:
        keyed[check.aspect if check.aspect not in keyed else check.id] = check
    return keyed


def _absent_state(column: Column, families_with_it: set[str | None]) -> CellState:
    if column.family is None:
        return CellState.NOT_REACHED if column.incomplete else CellState.NOT_APPLICABLE
    if column.family not in families_with_it:
        return CellState.NOT_APPLICABLE
    return CellState.NOT_REACHED if column.incomplete else CellState.NOT_RUN


def merge_runs(runs: Sequence[tuple[Path, RunResults]]) -> Comparison:
    labels = column_labels([run for _, run in runs])
    columns = tuple(
        Column(label=label, source=source, run=run)
        for label, (source, run) in zip(labels, runs, strict=True)
    )
    by_column = [_by_row_key(col.run.checks) for col in columns]
    firsts: dict[str, CheckResult] = {}
    for keyed in by_column:
        for key, check in keyed.items():
            firsts.setdefault(key, check)
    rows = [_row(key, first, columns, by_column) for key, first in firsts.items()]
    area_rank = {a: i for i, a in enumerate(AREA_ORDER)}
    rows.sort(key=lambda r: (area_rank[r.area], r.aspect))
    return Comparison(columns=columns, rows=tuple(rows))


def _row(
    key: str,
    first: CheckResult,
    columns: Sequence[Column],
    by_column: Sequence[Mapping[str, CheckResult]],
) -> Row:
    cells = tuple(keyed.get(key) for keyed in by_column)
    families = {col.family for col, cell in zip(columns, cells, strict=True) if cell}
    states = tuple(
        CellState(cell.verdict) if cell is not None else _absent_state(col, families)
        for col, cell in zip(columns, cells, strict=True)
    )
    # the table's family-neutral title; a NetworkPolicy case's is its checks' own
    known = STATIC.get(key)
    title = known.title if known else next((c.title for c in cells if c and c.title), "")
    return Row(key, known.area if known else first.area, title, cells, states)


def _cell_json(check: CheckResult) -> dict[str, JSONValue]:
    """A check as one cell: the platform's own id, then its result (the row holds the rest)."""
    data = check.to_json()
    return {"check_id": check.id} | {
        k: v for k, v in data.items() if k not in ("id", "aspect", "area")
    }


def _platform_json(col: Column) -> dict[str, JSONValue]:
    return {
        "label": col.label,
        "source": str(col.source),
        "platform": col.run.platform,
        "family": col.family,
        "platform_info": dict(col.run.platform_info),
        "started": col.run.started,
        "finished": col.run.finished,
        "complete": col.run.complete,
        "status": str(col.run.status),
        "not_run": list(col.run.not_run),
        "provisioning_error": col.provisioning_error,
        "run_time_s": col.run_time_s,
        "summary": col.run.summary,
    }


def _row_json(columns: Sequence[Column], row: Row) -> dict[str, JSONValue]:
    cells = list(zip(columns, row.cells, row.states, strict=True))
    return {
        "aspect": row.aspect,
        "area": str(row.area),
        "title": row.title,
        "differs": row.differs,
        "profile": row.profile,
        "cells": {col.label: _cell_json(cell) if cell else None for col, cell, _ in cells},
        "absent": {col.label: str(state) for col, cell, state in cells if cell is None},
    }


def comparison_to_json(comparison: Comparison) -> dict[str, JSONValue]:
    """comparison.json: every run's header, then one row per aspect with a cell per platform
    (null where the platform has no check of it; `absent` says why)."""
    columns = comparison.columns
    return {
        "schema": COMPARISON_SCHEMA,
        "platforms": [_platform_json(col) for col in columns],
        "rows": [_row_json(columns, row) for row in comparison.rows],
        "areas": {
            str(area): {
                col.label: dict(counts)
                for col, counts in zip(columns, comparison.area_summary(area).counts, strict=True)
            }
            for area in comparison.areas
        },
    }
