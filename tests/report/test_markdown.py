from __future__ import annotations

import json
from pathlib import Path

from netconform.report.compare import load_runs, merge_runs
from netconform.report.markdown import render_markdown
from netconform.results import PROVISIONING_ERROR


def _table_rows(markdown: str, first_cell: str) -> list[list[str]]:
    rows = []
    for line in markdown.splitlines():
        if line.startswith(f"| {first_cell}"):
            rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


UDP = "reachability.pod-to-pod.cross-host.udp"
DENY_EGRESS = "netpol.case.upstream.tcp.deny-egress-namespace"


def test_matrix_rows_by_aspect_with_check_ids(golden_dirs: list[Path]) -> None:
    text = render_markdown(merge_runs(load_runs(golden_dirs)))
    header = _table_rows(text, "aspect")[0]
    assert header == ["aspect", "swarm-lab", "kind-flannel", "kind-calico", "kind-cilium"]
    udp = _table_rows(text, f"`{UDP}`")
    # once among the differences, once in the full matrix
    assert len(udp) == 2
    assert udp[0][1:] == [
        "❌ fail<br><sub>reachability.cross-host.udp</sub>",
        *["✅ pass<br><sub>k8s.reach.pod-to-pod.cross-node.udp</sub>"] * 3,
    ]
    assert _table_rows(text, "`reachability.hairpin` *(profile)*")
    deny = _table_rows(text, f"`{DENY_EGRESS}`")[0]
    assert deny[1] == "▫️ not applicable"
    assert deny[4] == "⚠️ error<br><sub>k8s.netpol.upstream.tcp.deny-egress-namespace</sub>"
    assert _table_rows(text, "`netpol.case.upstream.udp.ports`")[0][4] == "💥 not reached"
    same = _table_rows(text, "`reachability.pod-to-pod.same-host.tcp`")
    assert len(same) == 1  # agrees everywhere: only in the full matrix
    ptr = _table_rows(text, "`dns.service.ptr`")
    assert len(ptr) == 1  # Kubernetes only, agreed on: no difference


def test_crash_and_summaries(golden_dirs: list[Path]) -> None:
    text = render_markdown(merge_runs(load_runs(golden_dirs)))
    assert "**kind-cilium crashed**" in text
    assert _table_rows(text, "status")[0][1:] == ["complete", "complete", "complete", "💥 crashed"]
    assert _table_rows(text, "**netpol** (9)")[0][1:] == [
        "▫️9",
        "✅1 ⏭️8",  # Flannel: the canary's profile finding, every case not applicable
        "✅4 ❌4 ⏭️1",
        "✅6 ⚠️1 💥2",
    ]
    assert _table_rows(text, "Effective MTU")[0][1:] == ["1450 bytes"] * 4
    assert _table_rows(text, "TCP throughput, 1 stream")[0][1:] == ["9450 Mbit/s"] * 4
    for area in ("reachability", "dns", "mtu", "netpol", "isolation"):
        assert f"<details><summary><b>{area}</b>" in text
    assert "## Aspects that differ between platforms (" in text


def test_pipes_in_labels_do_not_break_tables(golden_dirs: list[Path]) -> None:
    comparison = merge_runs(load_runs(golden_dirs[:1]))
    column = comparison.columns[0]
    weird = type(comparison)(
        columns=(type(column)(label="a|b", source=column.source, run=column.run),),
        rows=comparison.rows,
    )
    assert "| aspect | a\\|b |" in render_markdown(weird)


HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def test_run_text_is_inert_in_markdown(golden_dirs: list[Path], tmp_path: Path) -> None:
    """GitHub renders raw HTML in Markdown: a platform name, a provisioning error or a
    measurement from a run must arrive as text, never as a tag."""
    data = json.loads((golden_dirs[0] / "results.json").read_text())
    data["platform"] = f"lab{HOSTILE}"
    data["complete"] = False
    data["platform_info"] = {PROVISIONING_ERROR: f"failed: {HOSTILE}"}
    run_dir = tmp_path / "hostile"
    run_dir.mkdir()
    (run_dir / "results.json").write_text(json.dumps(data))
    text = render_markdown(merge_runs(load_runs([run_dir])))
    assert "<script" not in text and "<img" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text  # shown, not dropped
    assert "<details><summary>" in text  # the report's own markup stays
