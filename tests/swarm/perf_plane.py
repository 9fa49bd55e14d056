"""A scripted perf data plane for the test fakes (Swarm and Kubernetes): what the agent's
perf probes report, in the shapes of probes/agent.py's perf block, with a fixed rate per
kind of path, so a check's figures, spreads and ratios are known in advance."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from netconform.probes.agent import IPERF3_PORT, RR_PORT

# Mbit/s of one TCP stream per kind of path; each client's samples go 0.95, 1.0, 1.05, 1.0 of
# it (the best of 3 or 4 is 1.05 x the rate, the spread 10%).
RATES = {
    "overlay": 9000.0,
    "host": 13800.0,
    "same-host": 11800.0,
    "loopback": 17600.0,
    "bridge": 13800.0,
    "service": 8600.0,
}
RR_MS = {"overlay": 0.052, "host": 0.041}  # request/response round trip
CRR_PER_S = {"overlay": 1700.0, "host": 1850.0}
SPREAD = (0.95, 1.0, 1.05, 1.0)
CPU_S_PER_SAMPLE = 0.4  # the client's cgroup CPU per iperf3 sample
SERVER_CPU_STEP_S = 1.5  # each read of an endpoint's cgroup counter is this much later
UDP_LOSS_PCT = 2.5
CLIENT_CPU, SERVER_CPU = 0, 1  # where the agent pins request/response's client and server
PERF_KINDS = frozenset({"cpu", "perf-server", "iperf3", "rr", "crr"})


class PerfPlane:
    """Answers perf probes; `path` is the kind of path (a RATES key) the fake decided."""

    def __init__(self) -> None:
        self._sample: dict[tuple[str, str], itertools.count[int]] = {}
        self._cpu: dict[str, itertools.count[int]] = {}

    def values(
        self, kind: str, params: Mapping[str, Any], path: str, source: str
    ) -> dict[str, Any]:
        if kind == "perf-server":
            servers = int(params.get("iperf3_servers", 1))
            ports = [IPERF3_PORT + i for i in range(servers)]
            return {
                "echo": "started",
                "echo_port": RR_PORT,
                "iperf3_ports": ports,
                "iperf3": "started",
            }
        if kind == "cpu":
            reads = self._cpu.setdefault(source, itertools.count())
            seconds = 100.0 + SERVER_CPU_STEP_S * next(reads)
            return {"cpu": {"seconds": seconds, "source": "/sys/fs/cgroup/cpuacct/cpuacct.usage"}}
        sample = next(self._sample.setdefault((source, kind), itertools.count()))
        factor = SPREAD[sample % len(SPREAD)]
        if kind == "iperf3":
            return self._iperf3(params, RATES[path] * factor)
        if kind == "rr":
            base = RR_MS["host" if path == "host" else "overlay"] * factor
            count = int(params.get("count", 200))
            times = [round(base * 1000 * (1 + i / count), 1) for i in range(count)]
            return {
                "p50_ms": base * 1.5,
                "p90_ms": base * 1.9,
                "p99_ms": base * 2.0,
                "samples": count,
                "size": 1,
                "times_us": times,
                "client_cpu": CLIENT_CPU,
            }
        if kind == "crr":
            per_s = CRR_PER_S["host" if path == "host" else "overlay"] * factor
            return {
                "p50_ms": 1000 / per_s,
                "p90_ms": 1000 / per_s,
                "p99_ms": 1000 / per_s,
                "samples": int(params.get("count", 100)),
                "per_s": round(per_s, 1),
                "seconds": round(int(params.get("count", 100)) / per_s, 4),
                "client_cpu": CLIENT_CPU,
            }
        raise KeyError(kind)

    @staticmethod
    def _iperf3(params: Mapping[str, Any], one_stream: float) -> dict[str, Any]:
        seconds = float(params.get("duration_s", 1))
        if params.get("udp"):
            offered = float(params.get("udp_mbit", 500))
            mbit = round(min(offered, one_stream) * (1 - UDP_LOSS_PCT / 100), 2)
            sample = {
                "mbit_s": mbit,
                "bytes": int(mbit * 1e6 / 8 * seconds),
                "seconds": seconds,
                "lost_percent": UDP_LOSS_PCT,
                "jitter_ms": 0.01,
                "sent_mbit_s": offered,
            }
        else:
            streams = int(params.get("streams", 1))
            mbit = round(one_stream * (1.1 if streams > 1 else 1.0), 2)
            sample = {
                "mbit_s": mbit,
                "stream_mbit_s": [round(mbit / streams, 2)] * streams,
                "bytes": int(mbit * 1e6 / 8 * seconds),
                "seconds": seconds,
                "streams": streams,
                "retransmits": streams,
            }
        sample.update(cpu_client_pct=40.0, cpu_server_pct=45.0)
        return {"samples": [sample], "client_cpu_s": CPU_S_PER_SAMPLE}
