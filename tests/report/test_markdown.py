from __future__ import annotations

from pathlib import Path

from netconform.report.compare import load_runs, merge_runs
from netconform.report.markdown import render_markdown

from .built import CROSS_HOST, DF_OVER, HAIRPIN, NAMED_PORT


def _table_rows(markdown: str, first_cell: str) -> list[list[str]]:
    rows = []
    for line in markdown.splitlines():
        if line.startswith(f"| {first_cell}"):
            rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def test_matrix_rows_by_aspect_with_check_ids(sample_dirs: list[Path]) -> None:
    text = render_markdown(merge_runs(load_runs(sample_dirs)))
    header = _table_rows(text, "aspect")[0]
    assert header == ["aspect", "swarm-lab", "kind-flannel", "kind-calico", "kind-cilium"]
    df_over = _table_rows(text, f"`{DF_OVER}`")
    # once among the differences, once in the full matrix
    assert len(df_over) == 2
    assert df_over[0][1:] == [
        "❌ fail<br><sub>mtu.pmtu.default.df-over-limit</sub>",
        "✅ pass<br><sub>k8s.mtu.pmtu.df-over-limit</sub>",
        "✅ pass<br><sub>k8s.mtu.pmtu.df-over-limit</sub>",
        "💥 not reached",
    ]
    hairpin = _table_rows(text, f"`{HAIRPIN}`")[0]
    assert hairpin[0] == f"`{HAIRPIN}` *(profile)*"
    named = _table_rows(text, f"`{NAMED_PORT}`")[0]
    assert named[1] == "▫️ not applicable"
    assert named[4] == "💥 not reached"
    same = _table_rows(text, f"`{CROSS_HOST}`")
    assert len(same) == 1  # agrees everywhere: only in the full matrix


def test_crash_and_summaries(sample_dirs: list[Path]) -> None:
    text = render_markdown(merge_runs(load_runs(sample_dirs)))
    assert "**kind-cilium crashed**" in text
    assert _table_rows(text, "status")[0][1:] == ["complete", "complete", "complete", "💥 crashed"]
    assert _table_rows(text, "**netpol** (2)")[0][1:] == ["▫️2", "❌1 ⏭️1", "✅1 ❌1", "💥2"]
    assert _table_rows(text, "Effective MTU")[0][1:] == [
        "1450 bytes",
        "1450 bytes",
        "1480 bytes",
        "—",
    ]
    assert _table_rows(text, "Policy enforcement latency p50")[0][1:] == ["—", "—", "1.2 s", "—"]
    for area in ("reachability", "dns", "mtu", "netpol", "isolation", "perf"):
        assert f"<details><summary><b>{area}</b>" in text
    assert "<b>dns</b>: 1 aspect</summary>" in text


def test_pipes_in_labels_do_not_break_tables(sample_dirs: list[Path]) -> None:
    comparison = merge_runs(load_runs(sample_dirs[:1]))
    column = comparison.columns[0]
    weird = type(comparison)(
        columns=(type(column)(label="a|b", source=column.source, run=column.run),),
        rows=comparison.rows,
    )
    assert "| aspect | a\\|b |" in render_markdown(weird)
