"""The comparison of approaches, in the shape of the seed's table, with numbers measured on
the user's own machines instead of stars: per platform, isolation (isolation and
NetworkPolicy checks passed, NetworkPolicy enforced or not), performance (TCP throughput
and request/response latency, absolute and as a ratio to the underlay measured in the same
check, effective MTU) and complexity (time to provision, objects the run created, images).
The baselines themselves (host network; a plain Docker bridge on one host where a Swarm run
measured it) are reference rows. A small inline SVG bar chart shows throughput and latency
per row; Markdown and comparison.json get the same values."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from html import escape
from typing import Any

from netconform.report import aspects
from netconform.report.compare import Column, Comparison
from netconform.report.presentation import markdown_text
from netconform.results import Area, CheckResult, JSONValue, Measure, Verdict

ISOLATION_AREAS = (Area.ISOLATION, Area.NETPOL)


@dataclass(frozen=True)
class Approach:
    """One row: a platform's own network, or a reference (its baseline, a bridge)."""

    name: str
    platform: str
    reference: bool  # a baseline row, not a platform's network
    isolation_passed: int | None = None
    isolation_judged: int | None = None  # passed + failed + errors (skips are not judged)
    policy_enforced: bool | None = None  # None: no NetworkPolicy check (e.g. Swarm)
    mbit_s: float | None = None
    throughput_ratio: float | None = None  # to the underlay, measured alternately with it
    rr_p50_ms: float | None = None
    rr_p99_ms: float | None = None
    latency_ratio: float | None = None
    effective_mtu: int | None = None
    provision_s: float | None = None
    objects: int | None = None
    images: int | None = None
    baseline: str = ""  # what the ratios are to

    def to_json(self) -> dict[str, JSONValue]:
        return asdict(self)


def _cell(column: Column, aspect: str) -> CheckResult | None:
    return next((c for c in column.run.checks if c.aspect == aspect), None)


def _measured(column: Column, aspect: str, measure: Measure) -> Any:
    cell = _cell(column, aspect)
    if cell is None or cell.verdict != Verdict.PASS:
        return None
    return cell.measurements.get(measure)


def _mtu(column: Column) -> int | None:
    for aspect in aspects.MTU:
        found = _measured(column, aspect, Measure.EFFECTIVE_MTU)
        if isinstance(found, int):
            return found
    return None


def _count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, Mapping):
        return sum(v for v in value.values() if isinstance(v, int))
    if isinstance(value, list | tuple):
        return len(value)
    return None


def _enforced(column: Column) -> bool | None:
    canary = _cell(column, aspects.CANARY)
    if canary is None or canary.verdict in (Verdict.SKIP, Verdict.ERROR):
        return None
    flag = canary.measurements.get(Measure.ENFORCED)
    return bool(flag) if isinstance(flag, bool) else canary.verdict == Verdict.PASS


def _platform_row(column: Column) -> Approach:
    judged = [
        c for c in column.run.checks if c.area in ISOLATION_AREAS and c.verdict != Verdict.SKIP
    ]
    info = column.run.platform_info
    provision = info.get("provision_s")
    return Approach(
        name=column.label,
        platform=column.label,
        reference=False,
        isolation_passed=sum(c.verdict == Verdict.PASS for c in judged),
        isolation_judged=len(judged),
        policy_enforced=_enforced(column),
        mbit_s=_measured(column, aspects.THROUGHPUT, Measure.MBIT_S),
        throughput_ratio=_measured(column, aspects.THROUGHPUT, Measure.RATIO_TO_BASELINE),
        rr_p50_ms=_measured(column, aspects.LATENCY, Measure.RR_P50_MS),
        rr_p99_ms=_measured(column, aspects.LATENCY, Measure.RR_P99_MS),
        latency_ratio=_measured(column, aspects.LATENCY, Measure.RATIO_TO_BASELINE),
        effective_mtu=_mtu(column),
        provision_s=float(provision) if isinstance(provision, int | float) else None,
        objects=_count(info.get("objects")),
        images=_count(info.get("images")),
        baseline=str(_measured(column, aspects.THROUGHPUT, Measure.BASELINE) or ""),
    )


def _reference_rows(column: Column) -> Iterator[Approach]:
    base = _measured(column, aspects.THROUGHPUT, Measure.BASELINE)
    base_mbit = _measured(column, aspects.THROUGHPUT, Measure.BASELINE_MBIT_S)
    base_p50 = _measured(column, aspects.LATENCY, Measure.BASELINE_RR_P50_MS)
    if base and (base_mbit is not None or base_p50 is not None):
        yield Approach(
            name=f"{base} ({column.label})",
            platform=column.label,
            reference=True,
            mbit_s=base_mbit,
            throughput_ratio=1.0 if base_mbit is not None else None,
            rr_p50_ms=base_p50,
            rr_p99_ms=_measured(column, aspects.LATENCY, Measure.BASELINE_RR_P99_MS),
            latency_ratio=1.0 if base_p50 is not None else None,
            effective_mtu=_count(column.run.platform_info.get("underlay_mtu")),
            baseline=str(base),
        )
    bridge = _measured(column, aspects.BRIDGE, Measure.MBIT_S)
    if bridge is not None:
        yield Approach(
            name=f"bridge, one host ({column.label})",
            platform=column.label,
            reference=True,
            mbit_s=bridge,
            throughput_ratio=_measured(column, aspects.BRIDGE, Measure.RATIO_TO_BASELINE),
            baseline=str(_measured(column, aspects.BRIDGE, Measure.BASELINE) or ""),
        )


def approaches(comparison: Comparison) -> tuple[Approach, ...]:
    """Every platform's row, then the reference rows of the runs that measured them."""
    rows = [_platform_row(col) for col in comparison.columns]
    rows += [ref for col in comparison.columns for ref in _reference_rows(col)]
    return tuple(rows)


def summary_json(comparison: Comparison) -> list[dict[str, JSONValue]]:
    return [a.to_json() for a in approaches(comparison)]


# --- text ----------------------------------------------------------------------------------
def _num(value: float | None, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "—"
    text = f"{value:,.{digits}f}" if abs(value) >= 100 else f"{value:.{max(digits, 3)}g}"
    return f"{text} {unit}".strip()


def _ratio_text(value: float | None) -> str:
    return "—" if value is None else f"×{value:.2f}"


def isolation_text(a: Approach) -> str:
    if a.reference:
        return "reference"
    checks = (
        f"{a.isolation_passed}/{a.isolation_judged} checks passed"
        if a.isolation_judged
        else "no checks"
    )
    policy = {True: "policy enforced", False: "policy NOT enforced", None: "no NetworkPolicy"}
    return f"{checks}; {policy[a.policy_enforced]}"


def throughput_text(a: Approach) -> str:
    return f"{_ratio_text(a.throughput_ratio)} ({_num(a.mbit_s, 'Mbit/s')})"


def latency_text(a: Approach) -> str:
    if a.rr_p50_ms is None:
        return "—"
    return (
        f"{_ratio_text(a.latency_ratio)} (p50 {_num(a.rr_p50_ms, 'ms')}, "
        f"p99 {_num(a.rr_p99_ms, 'ms')})"
    )


def complexity_text(a: Approach) -> str:
    if a.reference:
        return "—"
    parts = [
        f"provisioned in {_num(a.provision_s, 's')}" if a.provision_s is not None else "",
        _count_text(a.objects, "object"),
        _count_text(a.images, "image"),
    ]
    return ", ".join(p for p in parts if p) or "—"


def _count_text(n: int | None, noun: str) -> str:
    return "" if n is None else f"{n} {noun}{'' if n == 1 else 's'}"


def _name(a: Approach) -> str:
    return a.name


def _mtu_text(a: Approach) -> str:
    return str(a.effective_mtu) if a.effective_mtu else "—"


COLUMNS: tuple[tuple[str, Callable[[Approach], str]], ...] = (
    ("Approach", _name),
    ("Isolation", isolation_text),
    ("Throughput vs underlay", throughput_text),
    ("Latency vs underlay", latency_text),
    ("Effective MTU", _mtu_text),
    ("Complexity", complexity_text),
)
EXPLAINED = (
    f"Throughput: TCP, 1 stream, across hosts (`{aspects.THROUGHPUT}`); latency: TCP "
    f"request/response on one connection (`{aspects.LATENCY}`); each ×ratio is to the "
    "baseline measured alternately with it in the same check (host network between the same "
    "hosts; the bridge row: the host's loopback)."
)


def render_markdown(comparison: Comparison) -> Iterator[str]:
    rows = approaches(comparison)
    if not rows:
        return
    yield "## Comparison of approaches"
    yield ""
    yield EXPLAINED
    yield ""
    yield "| " + " | ".join(name for name, _ in COLUMNS) + " |"
    yield "|" + "---|" * len(COLUMNS)
    for a in rows:
        cells = (markdown_text(text(a)) for _, text in COLUMNS)
        yield "| " + " | ".join(cells) + " |"
    yield ""


# --- HTML and the chart ----------------------------------------------------------------------
BAR_W, BAR_H, LABEL_W, VALUE_W = 260, 16, 210, 110


def bar_chart(title: str, unit: str, bars: Sequence[tuple[str, float, bool]]) -> str:
    """A horizontal bar chart as inline SVG: (label, value, reference) per bar."""
    if not bars:
        return ""
    top = max(v for _, v, _ in bars) or 1.0
    height = 24 + len(bars) * (BAR_H + 6)
    width = LABEL_W + BAR_W + VALUE_W
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="14" font-size="13" font-weight="bold">{escape(title)}</text>',
    ]
    for i, (label, value, reference) in enumerate(bars):
        y = 24 + i * (BAR_H + 6)
        length = max(1.0, value / top * BAR_W)
        fill = "#8c959f" if reference else "#0969da"
        parts += [
            f'<text x="{LABEL_W - 6}" y="{y + BAR_H - 4}" font-size="12" '
            f'text-anchor="end">{escape(label)}</text>',
            f'<rect x="{LABEL_W}" y="{y}" width="{length:.1f}" height="{BAR_H}" fill="{fill}">'
            f"<title>{escape(label)}: {escape(_num(value, unit))}</title></rect>",
            f'<text x="{LABEL_W + length + 4:.1f}" y="{y + BAR_H - 4}" font-size="12">'
            f"{escape(_num(value, unit))}</text>",
        ]
    parts.append("</svg>")
    return "".join(parts)


def render_html(comparison: Comparison) -> Iterator[str]:
    rows = approaches(comparison)
    if not rows:
        return
    yield '<h2 id="approaches">Comparison of approaches</h2>'
    yield f"<p>{escape(EXPLAINED).replace('`', '')}</p>"
    yield '<table id="approaches-table"><thead><tr>'
    yield "".join(f'<th scope="col">{escape(name)}</th>' for name, _ in COLUMNS)
    yield "</tr></thead><tbody>"
    for a in rows:
        cls = ' class="reference"' if a.reference else ""
        cells = "".join(f"<td>{escape(text(a))}</td>" for _, text in COLUMNS)
        yield f"<tr{cls}>{cells}</tr>"
    yield "</tbody></table>"
    throughput = [(a.name, float(a.mbit_s), a.reference) for a in rows if a.mbit_s is not None]
    latency = [(a.name, float(a.rr_p50_ms), a.reference) for a in rows if a.rr_p50_ms is not None]
    charts = [
        bar_chart("TCP throughput, 1 stream (Mbit/s)", "Mbit/s", throughput),
        bar_chart("TCP request/response latency p50 (ms)", "ms", latency),
    ]
    if any(charts):
        yield '<div class="charts" id="approaches-charts">' + "".join(charts) + "</div>"
