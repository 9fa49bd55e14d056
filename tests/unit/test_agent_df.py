"""The agent's DF size probes (udp-df, tcp-mss) for real: on loopback, and across a router
namespace whose far side is narrower (the router answers "fragmentation needed"), whose far
endpoint's interface is narrower (a veth drops the packet in silence) or which drops big
packets itself: the probe passes at the path's MTU and fails one byte over, never arriving
cut or fragmented."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from netconform.probes import agent
from netconform.probes.executors import agent_command, serve_command
from netconform.probes.model import Connectivity, Probe, ProbeKind, ProbeResult, parse_agent_output

TCP_PORT, UDP_PORT = 18080, 18081


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_tcp(prefix: list[str], address: str, port: int) -> None:
    probe = Probe("ready", ProbeKind.TCP, address, port, 0.3)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if _run(prefix, [probe])[0].ok:
            return
        time.sleep(0.1)
    raise AssertionError(f"server on {address}:{port} never answered")


def _run(prefix: list[str], probes: list[Probe]) -> list[ProbeResult]:
    argv = [*prefix, *agent_command(probes, python=sys.executable)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    return parse_agent_output(probes, out.stdout, out.stderr)


def _udp(target: str, port: int, size: int) -> Probe:
    return Probe(f"udp-{size}", ProbeKind.UDP_DF, target, port, 1.0, {"size": size})


def _tcp(target: str, port: int, mss: int) -> Probe:
    return Probe(f"tcp-{mss}", ProbeKind.TCP_MSS, target, port, 1.0, {"size": mss})


# --- loopback: the answer proves the size ------------------------------------------------


@pytest.fixture(scope="module")
def loopback() -> Iterator[tuple[int, int]]:
    tcp, udp = _free_port(socket.SOCK_STREAM), _free_port(socket.SOCK_DGRAM)
    proc = subprocess.Popen(serve_command(tcp, udp, python=sys.executable))
    try:
        _wait_tcp([], "127.0.0.1", tcp)
        yield tcp, udp
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_a_datagram_is_answered_with_the_length_that_arrived(loopback: tuple[int, int]) -> None:
    _, udp = loopback
    small, big = _run([], [_udp("127.0.0.1", udp, 16), _udp("127.0.0.1", udp, 9000)])
    for result, size in ((small, 16), (big, 9000)):
        assert result.outcome == Connectivity.CONNECTED, result
        assert result.values["received"] == size
        assert result.values["peer"] == socket.gethostname()
        assert result.values["df"] is True


def test_the_servers_other_answers_are_unchanged(loopback: tuple[int, int]) -> None:
    _, udp = loopback
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        s.sendto(b"hostname", ("127.0.0.1", udp))
        assert s.recv(512) == socket.gethostname().encode()
        s.sendto(b"anything else", ("127.0.0.1", udp))
        assert s.recv(512) == b"anything else"  # an echo, as before
        s.sendto(agent.SIZE_QUERY + b"abc", ("127.0.0.1", udp))
        assert s.recv(512) == b"%d %s" % (len(agent.SIZE_QUERY) + 3, socket.gethostname().encode())


def test_an_echo_is_no_proof_of_size() -> None:
    """A server that echoes (not the agent's) answers no length: the probe fails."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as echo:
        echo.bind(("127.0.0.1", 0))
        port = echo.getsockname()[1]
        result: list[ProbeResult] = []
        import threading

        worker = threading.Thread(
            target=lambda: result.extend(_run([], [_udp("127.0.0.1", port, 100)]))
        )
        worker.start()
        echo.settimeout(10)
        data, peer = echo.recvfrom(2048)
        echo.sendto(data, peer)
        worker.join()
    assert result[0].outcome == Connectivity.ERROR
    assert "no length" in str(result[0].error)


def test_too_small_for_the_size_query_is_an_error() -> None:
    (result,) = _run([], [_udp("127.0.0.1", 9, 8)])
    assert result.outcome == Connectivity.ERROR and "below" in str(result.error)


def test_a_segment_of_the_asked_mss_is_sent_and_answered(loopback: tuple[int, int]) -> None:
    tcp, _ = loopback
    (result,) = _run([], [_tcp("127.0.0.1", tcp, 1400)])
    assert result.outcome == Connectivity.CONNECTED, result
    assert result.values["mss"] == result.values["mss_after"] == 1400
    assert result.values["peer"] == socket.gethostname()


# --- across a router namespace -----------------------------------------------------------


@dataclass(frozen=True)
class Topology:
    """client --veth-- router --veth-- server, three namespaces; the server runs the agent."""

    client: str
    router: str
    server: str

    def run(self, probes: list[Probe]) -> list[ProbeResult]:
        return _run(["ip", "netns", "exec", self.client], probes)

    def mtu(self, netns: str, device: str, mtu: int) -> None:
        _ip("-n", netns, "link", "set", device, "mtu", str(mtu))
        _ip("-n", self.client, "route", "flush", "cache")  # forget what earlier probes learned


SERVER = "10.251.2.2"


def _ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True, capture_output=True)


def _nsexec(netns: str, *argv: str) -> None:
    subprocess.run(["ip", "netns", "exec", netns, *argv], check=True, capture_output=True)


@pytest.fixture(scope="module")
def topology() -> Iterator[Topology]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 for network namespaces")
    tag = f"nctdf{os.getpid() % 100000}"
    topo = Topology(f"{tag}c", f"{tag}r", f"{tag}s")
    server: subprocess.Popen[bytes] | None = None
    try:
        for netns in (topo.client, topo.router, topo.server):
            _ip("netns", "add", netns)
            _ip("-n", netns, "link", "set", "lo", "up")
        for side, netns, subnet in (("c", topo.client, 1), ("s", topo.server, 2)):
            near, far = f"{tag}{side}0", f"{tag}{side}1"
            _ip("link", "add", near, "type", "veth", "peer", "name", far)
            _ip("link", "set", near, "netns", netns)
            _ip("link", "set", far, "netns", topo.router)
            _ip("-n", netns, "addr", "add", f"10.251.{subnet}.2/24", "dev", near)
            _ip("-n", topo.router, "addr", "add", f"10.251.{subnet}.1/24", "dev", far)
            _ip("-n", netns, "link", "set", near, "up")
            _ip("-n", topo.router, "link", "set", far, "up")
            _ip("-n", netns, "route", "add", "default", "via", f"10.251.{subnet}.1")
        _nsexec(topo.router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        server = subprocess.Popen(
            ["ip", "netns", "exec", topo.server, *serve_command(TCP_PORT, UDP_PORT, sys.executable)]
        )
        _wait_tcp(["ip", "netns", "exec", topo.client], SERVER, TCP_PORT)
        yield topo
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=5)
        for netns in (topo.client, topo.router, topo.server):
            subprocess.run(["ip", "netns", "del", netns], check=False, capture_output=True)


@pytest.fixture
def fresh(topology: Topology) -> Iterator[Topology]:
    """Every device back at 1500 and nothing dropped, after the test."""
    yield topology
    tag = topology.client.removesuffix("c")
    topology.mtu(topology.router, f"{tag}s1", 1500)
    topology.mtu(topology.server, f"{tag}s0", 1500)
    subprocess.run(
        ["ip", "netns", "exec", topology.router, "nft", "delete", "table", "ip", "nctdf"],
        check=False,
        capture_output=True,
    )


def _by_size(results: list[ProbeResult]) -> dict[int, Connectivity]:
    return {int(r.values["size"]): r.outcome for r in results}


def test_at_the_interface_mtu_passes_and_one_byte_over_is_refused_locally(fresh: Topology) -> None:
    results = fresh.run(
        [
            _udp(SERVER, UDP_PORT, 1472),
            _udp(SERVER, UDP_PORT, 1473),
        ]
    )
    assert _by_size(results) == {1472: Connectivity.CONNECTED, 1473: Connectivity.EMSGSIZE}
    (tcp,) = fresh.run([_tcp(SERVER, TCP_PORT, 1460)])
    assert tcp.outcome == Connectivity.CONNECTED and tcp.values["retransmits"] == 0
    (over,) = fresh.run([_tcp(SERVER, TCP_PORT, 1461)])
    assert over.outcome == Connectivity.EMSGSIZE and over.values["mss"] == 1460  # the peer's


def test_a_narrower_hop_says_fragmentation_needed_and_the_probe_fails(fresh: Topology) -> None:
    """The router's side towards the server at 1400 (a node's VXLAN device lowered): a DF
    packet over 1400 is refused on the way; TCP resends it smaller, but its MSS dropped."""
    tag = fresh.client.removesuffix("c")
    fresh.mtu(fresh.router, f"{tag}s1", 1400)
    (udp,) = fresh.run([_udp(SERVER, UDP_PORT, 1472)])
    assert udp.outcome == Connectivity.EMSGSIZE and udp.values["path_mtu"] == 1400
    fresh.mtu(fresh.router, f"{tag}s1", 1400)  # a fresh cache: the TCP probe meets the hop
    (tcp,) = fresh.run([_tcp(SERVER, TCP_PORT, 1460)])
    assert tcp.outcome == Connectivity.EMSGSIZE, tcp
    assert tcp.values["mss"] == 1460 and tcp.values["mss_after"] == 1360
    assert "refused the segment" in str(tcp.error)
    results = fresh.run([_udp(SERVER, UDP_PORT, 1372), _tcp(SERVER, TCP_PORT, 1360)])
    assert [r.outcome for r in results] == [Connectivity.CONNECTED] * 2


def test_a_silent_drop_is_a_timeout(fresh: Topology) -> None:
    """The router drops packets over 1400 bytes without a word: a PMTU blackhole."""
    table = "add table ip nctdf; add chain ip nctdf f { type filter hook forward priority 0; }"
    _nsexec(fresh.router, "nft", f"{table}; add rule ip nctdf f meta length > 1400 drop")
    results = fresh.run(
        [
            _udp(SERVER, UDP_PORT, 1373),
            _udp(SERVER, UDP_PORT, 1372),
            _tcp(SERVER, TCP_PORT, 1361),
            _tcp(SERVER, TCP_PORT, 1360),
        ]
    )
    assert [r.outcome for r in results] == [
        Connectivity.TIMEOUT,
        Connectivity.CONNECTED,
        Connectivity.TIMEOUT,
        Connectivity.CONNECTED,
    ]


def test_a_narrower_endpoint_interface_drops_in_silence_18_bytes_late(fresh: Topology) -> None:
    """The server's own interface at 1400 and the router's side at 1500 (a pod's eth0
    lowered): a veth drops what is over its peer's MTU plus the Ethernet and VLAN headers
    (18 bytes) without an ICMP error; TCP meets the server's MSS (1360) first."""
    tag = fresh.client.removesuffix("c")
    fresh.mtu(fresh.server, f"{tag}s0", 1400)
    results = fresh.run(
        [
            _udp(SERVER, UDP_PORT, 1376 + 1),
            _udp(SERVER, UDP_PORT, 1376),
            _tcp(SERVER, TCP_PORT, 1361),
        ]
    )
    assert _by_size(results) == {
        1377: Connectivity.TIMEOUT,
        1376: Connectivity.CONNECTED,
        1361: Connectivity.EMSGSIZE,
    }
