"""comparison.md: the matrix for a GitHub job summary or a pull-request comment."""

from __future__ import annotations

from collections.abc import Iterator

from netconform.report.compare import Comparison, Row
from netconform.report.key_measurements import key_measurement_rows
from netconform.report.presentation import (
    COUNTED,
    EXPLAINED,
    SYMBOLS,
    WORDS,
    cell_state,
    format_seconds,
    format_value,
)

# GitHub renders these reliably in tables; the word follows so colour is never needed.
_MD_SYMBOLS = {
    "pass": "✅",
    "fail": "❌",
    "skip": "⏭️",
    "error": "⚠️",
    "missing": "➖",
    "not-reached": "💥",
}


def render_markdown(comparison: Comparison) -> str:
    return "\n".join(_document(comparison)) + "\n"


def _cell_text(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _header(comparison: Comparison, first: str) -> Iterator[str]:
    labels = " | ".join(_cell_text(c.label) for c in comparison.columns)
    yield f"| {first} | {labels} |"
    yield "|---|" + "---|" * len(comparison.columns)


def _document(comparison: Comparison) -> Iterator[str]:
    yield "# netconform comparison"
    yield ""
    legend = ", ".join(f"{_MD_SYMBOLS[s]} {EXPLAINED[s]}" for s in SYMBOLS)
    yield f"{len(comparison.rows)} checks on {len(comparison.columns)} runs. Legend: {legend}."
    yield ""
    for col in comparison.columns:
        if col.crashed:
            yield (
                f"> {_MD_SYMBOLS['not-reached']} **{col.label} crashed**: started "
                f"{col.run.started}, never finished; {len(col.run.checks)} checks recorded."
            )
            yield ""
    yield "## Runs"
    yield ""
    yield from _header(comparison, "")
    yield (
        "| status | "
        + " | ".join(
            f"{_MD_SYMBOLS['not-reached']} crashed" if c.crashed else "complete"
            for c in comparison.columns
        )
        + " |"
    )
    for verdict in COUNTED:
        yield (
            f"| {_MD_SYMBOLS[verdict]} {verdict} | "
            + " | ".join(str(c.run.summary[verdict]) for c in comparison.columns)
            + " |"
        )
    yield (
        "| run time | "
        + " | ".join(format_seconds(c.run_time_s) for c in comparison.columns)
        + " |"
    )
    yield ""
    yield "## Key measurements"
    yield ""
    yield from _header(comparison, "measurement")
    for row in key_measurement_rows(comparison):
        name = f"{row.label} (`{row.check_id}`)" if row.check_id else row.label
        values = (
            format_seconds(v if isinstance(v, float | int) else None)
            if not row.check_id
            else (f"{format_value(v)} {row.unit}" if v is not None else "—")
            for v in row.values
        )
        yield f"| {_cell_text(name)} | " + " | ".join(_cell_text(v) for v in values) + " |"
    yield ""
    yield "## Summary per area"
    yield ""
    yield from _header(comparison, "area")
    for area in comparison.areas:
        summary = comparison.area_summary(area)
        cells = (
            " ".join(
                f"{_MD_SYMBOLS[s]}{tally[s]}"
                for s in (*COUNTED, "missing", "not-reached")
                if tally[s]
            )
            for tally in summary.counts
        )
        yield f"| **{area}** ({summary.rows}) | " + " | ".join(cells) + " |"
    yield ""
    differing = comparison.differing_rows
    yield f"## Checks that differ between platforms ({len(differing)})"
    yield ""
    if differing:
        yield from _matrix(comparison, differing)
    else:
        yield "Every platform agrees on every check."
    yield ""
    yield "## Full matrix"
    for area in comparison.areas:
        rows = comparison.rows_in(area)
        yield ""
        yield f"<details><summary><b>{area}</b>: {len(rows)} checks</summary>"
        yield ""
        yield from _matrix(comparison, rows)
        yield ""
        yield "</details>"


def _matrix(comparison: Comparison, rows: tuple[Row, ...]) -> Iterator[str]:
    yield from _header(comparison, "check")
    for row in rows:
        cells = []
        for col, cell in zip(comparison.columns, row.cells, strict=True):
            state = cell_state(cell, col)
            cells.append(f"{_MD_SYMBOLS[state]} {WORDS[state]}")
        tag = " *(profile)*" if row.is_profile else ""
        yield f"| `{row.id}`{tag} | " + " | ".join(cells) + " |"
