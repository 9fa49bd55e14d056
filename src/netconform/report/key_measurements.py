"""The measurements that matter, picked from each run so platforms can be read side by side."""

from __future__ import annotations

from dataclasses import dataclass

from netconform.report.compare import Comparison
from netconform.results import JSONValue


@dataclass(frozen=True)
class KnownMeasurement:
    key: str
    label: str
    unit: str


KNOWN_MEASUREMENTS: tuple[KnownMeasurement, ...] = (
    KnownMeasurement("effective_mtu", "Effective MTU", "bytes"),
    KnownMeasurement("largest_df_payload", "Largest DF payload", "bytes"),
    KnownMeasurement("dns_latency_p50_ms", "DNS latency p50", "ms"),
    KnownMeasurement("dns_latency_p99_ms", "DNS latency p99", "ms"),
    KnownMeasurement("enforcement_latency_s", "Policy enforcement latency", "s"),
    KnownMeasurement("throughput_mbps", "Throughput", "Mbit/s"),
)


@dataclass(frozen=True)
class MeasurementRow:
    """One known measurement of one check, with a value (or None) per column."""

    label: str
    unit: str
    check_id: str
    values: tuple[JSONValue, ...]


def key_measurement_rows(comparison: Comparison) -> tuple[MeasurementRow, ...]:
    rows: list[MeasurementRow] = [
        MeasurementRow(
            label="Run time",
            unit="s",
            check_id="",
            values=tuple(
                round(t, 1) if (t := col.run_time_s) is not None else None
                for col in comparison.columns
            ),
        )
    ]
    for known in KNOWN_MEASUREMENTS:
        # One row per measurement: from the check that carries it on the most platforms
        # (rows are in report order, so ties go to the first); the rest stay in the cells.
        best: MeasurementRow | None = None
        for row in comparison.rows:
            values = tuple(
                cell.measurements.get(known.key) if cell is not None else None for cell in row.cells
            )
            present = sum(v is not None for v in values)
            if present and (best is None or present > sum(v is not None for v in best.values)):
                best = MeasurementRow(known.label, known.unit, row.id, values)
        if best is not None:
            rows.append(best)
    return tuple(rows)
