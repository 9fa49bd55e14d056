"""A tiny authoritative DNS server for the Swarm lab's DNS-options checks, run inside a probe
container as `python3 -c <this file> DOMAIN ANSWER_IP [PORT]`: every A query for DOMAIN or a
name under it is answered with ANSWER_IP, anything else is REFUSED. UDP and TCP.

Self-contained (standard library and dnspython, as the probe agent), shipped as source."""

from __future__ import annotations

import socket
import socketserver
import struct
import sys
import threading

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset


def answer(wire: bytes, domain: dns.name.Name, address: str) -> bytes:
    query = dns.message.from_wire(wire)
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    question = query.question[0] if query.question else None
    if question is None or not question.name.is_subdomain(domain):
        response.set_rcode(dns.rcode.REFUSED)
    elif question.rdtype == dns.rdatatype.A:
        response.answer.append(dns.rrset.from_text(question.name, 30, "IN", "A", address))
    return response.to_wire()


def main(argv: list[str]) -> None:
    domain = dns.name.from_text(argv[0])
    address = argv[1]
    port = int(argv[2]) if len(argv) > 2 else 53

    class Udp(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            data, sock = self.request
            sock.sendto(answer(data, domain, address), self.client_address)

    class Tcp(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            head = self.rfile.read(2)
            if len(head) == 2:
                reply = answer(self.rfile.read(struct.unpack("!H", head)[0]), domain, address)
                self.wfile.write(struct.pack("!H", len(reply)) + reply)

    class UdpServer(socketserver.ThreadingMixIn, socketserver.UDPServer):
        allow_reuse_address = True
        daemon_threads = True

    class TcpServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
        allow_reuse_address = True
        daemon_threads = True
        address_family = socket.AF_INET

    udp = UdpServer(("0.0.0.0", port), Udp)
    threading.Thread(target=udp.serve_forever, daemon=True).start()
    TcpServer(("0.0.0.0", port), Tcp).serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
