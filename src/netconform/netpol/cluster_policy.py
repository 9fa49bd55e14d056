"""policy.networking.k8s.io ClusterNetworkPolicy (v1beta1; v1alpha2 is the same schema) as
values, beside NetworkPolicy: the same selectors, ports and directions.

A ClusterNetworkPolicy is cluster-scoped: its `key` is its name (a NetworkPolicy's is
`namespace/name`, so the two never collide). Rules carry an explicit `action`; within a
tier, policies go by `priority` (lower first) and rules by their order. Ports reuse
`PolicyPort`: a `destinationNamedPort` becomes one named entry per protocol, which is what
it means (the destination pod's container port of that name, whatever its protocol).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from netconform.netpol.policy import Direction, IPNetwork, NetworkPolicy, PolicyPort
from netconform.netpol.selectors import LabelSelector

API_GROUP = "policy.networking.k8s.io"
API_VERSIONS = (f"{API_GROUP}/v1beta1", f"{API_GROUP}/v1alpha2")
KIND = "ClusterNetworkPolicy"
MIN_PRIORITY, MAX_PRIORITY = 0, 1000


class Tier(StrEnum):
    """Where a policy sits: Admin before NetworkPolicy, Baseline after it."""

    ADMIN = "Admin"
    BASELINE = "Baseline"


class Action(StrEnum):
    ACCEPT = "Accept"
    DENY = "Deny"
    PASS = "Pass"  # skip the rest of this tier: the next tier decides


@dataclass(frozen=True)
class NamespacedPods:
    """`pods`: pods matching `pod_selector` in namespaces matching `namespace_selector`."""

    namespace_selector: LabelSelector
    pod_selector: LabelSelector

    def __str__(self) -> str:
        return f"pods {self.pod_selector} in namespaces {self.namespace_selector}"


@dataclass(frozen=True)
class Subject:
    """Exactly one of `namespaces` (every pod of them) or `pods` is set (validated)."""

    namespaces: LabelSelector | None = None
    pods: NamespacedPods | None = None

    def __str__(self) -> str:
        return str(self.pods) if self.pods is not None else f"namespaces {self.namespaces}"


@dataclass(frozen=True)
class ClusterPeer:
    """One `from`/`to` entry: exactly one field is set. `nodes` and `domain_names` are the
    API's experimental peers: validated; the oracle knows a node is no ordinary pod, but not
    which nodes a selector picks nor what a name resolves to (`unsupported`)."""

    namespaces: LabelSelector | None = None
    pods: NamespacedPods | None = None
    networks: tuple[IPNetwork, ...] = ()
    nodes: LabelSelector | None = None
    domain_names: tuple[str, ...] = ()

    @property
    def unsupported(self) -> str:
        """The experimental peer this is ("nodes", "domainNames"), or ""."""
        if self.nodes is not None:
            return "nodes"
        return "domainNames" if self.domain_names else ""

    def __str__(self) -> str:
        if self.namespaces is not None:
            return f"namespaces {self.namespaces}"
        if self.pods is not None:
            return str(self.pods)
        if self.networks:
            return "networks " + ", ".join(str(n) for n in self.networks)
        if self.nodes is not None:
            return f"nodes {self.nodes}"
        return "domainNames " + ", ".join(self.domain_names)


@dataclass(frozen=True)
class ClusterRule:
    """An ingress or egress rule: `peers` is never empty; empty `ports` = every port."""

    action: Action
    peers: tuple[ClusterPeer, ...]
    ports: tuple[PolicyPort, ...] = ()
    name: str = ""


@dataclass(frozen=True)
class ClusterNetworkPolicy:
    name: str
    tier: Tier
    priority: int
    subject: Subject
    ingress: tuple[ClusterRule, ...] = ()
    egress: tuple[ClusterRule, ...] = ()

    @property
    def key(self) -> str:
        return self.name

    def rules(self, direction: Direction) -> tuple[ClusterRule, ...]:
        return self.ingress if direction is Direction.INGRESS else self.egress


# Everything a policy manifest can be; the oracle and the catalogue take both.
AnyPolicy = NetworkPolicy | ClusterNetworkPolicy
