"""comparison.html's NetworkPolicy section: per failed or errored case, the steps that went
wrong as expected, observed and difference tables, the oracle's explanations, and the cells
whose probe failed to run with the command that re-runs them."""

from __future__ import annotations

import shlex
from collections.abc import Iterator, Sequence
from html import escape

from netconform.report import netpol_summary
from netconform.report.compare import CellState, Comparison, Row
from netconform.report.netpol_view import StepView, TableView, failed_steps
from netconform.report.presentation import SYMBOLS
from netconform.report.reproduce import shell_command
from netconform.results import CellValue, TruthTable


def command(argv: Sequence[str]) -> str:
    """A command as stored (the agent source elided), and a button copying it runnable (the
    page's one click handler reads data-copy)."""
    return (
        f'<div class="cmd"><code>{escape(shlex.join(argv))}</code>'
        f'<button type="button" class="copy" data-copy="{escape(shell_command(argv))}">'
        "copy</button></div>"
    )


def anchor(row: Row, index: int) -> str:
    return f"np-{index}-{row.aspect}"


def render_section(comparison: Comparison) -> Iterator[str]:
    failures = [
        (row, index, col, cell, steps)
        for row in comparison.rows
        for index, (col, cell) in enumerate(zip(comparison.columns, row.cells, strict=True))
        if cell is not None and (steps := failed_steps(cell))
    ]
    yield '<h2 id="netpol">NetworkPolicy</h2>'
    yield from netpol_summary.render_html(comparison)
    yield "<h3>Failures</h3>"
    if not failures:
        yield "<p>No NetworkPolicy case failed or errored.</p>"
        return
    yield (
        "<p class=t>Truth tables: rows are sources, columns destinations; “.” allowed, "
        "“X” denied, “!” the probe failed to run (an error, never a deny). In the difference "
        "table “X” marks a cell whose observation differs from the expectation.</p>"
    )
    for row, index, col, cell, steps in failures:
        yield f'<section class="np" id="{escape(anchor(row, index))}">'
        yield (
            f"<h3><code>{escape(cell.id)}</code> on {escape(col.label)} "
            f'<span class="t">{escape(row.aspect)}</span></h3>'
        )
        yield f"<p>{escape(cell.reason)}</p>"
        for view in steps:
            yield from _netpol_step(view)
        yield "</section>"


def _netpol_step(view: StepView) -> Iterator[str]:
    step = view.step
    held = (
        f"held after {step.took_effect_s:g} s"
        if step.held
        else f"did not hold within {step.took_effect_s:g} s"
    )
    yield f"<h4>step {escape(step.name)}: {held}, {step.attempts} observations</h4>"
    for table in view.tables:
        yield f"<h5>port {escape(table.key)}</h5><div>"
        yield _truth_table("expected", table.table, table.table.expected)
        yield _truth_table("observed", table.table, table.table.observed)
        yield _difference_table(table)
        yield "</div>"
        if table.mismatches:
            yield '<table class="explain"><thead><tr><th>from</th><th>to</th><th>expected'
            yield "</th><th>observed</th><th>explanation</th></tr></thead><tbody>"
            for m in table.mismatches:
                yield (
                    f"<tr><td>{escape(m.source)}</td><td>{escape(m.destination)}</td>"
                    f"<td>{m.expected}</td><td>{m.observed}</td>"
                    f"<td>{escape(m.explanation or 'no explanation recorded')}</td></tr>"
                )
            yield "</tbody></table>"
    if view.errors:
        yield '<ul class="errors">'
        for error in view.errors:
            again = command(error.reproduce) if error.reproduce else ""
            yield (
                f"<li><b>{SYMBOLS[CellState.ERROR]} error</b> {escape(error.cell)}: "
                f"{escape(error.reason)}{again}</li>"
            )
        yield "</ul>"


_TT_SYMBOL = {CellValue.ALLOW: ".", CellValue.DENY: "X", CellValue.ERROR: "!"}
_TT_CLASS = {CellValue.ALLOW: "", CellValue.DENY: ' class="b"', CellValue.ERROR: ' class="e"'}


def _table_frame(name: str, table: TruthTable, body: Iterator[str]) -> str:
    head = "".join(f"<th>{escape(d)}</th>" for d in table.destinations)
    return (
        f'<table class="tt" data-table="{name}"><caption>{name}</caption>'
        f"<thead><tr><th></th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def _truth_table(name: str, table: TruthTable, grid: Sequence[Sequence[CellValue]]) -> str:
    return _table_frame(
        name,
        table,
        (
            f"<tr><th>{escape(src)}</th>"
            + "".join(f"<td{_TT_CLASS[v]} title={v}>{_TT_SYMBOL[v]}</td>" for v in line)
            + "</tr>"
            for src, line in zip(table.sources, grid, strict=True)
        ),
    )


def _difference_table(view: TableView) -> str:
    return _table_frame(
        "difference",
        view.table,
        (
            f"<tr><th>{escape(src)}</th>"
            + "".join('<td class="X">X</td>' if d else "<td>.</td>" for d in line)
            + "</tr>"
            for src, line in zip(view.table.sources, view.difference, strict=True)
        ),
    )
