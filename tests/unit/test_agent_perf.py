"""The agent's perf probes for real on loopback: request/response and connection rate
against its own echo server (each exchange timed on its own, the samples counted), the
cgroup CPU counter, and a perf server that cannot start its iperf3 says so."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from netconform.probes import agent
from netconform.probes.executors import agent_command
from netconform.probes.model import Connectivity, Probe, ProbeKind, parse_agent_output


@pytest.fixture(scope="module")
def echo() -> Iterator[int]:
    """The agent's echo server (what probe_perf_server daemonizes) in a thread."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    threading.Thread(target=agent._serve_echo_forever, args=(listener,), daemon=True).start()
    yield int(listener.getsockname()[1])
    listener.close()


def _run(*probes: Probe) -> list:  # type: ignore[type-arg]
    proc = subprocess.run(
        agent_command(probes, python=sys.executable),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return parse_agent_output(probes, proc.stdout, proc.stderr)


def test_request_response_times_every_exchange(echo: int) -> None:
    (result,) = _run(Probe("rr", ProbeKind.RR, "127.0.0.1", echo, 10.0, {"count": 50}))
    assert result.ok, result.error
    values = result.values
    assert values["samples"] == 50 and len(values["times_us"]) == 50
    assert 0 < values["p50_ms"] <= values["p90_ms"] <= values["p99_ms"] < 100
    assert values["p50_ms"] == pytest.approx(sorted(values["times_us"])[24] / 1000, abs=1e-3)


def test_connection_rate_counts_connect_exchange_close(echo: int) -> None:
    (result,) = _run(Probe("crr", ProbeKind.CRR, "127.0.0.1", echo, 10.0, {"count": 30}))
    assert result.ok, result.error
    values = result.values
    assert values["samples"] == 30
    assert values["per_s"] == pytest.approx(30 / values["seconds"], rel=0.01)


def test_a_closed_port_is_refused_not_measured() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (result,) = _run(Probe("rr", ProbeKind.RR, "127.0.0.1", port, 2.0, {"count": 5}))
    assert not result.ok and result.outcome == Connectivity.REFUSED


def test_cgroup_cpu_is_a_counter_or_none() -> None:
    (first,) = _run(Probe("c1", ProbeKind.CPU, "", None, 2.0))
    (second,) = _run(Probe("c2", ProbeKind.CPU, "", None, 2.0))
    assert first.ok and second.ok
    if first.values["cpu"] is None:
        pytest.skip("no readable cgroup CPU counter here")
    assert 0 < first.values["cpu"]["seconds"] <= second.values["cpu"]["seconds"]


def test_iperf3_missing_is_a_failed_probe_that_ran(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without iperf3 on PATH the client probe ran and failed: the check says it could not
    measure (never a crash, never a pass)."""
    probe = Probe("i", ProbeKind.IPERF3, "127.0.0.1", 1, 5.0, {"duration_s": 1})
    argv = agent_command([probe], python=sys.executable)
    proc = subprocess.run(
        argv, capture_output=True, text=True, timeout=30, env={"PATH": "/nonexistent"}, check=False
    )
    (result,) = parse_agent_output([probe], proc.stdout, proc.stderr)
    assert result.ran and not result.ok
