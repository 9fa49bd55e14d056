"""One entry point for policy manifests of either kind: `parse_manifest` reads `kind` and
hands the document to its parser (a document without `kind` is a NetworkPolicy, as the
catalogue's cases have always written them)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from netconform.netpol.cluster_policy import KIND as CLUSTER_KIND
from netconform.netpol.cluster_policy import AnyPolicy
from netconform.netpol.cluster_validation import parse_cluster_policy
from netconform.netpol.model import NAMESPACE_NAME_LABEL
from netconform.netpol.validation import FieldError, InvalidPolicy, parse_policy

NETWORK_POLICY_KIND = "NetworkPolicy"
PARSERS: Mapping[str, Callable[[Any], AnyPolicy]] = {
    NETWORK_POLICY_KIND: parse_policy,
    CLUSTER_KIND: parse_cluster_policy,
}


def manifest_kind(doc: Any) -> str:
    """The manifest's `kind` (NetworkPolicy when absent); whatever it says otherwise."""
    kind = doc.get("kind") if isinstance(doc, Mapping) else None
    return NETWORK_POLICY_KIND if kind is None else str(kind)


def parse_manifest(doc: Any) -> AnyPolicy:
    """The policy a manifest describes, by its kind; InvalidPolicy otherwise."""
    parser = PARSERS.get(manifest_kind(doc))
    if parser is None:
        raise InvalidPolicy(
            [FieldError("kind", f"{manifest_kind(doc)!r}: must be one of {', '.join(PARSERS)}")]
        )
    return parser(doc)


def manifest_label(doc: Any) -> str:
    """`NetworkPolicy ns/name` or `ClusterNetworkPolicy name`, as far as the manifest tells."""
    kind = manifest_kind(doc)
    meta = doc.get("metadata") if isinstance(doc, Mapping) else None
    if not isinstance(meta, Mapping):
        return kind
    if kind == CLUSTER_KIND:
        return f"{kind} {meta.get('name', '?')}"
    return f"{kind} {meta.get('namespace', '?')}/{meta.get('name', '?')}"


def cluster_namespace_selectors(manifest: Any) -> Iterator[dict[str, Any]]:
    """Every namespace selector of a ClusterNetworkPolicy manifest (the subject's and each
    peer's), as the mutable dicts they are: what a run rewrites when it binds the logical
    namespace names x, y, z to its real ones. Parts of the wrong shape are skipped."""
    spec = manifest.get("spec") if isinstance(manifest, dict) else None
    if not isinstance(spec, dict):
        return
    holders: list[Any] = [spec.get("subject")]
    for direction, peers_field in (("ingress", "from"), ("egress", "to")):
        rules = spec.get(direction)
        for rule in rules if isinstance(rules, list) else ():
            peers = rule.get(peers_field) if isinstance(rule, dict) else None
            holders.extend(peers if isinstance(peers, list) else ())
    for holder in holders:
        if not isinstance(holder, dict):
            continue
        if isinstance(holder.get("namespaces"), dict):
            yield holder["namespaces"]
        pods = holder.get("pods")
        if isinstance(pods, dict) and isinstance(pods.get("namespaceSelector"), dict):
            yield pods["namespaceSelector"]


def confine_subject(manifest: Mapping[str, Any], namespaces: Sequence[str]) -> dict[str, Any]:
    """A copy of a ClusterNetworkPolicy manifest whose subject selects pods of `namespaces`
    only (its namespace selector ANDed with `kubernetes.io/metadata.name In namespaces`).

    Why: a cluster-scoped policy whose subject is `namespaces: {}` would otherwise act on
    every pod of the cluster (kube-system's, other lanes' and other runs'). Peers are left
    as written: a confined subject's rules only touch traffic of the confined pods. A case
    resolves its manifests through this with its logical namespaces, so the oracle judges
    exactly what a run applies after binding the names. Anything not a ClusterNetworkPolicy,
    or of the wrong shape, comes back as an unchanged copy."""
    out = copy.deepcopy(dict(manifest))
    if manifest_kind(out) != CLUSTER_KIND:
        return out
    spec = out.get("spec")
    subject = spec.get("subject") if isinstance(spec, dict) else None
    if not isinstance(subject, dict):
        return out
    if isinstance(subject.get("namespaces"), dict):
        selector = subject["namespaces"]
    elif isinstance(subject.get("pods"), dict):
        pods = subject["pods"]
        if pods.get("namespaceSelector") is None:
            pods["namespaceSelector"] = {}
        selector = pods["namespaceSelector"]
        if not isinstance(selector, dict):
            return out
    else:
        return out
    expressions = selector.get("matchExpressions")
    if expressions is None:
        expressions = selector["matchExpressions"] = []
    if isinstance(expressions, list):
        expressions.append(
            {"key": NAMESPACE_NAME_LABEL, "operator": "In", "values": sorted(namespaces)}
        )
    return out
