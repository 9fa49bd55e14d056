"""The probe agent for real on loopback: its server, its batch mode, its JSON lines."""

from __future__ import annotations

import json
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import dns.message
import dns.rrset
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


class _Responder:
    """A DNS server on loopback (UDP and TCP, one port) answering A 192.0.2.1 for any name
    after `delay_s`, and dropping every `drop_every`-th UDP query (0: none)."""

    def __init__(self, delay_s: float = 0.0, drop_every: int = 0) -> None:
        self.delay_s, self.drop_every = delay_s, drop_every
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.port = int(self.udp.getsockname()[1])
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("127.0.0.1", self.port))
        self.tcp.listen(16)
        self.seen = 0
        self.closed = threading.Event()
        for target in (self._serve_udp, self._serve_tcp):
            threading.Thread(target=target, daemon=True).start()

    def _answer(self, wire: bytes) -> bytes:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        name = query.question[0].name
        response.answer.append(dns.rrset.from_text(name, 60, "IN", "A", "192.0.2.1"))
        time.sleep(self.delay_s)
        return bytes(response.to_wire())

    def _serve_udp(self) -> None:
        while not self.closed.is_set():
            try:
                wire, peer = self.udp.recvfrom(4096)
            except OSError:
                return
            self.seen += 1
            if self.drop_every and self.seen % self.drop_every == 0:
                continue
            self.udp.sendto(self._answer(wire), peer)

    def _serve_tcp(self) -> None:
        while not self.closed.is_set():
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            with conn:
                size = int.from_bytes(conn.recv(2), "big")
                reply = self._answer(conn.recv(size))
                conn.sendall(len(reply).to_bytes(2, "big") + reply)

    def close(self) -> None:
        self.closed.set()
        self.udp.close()
        self.tcp.close()


def _series(port: int, transport: str, samples: int, timeout_s: float = 1.0) -> Probe:
    params = {"server": "127.0.0.1", "transport": transport, "samples": samples,
              "concurrency": 1, "dig": transport == "udp", "budget_s": 30}  # fmt: skip
    return Probe("s", ProbeKind.DNS_LATENCY, "svc.example.", port, timeout_s, params)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_dns_series_times_each_exchange_one_after_another(transport: str) -> None:
    responder = _Responder(delay_s=0.03)
    try:
        [result] = _run([_series(responder.port, transport, samples=8)])
    finally:
        responder.close()
    assert result.ok, result.error
    timings = result.values["samples_ms"]
    assert len(timings) == 8 and result.values["failed"] == 0
    # every sample carries the server's own 30 ms, and little else: no queue in front (the
    # median, so a loaded machine's one slow wake-up does not decide)
    assert all(t >= 30 for t in timings) and statistics.median(timings) < 30 + 50, timings
    # one after the other: the series took at least the sum of its samples
    assert result.latency_ms is not None and result.latency_ms >= sum(timings)
    if transport == "udp" and shutil.which("dig"):
        dig = result.values["dig"]["samples_ms"]
        assert len(dig) == 8 and all(t >= 30 for t in dig), dig
        assert statistics.median(dig) < 30 + 50, dig


def test_dns_series_counts_lost_lookups_as_failures() -> None:
    responder = _Responder(drop_every=3)
    try:
        [result] = _run([_series(responder.port, "udp", samples=9, timeout_s=0.2)])
    finally:
        responder.close()
    assert result.ok
    # the warm-up is the first query the server sees; dig's queries come after the series
    assert result.values["failed"] == 3 and result.values["errors"] == {"timeout": 3}
    assert len(result.values["samples_ms"]) == 6


def test_dns_series_with_no_server_did_run_and_answered_nothing() -> None:
    port = _free_port(socket.SOCK_DGRAM)
    [result] = _run([_series(port, "tcp", samples=3, timeout_s=0.2)])
    assert result.ran and not result.ok
    assert result.values["failed"] == 3 and "no lookup answered" in (result.error or "")
