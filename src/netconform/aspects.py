"""The one aspect table: what a check tests, named without its family.

A comparison has one row per aspect and one column per platform; each cell is that
platform's own check of the aspect. Swarm and Kubernetes checks that test the same thing
declare the same aspect; a family-specific check has an aspect of its own. Titles say what
is tested in both families' words where they differ (a Swarm task is a Kubernetes pod, a
host a node, a VIP a ClusterIP). Each NetworkPolicy catalogue case is an aspect of its own
(`netpol.case.<case id>`), so two Kubernetes platforms compare case by case.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from netconform.results import Area

if TYPE_CHECKING:
    from netconform.netpol.catalogue import Case


@dataclass(frozen=True)
class Aspect:
    key: str
    area: Area
    title: str


_R, _D, _M, _I, _N = Area.REACHABILITY, Area.DNS, Area.MTU, Area.ISOLATION, Area.NETPOL
_P = Area.PERF

_TABLE: tuple[tuple[str, Area, str], ...] = (
    # --- reachability ------------------------------------------------------------------
    *(
        (f"reachability.pod-to-pod.{scope}.{proto}", _R, f"Endpoint to endpoint {where} ({proto})")
        for scope, where in (("same-host", "on the same host"), ("cross-host", "across hosts"))
        for proto in ("tcp", "udp", "icmp")
    ),
    (
        "reachability.node-mesh",
        _R,
        "Every ordered host pair: endpoint to endpoint (TCP, UDP, ICMP), endpoint to the other "
        "host's network, and DNS from every host",
    ),
    ("reachability.service.every-backend", _R, "A service's virtual IP reaches every backend"),
    (
        "reachability.service.local-backend",
        _R,
        "A service's virtual IP reaches its backend on the client's own host",
    ),
    (
        "reachability.service.remote-backend",
        _R,
        "A service's virtual IP reaches its backend on another host",
    ),
    (
        "reachability.published-port.own-host",
        _R,
        "A published port (NodePort) answers on the client's own host address",
    ),
    (
        "reachability.published-port.other-host",
        _R,
        "A published port (routing mesh, NodePort) answers on another host's address",
    ),
    (
        "reachability.published-port.host-mode",
        _R,
        "A port published on its endpoint's host only (hostPort, Swarm mode=host) answers on "
        "that host's address from it and from another host, TCP and UDP",
    ),
    (
        "reachability.service.session-affinity",
        _R,
        "A service with client-IP affinity sends every request of one client to one backend",
    ),
    (
        "reachability.service.programming-latency",
        _R,
        "A service's virtual IP follows an endpoint joining and leaving it: time to answer "
        "from it and to stop (p50/p99)",
    ),
    ("reachability.host-to-pod", _R, "A host-network client reaches endpoints on every host"),
    *(
        (f"reachability.external.{proto}", _R, f"An endpoint reaches an address outside ({proto})")
        for proto in ("tcp", "udp", "icmp")
    ),
    (
        "reachability.external.source-nat",
        _R,
        "Endpoint traffic to an outside address leaves with its host's address (SNAT)",
    ),
    (
        "reachability.external.published-port.client-kept",
        _R,
        "An outside client through a published port on the backend's host: the backend sees "
        "the client's own address",
    ),
    (
        "reachability.external.published-port.forwarded-snat",
        _R,
        "An outside client through a published port on another host: forwarded, the client's "
        "address replaced",
    ),
    ("reachability.api-server", _R, "An endpoint reaches the platform API service by name"),
    ("reachability.hairpin", _R, "An endpoint reaches itself through its own service"),
    (
        "reachability.underlay.encapsulated",
        _R,
        "Cross-host overlay traffic is encapsulated on the wire (VXLAN, its VNI), never clear",
    ),
    # --- DNS -----------------------------------------------------------------------------
    ("dns.service.a", _D, "A service name resolves to exactly its virtual IP"),
    ("dns.service.search-path", _D, "A service resolves by short name through the search path"),
    (
        "dns.service.endpoints.a",
        _D,
        "A service's endpoint name (tasks.<service>, headless) gives every ready endpoint IP",
    ),
    (
        "dns.service.no-virtual-ip",
        _D,
        "A service without a virtual IP (dnsrr, headless): its name gives the endpoint IPs only",
    ),
    (
        "dns.service.endpoints.follow-changes",
        _D,
        "Endpoint records follow endpoints leaving and rejoining the service",
    ),
    ("dns.service.srv", _D, "SRV records of a service's named ports"),
    ("dns.service.endpoints.srv", _D, "SRV records: one per endpoint and named port"),
    (
        "dns.service.alias",
        _D,
        "An alias name resolves to what it aliases (network alias, ExternalName CNAME)",
    ),
    ("dns.service.ptr", _D, "PTR of a service's virtual IP gives the service name"),
    (
        "dns.endpoint.name",
        _D,
        "One endpoint's own name (container name, hostname.subdomain) resolves to its IP",
    ),
    ("dns.resolv-conf.default", _D, "resolv.conf of a default endpoint is as the platform says"),
    ("dns.resolv-conf.custom", _D, "A custom DNS configuration is what the endpoint gets"),
    ("dns.service.aaaa-nodata", _D, "AAAA of an IPv4-only service: NOERROR without an answer"),
    ("dns.name.nxdomain", _D, "A name that does not exist is NXDOMAIN"),
    (
        "dns.scope.other-segment",
        _D,
        "A service of another segment (overlay, namespace) does not resolve by its short name",
    ),
    ("dns.latency", _D, "Lookup latency p50/p99 over UDP and TCP"),
    # --- MTU -----------------------------------------------------------------------------
    ("mtu.interface.overlay-rule", _M, "Endpoint MTU = host MTU minus the encapsulation overhead"),
    ("mtu.interface.option", _M, "Endpoint MTU follows the network's MTU option"),
    ("mtu.interface.encrypted", _M, "Endpoint MTU of an encrypted overlay (VXLAN + ESP)"),
    *(
        (f"mtu.pmtu{variant}.{limit}", _M, f"{what}{note}")
        for variant, note in (
            ("", ""),
            (".option", " (MTU option network)"),
            (".encrypted", " (encrypted overlay)"),
        )
        for limit, what in (
            ("df-at-limit", "A DF ping at exactly the endpoint MTU crosses hosts"),
            ("df-over-limit", "A DF ping one byte over the MTU fails locally (EMSGSIZE)"),
        )
    ),
    *(
        (f"mtu.sweep.{path}", _M, f"Largest DF payload {what} equals the declared MTU")
        for path, what in (
            ("pod-to-pod.same-host", "endpoint to endpoint on one host"),
            ("pod-to-pod.cross-host", "endpoint to endpoint across hosts"),
            ("service", "endpoint to a service's virtual IP"),
            ("published-port", "endpoint to another host's published port"),
            ("host-to-pod", "host network to an endpoint on another host"),
        )
    ),
    ("mtu.transfer.cross-host", _M, "A bulk TCP transfer completes across hosts"),
    ("mtu.transfer.service", _M, "A bulk TCP transfer through a service's virtual IP"),
    # --- isolation -----------------------------------------------------------------------
    (
        "isolation.segments.cross-segment",
        _I,
        "Endpoints of another segment cannot reach in, inside the segment they can "
        "(overlays; namespaces under a same-namespace-only NetworkPolicy)",
    ),
    ("isolation.internal.no-default-route", _I, "An internal network: no default route"),
    (
        "isolation.internal.no-egress",
        _I,
        "An internal segment has no way out, inside it traffic works (an --internal overlay; "
        "a pod whose NetworkPolicy egress is its own namespace)",
    ),
    ("isolation.encrypted.works", _I, "An encrypted overlay carries traffic across hosts"),
    (
        "isolation.encrypted.on-the-wire",
        _I,
        "An encrypted overlay's traffic is ESP on the wire, nothing in the clear",
    ),
    # --- NetworkPolicy -------------------------------------------------------------------
    ("netpol.default-deny.canary", _N, "The platform enforces NetworkPolicy (default-deny)"),
    (
        "netpol.egress.ipblock-except",
        _N,
        "Egress to 0.0.0.0/0 except one /32 (the metadata address): the world answers, the "
        "excepted address is blocked",
    ),
    # --- DNS options ---------------------------------------------------------------------
    (
        "dns.resolv-conf.search-upstream",
        _D,
        "A short name resolves through the configured search domain, answered by the "
        "configured upstream nameserver",
    ),
    # --- perf (informational: measured against the host network / underlay) -------------
    (
        "perf.tcp.cross-host.1-stream",
        _P,
        "TCP throughput across hosts, 1 stream, and its ratio to the host network",
    ),
    (
        "perf.tcp.cross-host.streams",
        _P,
        "TCP throughput across hosts, several streams, and its ratio to the host network",
    ),
    (
        "perf.tcp.same-host.1-stream",
        _P,
        "TCP throughput between endpoints on one host, 1 stream, against the host's loopback",
    ),
    (
        "perf.udp.cross-host",
        _P,
        "UDP throughput and loss across hosts at a fixed offered rate, against the host network",
    ),
    (
        "perf.tcp.service",
        _P,
        "TCP throughput through a service's virtual IP (ClusterIP) to a backend on another host",
    ),
    (
        "perf.rr.cross-host",
        _P,
        "TCP request/response latency p50/p99 across hosts, against the host network",
    ),
    (
        "perf.crr.cross-host",
        _P,
        "TCP connection rate across hosts (connect, one exchange, close), against the host network",
    ),
    (
        "perf.reference.bridge",
        _P,
        "Reference: TCP throughput on a plain Docker bridge network on one host",
    ),
)

STATIC: Mapping[str, Aspect] = MappingProxyType({k: Aspect(k, a, t) for k, a, t in _TABLE})


def case_area(case: Case) -> Area:
    """A case writing a ClusterNetworkPolicy is of the cluster tier's area (its own report
    section), any other of NetworkPolicy's."""
    return Area.CLUSTER_NETPOL if case.writes_cluster_policies else Area.NETPOL


def netpol_case(case: Case) -> str:
    """The aspect key of one policy catalogue case: `netpol.case.<id>`, or
    `cluster-netpol.case.<id>` for one that writes ClusterNetworkPolicies."""
    return f"{case_area(case)}.case.{case.id}"


@functools.cache
def table() -> Mapping[str, Aspect]:
    """Every aspect: the static ones and one per NetworkPolicy catalogue case."""
    from netconform.netpol.catalogue import load_catalogue

    cases = {
        netpol_case(c): Aspect(netpol_case(c), case_area(c), c.title) for c in load_catalogue()
    }
    return MappingProxyType({**STATIC, **cases})


# Aspects of a user's NetworkPolicy cases (--netpol-cases), added when the run loads them.
_USER_CASES: dict[str, Aspect] = {}


def add_netpol_case(case: Case) -> str:
    """The aspect of a user-supplied NetworkPolicy case, made known for this process."""
    key = netpol_case(case)
    _USER_CASES.setdefault(key, Aspect(key, case_area(case), case.title))
    return key


def get(key: str) -> Aspect:
    """The aspect of a key; an unknown key is a KeyError naming it."""
    try:
        return _USER_CASES.get(key) or table()[key]
    except KeyError:
        raise KeyError(f"unknown aspect {key!r} (not in netconform.aspects)") from None
