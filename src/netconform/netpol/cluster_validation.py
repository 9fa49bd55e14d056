"""Parse ClusterNetworkPolicy manifests, rejecting what the API server rejects.

The rules are the CRD's (sigs.k8s.io/network-policy-api v0.3.1, v1beta1 and v1alpha2
alike): its OpenAPI schema (required fields, enums, 0-1000 priority, one-of objects, list
bounds) and its CEL rules (a canonical CIDR, a port range's start below its end, no named
port beside networks/nodes/domainNames peers). Unknown fields are refused as for
NetworkPolicy. Upstream allows `Pass` in the Baseline tier (it skips the rest of Baseline),
so it is valid here too.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from netconform.netpol.cluster_policy import (
    API_VERSIONS,
    KIND,
    MAX_PRIORITY,
    MIN_PRIORITY,
    Action,
    ClusterNetworkPolicy,
    ClusterPeer,
    ClusterRule,
    NamespacedPods,
    Subject,
    Tier,
)
from netconform.netpol.model import Protocol
from netconform.netpol.policy import Direction, IPNetwork, PolicyPort
from netconform.netpol.selectors import LabelSelector
from netconform.netpol.validation import (
    METADATA_FIELDS,
    FieldError,
    InvalidPolicy,
    ManifestParser,
    is_dns_subdomain,
)

MAX_ITEMS = 25  # rules per direction, peers per rule, protocols, CIDRs, domain names
MAX_RULE_NAME = 100
MAX_CIDR_LENGTH = 43
_DOMAIN = re.compile(
    r"^(\*\.)?([a-zA-Z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.)+[a-zA-Z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.?$"
)
_PROTOCOL_FIELDS = {"tcp": Protocol.TCP, "udp": Protocol.UDP, "sctp": Protocol.SCTP}
_INGRESS_PEER_FIELDS = ("namespaces", "pods")
_EGRESS_PEER_FIELDS = ("namespaces", "pods", "networks", "nodes", "domainNames")


def _enum_problem(value: Any, choices: type[Tier] | type[Action]) -> str:
    supported = ", ".join(f'"{c.value}"' for c in choices)
    return f"Unsupported value: {value!r}: supported values: {supported}"


def canonical_cidr(text: str) -> IPNetwork | None:
    """The CRD's `isCIDR(self) && cidr(self) == cidr(self).masked()`: a CIDR whose host
    bits are zero (`10.0.0.1/24` is refused, unlike a NetworkPolicy's ipBlock)."""
    if "/" not in text:
        return None
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError:
        return None


class _ClusterParser(ManifestParser):
    def cluster_policy(self, doc: Any) -> ClusterNetworkPolicy | None:
        top = self.mapping(doc, "", {"apiVersion", "kind", "metadata", "spec", "status"})
        if not isinstance(doc, Mapping):
            return None
        if top.get("apiVersion", API_VERSIONS[0]) not in API_VERSIONS:
            self.error("apiVersion", f"must be {' or '.join(API_VERSIONS)}")
        if top.get("kind", KIND) != KIND:
            self.error("kind", f"must be {KIND}")
        meta = self.mapping(top.get("metadata"), "metadata", METADATA_FIELDS)
        name = self.string(meta.get("name", ""), "metadata.name") or ""
        if not name:
            self.error("metadata.name", "name or generateName is required")
        elif not is_dns_subdomain(name):
            self.error("metadata.name", f"{name!r}: must be a lowercase DNS subdomain")
        if meta.get("namespace"):
            self.error(
                "metadata.namespace", "a ClusterNetworkPolicy is cluster-scoped: no namespace"
            )
        for field_name in ("labels", "annotations"):
            self.mapping(
                meta.get(field_name), f"metadata.{field_name}", set(meta.get(field_name) or {})
            )
        if top.get("spec") is None:
            self.error("spec", "Required value")
            return None
        spec = self.mapping(
            top.get("spec"), "spec", {"tier", "priority", "subject", "ingress", "egress"}
        )
        tier = self.tier(spec.get("tier"))
        priority = self.priority(spec.get("priority"))
        subject = self.subject(spec.get("subject"))
        ingress = self.cluster_rules(spec.get("ingress"), Direction.INGRESS)
        egress = self.cluster_rules(spec.get("egress"), Direction.EGRESS)
        if self.errors or tier is None or priority is None or subject is None:
            return None
        return ClusterNetworkPolicy(name, tier, priority, subject, ingress, egress)

    def tier(self, value: Any) -> Tier | None:
        if value is None:
            self.error("spec.tier", "Required value")
            return None
        try:
            return Tier(value)
        except ValueError:
            self.error("spec.tier", _enum_problem(value, Tier))
            return None

    def priority(self, value: Any) -> int | None:
        if value is None:
            self.error("spec.priority", "Required value")
        elif isinstance(value, bool) or not isinstance(value, int):
            self.error("spec.priority", f"{value!r}: must be an integer")
        elif not MIN_PRIORITY <= value <= MAX_PRIORITY:
            self.error(
                "spec.priority",
                f"{value}: must be between {MIN_PRIORITY} and {MAX_PRIORITY}, inclusive",
            )
        else:
            return value
        return None

    def one_of(self, entry: Mapping[str, Any], path: str, fields: tuple[str, ...]) -> str | None:
        """The one field set among `fields` (the CRD's minProperties/maxProperties 1)."""
        present = [k for k in fields if entry.get(k) is not None]
        if len(present) == 1:
            return present[0]
        problem = "must specify exactly one of" if not present else "may specify only one of"
        self.error(path, f"{problem} {', '.join(fields)}")
        return None

    def subject(self, value: Any) -> Subject | None:
        path = "spec.subject"
        if value is None:
            self.error(path, "Required value")
            return None
        entry = self.mapping(value, path, {"namespaces", "pods"})
        chosen = self.one_of(entry, path, ("namespaces", "pods"))
        if chosen == "namespaces":
            return Subject(namespaces=self.selector(entry["namespaces"], f"{path}.namespaces"))
        if chosen == "pods":
            pods = self.namespaced_pods(entry["pods"], f"{path}.pods")
            return Subject(pods=pods) if pods is not None else None
        return None

    def namespaced_pods(self, value: Any, path: str) -> NamespacedPods | None:
        entry = self.mapping(value, path, {"namespaceSelector", "podSelector"})
        if entry.get("podSelector") is None:
            self.error(f"{path}.podSelector", "Required value")
            return None
        return NamespacedPods(
            namespace_selector=self.selector(
                entry.get("namespaceSelector"), f"{path}.namespaceSelector"
            )
            or LabelSelector(),
            pod_selector=self.selector(entry["podSelector"], f"{path}.podSelector")
            or LabelSelector(),
        )

    def bounded(self, value: Any, path: str, minimum: int) -> list[Any]:
        items = self.sequence(value, path)
        if value is not None and len(items) < minimum:
            self.error(path, f"must have at least {minimum} item(s)")
        if len(items) > MAX_ITEMS:
            self.error(path, f"must have at most {MAX_ITEMS} items")
        return items

    def cluster_rules(self, value: Any, direction: Direction) -> tuple[ClusterRule, ...]:
        base = f"spec.{direction.rules_field}"
        rules = []
        for i, item in enumerate(self.bounded(value, base, 0)):
            rule = self.cluster_rule(item, f"{base}[{i}]", direction)
            if rule is not None:
                rules.append(rule)
        return tuple(rules)

    def cluster_rule(self, value: Any, path: str, direction: Direction) -> ClusterRule | None:
        peers_key = direction.peers_field
        entry = self.mapping(value, path, {"name", "action", peers_key, "protocols"})
        errors_before = len(self.errors)
        name = entry.get("name", "")
        if not isinstance(name, str):
            self.error(f"{path}.name", f"must be a string, not {type(name).__name__}")
        elif len(name) > MAX_RULE_NAME:
            self.error(f"{path}.name", f"may not be more than {MAX_RULE_NAME} characters")
        action: Action | None = None
        raw_action = entry.get("action")
        if raw_action is None:
            self.error(f"{path}.action", "Required value")
        else:
            try:
                action = Action(raw_action)
            except ValueError:
                self.error(f"{path}.action", _enum_problem(raw_action, Action))
        if entry.get(peers_key) is None:
            self.error(f"{path}.{peers_key}", "Required value")
        peers = [
            self.cluster_peer(p, f"{path}.{peers_key}[{j}]", direction)
            for j, p in enumerate(self.bounded(entry.get(peers_key), f"{path}.{peers_key}", 1))
        ]
        ports: list[PolicyPort] = []
        named = False
        for j, p in enumerate(self.bounded(entry.get("protocols"), f"{path}.protocols", 1)):
            parsed = self.protocol(p, f"{path}.protocols[{j}]")
            named = named or any(isinstance(q.port, str) for q in parsed)
            ports.extend(parsed)
        if named and any(p is not None and (p.networks or p.unsupported) for p in peers):
            self.error(
                path,
                "networks/nodes/domainNames peers cannot be set with destinationNamedPort: "
                "they have no named ports",
            )
        if len(self.errors) > errors_before or action is None:
            return None
        return ClusterRule(
            action=action,
            peers=tuple(p for p in peers if p is not None),
            ports=tuple(ports),
            name=str(name),
        )

    def cluster_peer(self, value: Any, path: str, direction: Direction) -> ClusterPeer | None:
        fields = _INGRESS_PEER_FIELDS if direction is Direction.INGRESS else _EGRESS_PEER_FIELDS
        entry = self.mapping(value, path, set(fields))
        chosen = self.one_of(entry, path, fields)
        if chosen is None:
            return None
        raw = entry[chosen]
        where = f"{path}.{chosen}"
        if chosen == "namespaces":
            return ClusterPeer(namespaces=self.selector(raw, where) or LabelSelector())
        if chosen == "pods":
            pods = self.namespaced_pods(raw, where)
            return ClusterPeer(pods=pods) if pods is not None else None
        if chosen == "nodes":
            return ClusterPeer(nodes=self.selector(raw, where) or LabelSelector())
        if chosen == "networks":
            networks = self.networks(raw, where)
            return ClusterPeer(networks=networks) if networks else None
        names = self.domain_names(raw, where)
        return ClusterPeer(domain_names=names) if names else None

    def networks(self, value: Any, path: str) -> tuple[IPNetwork, ...]:
        result: list[IPNetwork] = []
        for i, raw in enumerate(self.bounded(value, path, 1)):
            text = self.string(raw, f"{path}[{i}]")
            if text is None:
                continue
            cidr = canonical_cidr(text) if len(text) <= MAX_CIDR_LENGTH else None
            if cidr is None:
                self.error(
                    f"{path}[{i}]",
                    f"{text!r}: Invalid CIDR format provided (a CIDR with no host bits set, "
                    "e.g. 10.9.8.0/24)",
                )
            elif cidr in result:
                self.error(f"{path}[{i}]", f"Duplicate value: {text!r}")
            else:
                result.append(cidr)
        return tuple(result)

    def domain_names(self, value: Any, path: str) -> tuple[str, ...]:
        result: list[str] = []
        for i, raw in enumerate(self.bounded(value, path, 1)):
            text = self.string(raw, f"{path}[{i}]")
            if text is None:
                continue
            if not _DOMAIN.match(text):
                self.error(f"{path}[{i}]", f"{text!r}: not a domain name (`*.` only as a prefix)")
            elif text in result:
                self.error(f"{path}[{i}]", f"Duplicate value: {text!r}")
            else:
                result.append(text)
        return tuple(result)

    def protocol(self, value: Any, path: str) -> list[PolicyPort]:
        entry = self.mapping(value, path, {*_PROTOCOL_FIELDS, "destinationNamedPort"})
        chosen = self.one_of(entry, path, (*_PROTOCOL_FIELDS, "destinationNamedPort"))
        if chosen is None:
            return []
        if chosen == "destinationNamedPort":
            name = self.string(entry[chosen], f"{path}.{chosen}")
            if not name:
                if name is not None:
                    self.error(f"{path}.{chosen}", "must not be empty")
                return []
            # A named port means that container port whatever its protocol.
            return [PolicyPort(protocol=p, port=name) for p in Protocol]
        protocol = _PROTOCOL_FIELDS[chosen]
        where = f"{path}.{chosen}"
        body = self.mapping(entry[chosen], where, {"destinationPort"})
        if body.get("destinationPort") is None:
            self.error(f"{where}.destinationPort", "Required value")
            return []
        where = f"{where}.destinationPort"
        port = self.mapping(body["destinationPort"], where, {"number", "range"})
        kind = self.one_of(port, where, ("number", "range"))
        if kind == "number":
            number = self.port_number(port["number"], f"{where}.number")
            return [PolicyPort(protocol, number)] if number is not None else []
        if kind == "range":
            span = self.mapping(port["range"], f"{where}.range", {"start", "end"})
            start = self.port_number(span.get("start"), f"{where}.range.start")
            end = self.port_number(span.get("end"), f"{where}.range.end")
            if start is None or end is None:
                return []
            if start >= end:
                self.error(
                    f"{where}.range", f"{start}-{end}: Start port must be less than End port"
                )
                return []
            return [PolicyPort(protocol, start, end)]
        return []

    def port_number(self, value: Any, path: str) -> int | None:
        if value is None:
            self.error(path, "Required value")
        elif isinstance(value, bool) or not isinstance(value, int):
            self.error(path, f"{value!r}: must be an integer")
        elif not 1 <= value <= 65535:
            self.error(path, f"{value}: must be between 1 and 65535, inclusive")
        else:
            return value
        return None


def parse_cluster_policy(doc: Any) -> ClusterNetworkPolicy:
    """The ClusterNetworkPolicy a manifest describes, or InvalidPolicy listing every problem."""
    parser = _ClusterParser()
    policy = parser.cluster_policy(doc)
    if policy is None:
        if not parser.errors:
            parser.errors.append(FieldError("", f"must be a {KIND} object"))
        raise InvalidPolicy(parser.errors)
    return policy
