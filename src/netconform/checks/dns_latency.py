"""The DNS latency measurement both families share.

One series probe per transport (probes.agent `dns-latency`): `samples` lookups of one name
from one endpoint, one after the other, each timed around its own exchange, so the figures
are the server's and the path's, not a queue in the harness. Once per run the same endpoint
asks `dig` the same question over UDP, and both figures are recorded. A failed lookup is a
finding, a series that did not run an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from netconform.checks.base import Outcome
from netconform.probes.model import ProbeResult
from netconform.results import Measure
from netconform.stats import percentile

# Each lookup's own timeout; a series may take samples (plus a warm-up) times that, twice
# when dig asks too.
LOOKUP_TIMEOUT_S = 1.0
CONCURRENCY = 1  # one lookup at a time: the figure is one client's latency
DIG_TRANSPORT = "udp"

PERCENTILES = {
    "udp": (Measure.DNS_P50_MS, Measure.DNS_P90_MS, Measure.DNS_P99_MS),
    "tcp": (Measure.DNS_TCP_P50_MS, Measure.DNS_TCP_P90_MS, Measure.DNS_TCP_P99_MS),
}


@dataclass(frozen=True)
class Spread:
    """Nearest-rank percentiles of a set of timings, in ms."""

    samples: int
    p50: float
    p90: float
    p99: float

    def text(self) -> str:
        return f"p50 {self.p50:.2f} ms, p90 {self.p90:.2f} ms, p99 {self.p99:.2f} ms"


def spread(timings_ms: Sequence[float]) -> Spread | None:
    if not timings_ms:
        return None
    return Spread(
        len(timings_ms),
        percentile(timings_ms, 0.50),
        percentile(timings_ms, 0.90),
        percentile(timings_ms, 0.99),
    )


def series_params(samples: int, transport: str) -> dict[str, Any]:
    """The keyword arguments of a context's `probe(ProbeKind.DNS_LATENCY, name, ...)`."""
    dig = transport == DIG_TRANSPORT
    budget = LOOKUP_TIMEOUT_S * (samples + 1) * (2 if dig else 1) + 5
    return {
        "transport": transport,
        "samples": samples,
        "concurrency": CONCURRENCY,
        "dig": dig,
        "timeout_s": LOOKUP_TIMEOUT_S,
        "budget_s": budget,
    }


def _timings(result: ProbeResult) -> list[float]:
    return [float(t) for t in result.values.get("samples_ms") or ()]


def judge_latency(
    by_transport: Mapping[str, ProbeResult], samples: int, limit_ms: float
) -> Outcome:
    """`by_transport`: "udp"/"tcp" -> the series run over it, `samples` lookups each."""
    measurements: dict[Measure, Any] = {Measure.SAMPLES: samples, Measure.CONCURRENCY: CONCURRENCY}
    observed: dict[str, Any] = {}
    for transport, result in by_transport.items():
        if not result.ran:
            return Outcome.errored(
                f"the {transport} lookup series did not run: {result.error}",
                observed={"reproduce": list(result.reproduce)},
                measurements=measurements,
            )
    failed = 0
    worst: tuple[float, str] = (0.0, "")
    parts = []
    for transport, result in by_transport.items():
        failed += int(result.values.get("failed", 0)) if result.ok else samples
        errors = result.values.get("errors") or {}
        if errors:
            observed[f"{transport} errors"] = dict(errors)
        found = spread(_timings(result))
        if found is None:
            continue
        keys = PERCENTILES[transport]
        for key, value in zip(keys, (found.p50, found.p90, found.p99), strict=True):
            measurements[key] = round(value, 3)
        parts.append(f"{transport.upper()} {found.text()}")
        # the limit holds for p90: on a loaded 2-core machine one lookup in 40 can wait for
        # the CPU for a quarter of a second, which says nothing about the DNS server
        worst = max(worst, (found.p90, transport))
    dig_note = _record_dig(by_transport.get(DIG_TRANSPORT), measurements, observed)
    measurements[Measure.FAILED_PROBES] = failed
    every = samples * len(by_transport)
    if failed:
        return Outcome.failed(
            f"{failed}/{every} lookups failed", observed=observed, measurements=measurements
        )
    if worst[0] > limit_ms:
        return Outcome.failed(
            f"{worst[1].upper()} p90 {worst[0]:.1f} ms over the limit {limit_ms} ms",
            observed=observed,
            measurements=measurements,
        )
    return Outcome.passed(
        f"{samples} lookups per transport, one at a time: {'; '.join(parts)}{dig_note}",
        observed=observed,
        measurements=measurements,
    )


def _record_dig(
    result: ProbeResult | None, measurements: dict[Measure, Any], observed: dict[str, Any]
) -> str:
    """dig's figures beside ours (the cross-check); a note for the summary."""
    if result is None:
        return ""
    dig = result.values.get("dig") or {}
    found = spread([float(t) for t in dig.get("samples_ms") or ()])
    if found is None:
        observed["dig"] = dig.get("error", "dig reported nothing")
        return f" (dig: {observed['dig']})"
    measurements[Measure.DIG_P50_MS] = round(found.p50, 3)
    measurements[Measure.DIG_P99_MS] = round(found.p99, 3)
    measurements[Measure.DIG_SAMPLES] = found.samples
    return f"; dig over UDP p50 {found.p50:.2f} ms, p99 {found.p99:.2f} ms"
