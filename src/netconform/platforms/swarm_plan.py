"""What a Swarm run deploys, by name: the service and network keys, the Docker names derived
from a run id, and the endpoint value the checks probe from.

Pure values (no docker, no netlink), shared by the deployment, the context and the checks."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

PREFIX = "nc"
PUBLISHED_PORT = 18080  # the vip service's port on every host (routing mesh)


class ServiceKey(StrEnum):
    """The probe services of a run (swarm_deploy.plan_services)."""

    PROBE = "probe"  # global, on the main overlay
    OTHER = "other"  # global, on a second overlay
    MTU = "mtu"  # global, on the overlay created with the MTU option
    INTERNAL = "internal"  # global, on an --internal overlay
    ENCRYPTED = "encrypted"  # global, on an encrypted overlay (capability esp)
    VIP = "vip"  # replicated, endpoint mode vip, published
    DNSRR = "dnsrr"  # replicated, endpoint mode dnsrr
    SCALE = "scale"  # replicated, scaled by dns.tasks.follows-scale
    PERF = "perf"  # replicated x1, endpoint mode vip: one backend behind the VIP (perf area)
    DNS_OPTIONS = "dnsopts"  # replicated x1 with --dns, --dns-search, --dns-option


class NetworkKey(StrEnum):
    """The overlays of a run (swarm_deploy.plan_networks)."""

    MAIN = "main"
    OTHER = "other"
    MTU = "mtu"
    INTERNAL = "internal"
    ENCRYPTED = "encrypted"


class ContainerRole(StrEnum):
    """Standalone containers beside the services (swarm_deploy.start_standalone)."""

    HOST = "host"  # one per node on the host network: the perf baseline (the underlay)
    BRIDGE = "bridge"  # two on the first node on a plain bridge network: a reference row
    DNS_UPSTREAM = "dns-upstream"  # the DNS server the DNS-options endpoints are given
    DNS_OPTIONS = "dns-options"  # a container run with --dns, --dns-search, --dns-option


BRIDGE_NETWORK = "bridge"  # plan key of the plain bridge network on the first node
HOST_NETWORK = "host"  # Endpoint.network of the host-network containers
ROLE_LABEL = "io.netconform.role"
# What the DNS-options endpoints are given: the lab's own upstream serves DNS_DOMAIN and
# answers every name in it with DNS_ANSWER (TEST-NET-2: an answer only, never a target).
DNS_DOMAIN = "netconform.test"
DNS_ANSWER = "198.51.100.53"
DNS_OPTIONS = ("ndots:2", "attempts:2")

PEER = "peer"  # Endpoint.service of the standalone containers (one per node, main overlay)
PROBE_ALIAS = "probe-alias"  # network alias of the probe service on the main overlay


@dataclass(frozen=True)
class SwarmPlan:
    """The Docker names of one run's objects: every name carries the run id."""

    run_id: str
    PEER_MARK: ClassVar[str] = "-peer-"

    @property
    def prefix(self) -> str:
        return f"{PREFIX}{self.run_id}-"

    def service_name(self, key: str) -> str:
        """Also the service's DNS name on its overlays."""
        return f"{self.prefix}{key}"

    def network_name(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def network_key(self, name: str) -> str:
        """The plan key of one of the run's network names."""
        return name.removeprefix(self.prefix)

    def container_name(self, role: str, node: str, index: int = 0) -> str:
        """A standalone container of `role` on `node` (index: the second of a pair)."""
        return f"{PREFIX}{self.run_id}-{role}-{node}" + (f"-{index}" if index else "")

    def peer_name(self, node: str) -> str:
        """The standalone container on `node`; also its DNS name."""
        return f"{PREFIX}{self.run_id}{self.PEER_MARK}{node}"


def network_name(run_id: str, key: str) -> str:
    return SwarmPlan(run_id).network_name(key)


def service_name(run_id: str, key: str) -> str:
    return SwarmPlan(run_id).service_name(key)


@dataclass(frozen=True)
class Endpoint:
    """One task or container with an address on one overlay."""

    name: str  # service.slot@node or container name
    service: str  # plan key (probe, vip, ...) or "peer"
    node: str
    ip: str
    container_id: str
    network: str  # plan key
