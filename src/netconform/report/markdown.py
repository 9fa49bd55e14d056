"""comparison.md: the matrix for a GitHub job summary or a pull-request comment."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from netconform.report import approaches, mesh_section, netpol_summary
from netconform.report.compare import CellState, Comparison, Row
from netconform.report.key_measurements import key_measurement_rows
from netconform.report.presentation import (
    COUNTED,
    EXPLAINED,
    WORDS,
    count,
    format_measurement,
    format_seconds,
    markdown_text,
)
from netconform.results import RunStatus

# GitHub renders these reliably in tables; the word follows so colour is never needed.
_MD_SYMBOLS = {
    CellState.PASS: "✅",
    CellState.FAIL: "❌",
    CellState.SKIP: "⏭️",
    CellState.ERROR: "⚠️",
    CellState.NOT_RUN: "➖",
    CellState.NOT_REACHED: "💥",
    CellState.NOT_APPLICABLE: "▫️",
}


def render_markdown(comparison: Comparison) -> str:
    return "\n".join(_document(comparison)) + "\n"


def _header(comparison: Comparison, first: str) -> Iterator[str]:
    labels = " | ".join(markdown_text(c.label) for c in comparison.columns)
    yield f"| {first} | {labels} |"
    yield "|---|" + "---|" * len(comparison.columns)


def _line(first: str, cells: Iterable[str]) -> str:
    """A table row of cells that are Markdown already (their run text escaped)."""
    return f"| {first} | " + " | ".join(cells) + " |"


def _document(comparison: Comparison) -> Iterator[str]:
    sections = (
        _intro,
        _runs,
        _key_measurements,
        approaches.render_markdown,
        netpol_summary.render_markdown,
        mesh_section.render_markdown,
    )
    for section in (*sections, _area_summary, _differences, _full):
        yield from section(comparison)


def _intro(comparison: Comparison) -> Iterator[str]:
    yield "# netconform comparison"
    yield ""
    legend = ", ".join(f"{_MD_SYMBOLS[s]} {EXPLAINED[s]}" for s in CellState)
    yield (
        f"{len(comparison.rows)} aspects on {len(comparison.columns)} runs; each cell gives the "
        f"platform's own check id under its verdict. Legend: {legend}."
    )
    yield ""
    for col in comparison.columns:
        if col.provisioning_error is not None:
            yield (
                f"> {_MD_SYMBOLS[CellState.NOT_REACHED]} **{markdown_text(col.label)} could not be "
                f"provisioned**: {markdown_text(col.provisioning_error)}. No check ran."
            )
            yield ""
        elif col.status is RunStatus.INTERRUPTED:
            run = col.run
            where = f" while {markdown_text(run.phase)}" if run.phase is not None else ""
            yield (
                f"> {_MD_SYMBOLS[CellState.NOT_REACHED]} **{markdown_text(col.label)} was "
                f"interrupted{where}**: started {markdown_text(run.started)}, stopped "
                f"{markdown_text(run.finished or 'never')}; {len(run.checks)} checks recorded, "
                f"{len(run.not_run)} planned checks never ran."
            )
            yield ""
        elif col.incomplete:
            yield (
                f"> {_MD_SYMBOLS[CellState.NOT_REACHED]} **{markdown_text(col.label)} crashed**: "
                f"started {markdown_text(col.run.started)}, never finished; "
                f"{len(col.run.checks)} checks recorded."
            )
            yield ""


def _runs(comparison: Comparison) -> Iterator[str]:
    columns = comparison.columns
    yield "## Runs"
    yield ""
    yield from _header(comparison, "")
    yield _line(
        "status",
        (
            markdown_text(c.ending)
            if not c.incomplete
            else f"{_MD_SYMBOLS[CellState.NOT_REACHED]} {markdown_text(c.ending)}"
            for c in columns
        ),
    )
    for verdict in COUNTED:
        counts = (str(c.run.summary[verdict]) for c in columns)
        yield _line(f"{_MD_SYMBOLS[verdict]} {verdict}", counts)
    yield _line("run time", (format_seconds(c.run_time_s) for c in columns))
    yield ""


def _key_measurements(comparison: Comparison) -> Iterator[str]:
    yield "## Key measurements"
    yield ""
    yield from _header(comparison, "measurement")
    for row in key_measurement_rows(comparison):
        name = f"{row.label} (`{row.source}`)" if row.source else row.label
        values = (markdown_text(format_measurement(row, v)) for v in row.values)
        yield _line(markdown_text(name), values)
    yield ""


def _area_summary(comparison: Comparison) -> Iterator[str]:
    yield "## Summary per area"
    yield ""
    yield from _header(comparison, "area")
    for area in comparison.areas:
        summary = comparison.area_summary(area)
        cells = (
            " ".join(f"{_MD_SYMBOLS[s]}{tally[s]}" for s in CellState if tally[s])
            for tally in summary.counts
        )
        yield _line(f"**{area}** ({summary.rows})", cells)
    yield ""


def _differences(comparison: Comparison) -> Iterator[str]:
    differing = comparison.differing_rows
    yield f"## Aspects that differ between platforms ({len(differing)})"
    yield ""
    if differing:
        yield from _matrix(comparison, differing)
    else:
        yield "Every platform agrees on every aspect they share."
    yield ""


def _full(comparison: Comparison) -> Iterator[str]:
    yield "## Full matrix"
    for area in comparison.areas:
        rows = comparison.rows_in(area)
        yield ""
        yield f"<details><summary><b>{area}</b>: {count(len(rows), 'aspect')}</summary>"
        yield ""
        yield from _matrix(comparison, rows)
        yield ""
        yield "</details>"


def _matrix(comparison: Comparison, rows: tuple[Row, ...]) -> Iterator[str]:
    yield from _header(comparison, "aspect")
    for row in rows:
        cells = (
            f"{_MD_SYMBOLS[state]} {WORDS[state]}"
            + (f"<br><sub>{markdown_text(cell.id)}</sub>" if cell is not None else "")
            for cell, state in zip(row.cells, row.states, strict=True)
        )
        tag = " *(profile)*" if row.profile else ""
        yield f"| `{row.aspect}`{tag} | " + " | ".join(cells) + " |"
