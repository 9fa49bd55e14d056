"""The DNS latency judge both families share: p50/p99 per transport of a batch of lookups,
a failed lookup a finding, a lookup that did not run an error."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from netconform.checks.base import Outcome
from netconform.probes.model import ProbeResult
from netconform.results import Measure

PERCENTILES = {
    "udp": (Measure.DNS_P50_MS, Measure.DNS_P99_MS),
    "tcp": (Measure.DNS_TCP_P50_MS, Measure.DNS_TCP_P99_MS),
}


def percentiles(results: Sequence[ProbeResult]) -> tuple[float, float] | None:
    """p50 and p99 of the answered lookups' latency, None when none answered."""
    lat = sorted(r.latency_ms for r in results if r.ok and r.latency_ms is not None)
    if not lat:
        return None
    return lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))]


def judge_latency(by_transport: Mapping[str, Sequence[ProbeResult]], limit_ms: float) -> Outcome:
    """`by_transport`: "udp"/"tcp" -> the lookups made over it (the same count each)."""
    every = [r for results in by_transport.values() for r in results]
    samples = max((len(results) for results in by_transport.values()), default=0)
    measurements: dict[Measure, Any] = {Measure.SAMPLES: samples}
    unrun = [r for r in every if not r.ran]
    if unrun:
        return Outcome.errored(
            f"{len(unrun)}/{len(every)} lookups did not run: {unrun[0].error}",
            observed={"reproduce": list(unrun[0].reproduce)},
            measurements=measurements,
        )
    worst = 0.0
    for transport, results in by_transport.items():
        found = percentiles(results)
        if found:
            p50_key, p99_key = PERCENTILES[transport]
            measurements[p50_key], measurements[p99_key] = round(found[0], 3), round(found[1], 3)
            worst = max(worst, found[1])
    failures = sum(1 for r in every if not r.ok)
    measurements[Measure.FAILED_PROBES] = failures
    if failures:
        return Outcome.failed(f"{failures}/{len(every)} lookups failed", measurements=measurements)
    if worst > limit_ms:
        return Outcome.failed(
            f"p99 {worst:.1f} ms over the limit {limit_ms} ms", measurements=measurements
        )
    return Outcome.passed(
        f"{len(every)} lookups answered, worst p99 {worst:.1f} ms", measurements=measurements
    )
