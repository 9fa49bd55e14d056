"""networking.k8s.io/v1 NetworkPolicy as values, after the API server's defaulting.

Absent and empty lists mean the same thing in the API (`from`, `to`, `ports`: "empty or
missing matches all"), so both become an empty tuple here; `policy_types` is always the
defaulted list, never empty.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import StrEnum

from netconform.netpol.model import Protocol
from netconform.netpol.selectors import LabelSelector

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Direction(StrEnum):
    INGRESS = "Ingress"
    EGRESS = "Egress"

    @property
    def rules_field(self) -> str:
        return "ingress" if self is Direction.INGRESS else "egress"

    @property
    def peers_field(self) -> str:
        return "from" if self is Direction.INGRESS else "to"


@dataclass(frozen=True)
class IPBlock:
    cidr: IPNetwork
    excepts: tuple[IPNetwork, ...] = ()

    def contains(self, ip: str) -> bool:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        if addr.version != self.cidr.version or addr not in self.cidr:
            return False
        return not any(addr in e for e in self.excepts)

    def __str__(self) -> str:
        text = f"ipBlock {self.cidr}"
        if self.excepts:
            text += " except " + ", ".join(str(e) for e in self.excepts)
        return text


@dataclass(frozen=True)
class Peer:
    """One `from`/`to` entry. Validation guarantees ipBlock is alone when present."""

    pod_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    ip_block: IPBlock | None = None

    def __str__(self) -> str:
        if self.ip_block is not None:
            return str(self.ip_block)
        parts = []
        if self.namespace_selector is not None:
            parts.append(f"namespaceSelector {self.namespace_selector}")
        if self.pod_selector is not None:
            parts.append(f"podSelector {self.pod_selector}")
        return " AND ".join(parts)


@dataclass(frozen=True)
class PolicyPort:
    """A `ports` entry. `port` None means every port of `protocol`."""

    protocol: Protocol = Protocol.TCP
    port: int | str | None = None
    end_port: int | None = None

    def __str__(self) -> str:
        if self.port is None:
            return f"any/{self.protocol}"
        if self.end_port is not None:
            return f"{self.port}-{self.end_port}/{self.protocol}"
        return f"{self.port}/{self.protocol}"


@dataclass(frozen=True)
class Rule:
    """An ingress or egress rule. Empty `peers` = every peer; empty `ports` = every port."""

    peers: tuple[Peer, ...] = ()
    ports: tuple[PolicyPort, ...] = ()


@dataclass(frozen=True)
class NetworkPolicy:
    namespace: str
    name: str
    pod_selector: LabelSelector
    ingress: tuple[Rule, ...] = ()
    egress: tuple[Rule, ...] = ()
    policy_types: tuple[Direction, ...] = (Direction.INGRESS,)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def rules(self, direction: Direction) -> tuple[Rule, ...]:
        return self.ingress if direction is Direction.INGRESS else self.egress

    def isolates(self, direction: Direction) -> bool:
        """Whether pods this policy selects are isolated for `direction`."""
        return direction in self.policy_types


def default_policy_types(has_egress_rules: bool) -> tuple[Direction, ...]:
    """The API's defaulting when policyTypes is absent or empty."""
    if has_egress_rules:
        return (Direction.INGRESS, Direction.EGRESS)
    return (Direction.INGRESS,)
