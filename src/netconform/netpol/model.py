"""The cluster a NetworkPolicy oracle reasons about: namespaces and pods, as values."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


class Protocol(StrEnum):
    TCP = "TCP"
    UDP = "UDP"
    SCTP = "SCTP"


def _frozen_labels(labels: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(labels))


@dataclass(frozen=True)
class ContainerPort:
    """A port a pod serves; `name` is what named ports in policies resolve against."""

    port: int
    protocol: Protocol = Protocol.TCP
    name: str = ""


@dataclass(frozen=True)
class Namespace:
    """A namespace. The API server always sets `kubernetes.io/metadata.name` to the name."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        merged = {**self.labels, NAMESPACE_NAME_LABEL: self.name}
        object.__setattr__(self, "labels", _frozen_labels(merged))


@dataclass(frozen=True)
class Pod:
    """One pod: where it lives, its labels, its IP and the ports it serves."""

    namespace: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    ip: str = ""
    ports: tuple[ContainerPort, ...] = ()
    host_network: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", _frozen_labels(self.labels))
        object.__setattr__(self, "ports", tuple(self.ports))

    @property
    def key(self) -> str:
        """`namespace/name`, the form probes and tables use."""
        return f"{self.namespace}/{self.name}"

    def serves(self, port: int, protocol: Protocol) -> bool:
        return any(p.port == port and p.protocol == protocol for p in self.ports)

    def named_port(self, name: str, protocol: Protocol) -> int | None:
        """The number a named port resolves to on this pod for that protocol, if any."""
        for p in self.ports:
            if p.name == name and p.protocol == protocol:
                return p.port
        return None


@dataclass(frozen=True)
class Cluster:
    """Namespaces and pods. Every pod's namespace is one of the namespaces."""

    namespaces: tuple[Namespace, ...]
    pods: tuple[Pod, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "namespaces", tuple(self.namespaces))
        object.__setattr__(self, "pods", tuple(self.pods))
        names = {ns.name for ns in self.namespaces}
        if len(names) != len(self.namespaces):
            raise ValueError("duplicate namespace names")
        keys = {p.key for p in self.pods}
        if len(keys) != len(self.pods):
            raise ValueError("duplicate pod names")
        for pod in self.pods:
            if pod.namespace not in names:
                raise ValueError(f"pod {pod.key}: namespace {pod.namespace!r} is not declared")

    def namespace(self, name: str) -> Namespace:
        for ns in self.namespaces:
            if ns.name == name:
                return ns
        raise KeyError(name)

    def pod(self, key: str) -> Pod:
        for pod in self.pods:
            if pod.key == key:
                return pod
        raise KeyError(key)

    def port_protocols(self) -> tuple[tuple[int, Protocol], ...]:
        """Every (port, protocol) some pod serves, sorted: the default probe set."""
        pairs = {(p.port, p.protocol) for pod in self.pods for p in pod.ports}
        return tuple(sorted(pairs, key=lambda pp: (pp[0], list(Protocol).index(pp[1]))))

    def with_pod_labels(self, key: str, labels: Mapping[str, str]) -> Cluster:
        """A copy where pod `key` has exactly `labels`."""
        self.pod(key)
        pods = tuple(replace(p, labels=labels) if p.key == key else p for p in self.pods)
        return replace(self, pods=pods)

    def with_namespace_labels(self, name: str, labels: Mapping[str, str]) -> Cluster:
        """A copy where namespace `name` has exactly `labels` (plus its name label)."""
        self.namespace(name)
        namespaces = tuple(
            Namespace(name, labels) if ns.name == name else ns for ns in self.namespaces
        )
        return replace(self, namespaces=namespaces)

    def subset(self, keys: Iterable[str]) -> Cluster:
        """Only the pods named, in the order of this cluster; all namespaces stay."""
        wanted = set(keys)
        missing = wanted - {p.key for p in self.pods}
        if missing:
            raise KeyError(", ".join(sorted(missing)))
        return replace(self, pods=tuple(p for p in self.pods if p.key in wanted))
