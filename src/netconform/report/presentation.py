"""How a cell reads in every renderer: symbol and word per state, and compact values."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping

from netconform.report.compare import CellState
from netconform.report.key_measurements import MeasurementRow
from netconform.results import JSONValue

# Never colour alone: each state has a symbol and a word as well.
SYMBOLS: Mapping[str, str] = {
    CellState.PASS: "✓",
    CellState.FAIL: "✗",
    CellState.SKIP: "⊘",
    CellState.ERROR: "!",
    CellState.NOT_RUN: "○",
    CellState.NOT_REACHED: "⚠",
    CellState.NOT_APPLICABLE: "—",
}
WORDS: Mapping[str, str] = {
    CellState.PASS: "pass",
    CellState.FAIL: "fail",
    CellState.SKIP: "skip",
    CellState.ERROR: "error",
    CellState.NOT_RUN: "not run",
    CellState.NOT_REACHED: "not reached",
    CellState.NOT_APPLICABLE: "not applicable",
}
EXPLAINED: Mapping[str, str] = {
    **WORDS,
    CellState.NOT_REACHED: "not reached (the run stopped first)",
    CellState.NOT_APPLICABLE: "not applicable (the platform has no check of this aspect)",
}
COUNTED = (CellState.PASS, CellState.FAIL, CellState.SKIP, CellState.ERROR)


def markdown_text(text: str) -> str:
    """Text from a run (names, reasons, values) as inert Markdown table text: HTML escaped,
    since GitHub renders raw HTML in Markdown, and no cell or line break of its own."""
    return html.escape(text, quote=False).replace("|", "\\|").replace("\n", " ")


def count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def format_value(value: JSONValue) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int | str):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def format_measurement(row: MeasurementRow, value: JSONValue) -> str:
    if row.is_duration:
        return format_seconds(value if isinstance(value, float | int) else None)
    return f"{format_value(value)} {row.unit}" if value is not None else format_value(None)


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{seconds:.1f}s"


def flatten_info(info: Mapping[str, JSONValue], prefix: str = "") -> list[tuple[str, str]]:
    """platform_info is free-form; show nested mappings as dotted keys."""
    items: list[tuple[str, str]] = []
    for key, value in info.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            items.extend(flatten_info(value, f"{name}."))
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            for index, item in enumerate(value):
                label = item.get("name", index)
                items.extend(flatten_info(item, f"{name}[{label}]."))
        elif isinstance(value, list):
            items.append((name, ", ".join(format_value(v) for v in value)))
        else:
            items.append((name, format_value(value)))
    return items
