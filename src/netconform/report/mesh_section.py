"""The node-pair mesh of each Kubernetes run (check k8s.reach.node-mesh) as a section of the
comparison: a node x node heatmap (one cell per ordered pair: every path connected, or
which failed, with the ICMP round trip) up to HEATMAP_MAX_NODES nodes, and the failing
pairs by name at any size."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

from netconform.k8s.mesh import CELL_CODES, CHECK_ID, DEFAULT_NODE_LIMIT, LEGEND, NOT_PROBED, SELF
from netconform.probes.model import Connectivity
from netconform.report.compare import Comparison
from netconform.report.presentation import markdown_text

HEATMAP_MAX_NODES = DEFAULT_NODE_LIMIT  # a wider heatmap is no longer readable
SHOWN_PAIRS = 50
OK = CELL_CODES[Connectivity.CONNECTED]


@dataclass(frozen=True)
class MeshView:
    platform: str
    nodes: tuple[str, ...]
    matrix: Mapping[str, list[str]]  # path -> one row string per source node
    rtt_us: list[list[Any]]
    failures: list[dict[str, Any]]
    dns: Mapping[str, str]

    def cell(self, i: int, j: int) -> tuple[str, str]:
        """(css class, title) of the pair nodes[i] -> nodes[j]."""
        if i == j:
            return "m-self", f"{self.nodes[i]}: same node"
        codes = {path: rows[i][j] for path, rows in self.matrix.items()}
        failed = [f"{p} {LEGEND.get(c, c)}" for p, c in codes.items() if c not in (OK, NOT_PROBED)]
        rtt = self.rtt_us[i][j] if i < len(self.rtt_us) else None
        said = "; ".join(failed) if failed else "all paths connected"
        took = f", ICMP {rtt / 1000:.3f} ms" if isinstance(rtt, int) else ""
        return ("m-fail" if failed else "m-ok"), f"{self.nodes[i]} -> {self.nodes[j]}: {said}{took}"


def mesh_views(comparison: Comparison) -> list[MeshView]:
    views = []
    for col in comparison.columns:
        for check in col.run.checks:
            seen = check.observed
            if check.id != CHECK_ID or not isinstance(seen, dict) or "matrix" not in seen:
                continue
            views.append(
                MeshView(
                    col.label,
                    tuple(seen["nodes"]),
                    seen["matrix"],
                    seen.get("rtt_us") or [],
                    seen.get("failures") or [],
                    seen.get("dns") or {},
                )
            )
    return views


def _pairs(view: MeshView) -> list[str]:
    return sorted({f"{f['from']} -> {f['to']}" for f in view.failures})


def render_html(comparison: Comparison) -> Iterator[str]:
    views = mesh_views(comparison)
    if not views:
        return
    yield '<h2 id="node-mesh">Node-pair mesh</h2>'
    yield (
        "<p>Every ordered node pair, probed pod to pod (TCP, UDP, ICMP) and pod to the other "
        "node's hostNetwork; hover a cell for each path's outcome and the ICMP round trip.</p>"
    )
    for view in views:
        pairs = _pairs(view)
        dns_failed = sorted(n for n, o in view.dns.items() if o != "answered")
        yield (
            f"<h3>{escape(view.platform)}: {len(view.nodes)} nodes, {len(pairs)} failing pairs</h3>"
        )
        if dns_failed:
            yield f"<p>DNS failed on: {escape(', '.join(dns_failed))}</p>"
        if len(view.nodes) <= HEATMAP_MAX_NODES:
            yield '<table class="mesh"><tr><th>from \\ to</th>'
            yield "".join(f"<th>{j}</th>" for j in range(len(view.nodes))) + "</tr>"
            for i, node in enumerate(view.nodes):
                cells = []
                for j in range(len(view.nodes)):
                    css, title = view.cell(i, j)
                    mark = SELF if css == "m-self" else ("✗" if css == "m-fail" else "")
                    cells.append(f'<td class="{css}" title="{escape(title)}">{mark}</td>')
                yield f"<tr><th>{i} {escape(node)}</th>{''.join(cells)}</tr>"
            yield "</table>"
        if pairs:
            shown = ", ".join(pairs[:SHOWN_PAIRS])
            more = f" (+{len(pairs) - SHOWN_PAIRS} more)" if len(pairs) > SHOWN_PAIRS else ""
            yield f"<p>Failing pairs: {escape(shown)}{more}</p>"


def render_markdown(comparison: Comparison) -> Iterator[str]:
    views = mesh_views(comparison)
    if not views:
        return
    yield "## Node-pair mesh"
    yield ""
    for view in views:
        pairs = _pairs(view)
        shown = ", ".join(pairs[:SHOWN_PAIRS]) or "none"
        more = f" (+{len(pairs) - SHOWN_PAIRS} more)" if len(pairs) > SHOWN_PAIRS else ""
        pair_count = len(view.nodes) * (len(view.nodes) - 1)
        yield (
            f"- **{markdown_text(view.platform)}**: {len(view.nodes)} nodes, {pair_count} "
            f"ordered pairs; failing pairs: {markdown_text(shown)}{more}"
        )
    yield ""
