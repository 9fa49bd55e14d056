"""The in-endpoint probe agent. Runs inside a container (or a host namespace) as
`python3 -c <this file> batch <json>` or `... serve <tcp_port> <udp_port>`.

Self-contained on purpose: standard library only, plus dnspython when present (DNS probes),
so it runs unchanged in any image that has python3. It is shipped as source with each exec,
so changing it never forces a probe image rebuild.

batch: runs every probe concurrently, each with its own short timeout, and prints one JSON
line per probe as it completes:
{"id", "kind", "target", "ok", "outcome", "error", "latency_ms", "values"}.
`outcome` is how the probe ended (probes.model.Connectivity), classified here and only here.
`latency_ms` is the probe's wall time inside a concurrent batch: a bound, not a latency
figure. Latency figures come from series probes (dns-latency), which time each exchange on
its own, one after the other (or at a fixed, recorded concurrency).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import socketserver
import struct
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

try:  # imported once, before any probe runs: an import inside a probe would be timed
    import dns.exception
    import dns.flags
    import dns.message
    import dns.query
    import dns.rcode
    import dns.rdatatype
    import dns.resolver
except ImportError as _missing:
    DNS_MISSING: ImportError | None = _missing
else:
    DNS_MISSING = None

ProbeSpec = dict[str, Any]
Values = dict[str, Any]

SERVER_TCP_PORT = 8080
SERVER_UDP_PORT = 8081
BULK_CHUNK = 65536


def _hostname() -> str:
    return socket.gethostname()


# Outcomes (probes.model.Connectivity values; the agent imports nothing from netconform).
CONNECTED = "connected"
NO_REPLY = "no-reply"
ANSWERED = "answered"
REFUSED = "refused"
TIMEOUT = "timeout"
UNREACHABLE = "unreachable"
EMSGSIZE = "emsgsize"
ERROR = "error"
FAILED = "failed"

# Probes that test a path; the others (dns, read, interfaces, routes) answer a question.
CONNECTION_KINDS = ("tcp", "udp", "icmp", "transfer", "udp-df", "tcp-mss")


def _classify(exc: BaseException) -> tuple[str, str]:
    """(outcome, error) of an exception a probe raised."""
    if isinstance(exc, socket.timeout):
        return TIMEOUT, "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return REFUSED, "refused"
    if isinstance(exc, OSError) and exc.errno in (101, 113):
        return UNREACHABLE, "unreachable"
    if isinstance(exc, OSError) and exc.errno == 90:
        return EMSGSIZE, "emsgsize"
    return ERROR, "error: %s" % (exc,)


def probe_tcp(p: ProbeSpec) -> Values:
    with socket.create_connection((p["target"], p["port"]), timeout=p["timeout_s"]) as s:
        if p.get("connect_only"):  # a foreign service: the handshake is the observation
            return {"connected": True}
        s.sendall(b"hostname\n")
        reply = s.recv(256).decode(errors="replace").strip()
    if not reply:
        raise ProbeFailure("connected but no reply", {"connected": True}, NO_REPLY)
    return {"peer": reply}


def probe_udp(p: ProbeSpec) -> Values:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(p["timeout_s"])
        s.sendto(b"hostname", (p["target"], p["port"]))
        data, _ = s.recvfrom(2048)
    return {"peer": data.decode(errors="replace").strip()}


PING_MTU = re.compile(r"mtu\s*=\s*(\d+)")


def probe_icmp(p: ProbeSpec) -> Values:
    size = int(p.get("size", 56))
    argv = ["ping", "-n", "-c", "1", "-W", str(max(1, int(round(p["timeout_s"])))), "-s", str(size)]
    if p.get("df"):
        argv += ["-M", "do"]
    proc = subprocess.run(
        argv + [p["target"]],
        capture_output=True,
        text=True,
        check=False,
        timeout=p["timeout_s"] + 2,
    )
    text = (proc.stdout + proc.stderr).strip()
    values = {"size": size, "df": bool(p.get("df")), "output": text[-300:]}
    found = PING_MTU.search(text)
    if found:
        values["local_mtu"] = int(found.group(1))
    if proc.returncode == 0:
        return values
    lowered = text.lower()
    if "message too long" in lowered or "local error" in lowered:
        raise ProbeFailure("emsgsize", values, EMSGSIZE)
    if "unreachable" in lowered:
        raise ProbeFailure("unreachable", values, UNREACHABLE)
    if proc.returncode == 1:
        raise ProbeFailure("timeout", values, TIMEOUT)
    raise ProbeFailure("error: rc=%d" % proc.returncode, values, ERROR)


def _nameserver() -> str:
    with open("/etc/resolv.conf") as conf:
        for line in conf:
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "nameserver":
                return parts[1]
    raise OSError("no nameserver in /etc/resolv.conf")


def _need_dns() -> None:
    if DNS_MISSING is not None:
        raise DNS_MISSING


def probe_dns(p: ProbeSpec) -> Values:
    _need_dns()
    qtype = p.get("qtype", "A")
    transport = p.get("transport", "udp")
    server = p.get("server") or _nameserver()
    name = p["target"]
    if p.get("search"):
        # Through the stub resolver's search path and ndots, as an application would.
        resolver = dns.resolver.Resolver()
        resolver.nameservers = [server]
        resolver.lifetime = p["timeout_s"]
        try:
            answer = resolver.resolve(name, qtype, tcp=(transport == "tcp"), search=True)
        except dns.resolver.NXDOMAIN:
            raise ProbeFailure("nxdomain", {"rcode": "NXDOMAIN", "answers": []}, ANSWERED)
        except dns.resolver.NoAnswer:
            return {"rcode": "NOERROR", "answers": [], "server": server}
        except dns.exception.Timeout:
            raise ProbeFailure("timeout", {"server": server}, TIMEOUT)
        return {
            "rcode": "NOERROR",
            "answers": sorted(r.to_text() for r in answer),
            "qname": answer.qname.to_text(),
            "server": server,
        }
    query = dns.message.make_query(name, qtype)
    try:
        if transport == "tcp":
            response = dns.query.tcp(query, server, timeout=p["timeout_s"])
        else:
            response = dns.query.udp(query, server, timeout=p["timeout_s"])
    except dns.exception.Timeout:
        raise ProbeFailure("timeout", {"server": server}, TIMEOUT)
    rcode = dns.rcode.to_text(response.rcode())
    answers = []
    for rrset in response.answer:
        for rdata in rrset:
            answers.append(
                {
                    "type": dns.rdatatype.to_text(rrset.rdtype),
                    "value": rdata.to_text(),
                    "ttl": rrset.ttl,
                }
            )
    values = {
        "rcode": rcode,
        "answers": answers,
        "server": server,
        "truncated": bool(response.flags & dns.flags.TC),
    }
    if rcode != "NOERROR":  # a negative answer is still an answer: the rcode says which
        raise ProbeFailure(rcode.lower(), values, ANSWERED)
    return values


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionResetError("connection closed mid-answer")
        data += chunk
    return data


def _timed_exchange(
    wire: bytes, query_id: int, server: str, port: int, transport: str, timeout_s: float
) -> tuple[bytes, float]:
    """(answer, ms) of one query: the clock runs from just before the query is sent to just
    after the answer's last byte arrives (over TCP: the connection's handshake too, as a TCP
    lookup needs one). Encoding and parsing stay outside it, as they do in dig."""
    if transport == "tcp":
        start = time.perf_counter()
        with socket.create_connection((server, port), timeout=timeout_s) as sock:
            sock.sendall(len(wire).to_bytes(2, "big") + wire)
            size = int.from_bytes(_recv_exactly(sock, 2), "big")
            answer = _recv_exactly(sock, size)
        return answer, (time.perf_counter() - start) * 1000
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout_s)
        sock.connect((server, port))
        start = time.perf_counter()
        sock.send(wire)
        while True:  # a stray datagram (an old answer) is not this query's
            answer = sock.recv(65535)
            if answer[:2] == query_id.to_bytes(2, "big"):
                return answer, (time.perf_counter() - start) * 1000


def probe_dns_latency(p: ProbeSpec) -> Values:
    """`samples` lookups of one name, each timed around its own network exchange (see
    _timed_exchange), `concurrency` at a time (1: one after the other). One untimed lookup
    first, so ARP and conntrack are warm. With `dig`, the same server and name asked by dig
    (-u: microseconds, as dig itself times the exchange) for a cross-check."""
    _need_dns()
    name, qtype = p["target"], p.get("qtype", "A")
    transport = p.get("transport", "udp")
    server = p.get("server") or _nameserver()
    port = int(p.get("port") or 53)
    samples = int(p.get("samples", 40))
    concurrency = max(1, int(p.get("concurrency", 1)))
    timeout_s = float(p["timeout_s"])
    errors: dict[str, int] = {}
    timings: list[float] = []
    lock = threading.Lock()

    def lookup(_: int) -> None:
        query = dns.message.make_query(name, qtype)
        elapsed = 0.0
        try:
            answer, elapsed = _timed_exchange(
                query.to_wire(), query.id, server, port, transport, timeout_s
            )
            rcode = dns.rcode.to_text(dns.message.from_wire(answer).rcode())
            error = "" if rcode == "NOERROR" else rcode.lower()
        except Exception as exc:
            error = _classify(exc)[1]
        with lock:
            if error:
                errors[error] = errors.get(error, 0) + 1
            else:
                timings.append(round(elapsed, 3))

    warm_up = dns.message.make_query(name, qtype)
    with contextlib.suppress(Exception):  # the warm-up is no sample; the samples say what failed
        _timed_exchange(warm_up.to_wire(), warm_up.id, server, port, transport, timeout_s)
    if concurrency == 1:
        for i in range(samples):
            lookup(i)
    else:
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            list(pool.map(lookup, range(samples)))
    values: Values = {
        "server": server,
        "transport": transport,
        "concurrency": concurrency,
        "samples_ms": timings,
        "failed": sum(errors.values()),
        "errors": errors,
    }
    if p.get("dig"):
        values["dig"] = _dig_series(name, qtype, server, port, transport, samples, timeout_s)
    if not timings:
        raise ProbeFailure("no lookup answered: %s" % errors, values, TIMEOUT)
    return values


DIG_QUERY_TIME = re.compile(r"^;; Query time: (\d+) (usec|msec)", re.MULTILINE)


def _dig_series(
    name: str, qtype: str, server: str, port: int, transport: str, samples: int, timeout_s: float
) -> Values:
    """One dig process asking `samples` times (dig takes several queries on one command
    line, each with its own statistics)."""
    argv = ["dig", "-u", "-p", str(port), "@" + server, "+tries=1"]
    argv += ["+time=%d" % max(1, round(timeout_s))]
    argv += ["+noall", "+stats"] + (["+tcp"] if transport == "tcp" else [])
    for _ in range(samples):
        argv += [name, qtype]
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, check=False, timeout=samples * timeout_s + 5
        )
    except FileNotFoundError:
        return {"error": "dig not in the endpoint image"}
    except subprocess.TimeoutExpired:
        return {"error": "dig did not finish"}
    timings = [
        int(value) / (1000.0 if unit == "usec" else 1.0)
        for value, unit in DIG_QUERY_TIME.findall(proc.stdout)
    ]
    found: Values = {"samples_ms": [round(t, 3) for t in timings], "asked": samples}
    if not timings:
        found["error"] = "dig answered nothing (rc=%d): %s" % (
            proc.returncode,
            (proc.stdout + proc.stderr).strip()[-200:],
        )
    return found


def probe_transfer(p: ProbeSpec) -> Values:
    want = int(p["bytes"])
    got = 0
    start = time.monotonic()
    with socket.create_connection((p["target"], p["port"]), timeout=p["timeout_s"]) as s:
        s.sendall(b"bulk %d\n" % want)
        while got < want:
            chunk = s.recv(BULK_CHUNK)
            if not chunk:
                break
            got += len(chunk)
    seconds = time.monotonic() - start
    values = {
        "bytes": got,
        "requested": want,
        "seconds": round(seconds, 4),
        "mbit_s": round(got * 8 / seconds / 1e6, 2) if seconds > 0 else None,
    }
    if got < want:
        raise ProbeFailure("short transfer", values, ERROR)
    return values


def probe_read(p: ProbeSpec) -> Values:
    with open(p["target"]) as f:
        return {"content": f.read()}


def probe_interfaces(p: ProbeSpec) -> Values:
    result: Values = {}
    for name in sorted(os.listdir("/sys/class/net")):
        with open("/sys/class/net/%s/mtu" % name) as f:
            result[name] = {"mtu": int(f.read())}
    return {"interfaces": result}


def probe_routes(p: ProbeSpec) -> Values:
    routes = []
    with open("/proc/net/route") as f:
        next(f)
        for line in f:
            fields = line.split()
            dest = socket.inet_ntoa(bytes.fromhex(fields[1])[::-1])
            mask = socket.inet_ntoa(bytes.fromhex(fields[7])[::-1])
            gateway = socket.inet_ntoa(bytes.fromhex(fields[2])[::-1])
            routes.append({"iface": fields[0], "dst": dest, "mask": mask, "gateway": gateway})
    default = [r for r in routes if r["dst"] == "0.0.0.0" and r["mask"] == "0.0.0.0"]
    return {"routes": routes, "has_default": bool(default)}


class ProbeFailure(Exception):
    """A probe that ran and observed a failure: its outcome, error text and values."""

    def __init__(self, error: str, values: Values, outcome: str) -> None:
        Exception.__init__(self, error)
        self.error = error
        self.values = values
        self.outcome = outcome


PROBES: dict[str, Any] = {
    "tcp": probe_tcp,
    "udp": probe_udp,
    "icmp": probe_icmp,
    "dns": probe_dns,
    "dns-latency": probe_dns_latency,
    "transfer": probe_transfer,
    "read": probe_read,
    "interfaces": probe_interfaces,
    "routes": probe_routes,
}

_print_lock = threading.Lock()


def run_one(p: ProbeSpec) -> None:
    start = time.monotonic()
    result = {
        "id": p["id"],
        "kind": p["kind"],
        "target": p.get("target"),
        "ok": False,
        "outcome": FAILED,
        "error": None,
        "values": {},
    }
    try:
        result["values"] = PROBES[p["kind"]](p)
        result["ok"] = True
        result["outcome"] = CONNECTED if p["kind"] in CONNECTION_KINDS else ANSWERED
    except ProbeFailure as failure:
        result["outcome"] = failure.outcome
        result["error"] = failure.error
        result["values"] = failure.values
    except ImportError as exc:  # the probe could not run at all
        result["error"] = "agent: missing module in endpoint image: %s" % exc
    except KeyError as exc:
        result["error"] = "agent: bad probe, missing %s" % exc
    except Exception as exc:  # every failure is data for the check, never a crash
        result["outcome"], result["error"] = _classify(exc)
    result["latency_ms"] = round((time.monotonic() - start) * 1000, 3)
    line = json.dumps(result, sort_keys=True)
    with _print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def batch(spec: str) -> None:
    probes = json.loads(spec)
    if not probes:
        return
    # The agent can never outlive its probes: a hard deadline kills it.
    deadline = max(p.get("budget_s", p["timeout_s"]) for p in probes) + 5
    signal.alarm(int(deadline) + 1)
    with ThreadPoolExecutor(max_workers=min(64, len(probes))) as pool:
        list(pool.map(run_one, probes))


class _TCPHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        line = self.rfile.readline(256).decode(errors="replace").strip()
        if line.startswith("bulk "):
            remaining = int(line.split()[1])
            block = b"\0" * BULK_CHUNK
            while remaining > 0:
                n = min(remaining, BULK_CHUNK)
                self.wfile.write(block[:n])
                remaining -= n
        else:
            self.wfile.write((_hostname() + "\n").encode())


class _UDPHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data, sock = self.request
        if data.startswith(SIZE_QUERY):  # the udp-df probe: how much arrived, not an echo
            reply = b"%d %s" % (len(data), _hostname().encode())
        else:
            reply = _hostname().encode() if data.strip() == b"hostname" else data
        sock.sendto(reply, self.client_address)


class _ThreadingTCP(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    daemon_threads = True


class _ThreadingUDP(socketserver.ThreadingMixIn, socketserver.UDPServer):
    allow_reuse_address = True
    daemon_threads = True
    max_packet_size = 65535  # socketserver reads 8192: a jumbo udp-df datagram would look cut


def serve(tcp_port: int, udp_port: int) -> None:
    tcp = _ThreadingTCP(("0.0.0.0", tcp_port), _TCPHandler)
    udp = _ThreadingUDP(("0.0.0.0", udp_port), _UDPHandler)
    threading.Thread(target=udp.serve_forever, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    tcp.serve_forever()


# --- perf probes (issue 12 §2) -----------------------------------------------------------
# Each times its own network exchange and runs its samples one after another; a batch of
# perf probes should hold one probe, so nothing else shares the endpoint while it measures.
RR_PORT = 5200
# iperf3 before 3.16 (Debian 12 ships 3.12) is single-threaded: `-P 4` runs four streams on
# one core, no faster than one. Stream i of a sample is therefore an iperf3 client process
# of its own, talking to a server process of its own on IPERF3_PORT + i (a server serves one
# test at a time), so the streams spread over the cores as 3.16's threads would.
IPERF3_PORT = 5201
MAX_STREAMS = 16
CGROUP_CPU_FILES = (
    ("/sys/fs/cgroup/cpu.stat", "usage_usec", 1e-6),  # cgroup v2
    ("/sys/fs/cgroup/cpuacct/cpuacct.usage", "", 1e-9),  # cgroup v1
    ("/sys/fs/cgroup/cpu,cpuacct/cpuacct.usage", "", 1e-9),
)


def cgroup_cpu_s() -> Any:
    """CPU seconds this endpoint's cgroup has used ({seconds, source}), None unreadable."""
    for path, key, scale in CGROUP_CPU_FILES:
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            continue
        if not key:
            return {"seconds": int(text.split()[0]) * scale, "source": path}
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == key:
                return {"seconds": int(parts[1]) * scale, "source": path}
    return None


def probe_cpu(p: ProbeSpec) -> Values:
    return {"cpu": cgroup_cpu_s()}


def _iperf3_server_ports() -> set[int]:
    """The ports of the iperf3 servers running in this endpoint (from /proc)."""
    ports = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"iperf3") and b"-s" in argv and b"-p" in argv[:-1]:
            with contextlib.suppress(ValueError):
                ports.add(int(argv[argv.index(b"-p") + 1]))
    return ports


def _echo_connection(conn: socket.socket) -> None:
    try:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            data = conn.recv(65536)
            if not data:
                return
            conn.sendall(data)
    except OSError:
        return
    finally:
        conn.close()


def _serve_echo_forever(listener: socket.socket) -> None:
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            continue
        threading.Thread(target=_echo_connection, args=(conn,), daemon=True).start()


# Request/response and connection rate pin the client to the endpoint's first CPU and the
# echo server to its last (netperf's -T): where client and server can share a core, as the
# endpoints of one machine's lab or kind nodes do, an exchange that stays on one core skips
# the cross-core wakeup and runs twice as fast, so a round's p50 went 0.024 or 0.055 ms as
# the scheduler placed them; hosts of their own never share a core.
def _cpu_pair() -> Any:
    """(client CPU, server CPU), or None with fewer than two CPUs to run on."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None
    return (cpus[0], cpus[-1]) if len(cpus) >= 2 else None


@contextlib.contextmanager
def _pinned_client() -> Any:
    """This thread on the client CPU for the block (its affinity put back after)."""
    pair = _cpu_pair()
    if pair is None:
        yield None
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {pair[0]})
    try:
        yield pair[0]
    finally:
        os.sched_setaffinity(0, before)


def _daemonize_echo(listener: socket.socket, cpu: Any) -> None:
    """The echo server in a detached grandchild, so the exec that started it ends; on
    `cpu` when given."""
    if os.fork() != 0:
        listener.close()
        os.wait()
        return
    os.setsid()
    if os.fork() != 0:
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    signal.alarm(0)
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    try:
        _serve_echo_forever(listener)
    finally:
        os._exit(0)


def probe_perf_server(p: ProbeSpec) -> Values:
    """Start, once per endpoint, the echo server (request/response and connection rate)
    and `iperf3_servers` iperf3 servers (IPERF3_PORT and up, one per stream); they stay up
    until the endpoint goes. Idempotent: only what is not running starts."""
    rr_port = int(p.get("rr_port", RR_PORT))
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("0.0.0.0", rr_port))
        listener.listen(128)
        echo = "started"
    except OSError:
        listener.close()
        echo = "running"
    pair = _cpu_pair()
    server_cpu = pair[1] if pair else None
    if echo == "started":
        _daemonize_echo(listener, server_cpu)
    values: Values = {"echo": echo, "echo_port": rr_port, "echo_cpu": server_cpu}
    wanted = {IPERF3_PORT + i for i in range(min(int(p.get("iperf3_servers", 1)), MAX_STREAMS))}
    missing = sorted(wanted - _iperf3_server_ports())
    values["iperf3_ports"] = sorted(wanted)
    if not missing:
        values["iperf3"] = "running"
        return values
    for port in missing:
        try:
            proc = subprocess.run(
                ["iperf3", "-s", "-D", "-p", str(port)],
                capture_output=True,
                text=True,
                timeout=p["timeout_s"],
                check=False,
            )
        except OSError as exc:
            raise ProbeFailure("iperf3: %s" % exc, values, ERROR)
        if proc.returncode != 0:
            error = (proc.stderr or proc.stdout).strip()
            raise ProbeFailure("iperf3 -s -p %d: %s" % (port, error), values, ERROR)
    deadline = time.monotonic() + p["timeout_s"]
    while not wanted <= _iperf3_server_ports() and time.monotonic() < deadline:
        time.sleep(0.05)
    values["iperf3"] = "started"
    return values


def _iperf3_client(p: ProbeSpec, port: int) -> subprocess.Popen[str]:
    argv = ["iperf3", "-c", p["target"], "-p", str(port), "-J", "-t", str(p.get("duration_s", 1))]
    if p.get("udp"):
        argv += ["-u", "-b", "%dM" % int(p.get("udp_mbit", 500)), "-l", str(p.get("length", 1200))]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _iperf3_end(proc: subprocess.Popen[str], deadline: float) -> Values:
    """One client's `end` section; a timeout, an unreadable report or iperf3's own error
    raises (the caller kills the other clients)."""
    try:
        out, err = proc.communicate(timeout=max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        raise ProbeFailure("iperf3: no report before the probe's deadline", {}, TIMEOUT)
    try:
        report = json.loads(out)
    except ValueError:
        raise ProbeFailure("iperf3: %s" % (err or out)[-200:], {}, ERROR)
    if report.get("error"):
        error = str(report["error"])
        outcome = REFUSED if "refused" in error else TIMEOUT if "timed out" in error else ERROR
        raise ProbeFailure("iperf3: %s" % error, {}, outcome)
    end: Values = report["end"]
    return end


def _iperf3_sample(p: ProbeSpec) -> Values:
    """One sample: `streams` iperf3 clients at once, stream i to the server on port + i;
    the sample is their sum (what `-P` sums, over processes that each have a core to run on)."""
    streams = max(1, min(int(p.get("streams", 1)), MAX_STREAMS))
    base = int(p.get("port") or IPERF3_PORT)
    deadline = time.monotonic() + p["timeout_s"]
    procs = []
    try:
        for i in range(streams):
            procs.append(_iperf3_client(p, base + i))
        ends = [_iperf3_end(proc, deadline) for proc in procs]
    except OSError as exc:
        raise ProbeFailure("iperf3: %s" % exc, {}, ERROR)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    received = [end.get("sum_received") or end.get("sum") or {} for end in ends]
    sample: Values = {
        "mbit_s": round(sum(r["bits_per_second"] for r in received) / 1e6, 2),
        "stream_mbit_s": [round(r["bits_per_second"] / 1e6, 2) for r in received],
        "bytes": sum(r["bytes"] for r in received),
        "seconds": round(max(r["seconds"] for r in received), 4),
        "streams": streams,
    }
    if p.get("udp"):
        sums = [end.get("sum") or {} for end in ends]
        packets = sum(s.get("packets", 0) for s in sums)
        lost = sum(s.get("lost_packets", 0) for s in sums)
        sample["lost_percent"] = round(100.0 * lost / packets, 4) if packets else None
        sample["jitter_ms"] = max(s.get("jitter_ms", 0.0) for s in sums)
        sample["sent_mbit_s"] = round(sum(s.get("bits_per_second", 0) for s in sums) / 1e6, 2)
    else:
        sent = [(end.get("sum_sent") or {}).get("retransmits") for end in ends]
        sample["retransmits"] = None if None in sent else sum(sent)
    cpu = [end.get("cpu_utilization_percent") or {} for end in ends]
    sample["cpu_client_pct"] = _sum_or_none([c.get("host_total") for c in cpu])
    sample["cpu_server_pct"] = _sum_or_none([c.get("remote_total") for c in cpu])
    return sample


def _sum_or_none(values: list[Any]) -> Any:
    return None if None in values else round(sum(values), 3)


def probe_iperf3(p: ProbeSpec) -> Values:
    """`samples` short iperf3 runs one after another; the client's cgroup CPU around them."""
    before = cgroup_cpu_s()
    samples = [_iperf3_sample(p) for _ in range(int(p.get("samples", 1)))]
    after = cgroup_cpu_s()
    values: Values = {"samples": samples}
    if before is not None and after is not None:
        values["client_cpu_s"] = round(after["seconds"] - before["seconds"], 6)
    return values


def _percentiles_ms(samples: list[float]) -> Values:
    ordered = sorted(samples)
    n = len(ordered)

    def rank(fraction: float) -> float:
        return round(ordered[max(0, min(n - 1, int(-(-fraction * n // 1)) - 1))] * 1000, 4)

    return {"p50_ms": rank(0.5), "p90_ms": rank(0.9), "p99_ms": rank(0.99), "samples": n}


def _exchange(s: socket.socket, message: bytes) -> None:
    s.sendall(message)
    got = 0
    while got < len(message):
        chunk = s.recv(65536)
        if not chunk:
            raise ProbeFailure("echo server closed the connection", {}, ERROR)
        got += len(chunk)


def probe_rr(p: ProbeSpec) -> Values:
    """TCP request/response on one connection: each exchange timed on its own."""
    message = b"x" * int(p.get("size", 1))
    count = int(p.get("count", 200))
    address = (p["target"], p["port"])
    with _pinned_client() as cpu, socket.create_connection(address, timeout=p["timeout_s"]) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(int(p.get("warmup", 10))):
            _exchange(s, message)
        times = []
        for _ in range(count):
            start = time.perf_counter()
            _exchange(s, message)
            times.append(time.perf_counter() - start)
    times_us = [round(t * 1e6, 1) for t in times]
    return dict(_percentiles_ms(times), size=len(message), times_us=times_us, client_cpu=cpu)


def probe_crr(p: ProbeSpec) -> Values:
    """TCP connection rate: connect, one exchange, close, one after another."""
    count = int(p.get("count", 100))
    address = (p["target"], p["port"])
    times = []
    with _pinned_client() as cpu:
        begin = time.perf_counter()
        for _ in range(count):
            start = time.perf_counter()
            with socket.create_connection(address, timeout=p["timeout_s"]) as s:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                _exchange(s, b"x")
            times.append(time.perf_counter() - start)
        elapsed = time.perf_counter() - begin
    per_s = round(count / elapsed, 1)
    return dict(_percentiles_ms(times), per_s=per_s, seconds=round(elapsed, 4), client_cpu=cpu)


PROBES.update(
    {
        "cpu": probe_cpu,
        "perf-server": probe_perf_server,
        "iperf3": probe_iperf3,
        "rr": probe_rr,
        "crr": probe_crr,
    }
)


# --- DF size probes (the MTU sweep, checks/k8s_mtu.py) ------------------------------------
# One packet of a chosen size with DF set, whose answer proves the whole packet arrived; a
# packet too big for the path fails (refused locally, refused on the way with an ICMP
# "fragmentation needed", or lost in silence), never arrives cut or fragmented.
IP_MTU_DISCOVER = getattr(socket, "IP_MTU_DISCOVER", 10)
IP_PMTUDISC_DO = getattr(socket, "IP_PMTUDISC_DO", 2)  # DF set, never fragmented locally
IP_MTU = getattr(socket, "IP_MTU", 14)
TCP_INFO = getattr(socket, "TCP_INFO", 11)
TCPI_OPT_TIMESTAMPS = 1
TCP_TIMESTAMPS_LEN = 12  # the timestamps option as it sits in every data segment, padded
SIZE_QUERY = b"netconform-size "  # a datagram starting so is answered "<bytes> <hostname>"


def _path_mtu(s: socket.socket) -> Any:
    """The path MTU the kernel holds for a connected socket (None: not known)."""
    try:
        return s.getsockopt(socket.IPPROTO_IP, IP_MTU)
    except OSError:
        return None


def _failure(exc: BaseException, values: Values) -> ProbeFailure:
    outcome, error = _classify(exc)
    return ProbeFailure(error, values, outcome)


def probe_udp_df(p: ProbeSpec) -> Values:
    """One UDP datagram of `size` payload bytes with DF set (IP_PMTUDISC_DO). The server
    answers with the length it received, so an answer proves the whole datagram arrived;
    the answer is short, so only the way there is tested. Too big: EMSGSIZE, locally or
    from an ICMP "fragmentation needed" on the way (the socket is connected, so the kernel
    reports it), or a timeout when the network drops it in silence."""
    size = int(p["size"])
    if size < len(SIZE_QUERY):
        raise ProbeFailure("size below %d bytes" % len(SIZE_QUERY), {"size": size}, ERROR)
    payload = SIZE_QUERY + b"x" * (size - len(SIZE_QUERY))
    values: Values = {"size": size, "df": True}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO)
        s.settimeout(p["timeout_s"])
        try:
            s.connect((p["target"], p["port"]))
            s.send(payload)
            answer = s.recv(512)
        except OSError as exc:
            values["path_mtu"] = _path_mtu(s)
            raise _failure(exc, values)
        values["path_mtu"] = _path_mtu(s)
    fields = answer.decode(errors="replace").split(" ", 1)
    try:
        values["received"] = int(fields[0])
    except ValueError:
        raise ProbeFailure("the server answered no length (an echo server?)", values, ERROR)
    values["peer"] = fields[1].strip() if len(fields) > 1 else ""
    if values["received"] != size:
        raise ProbeFailure("%d of %d bytes arrived" % (values["received"], size), values, ERROR)
    return values


def _tcp_info(s: socket.socket) -> Values:
    """The fields of struct tcp_info (linux/tcp.h) the tcp-mss probe reads."""
    raw = s.getsockopt(socket.IPPROTO_TCP, TCP_INFO, 104)
    fields = struct.unpack_from("8B24I", raw)
    return {
        "options": fields[5],
        "snd_mss": fields[8 + 2],
        "pmtu": fields[8 + 13],
        "total_retrans": fields[8 + 23],
    }


def _segment(info: Values) -> int:
    """The MSS a data segment uses (payload plus the options it carries): its IP packet is
    this plus 40 bytes of IP and TCP header."""
    options = TCP_TIMESTAMPS_LEN if info["options"] & TCPI_OPT_TIMESTAMPS else 0
    return int(info["snd_mss"]) + options


def probe_tcp_mss(p: ProbeSpec) -> Values:
    """A TCP connection whose MSS is `size` (TCP_MAXSEG), sending one full segment (an IP
    packet of `size` + 40 bytes, DF set as TCP always does, IP_PMTUDISC_DO) that starts with
    the server's "hostname" line: the answer proves the segment arrived. Fails when the
    connection cannot use that MSS (the peer's MSS or a known path MTU is smaller:
    EMSGSIZE), when the path refused the segment with an ICMP "fragmentation needed" (TCP
    then resends it smaller and the answer comes, but the connection's MSS has dropped:
    EMSGSIZE), or on silence (timeout)."""
    size = int(p["size"])
    values: Values = {"size": size}
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, size)
        s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.settimeout(p["timeout_s"])
        try:
            s.connect((p["target"], p["port"]))
            before = _tcp_info(s)
            values["mss"] = _segment(before)
            values["path_mtu"] = before["pmtu"]
            if values["mss"] < size:
                error = "the connection's MSS is %d (the peer's MSS or the path MTU)"
                raise ProbeFailure(error % values["mss"], values, EMSGSIZE)
            s.sendall(b"hostname\n" + b"\0" * (int(before["snd_mss"]) - len(b"hostname\n")))
            reply = s.recv(256)
            after = _tcp_info(s)
        except OSError as exc:
            raise _failure(exc, values)
    values["retransmits"] = after["total_retrans"]
    values["mss_after"] = _segment(after)
    values["path_mtu"] = after["pmtu"]
    if values["mss_after"] < size:
        error = "the path refused the segment: MSS down to %d, path MTU %d"
        raise ProbeFailure(error % (values["mss_after"], after["pmtu"]), values, EMSGSIZE)
    if not reply:
        raise ProbeFailure("connected but no reply", values, NO_REPLY)
    values["peer"] = reply.decode(errors="replace").strip()
    return values


PROBES.update({"udp-df": probe_udp_df, "tcp-mss": probe_tcp_mss})


def main(argv: list[str]) -> None:
    if len(argv) >= 2 and argv[0] == "batch":
        batch(argv[1])
    elif argv and argv[0] == "serve":
        tcp_port = int(argv[1]) if len(argv) > 1 else SERVER_TCP_PORT
        udp_port = int(argv[2]) if len(argv) > 2 else SERVER_UDP_PORT
        serve(tcp_port, udp_port)
    else:
        sys.stderr.write("usage: agent batch JSON | agent serve [TCP_PORT UDP_PORT]\n")
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv[1:])
