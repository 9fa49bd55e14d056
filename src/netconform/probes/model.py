"""Probe and ProbeResult values, and the parser of the agent's JSON lines."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ProbeKind(StrEnum):
    TCP = "tcp"
    UDP = "udp"
    ICMP = "icmp"
    DNS = "dns"
    TRANSFER = "transfer"
    READ = "read"
    INTERFACES = "interfaces"
    ROUTES = "routes"


@dataclass(frozen=True)
class Probe:
    """One observation to make from a source endpoint."""

    id: str
    kind: ProbeKind
    target: str = ""
    port: int | None = None
    timeout_s: float = 2.0
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "id": self.id,
            "kind": str(self.kind),
            "target": self.target,
            "timeout_s": self.timeout_s,
        }
        if self.port is not None:
            wire["port"] = self.port
        wire.update(self.params)
        return wire


@dataclass(frozen=True)
class ProbeResult:
    id: str
    kind: str
    target: str
    ok: bool
    error: str | None
    latency_ms: float | None
    values: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "target": self.target,
            "ok": self.ok,
            "error": self.error,
            "latency_ms": self.latency_ms,
            "values": dict(self.values),
        }


def parse_agent_output(probes: Sequence[Probe], stdout: str, stderr: str = "") -> list[ProbeResult]:
    """One ProbeResult per probe, in the order asked. A probe the agent never reported
    (crash, killed exec, garbled line) becomes an error naming what was seen instead."""
    seen: dict[str, ProbeResult] = {}
    for raw_line in stdout.splitlines():
        line = raw_line.strip()
        if not line.startswith("{"):
            continue
        try:
            raw = json.loads(line)
            result = ProbeResult(
                id=str(raw["id"]),
                kind=str(raw["kind"]),
                target=str(raw.get("target") or ""),
                ok=bool(raw["ok"]),
                error=raw.get("error"),
                latency_ms=raw.get("latency_ms"),
                values=raw.get("values") or {},
            )
        except (json.JSONDecodeError, KeyError, TypeError):
            continue
        seen[result.id] = result
    why = stderr.strip().splitlines()[-1] if stderr.strip() else "agent printed no result"
    return [
        seen.get(p.id)
        or ProbeResult(p.id, str(p.kind), p.target, False, f"no result: {why}", None, {})
        for p in probes
    ]
