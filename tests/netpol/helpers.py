"""Small builders shared by the netpol tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from netconform.netpol.model import Cluster, ContainerPort, Namespace, Pod, Protocol
from netconform.netpol.oracle import Oracle, Probe, ProbeVerdict, Profile
from netconform.netpol.validation import parse_policy

WEB = (
    ContainerPort(80, Protocol.TCP, "web"),
    ContainerPort(81, Protocol.TCP, "alt"),
    ContainerPort(80, Protocol.UDP, "dns-ish"),
    ContainerPort(80, Protocol.SCTP, "sctp-80"),
)


def cluster(
    pods: Iterable[tuple[str, Mapping[str, str]]] = (),
    namespaces: Mapping[str, Mapping[str, str]] | None = None,
) -> Cluster:
    """Pods given as ("ns/name", labels); IPs 10.0.<ns index>.<pod index>."""
    pod_list = list(pods) or [
        ("x/a", {"pod": "a"}),
        ("x/b", {"pod": "b"}),
        ("y/a", {"pod": "a"}),
        ("y/b", {"pod": "b"}),
    ]
    ns_labels = dict(namespaces or {})
    for key, _ in pod_list:
        ns_labels.setdefault(key.split("/")[0], {})
    ns_names = list(ns_labels)
    built = []
    for i, (key, labels) in enumerate(pod_list):
        ns, name = key.split("/")
        built.append(Pod(ns, name, labels, f"10.0.{ns_names.index(ns)}.{i + 1}", WEB))
    return Cluster(tuple(Namespace(n, ns_labels[n]) for n in ns_names), tuple(built))


def policy(namespace: str, name: str, spec: Mapping[str, Any]) -> Any:
    return parse_policy({"metadata": {"name": name, "namespace": namespace}, "spec": dict(spec)})


def verdict(
    c: Cluster,
    policies: Iterable[Any],
    src: str,
    dst: str,
    port: int = 80,
    protocol: Protocol = Protocol.TCP,
    profile: Profile | None = None,
) -> ProbeVerdict:
    return Oracle(c, list(policies), profile).verdict(Probe(src, dst, port, protocol))


def allowed(
    c: Cluster,
    policies: Iterable[Any],
    src: str,
    dst: str,
    port: int = 80,
    protocol: Protocol = Protocol.TCP,
    profile: Profile | None = None,
) -> bool:
    return verdict(c, policies, src, dst, port, protocol, profile).allowed
