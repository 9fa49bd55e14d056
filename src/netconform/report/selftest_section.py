"""The self-test's fault x check matrix (selftest.json) as a section of the comparison.

A RUN_DIR holding selftest.json and no results.json is a self-test, not a run."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from html import escape
from pathlib import Path
from typing import Any

from netconform.errors import InputError
from netconform.inputs import load_json, read_text
from netconform.report.presentation import markdown_text

SELFTEST_FILE = "selftest.json"
SCHEMA = "netconform/selftest/v1"


def is_selftest_dir(path: Path) -> bool:
    return (
        path.is_dir() and (path / SELFTEST_FILE).is_file() and not (path / "results.json").exists()
    )


def load_selftest(directory: Path) -> dict[str, Any]:
    path = directory / SELFTEST_FILE
    data = load_json(read_text(path), path)
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        got = data.get("schema") if isinstance(data, dict) else None
        raise InputError(f"{path}: schema: unsupported {got!r}, expected {SCHEMA!r}")
    return data


def _caught(r: dict[str, Any]) -> str:
    if r["skipped"]:
        return f"skipped: {markdown_text(str(r['skipped']))}"
    return "yes" if r["caught"] else "NO"


def render_html(selftests: Sequence[dict[str, Any]]) -> Iterator[str]:
    if not selftests:
        return
    yield '<h2 id="selftest">Self-test: which check catches which fault</h2>'
    for doc in selftests:
        yield (
            f"<p>Verdict <b>{escape(doc['verdict'])}</b>, {len(doc['healthy'])} checks, "
            f"{len(doc['rounds'])} faults, {doc['duration_s']} s.</p>"
        )
        yield (
            "<table><thead><tr><th>fault</th><th>area</th><th>host</th><th>caught</th>"
            "<th>failed checks</th><th>declared but passed</th><th>outside the declared</th>"
            "</tr></thead><tbody>"
        )
        for r in doc["rounds"]:
            cells = [
                r["fault"],
                r["area"],
                r["host"],
                _caught(r),
                ", ".join(r["failed"]) or "—",
                ", ".join(r["missed"]) or "—",
                ", ".join(r["unexpected"]) or "—",
            ]
            yield "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>"
        yield "</tbody></table>"
        if doc["uncatchable"]:
            yield "<p>Checks no lab fault can fail (the gap, made visible):</p><ul>"
            for check, why in sorted(doc["uncatchable"].items()):
                yield f"<li><code>{escape(check)}</code>: {escape(why)}</li>"
            yield "</ul>"
        for problem in doc["problems"]:
            yield f'<p class="crashed">{escape(problem)}</p>'


def render_markdown(selftests: Sequence[dict[str, Any]]) -> str:
    lines: list[str] = []
    for doc in selftests:
        lines += [
            "",
            f"## Self-test: {markdown_text(str(doc['verdict']))}",
            "",
            "| fault | area | caught | failed checks |",
            "|---|---|---|---|",
        ]
        for r in doc["rounds"]:
            failed = ", ".join(f"`{markdown_text(c)}`" for c in r["failed"]) or "—"
            cells = (markdown_text(str(r["fault"])), markdown_text(str(r["area"])), _caught(r))
            lines.append(f"| {' | '.join(cells)} | {failed} |")
        if doc["uncatchable"]:
            lines += [
                "",
                "No lab fault can fail: "
                + ", ".join(f"`{markdown_text(c)}`" for c in sorted(doc["uncatchable"])),
            ]
    return "\n".join(lines) + ("\n" if lines else "")
