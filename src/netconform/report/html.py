"""comparison.html: one self-contained page (inline CSS and script, no external assets)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from netconform.report import selftest_section
from netconform.report.compare import Column, Comparison, Row
from netconform.report.key_measurements import key_measurement_rows
from netconform.report.presentation import (
    COUNTED,
    EXPLAINED,
    SYMBOLS,
    WORDS,
    cell_state,
    flatten_info,
    format_seconds,
    format_value,
)
from netconform.report.truth_tables import TruthTable, table_pairs
from netconform.results import CheckResult, Verdict

# Keys shown elsewhere in the page rather than in a cell's measurement list.
_HIDDEN_MEASUREMENTS = frozenset({"explanations", "profile"})

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1rem 1.5rem;color:#1f2328}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0}
th,td{border:1px solid #d0d7de;padding:2px 6px;vertical-align:top;text-align:left}
thead th{background:#f6f8fa;position:sticky;top:0;z-index:1}
code{font-size:.92em}
.v-pass{background:#dafbe1;color:#116329}.v-fail{background:#ffd8d3;color:#a40e26}
.v-skip{background:#eaeef2;color:#57606a}.v-error{background:#fff1c5;color:#7d4e00}
.v-missing{background:#fff;color:#8c959f}.v-not-reached{background:#fbefff;color:#8250df}
#matrix td{white-space:nowrap;min-width:6rem}
#matrix td details{white-space:normal;max-width:28rem}
summary{cursor:pointer}
tr.area th{background:#eef1f4;font-size:1.05em}
tr.area td{background:#eef1f4;white-space:nowrap}
.n{display:inline-block;margin-right:.4rem}
.t{color:#57606a}
.tag{font-size:.75em;border:1px solid #8250df;color:#8250df;border-radius:3px;padding:0 3px}
.crashed{color:#8250df;font-weight:bold}
.banner{border:2px solid #8250df;background:#fbefff;padding:.5rem 1rem;margin:.5rem 0}
.filters{position:sticky;top:0;background:#fff;padding:.4rem 0;z-index:2;
 border-bottom:1px solid #d0d7de}
.filters label{margin-right:1rem}
dl.m{display:grid;grid-template-columns:auto 1fr;gap:0 .6rem;margin:.3rem 0}
dl.m dt{color:#57606a}dl.m dd{margin:0;word-break:break-word}
.tt{display:inline-block;margin-right:1.5rem;vertical-align:top}
.tt td{text-align:center;font-family:monospace}
.tt td.b{background:#eaeef2}.tt[data-table=difference] td.X{background:#ffd8d3;font-weight:bold}
th .t{font-weight:normal}
.cards{display:flex;flex-wrap:wrap;gap:1rem}
.card{border:1px solid #d0d7de;border-radius:6px;padding:.5rem 1rem;min-width:18rem}
"""

_SCRIPT = """
(function(){
var area=document.getElementById('f-area'),diff=document.getElementById('f-diff'),
 text=document.getElementById('f-text'),shown=document.getElementById('shown');
function apply(){
 var a=area.value,d=diff.checked,t=text.value.trim().toLowerCase(),n=0;
 document.querySelectorAll('#matrix tbody').forEach(function(tb){
  var visible=0,areaOk=!a||tb.dataset.area===a;
  tb.querySelectorAll('tr.chk').forEach(function(tr){
   var ok=areaOk&&(!d||tr.dataset.differs==='1')&&(!t||tr.dataset.id.indexOf(t)>=0);
   tr.hidden=!ok;if(ok){visible++;n++;}
  });
  tb.hidden=!areaOk||visible===0;
 });
 shown.textContent=n;
}
function save(){
 var p=new URLSearchParams();
 if(area.value)p.set('area',area.value);if(diff.checked)p.set('diff','1');
 if(text.value)p.set('q',text.value);
 history.replaceState(null,'',p.toString()?'#'+p.toString():location.pathname);
}
// The filters live in the URL fragment, so a filtered view can be linked to.
var init=new URLSearchParams(location.hash.slice(1));
if(init.get('area'))area.value=init.get('area');
diff.checked=init.get('diff')==='1';text.value=init.get('q')||'';
[area,diff].forEach(function(e){e.addEventListener('change',function(){apply();save();});});
text.addEventListener('input',function(){apply();save();});
document.getElementById('f-open').addEventListener('click',function(){
 document.querySelectorAll('#matrix tr.chk:not([hidden]) details').forEach(function(d){
  d.open=!d.open;});
});
apply();
})();
"""


def render_html(
    comparison: Comparison,
    generated: datetime | None = None,
    selftests: Sequence[dict[str, Any]] = (),
) -> str:
    when = (generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    platforms = ", ".join(col.label for col in comparison.columns)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        f"<title>netconform comparison: {escape(platforms)}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>netconform: overlay network comparison</h1>",
        f"<p>{len(comparison.rows)} checks on {len(comparison.columns)} runs "
        f"({escape(platforms)}), generated {when}.</p>",
        *_crash_banner(comparison),
        *_key_measurements(comparison),
        *_matrix(comparison),
        *_netpol_failures(comparison),
        *_profile(comparison),
        *selftest_section.render_html(selftests),
        *_platform_info(comparison),
        f"<script>{_SCRIPT}</script>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _crash_banner(comparison: Comparison) -> Iterator[str]:
    crashed = [col for col in comparison.columns if col.crashed]
    if not crashed:
        return
    yield '<div class="banner" id="crashed">'
    for col in crashed:
        yield (
            f'<p><span class="crashed">{SYMBOLS["not-reached"]} {escape(col.label)} did not '
            f"complete</span>: started {escape(col.run.started)}, never finished; "
            f"{len(col.run.checks)} checks recorded before it stopped. Checks it never reached "
            f"are shown as “{SYMBOLS['not-reached']} {WORDS['not-reached']}”.</p>"
        )
    yield "</div>"


def _column_heads(comparison: Comparison) -> str:
    heads = []
    for col in comparison.columns:
        status = (
            f'<br><span class="crashed">{SYMBOLS["not-reached"]} crashed</span>'
            if col.crashed
            else ""
        )
        heads.append(
            f'<th scope="col" data-col="{escape(col.label)}">{escape(col.label)}{status}</th>'
        )
    return "".join(heads)


def _key_measurements(comparison: Comparison) -> Iterator[str]:
    yield '<h2 id="measurements">Key measurements</h2>'
    yield '<table id="key-measurements"><thead><tr><th>Measurement</th><th>Check</th>'
    yield _column_heads(comparison) + "</tr></thead><tbody>"
    for row in key_measurement_rows(comparison):
        cells = "".join(
            f"<td>{escape(format_value(v))}{' ' + escape(row.unit) if v is not None else ''}</td>"
            if row.label != "Run time"
            else f"<td>{escape(format_seconds(v if isinstance(v, float | int) else None))}</td>"
            for v in row.values
        )
        yield (
            f"<tr><th>{escape(row.label)}</th><td><code>{escape(row.check_id)}</code></td>"
            f"{cells}</tr>"
        )
    yield "</tbody></table>"


def _matrix(comparison: Comparison) -> Iterator[str]:
    areas = comparison.areas
    yield '<h2 id="matrix-title">Checks × platforms</h2>'
    yield '<div class="filters">'
    yield '<label>Area <select id="f-area"><option value="">all</option>'
    yield "".join(f'<option value="{a}">{a}</option>' for a in areas) + "</select></label>"
    yield '<label><input type="checkbox" id="f-diff"> only differences between platforms</label>'
    yield '<label>Check id <input type="search" id="f-text" placeholder="dns.service"></label>'
    yield '<button type="button" id="f-open">expand/collapse shown</button>'
    yield (
        f' <span>showing <b id="shown">{len(comparison.rows)}</b> of {len(comparison.rows)}'
        f" checks, {len(comparison.differing_rows)} differ</span></div>"
    )
    legend = " · ".join(f"{SYMBOLS[s]} {EXPLAINED[s]}" for s in SYMBOLS)
    yield f"<p class=t>Legend: {escape(legend)}. Click a cell for its reason and measurements.</p>"
    yield '<table id="matrix"><thead><tr><th scope="col">Check</th>'
    yield _column_heads(comparison) + "</tr></thead>"
    for area in areas:
        summary = comparison.area_summary(area)
        yield f'<tbody data-area="{area}">'
        counts = "".join(
            "<td>"
            + "".join(
                f'<span class="n" title="{s}">{SYMBOLS[s]}{tally[s]}</span>'
                for s in (*COUNTED, "missing", "not-reached")
                if tally[s] or s in ("pass", "fail")
            )
            + "</td>"
            for tally in summary.counts
        )
        yield (
            f'<tr class="area" data-area="{area}"><th scope="rowgroup">{area} '
            f'<span class="t">({summary.rows} checks)</span></th>{counts}</tr>'
        )
        for row in comparison.rows_in(area):
            yield _matrix_row(comparison, row)
        yield "</tbody>"
    yield "</table>"


def _matrix_row(comparison: Comparison, row: Row) -> str:
    tag = ' <span class="tag">profile</span>' if row.is_profile else ""
    title = f' <span class="t">{escape(row.title)}</span>' if row.title else ""
    cells = "".join(
        _matrix_cell(comparison, row, index, col, cell)
        for index, (col, cell) in enumerate(zip(comparison.columns, row.cells, strict=True))
    )
    return (
        f'<tr class="chk" data-id="{escape(row.id)}" data-differs="{int(row.differs)}">'
        f'<th scope="row"><code>{escape(row.id)}</code>{tag}{title}</th>{cells}</tr>'
    )


def _matrix_cell(
    comparison: Comparison, row: Row, index: int, col: Column, cell: CheckResult | None
) -> str:
    state = cell_state(cell, col)
    label = f"{SYMBOLS[state]} {WORDS[state]}"
    body = _cell_details(row, index, cell) if cell is not None else ""
    if body:
        return f'<td class="v-{state}"><details><summary>{label}</summary>{body}</details></td>'
    return f'<td class="v-{state}">{label}</td>'


def _cell_details(row: Row, index: int, cell: CheckResult) -> str:
    parts = []
    if cell.reason:
        parts.append(f"<p>{escape(cell.reason)}</p>")
    shown = {k: v for k, v in cell.measurements.items() if k not in _HIDDEN_MEASUREMENTS}
    shown["duration"] = format_seconds(cell.duration_s)
    parts.append(
        '<dl class="m">'
        + "".join(
            f"<dt>{escape(k)}</dt><dd>{escape(format_value(v))}</dd>" for k, v in shown.items()
        )
        + "</dl>"
    )
    if cell.verdict in (Verdict.FAIL, Verdict.ERROR) and table_pairs(cell):
        parts.append(f'<a href="#{_netpol_anchor(row, index)}">truth tables and explanation</a>')
    return "".join(parts)


def _netpol_anchor(row: Row, index: int) -> str:
    return f"np-{index}-{row.id}"


def _netpol_failures(comparison: Comparison) -> Iterator[str]:
    failures = [
        (row, index, col, cell)
        for row in comparison.rows
        for index, (col, cell) in enumerate(zip(comparison.columns, row.cells, strict=True))
        if cell is not None and cell.verdict in (Verdict.FAIL, Verdict.ERROR) and table_pairs(cell)
    ]
    yield '<h2 id="netpol">NetworkPolicy failures</h2>'
    if not failures:
        yield "<p>No NetworkPolicy case failed with a truth table.</p>"
        return
    yield (
        "<p class=t>Truth tables: rows are sources, columns destinations; “.” connected, "
        "“X” blocked. In the difference table “X” marks a probe whose observation differs "
        "from the expectation.</p>"
    )
    for row, index, col, cell in failures:
        yield f'<section class="np" id="{escape(_netpol_anchor(row, index))}">'
        yield f"<h3><code>{escape(row.id)}</code> on {escape(col.label)}</h3>"
        yield f"<p>{escape(cell.reason)}</p>"
        for pair in table_pairs(cell):
            yield f"<h4>port {escape(pair.key)}</h4><div>"
            for name, table in (
                ("expected", pair.expected),
                ("observed", pair.observed),
                ("difference", pair.diff),
            ):
                if table is not None:
                    yield _truth_table(name, table)
            yield "</div>"
            if pair.mismatches:
                yield '<table class="explain"><thead><tr><th>from</th><th>to</th><th>expected'
                yield "</th><th>observed</th><th>explanation</th></tr></thead><tbody>"
                for m in pair.mismatches:
                    yield (
                        f"<tr><td>{escape(m.source)}</td><td>{escape(m.destination)}</td>"
                        f"<td>{escape(m.expected or '')}</td><td>{escape(m.observed or '')}</td>"
                        f"<td>{escape(m.explanation or 'no explanation recorded')}</td></tr>"
                    )
                yield "</tbody></table>"
        yield "</section>"


def _truth_table(name: str, table: TruthTable) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in table.cols)
    body = "".join(
        f"<tr><th>{escape(r)}</th>"
        + "".join(f'<td class="{_tt_class(name, v)}">{escape(v)}</td>' for v in line)
        + "</tr>"
        for r, line in zip(table.rows, table.cells, strict=False)
    )
    return (
        f'<table class="tt" data-table="{name}"><caption>{name}</caption>'
        f"<thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _tt_class(name: str, value: str) -> str:
    if value != "X":
        return ""
    return "X" if name == "difference" else "b"


def _profile(comparison: Comparison) -> Iterator[str]:
    rows = comparison.profile_rows
    yield '<h2 id="profile">Profile: where platforms legitimately differ</h2>'
    if not rows:
        yield "<p>No profile checks in these runs.</p>"
        return
    yield (
        "<p class=t>These checks record behaviour the specification leaves open (e.g. ipBlock "
        "matching pod IPs, hairpin through a Service); a difference here is not a failure.</p>"
    )
    yield '<table id="profile-table"><thead><tr><th>Behaviour</th>'
    yield _column_heads(comparison) + "</tr></thead><tbody>"
    for row in rows:
        cells = []
        for col, cell in zip(comparison.columns, row.cells, strict=True):
            state = cell_state(cell, col)
            observed = ""
            if cell is not None:
                value = cell.measurements.get("behaviour", cell.observed)
                observed = f"<br>{escape(format_value(value))}" if value is not None else ""
            cells.append(f'<td class="v-{state}">{SYMBOLS[state]} {WORDS[state]}{observed}</td>')
        title = f' <span class="t">{escape(row.title)}</span>' if row.title else ""
        yield f"<tr><th><code>{escape(row.id)}</code>{title}</th>{''.join(cells)}</tr>"
    yield "</tbody></table>"


def _platform_info(comparison: Comparison) -> Iterator[str]:
    yield '<h2 id="platforms">Platforms</h2><div class="cards">'
    for col in comparison.columns:
        run = col.run
        status = (
            f'<span class="crashed">{SYMBOLS["not-reached"]} crashed / incomplete</span>'
            if col.crashed
            else "complete"
        )
        summary = ", ".join(f"{SYMBOLS[k]} {n} {k}" for k, n in run.summary.items())
        facts = [
            ("platform", run.platform),
            ("status", None),
            ("started", run.started),
            ("finished", run.finished or "—"),
            ("run time", format_seconds(col.run_time_s)),
            ("checks", summary),
            ("source", str(col.source)),
        ]
        items = "".join(
            f"<dt>{escape(k)}</dt><dd>{status if v is None else escape(v)}</dd>" for k, v in facts
        )
        info = "".join(
            f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in flatten_info(run.platform_info)
        )
        yield (
            f'<div class="card" data-platform="{escape(col.label)}"><h3>{escape(col.label)}</h3>'
            f'<dl class="m">{items}{info}</dl></div>'
        )
    yield "</div>"
