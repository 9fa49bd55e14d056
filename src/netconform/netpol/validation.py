"""Parse NetworkPolicy manifests, rejecting what the API server rejects.

Follows ValidateNetworkPolicy (kubernetes pkg/apis/networking/validation) and
ValidateLabelSelector (apimachinery), plus the API's defaulting of `protocol` and
`policyTypes`. Unknown fields are rejected too, as `kubectl apply` does with its default
strict field validation, so a typo cannot silently widen a policy.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from netconform.netpol.model import Protocol
from netconform.netpol.policy import (
    Direction,
    IPBlock,
    IPNetwork,
    NetworkPolicy,
    Peer,
    PolicyPort,
    Rule,
    default_policy_types,
)
from netconform.netpol.selectors import LabelSelector, Operator, Requirement

_NAME_PART = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_PORT_NAME = re.compile(r"^[-a-z0-9]+$")
METADATA_FIELDS = {
    "name",
    "namespace",
    "labels",
    "annotations",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "finalizers",
    "ownerReferences",
}


@dataclass(frozen=True)
class FieldError:
    """One problem, at a JSON path like `spec.ingress[0].ports[1].endPort`."""

    field: str
    problem: str

    def __str__(self) -> str:
        return f"{self.field}: {self.problem}" if self.field else self.problem


class InvalidPolicy(Exception):
    """The manifest would be rejected; `errors` lists every problem found."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = tuple(errors)


def is_dns_subdomain(value: str) -> bool:
    return len(value) <= 253 and bool(_DNS_SUBDOMAIN.match(value))


def is_dns_label(value: str) -> bool:
    return len(value) <= 63 and bool(_DNS_LABEL.match(value))


def qualified_name_problem(value: str) -> str | None:
    """IsQualifiedName: optional DNS-subdomain prefix, '/', then a name of 1-63 chars."""
    prefix, slash, name = value.rpartition("/")
    if slash and (not prefix or not is_dns_subdomain(prefix)):
        return "prefix part must be a lowercase DNS subdomain"
    if not name or len(name) > 63 or not _NAME_PART.match(name):
        return (
            "name part must be 1-63 alphanumeric characters, '-', '_' or '.', "
            "starting and ending with an alphanumeric character"
        )
    return None


def label_value_problem(value: str) -> str | None:
    if value == "":
        return None
    if len(value) > 63 or not _NAME_PART.match(value):
        return (
            "must be at most 63 alphanumeric characters, '-', '_' or '.', "
            "starting and ending with an alphanumeric character"
        )
    return None


def port_name_problem(value: str) -> str | None:
    """IsValidPortName (IANA_SVC_NAME)."""
    if not 1 <= len(value) <= 15:
        return "must be no more than 15 characters"
    if not _PORT_NAME.match(value):
        return "must contain only lowercase alphanumeric characters or '-'"
    if not re.search(r"[a-z]", value):
        return "must contain at least one letter"
    if "--" in value:
        return "must not contain consecutive hyphens"
    if value.startswith("-") or value.endswith("-"):
        return "must not begin or end with a hyphen"
    return None


def parse_cidr(value: str) -> IPNetwork | None:
    """Like ParseCIDRSloppy: host bits may be set (`10.0.0.1/24` is 10.0.0.0/24)."""
    if "/" not in value:
        return None
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None


class ManifestParser:
    """Walks one manifest, collecting every FieldError on the way."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def error(self, path: str, problem: str) -> None:
        self.errors.append(FieldError(path, problem))

    def mapping(self, value: Any, path: str, allowed: set[str]) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.error(path, f"must be an object, not {type(value).__name__}")
            return {}
        for key in value:
            if key not in allowed:
                self.error(f"{path}.{key}" if path else str(key), "unknown field")
        return value

    def sequence(self, value: Any, path: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(path, f"must be a list, not {type(value).__name__}")
            return []
        return value

    def string(self, value: Any, path: str) -> str | None:
        if not isinstance(value, str):
            self.error(path, f"must be a string, not {type(value).__name__}")
            return None
        return value

    def policy(self, doc: Any) -> NetworkPolicy | None:
        top = self.mapping(doc, "", {"apiVersion", "kind", "metadata", "spec"})
        if not isinstance(doc, Mapping):
            return None
        if top.get("apiVersion", "networking.k8s.io/v1") != "networking.k8s.io/v1":
            self.error("apiVersion", "must be networking.k8s.io/v1")
        if top.get("kind", "NetworkPolicy") != "NetworkPolicy":
            self.error("kind", "must be NetworkPolicy")
        meta = self.mapping(top.get("metadata"), "metadata", METADATA_FIELDS)
        name = self.string(meta.get("name", ""), "metadata.name") or ""
        if not name:
            self.error("metadata.name", "name or generateName is required")
        elif not is_dns_subdomain(name):
            self.error("metadata.name", f"{name!r}: must be a lowercase DNS subdomain")
        namespace = self.string(meta.get("namespace", ""), "metadata.namespace") or ""
        if not namespace:
            self.error("metadata.namespace", "required: a policy selects pods of its namespace")
        elif not is_dns_label(namespace):
            self.error("metadata.namespace", f"{namespace!r}: must be a lowercase DNS label")
        for field_name in ("labels", "annotations"):
            self.mapping(
                meta.get(field_name), f"metadata.{field_name}", set(meta.get(field_name) or {})
            )

        spec = self.mapping(
            top.get("spec"), "spec", {"podSelector", "ingress", "egress", "policyTypes"}
        )
        pod_selector = self.selector(spec.get("podSelector"), "spec.podSelector")
        ingress = self.rules(spec.get("ingress"), Direction.INGRESS)
        egress = self.rules(spec.get("egress"), Direction.EGRESS)
        policy_types = self.policy_types(spec.get("policyTypes"), bool(egress))
        if self.errors:
            return None
        return NetworkPolicy(
            namespace=namespace,
            name=name,
            pod_selector=pod_selector or LabelSelector(),
            ingress=ingress,
            egress=egress,
            policy_types=policy_types,
        )

    def policy_types(self, value: Any, has_egress: bool) -> tuple[Direction, ...]:
        items = self.sequence(value, "spec.policyTypes")
        if not items:
            return default_policy_types(has_egress)
        if len(items) > 2:
            self.error("spec.policyTypes", "may not specify more than two policyTypes")
            return ()
        result: list[Direction] = []
        for i, item in enumerate(items):
            try:
                direction = Direction(item)
            except ValueError:
                self.error(
                    f"spec.policyTypes[{i}]",
                    f'Unsupported value: {item!r}: supported values: "Ingress", "Egress"',
                )
                continue
            if direction not in result:
                result.append(direction)
        return tuple(result)

    def rules(self, value: Any, direction: Direction) -> tuple[Rule, ...]:
        base = f"spec.{direction.rules_field}"
        peers_key = direction.peers_field
        rules = []
        for i, item in enumerate(self.sequence(value, base)):
            path = f"{base}[{i}]"
            rule = self.mapping(item, path, {peers_key, "ports"})
            ports = tuple(
                port
                for j, p in enumerate(self.sequence(rule.get("ports"), f"{path}.ports"))
                if (port := self.port(p, f"{path}.ports[{j}]")) is not None
            )
            peers = tuple(
                peer
                for j, p in enumerate(self.sequence(rule.get(peers_key), f"{path}.{peers_key}"))
                if (peer := self.peer(p, f"{path}.{peers_key}[{j}]")) is not None
            )
            rules.append(Rule(peers=peers, ports=ports))
        return tuple(rules)

    def port(self, value: Any, path: str) -> PolicyPort | None:
        entry = self.mapping(value, path, {"protocol", "port", "endPort"})
        errors_before = len(self.errors)
        protocol = Protocol.TCP
        raw_protocol = entry.get("protocol")
        if raw_protocol is not None:
            try:
                protocol = Protocol(raw_protocol)
            except ValueError:
                self.error(
                    f"{path}.protocol",
                    f'Unsupported value: {raw_protocol!r}: supported values: "TCP", "UDP", "SCTP"',
                )
        port = entry.get("port")
        end_port = entry.get("endPort")
        if end_port is not None and (isinstance(end_port, bool) or not isinstance(end_port, int)):
            self.error(f"{path}.endPort", "must be an integer")
            end_port = None
        if port is None:
            if end_port is not None:
                self.error(f"{path}.endPort", "may not be specified when `port` is not specified")
        elif isinstance(port, bool) or not isinstance(port, int | str):
            self.error(f"{path}.port", "must be an integer or a port name")
        elif isinstance(port, int):
            if not 1 <= port <= 65535:
                self.error(f"{path}.port", f"{port}: must be between 1 and 65535, inclusive")
            if end_port is not None:
                if end_port < port:
                    self.error(
                        f"{path}.endPort", f"{end_port}: must be greater than or equal to `port`"
                    )
                if not 1 <= end_port <= 65535:
                    self.error(
                        f"{path}.endPort", f"{end_port}: must be between 1 and 65535, inclusive"
                    )
        else:
            if end_port is not None:
                self.error(f"{path}.endPort", "may not be specified when `port` is non-numeric")
            problem = port_name_problem(port)
            if problem:
                self.error(f"{path}.port", f"{port!r}: {problem}")
        if len(self.errors) > errors_before:
            return None
        return PolicyPort(protocol=protocol, port=port, end_port=end_port)

    def peer(self, value: Any, path: str) -> Peer | None:
        entry = self.mapping(value, path, {"podSelector", "namespaceSelector", "ipBlock"})
        present = [
            k for k in ("podSelector", "namespaceSelector", "ipBlock") if entry.get(k) is not None
        ]
        if not present:
            self.error(path, "must specify a peer")
            return None
        if "ipBlock" in present and len(present) > 1:
            self.error(path, "may not specify both ipBlock and another peer")
            return None
        if "ipBlock" in present:
            block = self.ip_block(entry["ipBlock"], f"{path}.ipBlock")
            return Peer(ip_block=block) if block else None
        return Peer(
            pod_selector=self.selector(entry.get("podSelector"), f"{path}.podSelector"),
            namespace_selector=self.selector(
                entry.get("namespaceSelector"), f"{path}.namespaceSelector"
            ),
        )

    def ip_block(self, value: Any, path: str) -> IPBlock | None:
        entry = self.mapping(value, path, {"cidr", "except"})
        raw = entry.get("cidr")
        if not raw:
            self.error(f"{path}.cidr", "Required value")
            return None
        text = self.string(raw, f"{path}.cidr")
        if text is None:
            return None
        cidr = parse_cidr(text)
        if cidr is None:
            self.error(f"{path}.cidr", f"{text!r}: must be a valid CIDR value, (e.g. 10.9.8.0/24)")
            return None
        excepts = []
        for i, raw_except in enumerate(self.sequence(entry.get("except"), f"{path}.except")):
            epath = f"{path}.except[{i}]"
            etext = self.string(raw_except, epath)
            if etext is None:
                continue
            exc = parse_cidr(etext)
            if exc is None:
                self.error(epath, f"{etext!r}: must be a valid CIDR value, (e.g. 10.9.8.0/24)")
            elif (
                exc.version != cidr.version
                or exc.network_address not in cidr
                or cidr.prefixlen >= exc.prefixlen
            ):
                self.error(epath, f"{etext!r}: must be a strict subset of `cidr`")
            else:
                excepts.append(exc)
        return IPBlock(cidr=cidr, excepts=tuple(excepts))

    def selector(self, value: Any, path: str) -> LabelSelector | None:
        if value is None:
            return None
        entry = self.mapping(value, path, {"matchLabels", "matchExpressions"})
        raw_labels = entry.get("matchLabels")
        any_key = set(raw_labels) if isinstance(raw_labels, Mapping) else set()  # keys: below
        labels = self.mapping(raw_labels, f"{path}.matchLabels", any_key)
        pairs = []
        for key, val in labels.items():
            kpath = f"{path}.matchLabels"
            if not isinstance(key, str) or (problem := qualified_name_problem(key)):
                self.error(
                    kpath, f"{key!r}: {problem if isinstance(key, str) else 'must be a string'}"
                )
                continue
            if not isinstance(val, str):
                self.error(f"{kpath}.{key}", f"must be a string, not {type(val).__name__}")
                continue
            if problem := label_value_problem(val):
                self.error(f"{kpath}.{key}", f"{val!r}: {problem}")
                continue
            pairs.append((key, val))
        requirements = []
        for i, item in enumerate(
            self.sequence(entry.get("matchExpressions"), f"{path}.matchExpressions")
        ):
            requirement = self.requirement(item, f"{path}.matchExpressions[{i}]")
            if requirement is not None:
                requirements.append(requirement)
        return LabelSelector(tuple(sorted(pairs)), tuple(requirements))

    def requirement(self, value: Any, path: str) -> Requirement | None:
        entry = self.mapping(value, path, {"key", "operator", "values"})
        errors_before = len(self.errors)
        values = self.sequence(entry.get("values"), f"{path}.values")
        raw_op = entry.get("operator")
        operator: Operator | None = None
        try:
            operator = Operator(str(raw_op))
        except ValueError:
            self.error(f"{path}.operator", f"{raw_op!r}: not a valid selector operator")
        if operator in (Operator.IN, Operator.NOT_IN) and not values:
            self.error(f"{path}.values", "must be specified when `operator` is 'In' or 'NotIn'")
        if operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and values:
            self.error(
                f"{path}.values",
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )
        key = self.string(entry.get("key"), f"{path}.key")
        if key is not None and (problem := qualified_name_problem(key)):
            self.error(f"{path}.key", f"{key!r}: {problem}")
        for i, val in enumerate(values):
            text = self.string(val, f"{path}.values[{i}]")
            if text is not None and (problem := label_value_problem(text)):
                self.error(f"{path}.values[{i}]", f"{text!r}: {problem}")
        if len(self.errors) > errors_before or operator is None or key is None:
            return None
        return Requirement(key, operator, tuple(str(v) for v in values))


def parse_policy(doc: Any) -> NetworkPolicy:
    """The policy a manifest describes, or InvalidPolicy listing every problem."""
    parser = ManifestParser()
    policy = parser.policy(doc)
    if policy is None:
        if not parser.errors:
            parser.error("", "must be a NetworkPolicy object")
        raise InvalidPolicy(parser.errors)
    return policy


def parse_selector(doc: Any, path: str = "selector") -> LabelSelector:
    """A metav1.LabelSelector, validated the same way (used by the benchmark and tests)."""
    parser = ManifestParser()
    selector = parser.selector(doc, path)
    if parser.errors:
        raise InvalidPolicy(parser.errors)
    return selector or LabelSelector()
