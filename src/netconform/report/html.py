"""comparison.html: one self-contained page (inline CSS and script, no external assets)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from netconform.report import approaches, html_netpol, mesh_section, selftest_section
from netconform.report.compare import CellState, Column, Comparison, Row
from netconform.report.key_measurements import key_measurement_rows
from netconform.report.netpol_view import failed_steps
from netconform.report.presentation import (
    EXPLAINED,
    SYMBOLS,
    WORDS,
    count,
    flatten_info,
    format_measurement,
    format_seconds,
    format_value,
)
from netconform.report.reproduce import SHOWN, failed_probes
from netconform.results import CheckResult, RunStatus, Verdict

_CSS = """
table.mesh td{width:1.1em;height:1.1em;padding:0;text-align:center;font-size:.8em}
td.m-ok{background:#cfc}td.m-fail{background:#f99}td.m-self{background:#eee}
body{font:14px/1.4 system-ui,sans-serif;margin:1rem 1.5rem;color:#1f2328}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0}
th,td{border:1px solid #d0d7de;padding:2px 6px;vertical-align:top;text-align:left}
thead th{background:#f6f8fa;position:sticky;top:0;z-index:1}
code{font-size:.92em}
.v-pass{background:#dafbe1;color:#116329}.v-fail{background:#ffd8d3;color:#a40e26}
.v-skip{background:#eaeef2;color:#57606a}.v-error{background:#fff1c5;color:#7d4e00}
.v-not-run{background:#fff;color:#8c959f}.v-not-reached{background:#fbefff;color:#8250df}
.v-not-applicable{background:#f6f8fa;color:#8c959f}
td small{display:block;font-size:.75em;color:#57606a;font-family:monospace}
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
.tt td.b{background:#eaeef2}.tt td.e{background:#fff1c5;color:#7d4e00;font-weight:bold}
.tt[data-table=difference] td.X{background:#ffd8d3;font-weight:bold}
.cmd{display:flex;gap:.4rem;align-items:flex-start;margin:.2rem 0}
.cmd code{background:#f6f8fa;padding:2px 4px;word-break:break-all;user-select:all}
th .t{font-weight:normal}
.cards{display:flex;flex-wrap:wrap;gap:1rem}
.card{border:1px solid #d0d7de;border-radius:6px;padding:.5rem 1rem;min-width:18rem}
#approaches-table tr.reference td{color:#57606a;font-style:italic}
.charts{display:flex;flex-wrap:wrap;gap:2rem;margin:.5rem 0}
.charts svg{font-family:system-ui,sans-serif;fill:#1f2328}
"""

_SCRIPT = """
(function(){
var area=document.getElementById('f-area'),diff=document.getElementById('f-diff'),
 text=document.getElementById('f-text'),shown=document.getElementById('shown');
// what the text filter matches: the aspect and every platform's check id in the row
function keys(tr){
 if(tr._k===undefined){var k=tr.dataset.id;
  tr.querySelectorAll('td small').forEach(function(s){k+=' '+s.textContent;});
  tr._k=k.toLowerCase();}
 return tr._k;
}
function apply(){
 var a=area.value,d=diff.checked,t=text.value.trim().toLowerCase(),n=0;
 document.querySelectorAll('#matrix tbody').forEach(function(tb){
  var visible=0,areaOk=!a||tb.dataset.area===a;
  tb.querySelectorAll('tr.chk').forEach(function(tr){
   var ok=areaOk&&(!d||tr.dataset.differs==='1')&&(!t||keys(tr).indexOf(t)>=0);
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
document.addEventListener('click',function(e){
 var b=e.target.closest('button.copy');
 if(b&&navigator.clipboard)navigator.clipboard.writeText(b.dataset.copy);
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
        f"<p>{len(comparison.rows)} aspects on {len(comparison.columns)} runs "
        f"({escape(platforms)}), generated {when}.</p>",
        *_crash_banner(comparison),
        *_key_measurements(comparison),
        *approaches.render_html(comparison),
        *_matrix(comparison),
        *html_netpol.render_section(comparison),
        *mesh_section.render_html(comparison),
        *_profile(comparison),
        *selftest_section.render_html(selftests),
        *_platform_info(comparison),
        f"<script>{_SCRIPT}</script>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _crash_banner(comparison: Comparison) -> Iterator[str]:
    crashed = [col for col in comparison.columns if col.incomplete]
    if not crashed:
        return
    yield '<div class="banner" id="crashed">'
    for col in crashed:
        sign = SYMBOLS[CellState.NOT_REACHED]
        if col.provisioning_error is not None:
            yield (
                f'<p><span class="crashed">{sign} {escape(col.label)} could not be '
                f"provisioned</span>: {escape(col.provisioning_error)}. No check ran; its "
                f"cells are shown as “{sign} {WORDS[CellState.NOT_REACHED]}”.</p>"
            )
            continue
        yield (
            f'<p><span class="crashed">{sign} {escape(col.label)} {_stopped(col)}; '
            f"{len(col.run.checks)} checks recorded before it stopped{_never_ran(col)}. Checks "
            f"it never reached are shown as “{sign} {WORDS[CellState.NOT_REACHED]}”.</p>"
        )
    yield "</div>"


def _stopped(col: Column) -> str:
    """How a run that did not complete stopped: `was interrupted</span> while checks: ...`."""
    run = col.run
    if col.status is RunStatus.INTERRUPTED:
        where = f" while {escape(str(run.phase))}" if run.phase is not None else ""
        when = f"stopped {escape(run.finished)}" if run.finished else "never finished"
        return f"was interrupted</span>{where}: started {escape(run.started)}, {when}"
    return f"did not complete</span>: started {escape(run.started)}, never finished"


def _never_ran(col: Column) -> str:
    missing = len(col.run.not_run)
    return f", {missing} planned checks never ran" if missing else ""


def _column_heads(comparison: Comparison) -> str:
    heads = []
    for col in comparison.columns:
        status = (
            f'<br><span class="crashed">{SYMBOLS[CellState.NOT_REACHED]} {col.ending}</span>'
            if col.incomplete
            else ""
        )
        heads.append(
            f'<th scope="col" data-col="{escape(col.label)}">{escape(col.label)}{status}</th>'
        )
    return "".join(heads)


def _key_measurements(comparison: Comparison) -> Iterator[str]:
    yield '<h2 id="measurements">Key measurements</h2>'
    yield '<table id="key-measurements"><thead><tr><th>Measurement</th><th>From</th>'
    yield _column_heads(comparison) + "</tr></thead><tbody>"
    for row in key_measurement_rows(comparison):
        cells = "".join(f"<td>{escape(format_measurement(row, v))}</td>" for v in row.values)
        yield (
            f"<tr><th>{escape(row.label)}</th><td><code>{escape(row.source)}</code></td>"
            f"{cells}</tr>"
        )
    yield "</tbody></table>"


def _matrix(comparison: Comparison) -> Iterator[str]:
    areas = comparison.areas
    yield '<h2 id="matrix-title">Aspects × platforms</h2>'
    yield '<div class="filters">'
    yield '<label>Area <select id="f-area"><option value="">all</option>'
    yield "".join(f'<option value="{a}">{a}</option>' for a in areas) + "</select></label>"
    yield '<label><input type="checkbox" id="f-diff"> only differences between platforms</label>'
    yield (
        '<label>Aspect or check id <input type="search" id="f-text" placeholder="dns.service">'
        "</label>"
    )
    yield '<button type="button" id="f-open">expand/collapse shown</button>'
    yield (
        f' <span>showing <b id="shown">{len(comparison.rows)}</b> of {len(comparison.rows)}'
        f" aspects, {len(comparison.differing_rows)} differ</span></div>"
    )
    legend = " · ".join(f"{SYMBOLS[s]} {EXPLAINED[s]}" for s in CellState)
    yield (
        f"<p class=t>Legend: {escape(legend)}. Each cell names the platform's own check, "
        "small under its verdict; click a cell for its reason and measurements.</p>"
    )
    yield '<table id="matrix"><thead><tr><th scope="col">Aspect</th>'
    yield _column_heads(comparison) + "</tr></thead>"
    for area in areas:
        summary = comparison.area_summary(area)
        yield f'<tbody data-area="{area}">'
        counts = "".join(
            "<td>"
            + "".join(
                f'<span class="n" title="{s}">{SYMBOLS[s]}{tally[s]}</span>'
                for s in CellState
                if tally[s] or s in (CellState.PASS, CellState.FAIL)
            )
            + "</td>"
            for tally in summary.counts
        )
        yield (
            f'<tr class="area" data-area="{area}"><th scope="rowgroup">{area} '
            f'<span class="t">({count(summary.rows, "aspect")})</span></th>{counts}</tr>'
        )
        for row in comparison.rows_in(area):
            yield _matrix_row(comparison, row)
        yield "</tbody>"
    yield "</table>"


def _matrix_row(comparison: Comparison, row: Row) -> str:
    tag = ' <span class="tag">profile</span>' if row.profile else ""
    title = f' <span class="t">{escape(row.title)}</span>' if row.title else ""
    cells = "".join(
        _matrix_cell(row, index, cell, state)
        for index, (cell, state) in enumerate(zip(row.cells, row.states, strict=True))
    )
    return (
        f'<tr class="chk" data-id="{escape(row.aspect)}" data-differs="{int(row.differs)}">'
        f'<th scope="row"><code>{escape(row.aspect)}</code>{tag}{title}</th>{cells}</tr>'
    )


def _matrix_cell(row: Row, index: int, cell: CheckResult | None, state: CellState) -> str:
    label = f"{SYMBOLS[state]} {WORDS[state]}"
    if cell is None:
        return f'<td class="v-{state}">{label}</td>'
    summary = f"{label}<small>{escape(cell.id)}</small>"
    body = _cell_details(row, index, cell)
    return f'<td class="v-{state}"><details><summary>{summary}</summary>{body}</details></td>'


def _cell_details(row: Row, index: int, cell: CheckResult) -> str:
    parts = []
    if cell.reason:
        parts.append(f"<p>{escape(cell.reason)}</p>")
    shown = {str(k): format_value(v) for k, v in cell.measurements.items()}
    shown["duration"] = format_seconds(cell.duration_s)
    parts.append(
        '<dl class="m">'
        + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in shown.items())
        + "</dl>"
    )
    if cell.verdict in (Verdict.FAIL, Verdict.ERROR):
        parts.extend(_failed_probes(cell))
    if failed_steps(cell):
        parts.append(
            f'<a href="#{html_netpol.anchor(row, index)}">truth tables and explanation</a>'
        )
    return "".join(parts)


def _failed_probes(cell: CheckResult) -> Iterator[str]:
    probes = failed_probes(cell)
    for probe in probes[:SHOWN]:
        yield f"<p>{escape(probe.what)}: {escape(probe.reason or 'failed')}; re-run with</p>"
        yield html_netpol.command(probe.argv)
    if len(probes) > SHOWN:
        yield f"<p class=t>and {len(probes) - SHOWN} more failed probes in comparison.json</p>"


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
        for cell, state in zip(row.cells, row.states, strict=True):
            said = _profile_said(cell) if cell is not None else ""
            cells.append(f'<td class="v-{state}">{SYMBOLS[state]} {WORDS[state]}{said}</td>')
        title = f' <span class="t">{escape(row.title)}</span>' if row.title else ""
        yield f"<tr><th><code>{escape(row.aspect)}</code>{title}</th>{''.join(cells)}</tr>"
    yield "</tbody></table>"


def _profile_said(cell: CheckResult) -> str:
    """The check's reason, and which NetworkPolicy steps matched which platform profile."""
    steps = cell.netpol.steps if cell.netpol is not None else ()
    matched = "".join(
        f"<br>{escape(step.name)}: profile {escape(step.profile)}" for step in steps if step.profile
    )
    return f"<small>{escape(cell.id)}</small>{escape(cell.reason)}{matched}"


def _platform_info(comparison: Comparison) -> Iterator[str]:
    yield '<h2 id="platforms">Platforms</h2><div class="cards">'
    for col in comparison.columns:
        run = col.run
        sign = SYMBOLS[CellState.NOT_REACHED]
        status = (
            "complete"
            if not col.incomplete
            else f'<span class="crashed">{sign} not provisioned</span>'
            if col.provisioning_error is not None
            else f'<span class="crashed">{sign} crashed / incomplete</span>'
            if col.status is RunStatus.CRASHED
            else f'<span class="crashed">{sign} {escape(col.ending)}</span>'
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
