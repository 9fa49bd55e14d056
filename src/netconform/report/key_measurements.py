"""The measurements that matter, picked from each run so platforms can be read side by side.

Every name read here is a `results.Measure`, the constants the checks write with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from netconform.report import aspects
from netconform.report.compare import Column, Comparison
from netconform.results import Area, JSONValue, Measure
from netconform.stats import percentile


@dataclass(frozen=True)
class KeyMeasurement:
    measure: Measure
    label: str
    unit: str
    # Where the figure is read, in order of preference; empty: from the aspect that carries
    # the measure on the most platforms.
    aspects: tuple[str, ...] = ()


# One value per check, taken as the check wrote it.
DIRECT: tuple[KeyMeasurement, ...] = (
    KeyMeasurement(Measure.EFFECTIVE_MTU, "Effective MTU", "bytes", aspects.MTU),
    KeyMeasurement(Measure.LARGEST_DF_PAYLOAD, "Largest DF payload", "bytes"),
    KeyMeasurement(Measure.DNS_P50_MS, "DNS latency p50", "ms"),
    KeyMeasurement(Measure.DNS_P99_MS, "DNS latency p99", "ms"),
    # iperf3's figure, not the MTU area's 4 MiB transfer (a check that data crosses intact)
    KeyMeasurement(Measure.MBIT_S, "TCP throughput, 1 stream", "Mbit/s", (aspects.THROUGHPUT,)),
)
RUN_TIME = "Run time"
ENFORCEMENT = "Policy enforcement latency"
ENFORCEMENT_SOURCE = f"{Measure.TOOK_EFFECT_S} of every held NetworkPolicy step"


@dataclass(frozen=True)
class MeasurementRow:
    """One key measurement with a value (or None) per column; `source` names the aspects
    (or the quantity) the values come from."""

    label: str
    unit: str
    source: str
    values: tuple[JSONValue, ...]

    @property
    def is_duration(self) -> bool:
        return self.label == RUN_TIME


def _direct_row(comparison: Comparison, known: KeyMeasurement) -> MeasurementRow | None:
    """Per column, the value from the measurement's own aspects in their order, or (when it
    names none) from the aspect carrying it on the most platforms (ties to the first in
    report order), so platforms read the same aspect where they can."""
    carriers = [
        (sum(c is not None and known.measure in c.measurements for c in row.cells), row)
        for row in comparison.rows
        if not known.aspects or row.aspect in known.aspects
    ]
    if known.aspects:
        ranked = sorted(
            (row for count, row in carriers if count),
            key=lambda row: known.aspects.index(row.aspect),
        )
    else:
        ranked = [row for count, row in sorted(carriers, key=lambda cr: -cr[0]) if count]
    if not ranked:
        return None
    values: list[JSONValue] = []
    sources: list[str] = []
    for index in range(len(comparison.columns)):
        found = next(
            (
                (row.aspect, cell.measurements[known.measure])
                for row in ranked
                if (cell := row.cells[index]) is not None and known.measure in cell.measurements
            ),
            None,
        )
        values.append(found[1] if found else None)
        if found and found[0] not in sources:
            sources.append(found[0])
    return MeasurementRow(known.label, known.unit, ", ".join(sources), tuple(values))


def took_effect_s(
    column: Column, label_change: bool = False, areas: Sequence[Area] | None = None
) -> list[float]:
    """How long each NetworkPolicy step of the run took to take effect (held steps only:
    a step that never held ran into its deadline, which is not a latency): the steps that
    changed policies, or with `label_change` those that changed labels (a CNI may apply a
    relabel on another clock, e.g. Cilium's identity jitter)."""
    return [
        step.took_effect_s
        for check in column.run.checks
        if check.netpol is not None and (areas is None or check.area in areas)
        for step in check.netpol.steps
        if step.held and step.label_change == label_change
    ]


def _enforcement_rows(comparison: Comparison) -> list[MeasurementRow]:
    samples = [took_effect_s(col) for col in comparison.columns]
    if not any(samples):
        return []
    return [
        MeasurementRow(
            f"{ENFORCEMENT} {name}",
            "s",
            ENFORCEMENT_SOURCE,
            tuple(round(percentile(s, fraction), 3) if s else None for s in samples),
        )
        for name, fraction in (("p50", 0.5), ("p99", 0.99))
    ]


def key_measurement_rows(comparison: Comparison) -> tuple[MeasurementRow, ...]:
    run_time = MeasurementRow(
        label=RUN_TIME,
        unit="s",
        source="",
        values=tuple(
            round(t, 1) if (t := col.run_time_s) is not None else None for col in comparison.columns
        ),
    )
    direct = [row for known in DIRECT if (row := _direct_row(comparison, known)) is not None]
    return (run_time, *direct, *_enforcement_rows(comparison))
