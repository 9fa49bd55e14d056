"""How a cell reads in every renderer: symbol and word per state, and compact values."""

from __future__ import annotations

import json
from collections.abc import Mapping

from netconform.report.compare import Column
from netconform.results import CheckResult, JSONValue

# Never colour alone: each state has a symbol and a word as well.
SYMBOLS: Mapping[str, str] = {
    "pass": "✓",
    "fail": "✗",
    "skip": "⊘",
    "error": "!",
    "missing": "–",
    "not-reached": "⚠",
}
WORDS: Mapping[str, str] = {
    "pass": "pass",
    "fail": "fail",
    "skip": "skip",
    "error": "error",
    "missing": "not run",
    "not-reached": "not reached",
}
EXPLAINED: Mapping[str, str] = {**WORDS, "not-reached": "not reached (the run crashed first)"}
COUNTED = ("pass", "fail", "skip", "error")


def cell_state(cell: CheckResult | None, column: Column) -> str:
    if cell is not None:
        return str(cell.verdict)
    return "not-reached" if column.crashed else "missing"


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
