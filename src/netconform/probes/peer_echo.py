"""A server that tells each client the address it saw: the external target of the Kubernetes
platforms, and the backend behind their external NodePort checks. Run as
`python3 -c <this file> TCP_PORT UDP_PORT NAME` (or `python3 peer_echo.py ...` on a machine
outside a cluster you have). A TCP client's first line, or a UDP datagram, is answered with
`NAME saw ADDRESS`: the probe agent reads that reply as its `peer` value, so a check learns
which source address the server saw (SNAT, masquerade, a NodePort's policy).

The probe agent's own server answers with its hostname only, so this one is separate.
Standard library only, shipped as source (no image rebuild)."""

from __future__ import annotations

import os
import signal
import socketserver
import sys
import threading


def reply(name: str, address: str) -> bytes:
    return f"{name} saw {address}".encode()


class _TCPHandler(socketserver.StreamRequestHandler):
    name = "peer-echo"  # set from the command line
    timeout = 5  # a client that connects and says nothing does not hold a thread for long

    def handle(self) -> None:
        try:
            self.rfile.readline(256)
        except OSError:
            return
        self.wfile.write(reply(self.name, self.client_address[0]) + b"\n")


class _UDPHandler(socketserver.BaseRequestHandler):
    name = "peer-echo"

    def handle(self) -> None:
        _, sock = self.request
        sock.sendto(reply(self.name, self.client_address[0]), self.client_address)


class _TCP(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    daemon_threads = True


class _UDP(socketserver.ThreadingMixIn, socketserver.UDPServer):
    allow_reuse_address = True
    daemon_threads = True


def main(argv: list[str]) -> None:
    if len(argv) != 3:
        sys.stderr.write("usage: peer_echo TCP_PORT UDP_PORT NAME\n")
        sys.exit(2)
    _TCPHandler.name = _UDPHandler.name = argv[2]
    tcp = _TCP(("0.0.0.0", int(argv[0])), _TCPHandler)
    udp = _UDP(("0.0.0.0", int(argv[1])), _UDPHandler)
    threading.Thread(target=udp.serve_forever, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    sys.stdout.write(f"ready {argv[2]} tcp {argv[0]} udp {argv[1]}\n")
    sys.stdout.flush()
    tcp.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
