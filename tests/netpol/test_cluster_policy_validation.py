"""ClusterNetworkPolicy validation: what the CRD (schema and CEL rules) refuses, refused here
with the field named; through `netpol expect`, one line and exit 2."""

from __future__ import annotations

import copy
import ipaddress
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from netconform.netpol import (
    Action,
    ClusterNetworkPolicy,
    InvalidPolicy,
    NetworkPolicy,
    Tier,
    confine_subject,
    parse_manifest,
)
from netconform.netpol.catalogue import load_cases_file
from netconform.netpol.cli import main
from netconform.netpol.model import Protocol
from netconform.netpol.policy import PolicyPort
from netconform.netpol.selectors import Operator

MODEL = {
    "namespaces": {"x": {}, "y": {}},
    "pods": [
        {"namespace": "x", "name": "a", "labels": {"pod": "a"}, "ip": "10.1.0.1"},
        {"namespace": "y", "name": "b", "labels": {"pod": "b"}, "ip": "10.1.0.2"},
    ],
}


def cnp(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "tier": "Admin",
        "priority": 10,
        "subject": {"namespaces": {}},
        "ingress": [
            {
                "name": "deny-y",
                "action": "Deny",
                "from": [{"namespaces": {"matchLabels": {"kubernetes.io/metadata.name": "y"}}}],
            }
        ],
    }
    base.update(spec)
    return {
        "apiVersion": "policy.networking.k8s.io/v1beta1",
        "kind": "ClusterNetworkPolicy",
        "metadata": {"name": "guard"},
        "spec": {k: v for k, v in base.items() if v is not None},
    }


def egress(to: list[Any], protocols: list[Any] | None = None, action: str = "Deny") -> Any:
    rule: dict[str, Any] = {"action": action, "to": to}
    if protocols is not None:
        rule["protocols"] = protocols
    return [rule]


def tcp_range(start: int, end: int) -> list[Any]:
    return [{"tcp": {"destinationPort": {"range": {"start": start, "end": end}}}}]


def test_a_full_document_parses_into_the_model() -> None:
    doc = cnp(
        tier="Baseline",
        priority=0,
        subject={"pods": {"namespaceSelector": {}, "podSelector": {"matchLabels": {"pod": "a"}}}},
        egress=[
            {
                "name": "web",
                "action": "Accept",
                "to": [{"networks": ["10.0.0.0/8", "fd00::/8"]}, {"pods": {"podSelector": {}}}],
                "protocols": [
                    {"tcp": {"destinationPort": {"number": 80}}},
                    {"udp": {"destinationPort": {"range": {"start": 5000, "end": 5010}}}},
                ],
            },
            {"action": "Pass", "to": [{"namespaces": {}}]},
        ],
    )
    policy = parse_manifest(doc)
    assert isinstance(policy, ClusterNetworkPolicy)
    assert (policy.key, policy.tier, policy.priority) == ("guard", Tier.BASELINE, 0)
    assert policy.subject.pods is not None and policy.subject.namespaces is None
    first, second = policy.egress
    assert (first.name, first.action, second.action) == ("web", Action.ACCEPT, Action.PASS)
    assert first.peers[0].networks == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("fd00::/8"),
    )
    assert first.ports == (
        PolicyPort(Protocol.TCP, 80),
        PolicyPort(Protocol.UDP, 5000, 5010),
    )
    assert second.ports == ()  # no protocols: every port


def test_v1alpha2_is_read_as_the_same_schema_and_a_kindless_manifest_is_a_networkpolicy() -> None:
    doc = cnp()
    doc["apiVersion"] = "policy.networking.k8s.io/v1alpha2"
    assert parse_manifest(doc) == parse_manifest(cnp())
    plain = {"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {}}}
    assert isinstance(parse_manifest(plain), NetworkPolicy)


def test_a_named_port_means_that_container_port_whatever_its_protocol() -> None:
    doc = cnp(ingress=[{"action": "Accept", "from": [{"namespaces": {}}]}])
    doc["spec"]["ingress"][0]["protocols"] = [{"destinationNamedPort": "web"}]
    policy = parse_manifest(doc)
    assert isinstance(policy, ClusterNetworkPolicy)
    assert {(p.protocol, p.port) for p in policy.ingress[0].ports} == {
        (proto, "web") for proto in Protocol
    }


def test_pass_in_the_baseline_tier_is_valid_upstream() -> None:
    # v0.3 allows it ("Supporting Pass ... with tier=Baseline to allow skipping all further
    # rules in the Baseline tier"); the CRD has no rule against it, so neither do we.
    doc = cnp(tier="Baseline")
    doc["spec"]["ingress"][0]["action"] = "Pass"
    policy = parse_manifest(doc)
    assert isinstance(policy, ClusterNetworkPolicy)
    assert policy.ingress[0].action is Action.PASS


def test_every_problem_is_collected() -> None:
    with pytest.raises(InvalidPolicy) as info:
        parse_manifest(cnp(tier="Top", priority=5000, subject={}))
    assert [e.field for e in info.value.errors] == ["spec.tier", "spec.priority", "spec.subject"]


def _mutate(path: str, value: Any) -> dict[str, Any]:
    """cnp() with the dotted `path` set to `value` (a `[i]` indexes a list)."""
    doc = copy.deepcopy(cnp())
    parts = path.replace("[", ".[").split(".")
    node: Any = doc
    for part in parts[:-1]:
        node = node[int(part[1:-1])] if part.startswith("[") else node[part]
    last = parts[-1]
    if last.startswith("["):
        node[int(last[1:-1])] = value
    else:
        node[last] = value
    return doc


def _without(path: str) -> dict[str, Any]:
    doc = _mutate(path, None)
    parent, _, key = path.rpartition(".")
    node: Any = doc
    for part in parent.replace("[", ".[").split("."):
        node = node[int(part[1:-1])] if part.startswith("[") else node[part]
    del node[key]
    return doc


MALFORMED: list[tuple[str, dict[str, Any], str]] = [
    ("wrong tier", _mutate("spec.tier", "Platform"), "spec.tier: Unsupported value"),
    ("priority -1", _mutate("spec.priority", -1), "spec.priority: -1: must be between 0"),
    ("priority 1001", _mutate("spec.priority", 1001), "spec.priority: 1001: must be between"),
    ("priority a string", _mutate("spec.priority", "10"), "spec.priority: '10': must be an int"),
    ("missing tier", _without("spec.tier"), "spec.tier: Required value"),
    (
        "unknown action",
        _mutate("spec.ingress[0].action", "Allow"),
        "spec.ingress[0].action: Unsupported value: 'Allow'",
    ),
    ("missing action", _without("spec.ingress[0].action"), "spec.ingress[0].action: Required"),
    ("empty subject", _mutate("spec.subject", {}), "spec.subject: must specify exactly one of"),
    (
        "both subjects",
        _mutate("spec.subject", {"namespaces": {}, "pods": {"podSelector": {}}}),
        "spec.subject: may specify only one of",
    ),
    (
        "subject pods without podSelector",
        _mutate("spec.subject", {"pods": {"namespaceSelector": {}}}),
        "spec.subject.pods.podSelector: Required value",
    ),
    (
        "non-canonical CIDR",
        _mutate("spec", cnp(egress=egress([{"networks": ["10.0.0.1/8"]}]))["spec"]),
        "spec.egress[0].to[0].networks[0]: '10.0.0.1/8': Invalid CIDR format",
    ),
    (
        "an address, not a CIDR",
        _mutate("spec", cnp(egress=egress([{"networks": ["10.0.0.1"]}]))["spec"]),
        "spec.egress[0].to[0].networks[0]",
    ),
    (
        "port range start after end",
        _mutate("spec", cnp(egress=egress([{"namespaces": {}}], tcp_range(90, 80)))["spec"]),
        "spec.egress[0].protocols[0].tcp.destinationPort.range: 90-80: Start port must be less",
    ),
    (
        "port range start equal to end",
        _mutate("spec", cnp(egress=egress([{"namespaces": {}}], tcp_range(80, 80)))["spec"]),
        "destinationPort.range: 80-80: Start port must be less than End port",
    ),
    (
        "port 0",
        _mutate(
            "spec.ingress[0]",
            {
                "action": "Deny",
                "from": [{"namespaces": {}}],
                "protocols": [{"udp": {"destinationPort": {"number": 0}}}],
            },
        ),
        "spec.ingress[0].protocols[0].udp.destinationPort.number: 0: must be between 1 and 65535",
    ),
    (
        "range end past 65535",
        _mutate("spec", cnp(egress=egress([{"namespaces": {}}], tcp_range(80, 70000)))["spec"]),
        "destinationPort.range.end: 70000: must be between 1 and 65535",
    ),
    (
        "NetworkPolicy-style ports",
        _mutate("spec.ingress[0].ports", [{"port": 80}]),
        "spec.ingress[0].ports: unknown field",
    ),
    (
        "networks in ingress",
        _mutate("spec.ingress[0].from", [{"networks": ["10.0.0.0/8"]}]),
        "spec.ingress[0].from[0].networks: unknown field",
    ),
    ("empty from", _mutate("spec.ingress[0].from", []), "spec.ingress[0].from: must have at least"),
    ("missing from", _without("spec.ingress[0].from"), "spec.ingress[0].from: Required value"),
    (
        "a peer with two kinds",
        _mutate("spec.ingress[0].from", [{"namespaces": {}, "pods": {"podSelector": {}}}]),
        "spec.ingress[0].from[0]: may specify only one of",
    ),
    (
        "tcp without a port",
        _mutate(
            "spec.ingress[0]",
            {"action": "Deny", "from": [{"namespaces": {}}], "protocols": [{"tcp": {}}]},
        ),
        "spec.ingress[0].protocols[0].tcp.destinationPort: Required value",
    ),
    (
        "empty protocols",
        _mutate("spec.ingress[0].protocols", []),
        "spec.ingress[0].protocols: must have at least 1",
    ),
    (
        "a named port beside networks",
        _mutate(
            "spec",
            cnp(egress=egress([{"networks": ["10.0.0.0/8"]}], [{"destinationNamedPort": "web"}]))[
                "spec"
            ],
        ),
        "spec.egress[0]: networks/nodes/domainNames peers cannot be set with destinationNamedPort",
    ),
    (
        "a duplicate CIDR",
        _mutate("spec", cnp(egress=egress([{"networks": ["10.0.0.0/8", "10.0.0.0/8"]}]))["spec"]),
        "spec.egress[0].to[0].networks[1]: Duplicate value",
    ),
    (
        "26 rules",
        _mutate("spec.ingress", [cnp()["spec"]["ingress"][0]] * 26),
        "spec.ingress: must have at most 25 items",
    ),
    (
        "a rule name of 101 characters",
        _mutate("spec.ingress[0].name", "r" * 101),
        "spec.ingress[0].name: may not be more than 100 characters",
    ),
    (
        "a namespace on a cluster-scoped object",
        _mutate("metadata.namespace", "x"),
        "metadata.namespace: a ClusterNetworkPolicy is cluster-scoped",
    ),
    (
        "a NetworkPolicy's apiVersion",
        _mutate("apiVersion", "networking.k8s.io/v1"),
        "apiVersion: must be policy.networking.k8s.io/v1beta1 or",
    ),
    ("an unknown spec field", _mutate("spec.podSelector", {}), "spec.podSelector: unknown field"),
    (
        "a bad domain name",
        _mutate(
            "spec", cnp(egress=egress([{"domainNames": ["*bad*.io"]}], action="Accept"))["spec"]
        ),
        "spec.egress[0].to[0].domainNames[0]: '*bad*.io': not a domain name",
    ),
]


@pytest.mark.parametrize(
    ("doc", "fragment"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_a_malformed_document_is_one_line_naming_file_and_field_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], doc: dict[str, Any], fragment: str
) -> None:
    path = tmp_path / "in.yaml"
    path.write_text(yaml.safe_dump({"model": MODEL, "policies": [doc]}))
    assert main(["expect", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {path}: policies[0] (ClusterNetworkPolicy guard) ")
    assert fragment in lines[0]


def test_the_installed_command_says_it_in_one_line_too(tmp_path: Path) -> None:
    path = tmp_path / "in.yaml"
    path.write_text(yaml.safe_dump({"model": MODEL, "policies": [_mutate("spec.priority", -1)]}))
    done = subprocess.run(
        [str(Path(sys.executable).parent / "netconform"), "netpol", "expect", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().count("\n") == 0
    assert "spec.priority: -1: must be between 0 and 1000" in done.stderr


def test_confinement_narrows_the_subject_to_the_given_namespaces_only() -> None:
    confined = confine_subject(cnp(), ["y", "x"])
    policy = parse_manifest(confined)
    assert isinstance(policy, ClusterNetworkPolicy) and policy.subject.namespaces is not None
    (requirement,) = policy.subject.namespaces.match_expressions
    assert (requirement.operator, requirement.values) == (Operator.IN, ("x", "y"))
    # The peers are as written, and the input is untouched.
    original = parse_manifest(cnp())
    assert isinstance(original, ClusterNetworkPolicy) and policy.ingress == original.ingress
    assert cnp()["spec"]["subject"] == {"namespaces": {}}
    pods = cnp(subject={"pods": {"podSelector": {}}})
    narrowed = parse_manifest(confine_subject(pods, ["x"]))
    assert isinstance(narrowed, ClusterNetworkPolicy) and narrowed.subject.pods is not None
    assert narrowed.subject.pods.namespace_selector.match_expressions[0].values == ("x",)


def test_a_case_deletes_a_cluster_policy_by_its_name(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    case = {
        "id": "cnp.delete",
        "pods": ["x/a", "y/a"],
        "steps": [
            {"name": "create", "actions": [{"create-policy": cnp()}], "probes": ["80/TCP"]},
            {"name": "delete", "actions": [{"delete-policy": "guard"}], "probes": ["80/TCP"]},
        ],
    }
    path.write_text(yaml.safe_dump({"cases": [case]}))
    (loaded,) = load_cases_file(path)
    created, deleted = loaded.resolve().steps
    assert [p.key for p in created.policies] == ["guard"]
    assert deleted.policies == ()
    (guard,) = created.policies
    assert isinstance(guard, ClusterNetworkPolicy) and guard.subject.namespaces is not None
    assert guard.subject.namespaces.match_expressions[0].values == ("x", "y", "z")
