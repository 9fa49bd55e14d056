from __future__ import annotations

from pathlib import Path

from netconform.report.compare import load_runs, merge_runs
from netconform.report.markdown import render_markdown


def _table_rows(markdown: str, first_cell: str) -> list[list[str]]:
    rows = []
    for line in markdown.splitlines():
        if line.startswith(f"| {first_cell}"):
            rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def test_matrix_rows_and_columns(fixture_dirs: list[Path]) -> None:
    comparison = merge_runs(load_runs(fixture_dirs))
    text = render_markdown(comparison)
    header = _table_rows(text, "check")[0]
    assert header == ["check", "swarm-lab", "kind-flannel", "kind-calico", "kind-cilium"]
    pmtu = _table_rows(text, "`mtu.pmtu.df-over-limit`")
    # once among the differences, once in the full matrix
    assert len(pmtu) == 2
    assert pmtu[0][1:] == ["❌ fail", "✅ pass", "✅ pass", "✅ pass"]
    hairpin = _table_rows(text, "`profile.service.hairpin`")[0]
    assert hairpin[0] == "`profile.service.hairpin` *(profile)*"
    assert hairpin[4] == "💥 not reached"
    same = _table_rows(text, "`reachability.cross-host.tcp`")
    assert len(same) == 1  # agrees everywhere: only in the full matrix


def test_crash_and_summaries(fixture_dirs: list[Path]) -> None:
    text = render_markdown(merge_runs(load_runs(fixture_dirs)))
    assert "**kind-cilium crashed**" in text
    assert _table_rows(text, "status")[0][1:] == ["complete", "complete", "complete", "💥 crashed"]
    netpol = ["⏭️6 ➖1", "❌1 ⏭️6", "✅6 ❌1", "✅2 ⚠️1 💥4"]
    assert _table_rows(text, "**netpol** (7)")[0][1:] == netpol
    assert _table_rows(text, "Effective MTU")[0][1:] == [
        "1450 bytes",
        "1450 bytes",
        "1480 bytes",
        "1450 bytes",
    ]
    for area in ("reachability", "dns", "mtu", "netpol", "isolation", "perf"):
        assert f"<details><summary><b>{area}</b>" in text


def test_pipes_in_labels_do_not_break_tables(fixture_dirs: list[Path]) -> None:
    comparison = merge_runs(load_runs(fixture_dirs[:1]))
    column = comparison.columns[0]
    weird = type(comparison)(
        columns=(type(column)(label="a|b", source=column.source, run=column.run),),
        rows=comparison.rows,
    )
    assert "| check | a\\|b |" in render_markdown(weird)
