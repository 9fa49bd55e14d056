"""The probe agent for real on loopback: its server, its batch mode, its JSON lines."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from netconform.probes import agent
from netconform.probes.executors import (
    AGENT_ELIDED,
    agent_command,
    agent_source,
    reproducer,
    runnable,
    serve_command,
)
from netconform.probes.model import Connectivity, Probe, ProbeKind, parse_agent_output


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[int, int]]:
    tcp, udp = _free_port(socket.SOCK_STREAM), _free_port(socket.SOCK_DGRAM)
    proc = subprocess.Popen(serve_command(tcp, udp, python=sys.executable))
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", tcp), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield tcp, udp
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def _run(probes: list[Probe]) -> list:  # type: ignore[type-arg]
    out = subprocess.run(agent_command(probes, python=sys.executable), capture_output=True,
                         text=True, timeout=30, check=False)  # fmt: skip
    return parse_agent_output(probes, out.stdout, out.stderr)


def test_batch_reaches_the_server_over_tcp_udp_and_transfer(server: tuple[int, int]) -> None:
    tcp, udp = server
    probes = [
        Probe("t", ProbeKind.TCP, "127.0.0.1", tcp, 2.0),
        Probe("u", ProbeKind.UDP, "127.0.0.1", udp, 2.0),
        Probe("x", ProbeKind.TRANSFER, "127.0.0.1", tcp, 5.0, {"bytes": 1 << 20}),
    ]
    t, u, x = _run(probes)
    assert t.ok and t.values["peer"] == socket.gethostname()
    assert u.ok and u.values["peer"] == socket.gethostname()
    assert x.ok and x.values["bytes"] == 1 << 20 and x.values["mbit_s"] > 0


def test_closed_port_is_refused_and_silence_is_a_timeout() -> None:
    closed = _free_port(socket.SOCK_STREAM)
    quiet = _free_port(socket.SOCK_DGRAM)
    refused, silent = _run([
        Probe("r", ProbeKind.TCP, "127.0.0.1", closed, 1.0),
        Probe("s", ProbeKind.UDP, "127.0.0.1", quiet, 0.3),
    ])  # fmt: skip
    assert not refused.ok and refused.outcome == Connectivity.REFUSED
    assert not silent.ok and silent.outcome in {Connectivity.TIMEOUT, Connectivity.REFUSED}


def test_probes_run_concurrently_not_one_after_another() -> None:
    quiet = _free_port(socket.SOCK_DGRAM)
    probes = [Probe(f"p{i}", ProbeKind.UDP, "127.0.0.1", quiet, 1.0) for i in range(10)]
    start = time.monotonic()
    results = _run(probes)
    assert len(results) == 10
    # ten 1 s timeouts in sequence would take 10 s
    assert time.monotonic() - start < 5


def test_read_interfaces_and_routes_report_values() -> None:
    read, ifaces, routes = _run([
        Probe("f", ProbeKind.READ, "/proc/self/status"),
        Probe("i", ProbeKind.INTERFACES),
        Probe("r", ProbeKind.ROUTES),
    ])  # fmt: skip
    assert read.ok and "Name:" in read.values["content"]
    assert ifaces.ok and ifaces.values["interfaces"]["lo"]["mtu"] == 65536
    assert routes.ok and isinstance(routes.values["has_default"], bool)


def test_missing_results_did_not_run_naming_what_was_seen() -> None:
    probes = [Probe("a", ProbeKind.TCP, "x", 1), Probe("b", ProbeKind.TCP, "y", 1)]
    line = (
        '{"id": "%s", "kind": "tcp", "ok": true, "error": null, "latency_ms": 1, "values": {}%s}\n'
    )
    stdout = line % ("a", ', "outcome": "connected"') + "garbage line\n{not json\n"
    stdout += line % ("b", "")  # no outcome: not a line this agent writes
    argv = reproducer(["docker", "exec", "c1"])
    a, b = parse_agent_output(probes, stdout, "Traceback: boom", argv)
    assert a.ok and a.outcome == Connectivity.CONNECTED and a.ran
    assert not b.ok and b.outcome == Connectivity.FAILED and not b.ran
    assert b.error == "no result: Traceback: boom"
    # each result re-runs alone: the exec prefix, the elided agent, a batch of that one probe
    assert b.reproduce[:6] == ("docker", "exec", "c1", "python3", "-c", AGENT_ELIDED)
    assert json.loads(b.reproduce[-1]) == [probes[1].to_wire()]
    assert runnable(b.reproduce)[5] == agent_source()


def test_a_crashing_agent_fails_every_probe_it_did_not_report() -> None:
    probes = [Probe("d", ProbeKind.TCP, "127.0.0.1", 9, 0.2), Probe("e", ProbeKind.ROUTES)]
    argv = [sys.executable, "-c", "import sys; sys.exit('agent: killed')", "batch", "[]"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    results = parse_agent_output(probes, out.stdout, out.stderr)
    assert [r.outcome for r in results] == [Connectivity.FAILED, Connectivity.FAILED]
    assert all(r.error == "no result: agent: killed" for r in results)


def test_the_agents_outcomes_are_the_model_connectivity_values() -> None:
    names = ("CONNECTED", "NO_REPLY", "ANSWERED", "REFUSED", "TIMEOUT", "UNREACHABLE")
    names += ("EMSGSIZE", "ERROR", "FAILED")
    assert {getattr(agent, n) for n in names} == {str(c) for c in Connectivity}


def test_bad_probe_is_reported_not_crashing_the_batch() -> None:
    good, bad = _run([Probe("g", ProbeKind.INTERFACES), Probe("b", ProbeKind.TCP, "127.0.0.1")])
    assert good.ok and good.outcome == Connectivity.ANSWERED
    assert not bad.ok and "missing" in str(bad.error) and bad.outcome == Connectivity.FAILED


def test_connect_only_observes_the_handshake_of_a_silent_service() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        silent, replying = _run(
            [
                Probe("c", ProbeKind.TCP, "127.0.0.1", port, 1.0, {"connect_only": True}),
                Probe("r", ProbeKind.TCP, "127.0.0.1", port, 0.5),
            ]
        )
    assert silent.ok and silent.values == {"connected": True}
    assert silent.outcome == Connectivity.CONNECTED
    # connected, but the service never answers: its own outcome, not an error text to match
    assert not replying.ok and replying.outcome in {Connectivity.NO_REPLY, Connectivity.TIMEOUT}
