"""Manifests the API server rejects are rejected here, naming the field and the reason."""

from __future__ import annotations

from typing import Any

import pytest

from netconform.netpol.model import Protocol
from netconform.netpol.policy import Direction, PolicyPort
from netconform.netpol.validation import InvalidPolicy, parse_policy


def manifest(spec: dict[str, Any], **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "p", "namespace": "x", **meta},
        "spec": spec,
    }


def ingress_port(entry: dict[str, Any]) -> dict[str, Any]:
    return manifest({"podSelector": {}, "ingress": [{"ports": [entry]}]})


def ingress_peer(entry: dict[str, Any]) -> dict[str, Any]:
    return manifest({"podSelector": {}, "ingress": [{"from": [entry]}]})


def expression(**req: Any) -> dict[str, Any]:
    return ingress_peer({"podSelector": {"matchExpressions": [req]}})


P = "spec.ingress[0].ports[0]"
F = "spec.ingress[0].from[0]"
REJECTED = [
    (ingress_port({"port": "http", "endPort": 90}), f"{P}.endPort", "non-numeric"),
    (ingress_port({"endPort": 90}), f"{P}.endPort", "`port` is not specified"),
    (ingress_port({"port": 90, "endPort": 80}), f"{P}.endPort", "greater than or equal to `port`"),
    (ingress_port({"port": 80, "endPort": 70000}), f"{P}.endPort", "between 1 and 65535"),
    (ingress_port({"port": 0}), f"{P}.port", "between 1 and 65535"),
    (ingress_port({"port": 65536}), f"{P}.port", "between 1 and 65535"),
    (ingress_port({"port": "80"}), f"{P}.port", "at least one letter"),
    (ingress_port({"port": "a-very-long-port-name"}), f"{P}.port", "no more than 15"),
    (ingress_port({"port": "web--x"}), f"{P}.port", "consecutive hyphens"),
    (ingress_port({"port": "Web"}), f"{P}.port", "lowercase"),
    (ingress_port({"port": 80, "protocol": "ICMP"}), f"{P}.protocol", "Unsupported value"),
    (ingress_port({"port": 80, "protocol": "tcp"}), f"{P}.protocol", "Unsupported value"),
    (ingress_peer({"ipBlock": {"cidr": "10.0.0.0/33"}}), f"{F}.ipBlock.cidr", "valid CIDR"),
    (ingress_peer({"ipBlock": {"cidr": "10.0.0.1"}}), f"{F}.ipBlock.cidr", "valid CIDR"),
    (ingress_peer({"ipBlock": {"cidr": ""}}), f"{F}.ipBlock.cidr", "Required"),
    (
        ingress_peer({"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.1.0.0/24"]}}),
        f"{F}.ipBlock.except[0]",
        "strict subset",
    ),
    (
        ingress_peer({"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.0.0.0/16"]}}),
        f"{F}.ipBlock.except[0]",
        "strict subset",
    ),
    (
        ingress_peer({"ipBlock": {"cidr": "10.0.0.0/16", "except": ["fd00::/64"]}}),
        f"{F}.ipBlock.except[0]",
        "strict subset",
    ),
    (ingress_peer({"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}), F, "both ipBlock"),
    (ingress_peer({}), F, "must specify a peer"),
    (
        expression(key="pod", operator="Equals", values=["a"]),
        f"{F}.podSelector.matchExpressions[0].operator",
        "not a valid selector operator",
    ),
    (
        expression(key="pod", operator="Exists", values=["a"]),
        f"{F}.podSelector.matchExpressions[0].values",
        "may not be specified",
    ),
    (
        expression(key="pod", operator="In", values=[]),
        f"{F}.podSelector.matchExpressions[0].values",
        "must be specified",
    ),
    (
        expression(key="pod", operator="Gt", values=["1"]),
        f"{F}.podSelector.matchExpressions[0].operator",
        "not a valid selector operator",
    ),
    (
        expression(key="bad key", operator="Exists"),
        f"{F}.podSelector.matchExpressions[0].key",
        "name part",
    ),
    (
        expression(key="pod", operator="In", values=["no spaces"]),
        f"{F}.podSelector.matchExpressions[0].values[0]",
        "at most 63",
    ),
    (
        ingress_peer({"podSelector": {"matchLabels": {"pod": "a b"}}}),
        f"{F}.podSelector.matchLabels.pod",
        "at most 63",
    ),
    (
        manifest({"podSelector": {}, "policyTypes": ["Ingress", "Egress", "Ingress"]}),
        "spec.policyTypes",
        "more than two",
    ),
    (
        manifest({"podSelector": {}, "policyTypes": ["ingress"]}),
        "spec.policyTypes[0]",
        "Unsupported",
    ),
    (manifest({"podSelector": {}, "ingres": []}), "spec.ingres", "unknown field"),
    (
        manifest({"podSelector": {}, "ingress": [{"form": []}]}),
        "spec.ingress[0].form",
        "unknown field",
    ),
    (manifest({"podSelector": {}}, name="Bad_Name"), "metadata.name", "DNS subdomain"),
    (manifest({"podSelector": {}}, namespace=""), "metadata.namespace", "required"),
    ({**manifest({"podSelector": {}}), "kind": "Pod"}, "kind", "NetworkPolicy"),
]


@pytest.mark.parametrize(
    ("doc", "field", "fragment"), REJECTED, ids=[r[1] + ":" + r[2] for r in REJECTED]
)
def test_rejected_like_the_api_server(doc: dict[str, Any], field: str, fragment: str) -> None:
    with pytest.raises(InvalidPolicy) as info:
        parse_policy(doc)
    assert any(e.field == field and fragment in e.problem for e in info.value.errors), (
        info.value.errors
    )


def test_every_error_is_reported_not_just_the_first() -> None:
    doc = manifest(
        {"podSelector": {}, "ingress": [{"ports": [{"port": 0}, {"port": 9, "endPort": 1}]}]}
    )
    with pytest.raises(InvalidPolicy) as info:
        parse_policy(doc)
    assert [e.field for e in info.value.errors] == [f"{P}.port", "spec.ingress[0].ports[1].endPort"]


def test_accepted_forms_and_defaults() -> None:
    p = parse_policy(
        manifest(
            {
                "podSelector": {},
                "ingress": [
                    {
                        "ports": [
                            {"port": 80, "endPort": 80},
                            {"port": "web"},
                            {"protocol": "UDP"},
                        ],
                        "from": [{"ipBlock": {"cidr": "10.0.0.1/8", "except": ["10.1.0.0/16"]}}],
                    }
                ],
            }
        )
    )
    assert p.policy_types == (Direction.INGRESS,)
    assert p.ingress[0].ports == (
        PolicyPort(Protocol.TCP, 80, 80),
        PolicyPort(Protocol.TCP, "web"),
        PolicyPort(Protocol.UDP),
    )
    block = p.ingress[0].peers[0].ip_block
    assert block is not None
    assert str(block.cidr) == "10.0.0.0/8"
    assert parse_policy(manifest({})).pod_selector.is_empty  # absent podSelector selects all


def test_not_a_mapping_is_an_error_not_a_crash() -> None:
    for doc in (None, [], "text", 3):
        with pytest.raises(InvalidPolicy):
            parse_policy(doc)
    with pytest.raises(InvalidPolicy):
        parse_policy(manifest({"podSelector": {}, "ingress": {"from": []}}))
