"""The agent's perf probes for real on loopback: request/response and connection rate
against its own echo server (each exchange timed on its own, the samples counted), the
cgroup CPU counter, a missing iperf3, and iperf3 streams as processes of their own against
servers of their own (in namespaces of the test's own, which take the servers with them)."""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any

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


def _in_own_namespaces(*batches: Sequence[Probe]) -> tuple[list[list[Any]], list[str]]:
    """Agent batches one after another in a network and PID namespace of their own: the
    servers they daemonize die with the namespace's first process, and see only their own
    loopback. Also returns the CPUs each python process still running (the echo server)
    may run on."""
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("iperf3") is None:
        pytest.skip("needs root, unshare and iperf3 (bash .ci/setup installs iperf3)")
    script = ["ip link set lo up"]
    script += [shlex.join(agent_command(b, python=sys.executable)) for b in batches]
    script += ["for pid in $(pgrep python); do grep Cpus_allowed_list /proc/$pid/status; done"]
    argv = ["unshare", "--net", "--pid", "--fork", "--mount-proc", "sh", "-ec", "\n".join(script)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    found, at = [], 0
    for batch in batches:
        found.append(parse_agent_output(batch, "\n".join(lines[at : at + len(batch)]), ""))
        at += len(batch)
    return found, [line.split()[-1] for line in lines[at:]]


def _server() -> Probe:
    return Probe("s", ProbeKind.PERF_SERVER, "", None, 5.0, {"iperf3_servers": 3})


def test_each_stream_is_a_client_process_of_its_own_to_a_server_of_its_own() -> None:
    """iperf3 3.12 is single-threaded: `-P 3` would put three streams on one core. Three
    streams are three clients, stream i to the server on IPERF3_PORT + i; each server serves
    one test at a time, so every stream moving data proves each had a server of its own."""
    client = Probe(
        "i", ProbeKind.IPERF3, "127.0.0.1", agent.IPERF3_PORT, 15.0, {"duration_s": 1, "streams": 3}
    )
    ((started,), (again,), (measured,)), _ = _in_own_namespaces([_server()], [_server()], [client])
    assert started.ok, started.error
    ports = [agent.IPERF3_PORT + i for i in range(3)]
    assert started.values["iperf3"] == "started" and started.values["iperf3_ports"] == ports
    assert again.ok and again.values["iperf3"] == "running"  # idempotent: nothing more starts
    assert measured.ok, measured.error
    (sample,) = measured.values["samples"]
    assert sample["streams"] == 3 and len(sample["stream_mbit_s"]) == 3
    assert all(rate > 0 for rate in sample["stream_mbit_s"])
    assert sample["mbit_s"] == pytest.approx(sum(sample["stream_mbit_s"]), abs=0.05)
    assert sample["bytes"] > 0 and sample["retransmits"] is not None


def test_a_stream_without_its_server_is_refused_not_a_smaller_figure() -> None:
    """One server for two streams: the second client is refused, and the sample is a
    failure, never the first stream's figure alone."""
    one = Probe("s", ProbeKind.PERF_SERVER, "", None, 5.0, {"iperf3_servers": 1})
    client = Probe(
        "i", ProbeKind.IPERF3, "127.0.0.1", agent.IPERF3_PORT, 15.0, {"duration_s": 1, "streams": 2}
    )
    ((started,), (measured,)), _ = _in_own_namespaces([one], [client])
    assert started.ok and started.values["iperf3_ports"] == [agent.IPERF3_PORT]
    assert measured.ran and not measured.ok
    assert measured.outcome == Connectivity.REFUSED, measured.error


def test_request_response_client_and_echo_server_on_cpus_of_their_own() -> None:
    """On one machine the client and the echo server could share a core, and an exchange
    that stays on one core runs twice as fast: the client runs on the first CPU, the server
    on the last (netperf's -T), like hosts of their own, and the client's thread is put
    back after."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip("one CPU: nothing to pin")
    rr = Probe("r", ProbeKind.RR, "127.0.0.1", agent.RR_PORT, 10.0, {"count": 20})
    crr = Probe("c", ProbeKind.CRR, "127.0.0.1", agent.RR_PORT, 10.0, {"count": 20})
    ((started,), (exchanged,), (connected,)), servers = _in_own_namespaces([_server()], [rr], [crr])
    assert started.ok and started.values["echo"] == "started", started.error
    assert started.values["echo_cpu"] == cpus[-1]
    assert servers == [str(cpus[-1])]  # the echo daemon, the one python left running
    assert exchanged.ok and exchanged.values["client_cpu"] == cpus[0], exchanged.error
    assert connected.ok and connected.values["client_cpu"] == cpus[0], connected.error


def test_the_pinned_client_thread_gets_its_cpus_back() -> None:
    before = os.sched_getaffinity(0)
    if len(before) < 2:
        pytest.skip("one CPU: nothing to pin")
    with agent._pinned_client() as cpu:
        assert os.sched_getaffinity(0) == {cpu} == {min(before)}
    assert os.sched_getaffinity(0) == before
