"""Merge runs into one comparison: checks (rows, grouped by area) x runs (columns).

The renderers (html, markdown, comparison.json) only read the values built here, so they all
show the same matrix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from netconform.errors import InputError
from netconform.results import Area, CheckResult, JSONValue, RunResults, Verdict, read_results

RESULTS_FILE = "results.json"
COMPARISON_SCHEMA = "netconform/comparison/v1"
AREA_ORDER: tuple[Area, ...] = tuple(Area)


@dataclass(frozen=True)
class Column:
    """One run shown as one column of the matrix."""

    label: str
    source: Path
    run: RunResults

    @property
    def crashed(self) -> bool:
        return not self.run.complete

    @property
    def run_time_s(self) -> float | None:
        return run_time_s(self.run.started, self.run.finished)


@dataclass(frozen=True)
class Row:
    """One check across every column; a cell is None when that run has no such check."""

    id: str
    area: Area
    title: str
    cells: tuple[CheckResult | None, ...]

    @property
    def verdicts(self) -> tuple[Verdict | None, ...]:
        return tuple(c.verdict if c is not None else None for c in self.cells)

    @property
    def differs(self) -> bool:
        """True when the platforms do not all agree (a missing check counts as a difference)."""
        return len(set(self.verdicts)) > 1

    @property
    def is_profile(self) -> bool:
        """A legitimate divergence: the check records behaviour rather than conformance."""
        return self.id.startswith("profile.") or any(
            c is not None and c.measurements.get("profile") is True for c in self.cells
        )


@dataclass(frozen=True)
class AreaSummary:
    area: Area
    rows: int
    # one verdict -> count mapping per column
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
        for index, column in enumerate(self.columns):
            tally = {str(v): 0 for v in Verdict} | {"missing": 0, "not-reached": 0}
            absent = "not-reached" if column.crashed else "missing"
            for row in rows:
                cell = row.cells[index]
                tally[str(cell.verdict) if cell is not None else absent] += 1
            counts.append(tally)
        return AreaSummary(area=area, rows=len(rows), counts=tuple(counts))

    @property
    def differing_rows(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if r.differs)

    @property
    def profile_rows(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if r.is_profile)


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


def merge_runs(runs: Sequence[tuple[Path, RunResults]]) -> Comparison:
    labels = column_labels([run for _, run in runs])
    columns = tuple(
        Column(label=label, source=source, run=run)
        for label, (source, run) in zip(labels, runs, strict=True)
    )
    by_column = [{c.id: c for c in col.run.checks} for col in columns]
    firsts: dict[str, CheckResult] = {}
    for col in columns:
        for check in col.run.checks:
            firsts.setdefault(check.id, check)
    area_rank = {a: i for i, a in enumerate(AREA_ORDER)}
    ordered = sorted(firsts.values(), key=lambda c: (area_rank[c.area], c.id))
    rows = tuple(
        Row(
            id=first.id,
            area=first.area,
            title=next(
                (m[first.id].title for m in by_column if first.id in m and m[first.id].title), ""
            ),
            cells=tuple(m.get(first.id) for m in by_column),
        )
        for first in ordered
    )
    return Comparison(columns=columns, rows=rows)


def comparison_to_json(comparison: Comparison) -> dict[str, JSONValue]:
    """comparison.json: every run's header plus each check's results keyed by column label."""
    return {
        "schema": COMPARISON_SCHEMA,
        "columns": [
            {
                "label": col.label,
                "source": str(col.source),
                "platform": col.run.platform,
                "platform_info": dict(col.run.platform_info),
                "started": col.run.started,
                "finished": col.run.finished,
                "complete": col.run.complete,
                "run_time_s": col.run_time_s,
                "summary": col.run.summary,
            }
            for col in comparison.columns
        ],
        "checks": [
            {
                "id": row.id,
                "area": str(row.area),
                "title": row.title,
                "differs": row.differs,
                "profile": row.is_profile,
                "results": {
                    col.label: (cell.to_json() if cell is not None else None)
                    for col, cell in zip(comparison.columns, row.cells, strict=True)
                },
            }
            for row in comparison.rows
        ],
        "areas": {
            str(area): {
                col.label: dict(counts)
                for col, counts in zip(
                    comparison.columns, comparison.area_summary(area).counts, strict=True
                )
            }
            for area in comparison.areas
        },
    }
