"""The `netpol expect` input file: a model, policies (NetworkPolicy and
ClusterNetworkPolicy, mixed), optional probes and profile.

Every problem becomes one InputError line: `FILE: FIELD: PROBLEM`, where FIELD names the
object (e.g. `policies[1] (NetworkPolicy x/deny)`, `policies[2] (ClusterNetworkPolicy
guard)`) and the field inside it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from netconform.errors import file_field_error
from netconform.inputs import load_json, load_yaml, read_text, yaml_problem
from netconform.netpol.cluster_policy import AnyPolicy
from netconform.netpol.manifest import manifest_label, parse_manifest
from netconform.netpol.model import Cluster, ContainerPort, Namespace, Pod, Protocol
from netconform.netpol.oracle import HostNetworkMode, Probe, Profile
from netconform.netpol.policy import NetworkPolicy
from netconform.netpol.validation import (
    InvalidPolicy,
    is_dns_label,
    is_dns_subdomain,
    label_value_problem,
    port_name_problem,
    qualified_name_problem,
)


@dataclass(frozen=True)
class ExpectInput:
    cluster: Cluster
    policies: tuple[AnyPolicy, ...]
    probes: tuple[Probe, ...] | None
    profile: Profile


class _Problem(Exception):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(problem)
        self.field = field
        self.problem = problem


def read_structured(path: Path) -> Any:
    """YAML or JSON (JSON is YAML, but json gives better messages for .json files)."""
    text = read_text(path)
    try:
        if path.suffix == ".json":
            return load_json(text, path)
        return load_yaml(text)
    except yaml.YAMLError as exc:
        where, problem = yaml_problem(exc)
        raise file_field_error(path, where, f"not valid YAML: {problem}") from None


def _mapping(value: Any, field: str, allowed: set[str] | None = None) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _Problem(field, f"must be an object, not {type(value).__name__}")
    if allowed is not None:
        for key in value:
            if key not in allowed:
                raise _Problem(f"{field}.{key}" if field else str(key), "unknown field")
    return value


def _labels(value: Any, field: str) -> dict[str, str]:
    labels = _mapping(value, field)
    for key, val in labels.items():
        if not isinstance(key, str) or (problem := qualified_name_problem(key)):
            raise _Problem(field, f"label key {key!r} is invalid")
        if not isinstance(val, str):
            raise _Problem(f"{field}.{key}", f"must be a string, not {type(val).__name__}")
        if problem := label_value_problem(val):
            raise _Problem(f"{field}.{key}", f"{val!r}: {problem}")
    return dict(labels)


def _protocol(value: Any, field: str) -> Protocol:
    if value is None:
        return Protocol.TCP
    try:
        return Protocol(value)
    except ValueError:
        raise _Problem(field, f"{value!r}: must be TCP, UDP or SCTP") from None


def _port_number(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise _Problem(field, f"{value!r}: must be an integer between 1 and 65535")
    return value


def parse_pod(value: Any, field: str) -> Pod:
    entry = _mapping(value, field, {"namespace", "name", "labels", "ip", "ports", "hostNetwork"})
    name, namespace = entry.get("name"), entry.get("namespace")
    if not isinstance(name, str) or not is_dns_subdomain(name):
        raise _Problem(f"{field}.name", f"{name!r}: must be a lowercase DNS subdomain")
    if not isinstance(namespace, str) or not namespace:
        raise _Problem(f"{field}.namespace", "required")
    ip = entry.get("ip", "")
    if ip:
        try:
            ipaddress.ip_address(str(ip))
        except ValueError:
            raise _Problem(f"{field}.ip", f"{ip!r}: not an IP address") from None
    ports = []
    raw_ports = entry.get("ports") or []
    if not isinstance(raw_ports, list):
        raise _Problem(f"{field}.ports", "must be a list")
    for i, raw in enumerate(raw_ports):
        pfield = f"{field}.ports[{i}]"
        port_entry = _mapping(raw, pfield, {"name", "port", "protocol"})
        port_name = port_entry.get("name", "")
        if port_name and not isinstance(port_name, str):
            raise _Problem(f"{pfield}.name", f"must be a string, not {type(port_name).__name__}")
        if port_name and (problem := port_name_problem(port_name)):
            raise _Problem(f"{pfield}.name", f"{port_name!r}: {problem}")
        ports.append(
            ContainerPort(
                port=_port_number(port_entry.get("port"), f"{pfield}.port"),
                protocol=_protocol(port_entry.get("protocol"), f"{pfield}.protocol"),
                name=str(port_name or ""),
            )
        )
    host_network = entry.get("hostNetwork", False)
    if not isinstance(host_network, bool):
        raise _Problem(f"{field}.hostNetwork", "must be true or false")
    return Pod(
        namespace=namespace,
        name=name,
        labels=_labels(entry.get("labels"), f"{field}.labels"),
        ip=str(ip or ""),
        ports=tuple(ports),
        host_network=host_network,
    )


def parse_cluster(value: Any, field: str = "model") -> Cluster:
    model = _mapping(value, field, {"namespaces", "pods"})
    namespaces = []
    for name, ns in _mapping(model.get("namespaces"), f"{field}.namespaces").items():
        nsfield = f"{field}.namespaces.{name}"
        if not isinstance(name, str) or not is_dns_label(name):
            raise _Problem(nsfield, "namespace name must be a lowercase DNS label")
        ns_entry = _mapping(ns, nsfield, {"labels"})
        namespaces.append(Namespace(name, _labels(ns_entry.get("labels"), f"{nsfield}.labels")))
    raw_pods = model.get("pods") or []
    if not isinstance(raw_pods, list):
        raise _Problem(f"{field}.pods", "must be a list")
    pods = []
    known = {ns.name for ns in namespaces}
    seen: set[str] = set()
    for i, raw in enumerate(raw_pods):
        pod = parse_pod(raw, f"{field}.pods[{i}]")
        if pod.namespace not in known:
            raise _Problem(
                f"{field}.pods[{i}].namespace", f"{pod.namespace!r} is not in model.namespaces"
            )
        if pod.key in seen:
            raise _Problem(f"{field}.pods[{i}]", f"duplicate pod {pod.key}")
        seen.add(pod.key)
        pods.append(pod)
    return Cluster(tuple(namespaces), tuple(pods))


def parse_policy_in(doc: Any, field: str, cluster: Cluster) -> AnyPolicy:
    """A policy of either kind from a file; a NetworkPolicy must live in one of the model's
    namespaces (a ClusterNetworkPolicy has none)."""
    where = f"{field} ({manifest_label(doc)})"
    try:
        policy = parse_manifest(doc)
    except InvalidPolicy as exc:
        first = exc.errors[0]
        more = f" (and {len(exc.errors) - 1} more)" if len(exc.errors) > 1 else ""
        raise _Problem(f"{where} {first.field}".rstrip(), first.problem + more) from None
    if isinstance(policy, NetworkPolicy) and policy.namespace not in {
        ns.name for ns in cluster.namespaces
    }:
        raise _Problem(f"{where} metadata.namespace", "namespace is not in model.namespaces")
    return policy


def parse_probe(value: Any, field: str, cluster: Cluster) -> Probe:
    entry = _mapping(value, field, {"from", "to", "port", "protocol", "service"})
    keys = {p.key for p in cluster.pods}
    for end in ("from", "to"):
        if entry.get(end) not in keys:
            raise _Problem(f"{field}.{end}", f"{entry.get(end)!r} is not a pod of the model")
    service = entry.get("service", False)
    if not isinstance(service, bool):
        raise _Problem(f"{field}.service", "must be true or false")
    return Probe(
        source=str(entry["from"]),
        destination=str(entry["to"]),
        port=_port_number(entry.get("port"), f"{field}.port"),
        protocol=_protocol(entry.get("protocol"), f"{field}.protocol"),
        service=service,
    )


def parse_profile(value: Any, field: str = "profile") -> Profile:
    flags = ("ipblock_matches_pods", "ignore_loopback", "cnp_service_hairpin")
    entry = _mapping(value, field, {*flags, "host_network"})
    for flag in flags:
        if flag in entry and not isinstance(entry[flag], bool):
            raise _Problem(f"{field}.{flag}", "must be true or false")
    mode = entry.get("host_network", HostNetworkMode.IGNORE.value)
    try:
        host_network = HostNetworkMode(mode)
    except ValueError:
        choices = ", ".join(m.value for m in HostNetworkMode)
        raise _Problem(f"{field}.host_network", f"{mode!r}: must be one of {choices}") from None
    return Profile(
        ipblock_matches_pods=entry.get("ipblock_matches_pods", True),
        ignore_loopback=entry.get("ignore_loopback", True),
        host_network=host_network,
        cnp_service_hairpin=entry.get("cnp_service_hairpin", True),
    )


# The whole matrix of a model (every pod to every port of every pod) past which `expect`
# asks for `probes:` instead: 1000 pods with 2 ports each, about a minute with 200 policies
# (benchmarks/bench_cluster_policy_oracle.py); a larger model would run for hours.
MAX_MATRIX_CELLS = 2_000_000


def _bounded_matrix(cluster: Cluster) -> None:
    ports = sum(max(len(p.ports), 1) for p in cluster.pods)
    cells = len(cluster.pods) * ports
    if cells > MAX_MATRIX_CELLS:
        raise _Problem(
            "model",
            f"{len(cluster.pods)} pods serving {ports} ports make {cells:,} cells, over "
            f"{MAX_MATRIX_CELLS:,}: list the flows you ask about in `probes:`",
        )


def parse_expect_input(doc: Any) -> ExpectInput:
    top = _mapping(doc, "", {"model", "policies", "probes", "profile"})
    if "model" not in top:
        raise _Problem("model", "required")
    cluster = parse_cluster(top["model"])
    raw_policies = top.get("policies") or []
    if not isinstance(raw_policies, list):
        raise _Problem(
            "policies", "must be a list of NetworkPolicy and ClusterNetworkPolicy objects"
        )
    policies = [parse_policy_in(p, f"policies[{i}]", cluster) for i, p in enumerate(raw_policies)]
    keys = [p.key for p in policies]
    for i, key in enumerate(keys):
        if key in keys[:i]:
            raise _Problem(f"policies[{i}]", f"duplicate {manifest_label(raw_policies[i])}")
    probes: tuple[Probe, ...] | None = None
    if top.get("probes") is not None:
        raw_probes = top["probes"]
        if not isinstance(raw_probes, list):
            raise _Problem("probes", "must be a list")
        probes = tuple(parse_probe(p, f"probes[{i}]", cluster) for i, p in enumerate(raw_probes))
    else:
        _bounded_matrix(cluster)
    return ExpectInput(cluster, tuple(policies), probes, parse_profile(top.get("profile")))


def load_expect_input(path: Path) -> ExpectInput:
    """Read and validate an input file; InputError (one line) when anything is wrong."""
    doc = read_structured(path)
    try:
        return parse_expect_input(doc)
    except _Problem as exc:
        raise file_field_error(path, exc.field, exc.problem) from None
    except ValueError as exc:  # model invariants (Cluster.__post_init__)
        raise file_field_error(path, "model", str(exc)) from None
