"""What the agent's dns-latency series probe reports (probes.agent.probe_dns_latency), for
the scripted contexts of both families."""

from __future__ import annotations

from typing import Any

from netconform.probes.model import Probe


def series_values(
    probe: Probe, ms: float = 1.0, failed: int = 0, dig_ms: float | None = 1.0
) -> dict[str, Any]:
    """`samples` lookups of `ms` each (the last `failed` of them timed out); dig's figures
    (for the series that asks dig) at `dig_ms`, or dig missing from the image (None)."""
    samples = int(probe.params["samples"])
    values: dict[str, Any] = {
        "server": probe.params.get("server", "10.96.0.10"),
        "transport": probe.params["transport"],
        "concurrency": probe.params["concurrency"],
        "samples_ms": [ms] * (samples - failed),
        "failed": failed,
        "errors": {"timeout": failed} if failed else {},
    }
    if probe.params.get("dig"):
        values["dig"] = (
            {"samples_ms": [dig_ms] * samples, "asked": samples}
            if dig_ms is not None
            else {"error": "dig not in the endpoint image"}
        )
    return values
