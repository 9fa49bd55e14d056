"""Probe and ProbeResult values, and the parser of the agent's JSON lines.

How a probe ended is its `outcome`, classified once, in the agent; checks judge outcomes,
never error text. A probe that did not run (agent crash, exec failure, garbled output) is
`Connectivity.FAILED`: a check turns it into an error, never into a pass or a deny."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ProbeKind(StrEnum):
    TCP = "tcp"
    UDP = "udp"
    ICMP = "icmp"
    DNS = "dns"
    DNS_LATENCY = "dns-latency"  # a series of lookups, each timed around its own exchange
    TRANSFER = "transfer"
    READ = "read"
    INTERFACES = "interfaces"
    ROUTES = "routes"
    # perf (agent.py's perf block): one probe per batch, samples one after another
    CPU = "cpu"  # the endpoint's own cgroup CPU seconds
    PERF_SERVER = "perf-server"  # start the echo and iperf3 servers in the endpoint
    IPERF3 = "iperf3"  # iperf3 client samples (TCP streams or UDP at a rate)
    RR = "rr"  # TCP request/response on one connection, each exchange timed
    CRR = "crr"  # TCP connect, one exchange, close: the connection rate
    # DF size probes (the MTU sweep): one packet of a chosen size whose answer proves it arrived
    UDP_DF = "udp-df"  # a DF datagram of `size` payload bytes, answered with the length that came
    TCP_MSS = "tcp-mss"  # a connection with MSS `size`: one full segment (size + 40) answered


@dataclass(frozen=True)
class Probe:
    """One observation to make from a source endpoint."""

    id: str
    kind: ProbeKind
    target: str = ""
    port: int | None = None
    timeout_s: float = 2.0
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def budget_s(self) -> float:
        """How long the probe may take in all: its timeout, or for a series probe (many
        exchanges, each with `timeout_s`) the `budget_s` it was given."""
        return float(self.params.get("budget_s", self.timeout_s))

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


class Connectivity(StrEnum):
    """How a probe ended (the agent's `outcome` field)."""

    CONNECTED = "connected"  # a connection probe reached its peer (tcp, udp, icmp, transfer)
    NO_REPLY = "no-reply"  # TCP handshake done, the peer closed without a reply (e.g. TLS)
    ANSWERED = "answered"  # a lookup or read got its answer (a DNS NXDOMAIN is an answer too)
    REFUSED = "refused"  # RST or ICMP port unreachable
    TIMEOUT = "timeout"  # silence until the probe's timeout
    UNREACHABLE = "unreachable"  # no route / host unreachable
    EMSGSIZE = "emsgsize"  # refused locally: message too long for the path MTU
    ERROR = "error"  # ran, and ended in an error no class above describes (see `error`)
    FAILED = "failed"  # did not run: agent crash, exec failure, garbled or missing output


# Outcomes where traffic was stopped by the network (what a deny looks like); everything
# else that is not a success cannot be judged as allowed or denied.
BLOCKED = frozenset({Connectivity.REFUSED, Connectivity.TIMEOUT, Connectivity.UNREACHABLE})


@dataclass(frozen=True)
class ProbeResult:
    id: str
    kind: str
    target: str
    ok: bool
    error: str | None
    latency_ms: float | None
    values: Mapping[str, Any] = field(default_factory=dict)
    outcome: Connectivity = field(kw_only=True)
    # The exec argv that re-runs this probe alone (agent source elided, see executors).
    reproduce: tuple[str, ...] = field(default=(), kw_only=True)

    @property
    def ran(self) -> bool:
        return self.outcome != Connectivity.FAILED

    def evidence(self) -> dict[str, Any]:
        """What this probe showed, as a check records it in either family, with the argv that
        re-runs it: a check may judge a probe that succeeded wrong (a connection a policy or
        an isolation rule should have stopped), so every probe carries it."""
        seen: dict[str, Any] = {
            "ok": self.ok,
            "outcome": str(self.outcome),
            "error": self.error,
            **dict(self.values),
        }
        if self.reproduce:
            seen["reproduce"] = list(self.reproduce)
        return seen

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "target": self.target,
            "ok": self.ok,
            "outcome": str(self.outcome),
            "error": self.error,
            "latency_ms": self.latency_ms,
            "values": dict(self.values),
            "reproduce": list(self.reproduce),
        }


def did_not_run(probe: Probe, why: str, reproduce: tuple[str, ...] = ()) -> ProbeResult:
    return ProbeResult(
        probe.id,
        str(probe.kind),
        probe.target,
        False,
        why,
        None,
        {},
        outcome=Connectivity.FAILED,
        reproduce=reproduce,
    )


Reproduce = Callable[[Probe], tuple[str, ...]]


def _no_reproduce(_: Probe) -> tuple[str, ...]:
    return ()


def parse_agent_output(
    probes: Sequence[Probe], stdout: str, stderr: str = "", reproduce: Reproduce = _no_reproduce
) -> list[ProbeResult]:
    """One ProbeResult per probe, in the order asked. A probe the agent never reported
    (crash, killed exec, garbled line) did not run: outcome FAILED, naming what was seen."""
    by_id = {p.id: p for p in probes}
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
                outcome=Connectivity(raw["outcome"]),
                reproduce=reproduce(by_id[raw["id"]]) if raw["id"] in by_id else (),
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            continue
        seen[result.id] = result
    why = stderr.strip().splitlines()[-1] if stderr.strip() else "agent printed no result"
    return [seen.get(p.id) or did_not_run(p, f"no result: {why}", reproduce(p)) for p in probes]
