"""The coverage map: upstream tests (Kubernetes conformance, `cilium connectivity test`, Calico
e2e) against the netconform checks that test the same thing.

The data is docs/coverage.yaml; docs/coverage.md is rendered from it and README carries one
line of its counts. `python -m netconform.coverage` rewrites docs/coverage.md, `--check`
only says whether it is current (exit 1 when not), so the document cannot drift from the data.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from netconform.errors import InputError
from netconform.inputs import load_yaml, read_text

SCHEMA = "netconform/coverage/v1"
REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "docs" / "coverage.yaml"
DOCUMENT = REPO / "docs" / "coverage.md"


class Source(StrEnum):
    K8S_CONFORMANCE = "k8s-conformance"
    CILIUM_CONNECTIVITY = "cilium-connectivity"
    CALICO_E2E = "calico-e2e"


class Status(StrEnum):
    COVERED = "covered"
    PARTIAL = "partial"
    NOT_APPLICABLE = "not-applicable"
    MISSING = "missing"


# What each status demands of a row: checks (covered, partial) or none, and a note saying
# what is left out (partial) or why (not-applicable, missing).
NEEDS_CHECKS = frozenset({Status.COVERED, Status.PARTIAL})
NEEDS_NOTE = frozenset({Status.PARTIAL, Status.NOT_APPLICABLE, Status.MISSING})

# How the README line names each source's unit.
UNIT = {
    Source.K8S_CONFORMANCE: "upstream `[sig-network]` conformance tests",
    Source.CILIUM_CONNECTIVITY: "`cilium connectivity` test families",
    Source.CALICO_E2E: "Calico e2e packet-size paths",
}


@dataclass(frozen=True)
class SourceInfo:
    key: Source
    title: str
    version: str
    where: str
    count: int  # rows the source must have: a row dropped or added by mistake fails the load
    groups: Mapping[str, int]  # the same per group, where the upstream list has groups


@dataclass(frozen=True)
class Row:
    source: Source
    id: str  # the upstream test's own name
    what: str
    status: Status
    checks: tuple[str, ...]
    note: str
    group: str = ""


@dataclass(frozen=True)
class CoverageMap:
    sources: tuple[SourceInfo, ...]
    rows: tuple[Row, ...]

    def rows_of(self, source: Source) -> list[Row]:
        return [r for r in self.rows if r.source is source]

    def counts(self, source: Source) -> dict[Status, int]:
        rows = self.rows_of(source)
        return {s: sum(1 for r in rows if r.status is s) for s in Status}

    def check_ids(self) -> set[str]:
        return {c for r in self.rows for c in r.checks}


def unknown_checks(cmap: CoverageMap, known: Iterable[str]) -> list[tuple[str, str]]:
    """(upstream id, check id) for every check a row names that the catalogue lacks."""
    have = set(known)
    return [(r.id, c) for r in cmap.rows for c in r.checks if c not in have]


# ----------------------------------------------------------------------------- loading


class _Fields:
    """One mapping of the file read field by field: a wrong type, a missing field or a
    field nobody reads is an InputError naming the file and the dotted field."""

    def __init__(self, path: Path, where: str, raw: Any) -> None:
        if not isinstance(raw, dict):
            raise InputError(f"{path}: {where}: expected a mapping, got {type(raw).__name__}")
        self.path, self.where, self.raw = path, where, raw
        self.read: set[str] = set()

    def _bad(self, key: str, why: str) -> InputError:
        return InputError(f"{self.path}: {self.where}.{key}: {why}")

    def get(self, key: str, kind: type, default: Any = None) -> Any:
        self.read.add(key)
        if key not in self.raw:
            if default is None:
                raise self._bad(key, "missing")
            return default
        value = self.raw[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self._bad(key, f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    def text(self, key: str, required: bool = True) -> str:
        value: str = self.get(key, str, None if required else "")
        if required and not value.strip():
            raise self._bad(key, "empty")
        return value.strip()

    def choice(self, key: str, kind: type[StrEnum]) -> Any:
        value = self.text(key)
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(m.value for m in kind)
            raise self._bad(key, f"{value!r} is not one of {allowed}") from None

    def done(self) -> None:
        extra = sorted(set(self.raw) - self.read)
        if extra:
            raise self._bad(extra[0], "unknown field")


def _source(path: Path, key: Any, raw: Any) -> SourceInfo:
    try:
        source = Source(key)
    except ValueError:
        raise InputError(f"{path}: sources.{key}: not a known source") from None
    f = _Fields(path, f"sources.{key}", raw)
    info = SourceInfo(
        key=source,
        title=f.text("title"),
        version=f.text("version"),
        where=f.text("where"),
        count=f.get("count", int),
        groups=f.get("groups", dict, {}),
    )
    f.done()
    for group, n in info.groups.items():
        if not isinstance(group, str) or not isinstance(n, int) or isinstance(n, bool):
            raise InputError(f"{path}: sources.{key}.groups.{group}: expected a count")
    return info


def _row(path: Path, index: int, raw: Any) -> Row:
    f = _Fields(path, f"rows[{index}]", raw)
    checks = f.get("checks", list, [])
    if not all(isinstance(c, str) and c for c in checks):
        raise InputError(f"{path}: rows[{index}].checks: expected a list of check ids")
    row = Row(
        source=f.choice("source", Source),
        id=f.text("id"),
        what=f.text("what"),
        status=f.choice("status", Status),
        checks=tuple(checks),
        note=f.text("note", required=False),
        group=f.text("group", required=False),
    )
    f.done()
    where = f"{path}: rows[{index}] ({row.id})"
    if (row.status in NEEDS_CHECKS) != bool(row.checks):
        need = "names the checks" if row.status in NEEDS_CHECKS else "names no checks"
        raise InputError(f"{where}.checks: a {row.status} row {need}")
    if row.status in NEEDS_NOTE and not row.note:
        raise InputError(f"{where}.note: a {row.status} row says why in its note")
    if len(set(row.checks)) != len(row.checks):
        raise InputError(f"{where}.checks: a check named twice")
    return row


def parse(raw: Any, path: Path) -> CoverageMap:
    top = _Fields(path, "(top)", raw)
    if top.text("schema") != SCHEMA:
        raise InputError(f"{path}: schema: expected {SCHEMA}")
    sources_raw: dict[Any, Any] = top.get("sources", dict)
    rows_raw: list[Any] = top.get("rows", list)
    top.done()
    sources = tuple(_source(path, k, v) for k, v in sources_raw.items())
    rows = tuple(_row(path, i, r) for i, r in enumerate(rows_raw))
    cmap = CoverageMap(sources, rows)
    declared = {s.key for s in sources}
    seen: set[tuple[Source, str]] = set()
    for i, row in enumerate(rows):
        if row.source not in declared:
            raise InputError(f"{path}: rows[{i}].source: {row.source} is not under sources")
        if (row.source, row.id) in seen:
            raise InputError(f"{path}: rows[{i}].id: {row.id!r} listed twice")
        seen.add((row.source, row.id))
    for info in sources:
        mine = cmap.rows_of(info.key)
        if len(mine) != info.count:
            raise InputError(
                f"{path}: sources.{info.key}.count: {info.count}, but {len(mine)} rows"
            )
        groups = {r.group for r in mine}
        if info.groups and groups != set(info.groups):
            raise InputError(
                f"{path}: sources.{info.key}.groups: rows have groups {sorted(groups)}"
            )
        for group, n in info.groups.items():
            got = sum(1 for r in mine if r.group == group)
            if got != n:
                raise InputError(f"{path}: sources.{info.key}.groups.{group}: {n}, but {got} rows")
    return cmap


def load(path: Path = DATA) -> CoverageMap:
    text = read_text(path)
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not YAML: {exc}".splitlines()[0]) from None
    return parse(raw, path)


# ----------------------------------------------------------------------------- rendering


def summary(cmap: CoverageMap, source: Source) -> str:
    """`47 upstream ... tests: 9 covered, 14 partial, 16 not applicable, 8 missing`."""
    counts = cmap.counts(source)
    parts = ", ".join(f"{counts[s]} {s.value.replace('-', ' ')}" for s in Status)
    return f"{len(cmap.rows_of(source))} {UNIT[source]}: {parts}"


def readme_line(cmap: CoverageMap) -> str:
    """The one README line: every source's counts, linking the document."""
    body = "; ".join(summary(cmap, s.key) for s in cmap.sources)
    return f"Coverage ([docs/coverage.md](docs/coverage.md)): {body}."


def _cell(text: str) -> str:
    """Prose for a table cell: one line, no column break, no text read as an HTML tag."""
    flat = " ".join(text.split()).replace("|", "\\|")
    return flat.replace("<", "&lt;").replace(">", "&gt;")


def _code(text: str) -> str:
    return "`" + " ".join(text.split()).replace("|", "\\|") + "`"


def _table(rows: Sequence[Row]) -> list[str]:
    out = [
        "| upstream test | what it tests | status | netconform checks | note |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        checks = "<br>".join(_code(c) for c in r.checks)
        ident = _code(r.id)
        out.append(f"| {ident} | {_cell(r.what)} | {r.status} | {checks} | {_cell(r.note)} |")
    return out


def render(cmap: CoverageMap) -> str:
    lines = [
        "# Coverage map",
        "",
        "<!-- Rendered from docs/coverage.yaml by `python -m netconform.coverage`: edit the",
        "YAML, never this file (tests/unit/test_coverage_map.py fails when they differ). -->",
        "",
        "Each upstream test that the network engineer compares netconform with, and the",
        "netconform checks that test the same property. **covered**: a check tests it on",
        "the same path; **partial**: part of it (the note says which part is not);",
        "**not-applicable**: outside what a CNI-neutral data-plane harness tests (the note",
        "says why); **missing**: a CNI-neutral data-plane property no check tests yet.",
        "",
        "| source | rows | " + " | ".join(s.value for s in Status) + " |",
        "|---|---|" + "---|" * len(Status),
    ]
    for info in cmap.sources:
        counts = cmap.counts(info.key)
        cells = " | ".join(str(counts[s]) for s in Status)
        lines.append(f"| {info.key} | {len(cmap.rows_of(info.key))} | {cells} |")
    for info in cmap.sources:
        lines += ["", f"## {info.title}", "", f"Source: {_cell(info.version)}.", ""]
        lines += [f"Rows: {_cell(info.where)}.", ""]
        rows = cmap.rows_of(info.key)
        groups = list(dict.fromkeys(r.group for r in rows))
        for group in groups:
            if group:
                lines += [f"### {group} ({sum(1 for r in rows if r.group == group)})", ""]
            lines += [*_table([r for r in rows if r.group == group]), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m netconform.coverage", description=__doc__)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=DOCUMENT)
    parser.add_argument("--check", action="store_true", help="exit 1 if --out is not current")
    args = parser.parse_args(argv)
    try:
        cmap = load(args.data)
    except InputError as exc:
        print(f"netconform: {exc}", file=sys.stderr)
        return 2
    text = render(cmap)
    if args.check:
        current = args.out.exists() and args.out.read_text(encoding="utf-8") == text
        if not current:
            print(f"{args.out} is not rendered from {args.data}: run python -m netconform.coverage")
            return 1
    else:
        args.out.write_text(text, encoding="utf-8")
    print(readme_line(cmap))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
