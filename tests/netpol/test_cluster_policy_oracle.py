"""The oracle with ClusterNetworkPolicy: Admin -> NetworkPolicy -> Baseline, Pass, priority
and rule order, same-priority ties, networks over pod IPs, port ranges, hairpin. Every
expectation here is worked out by hand from the API's text.

The model (tests.netpol.helpers.cluster): pods x/a 10.0.0.1, x/b 10.0.0.2, y/a 10.0.1.3,
y/b 10.0.1.4, each serving 80/TCP (web), 81/TCP (alt), 80/UDP, 80/SCTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from netconform.netpol import ClusterNetworkPolicy, parse_manifest
from netconform.netpol.cli import main
from netconform.netpol.model import Pod, Protocol
from netconform.netpol.oracle import HostNetworkMode, Oracle, Probe, Profile, RuleRef
from netconform.netpol.policy import Direction

from .helpers import WEB, cluster, policy, verdict

NAME = "kubernetes.io/metadata.name"
C = cluster()


def ns(name: str) -> dict[str, Any]:
    return {"namespaces": {"matchLabels": {NAME: name}}}


def pod(namespace: str, name: str) -> dict[str, Any]:
    return {
        "pods": {
            "namespaceSelector": {"matchLabels": {NAME: namespace}},
            "podSelector": {"matchLabels": {"pod": name}},
        }
    }


def rule(action: str, *peers: dict[str, Any], name: str = "", **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"action": action, "peers": list(peers), **extra}
    if name:
        out["name"] = name
    return out


def cnp(
    name: str,
    tier: str,
    priority: int,
    subject: dict[str, Any],
    ingress: list[dict[str, Any]] | None = None,
    egress: list[dict[str, Any]] | None = None,
) -> ClusterNetworkPolicy:
    spec: dict[str, Any] = {"tier": tier, "priority": priority, "subject": subject}
    for field, peers_field, rules in (("ingress", "from", ingress), ("egress", "to", egress)):
        if rules:
            spec[field] = [
                {peers_field if k == "peers" else k: v for k, v in r.items()} for r in rules
            ]
    parsed = parse_manifest(
        {"kind": "ClusterNetworkPolicy", "metadata": {"name": name}, "spec": spec}
    )
    assert isinstance(parsed, ClusterNetworkPolicy)
    return parsed


def tcp(number: int) -> list[dict[str, Any]]:
    return [{"tcp": {"destinationPort": {"number": number}}}]


ALLOW_ALL_INGRESS_Y = policy("y", "allow-all", {"podSelector": {}, "ingress": [{}]})
DENY_ALL_INGRESS_Y = policy("y", "deny-all", {"podSelector": {}})


def test_admin_deny_wins_over_a_networkpolicy_allow() -> None:
    guard = cnp("guard", "Admin", 10, ns("y"), [rule("Deny", ns("x"), name="no-x")])
    v = verdict(C, [guard, ALLOW_ALL_INGRESS_Y], "x/a", "y/a")
    assert not v.allowed and v.egress.allowed and not v.ingress.allowed
    assert v.ingress.tier == "Admin"
    assert v.ingress.decided_by is not None
    ref = v.ingress.decided_by
    assert (ref.policy, ref.tier, ref.priority, ref.rule, ref.name) == (
        "guard",
        "Admin",
        10,
        "ingress[0]",
        "no-x",
    )
    assert v.ingress.reason == "Admin guard (priority 10) ingress[0] 'no-x' denies it"
    assert v.ingress.isolated_by == ()  # the NetworkPolicy tier was never reached
    # From y, no Admin rule matches: the NetworkPolicy allows it.
    w = verdict(C, [guard, ALLOW_ALL_INGRESS_Y], "y/b", "y/a")
    assert w.allowed and w.ingress.tier == "NetworkPolicy"
    assert [str(r) for r in w.ingress.allowed_by] == ["y/allow-all ingress[0]"]


def test_admin_accept_wins_over_a_networkpolicy_default_deny() -> None:
    guard = cnp("open", "Admin", 3, ns("y"), [rule("Accept", pod("x", "a"))])
    assert verdict(C, [guard, DENY_ALL_INGRESS_Y], "x/a", "y/b").allowed
    v = verdict(C, [guard, DENY_ALL_INGRESS_Y], "x/b", "y/b")
    assert not v.allowed and v.ingress.tier == "NetworkPolicy"
    assert v.ingress.isolated_by == ("y/deny-all",)


def test_pass_skips_the_rest_of_admin_and_hands_the_flow_to_networkpolicy() -> None:
    delegate = cnp("delegate", "Admin", 1, ns("y"), [rule("Pass", ns("x"), name="to-np")])
    deny_all = cnp("deny-all", "Admin", 2, ns("y"), [rule("Deny", {"namespaces": {}})])
    # The NetworkPolicy allows everything: x's traffic is passed over deny-all to it.
    v = verdict(C, [delegate, deny_all, ALLOW_ALL_INGRESS_Y], "x/a", "y/a")
    assert v.allowed and v.ingress.tier == "NetworkPolicy"
    assert [r.policy for r in v.ingress.passed] == ["delegate"]
    assert v.ingress.reason.startswith("passed by Admin delegate (priority 1) ingress[0] 'to-np'")
    # y's own traffic is not passed: deny-all decides.
    w = verdict(C, [delegate, deny_all, ALLOW_ALL_INGRESS_Y], "y/b", "y/a")
    assert not w.allowed and w.ingress.decided_by is not None
    assert w.ingress.decided_by.policy == "deny-all"
    # With a default-deny NetworkPolicy instead, the passed flow is denied there.
    assert not verdict(C, [delegate, deny_all, DENY_ALL_INGRESS_Y], "x/a", "y/a").allowed


def test_pass_with_no_networkpolicy_goes_on_to_baseline() -> None:
    delegate = cnp("delegate", "Admin", 1, ns("y"), [rule("Pass", ns("x"))])
    deny_all = cnp("deny-all", "Admin", 2, ns("y"), [rule("Deny", ns("x"))])
    floor = cnp("floor", "Baseline", 5, ns("y"), [rule("Deny", pod("x", "a"), name="no-xa")])
    v = verdict(C, [delegate, deny_all, floor], "x/a", "y/b")
    assert not v.allowed and v.ingress.tier == "Baseline"
    assert v.ingress.decided_by is not None and v.ingress.decided_by.name == "no-xa"
    assert [r.policy for r in v.ingress.passed] == ["delegate"]
    assert "no NetworkPolicy isolates the destination for ingress" in v.ingress.reason
    # x/b is passed too, and no Baseline rule matches it: allowed by default.
    w = verdict(C, [delegate, deny_all, floor], "x/b", "y/b")
    assert w.allowed and w.ingress.tier == "" and "no tier decides" in w.ingress.reason


def test_any_networkpolicy_isolating_the_pod_overrides_baseline() -> None:
    floor = cnp("floor", "Baseline", 0, ns("y"), [rule("Deny", {"namespaces": {}})])
    only_b = policy(
        "y",
        "from-yb-81",
        {
            "podSelector": {"matchLabels": {"pod": "a"}},
            "ingress": [
                {"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}], "ports": [{"port": 81}]}
            ],
        },
    )
    # y/a is isolated by the NetworkPolicy: it decides, Baseline is never asked.
    assert verdict(C, [floor, only_b], "y/b", "y/a", 81).allowed
    v = verdict(C, [floor, only_b], "x/a", "y/a", 81)
    assert not v.allowed and v.ingress.tier == "NetworkPolicy"
    # y/b is selected by no NetworkPolicy: Baseline denies.
    w = verdict(C, [floor, only_b], "x/a", "y/b", 81)
    assert not w.allowed and w.ingress.tier == "Baseline"
    # A NetworkPolicy isolating y/a for egress only does not override ingress Baseline.
    egress_only = policy(
        "y", "egress-only", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]}
    )
    u = verdict(C, [floor, egress_only], "x/a", "y/a")
    assert not u.allowed and u.ingress.tier == "Baseline"


def test_lower_priority_value_first_then_rule_order() -> None:
    accept = cnp("accept-x", "Admin", 5, ns("y"), [rule("Accept", ns("x"))])
    deny = cnp("deny-all", "Admin", 10, ns("y"), [rule("Deny", {"namespaces": {}})])
    assert verdict(C, [accept, deny], "x/a", "y/a").allowed
    assert not verdict(C, [accept, deny], "y/b", "y/a").allowed
    late_accept = cnp("accept-x", "Admin", 50, ns("y"), [rule("Accept", ns("x"))])
    v = verdict(C, [late_accept, deny], "x/a", "y/a")
    assert not v.allowed and v.ingress.decided_by is not None
    assert v.ingress.decided_by.policy == "deny-all"
    ordered = cnp(
        "ordered",
        "Admin",
        7,
        ns("y"),
        [rule("Deny", pod("x", "a"), name="first"), rule("Accept", ns("x"), name="second")],
    )
    assert not verdict(C, [ordered, DENY_ALL_INGRESS_Y], "x/a", "y/a").allowed
    w = verdict(C, [ordered, DENY_ALL_INGRESS_Y], "x/b", "y/a")
    assert w.allowed and w.ingress.decided_by is not None
    assert (w.ingress.decided_by.index, w.ingress.decided_by.name) == (1, "second")


def test_same_priority_with_different_outcomes_is_ambiguous_and_left_out() -> None:
    accept = cnp("a-accept", "Admin", 5, ns("y"), [rule("Accept", ns("x"))])
    deny = cnp("b-deny", "Admin", 5, ns("y"), [rule("Deny", ns("x"))])
    v = verdict(C, [accept, deny], "x/a", "y/a")
    assert v.ignored == "same-priority"
    assert v.ingress.ambiguous
    assert [r.policy for r in v.ingress.ambiguous_with] == ["b-deny"]
    assert "changes the outcome" in v.ingress.reason
    # Two Deny rules at one priority agree: nothing ambiguous about the outcome.
    deny2 = cnp("c-deny", "Admin", 5, ns("y"), [rule("Deny", {"namespaces": {}})])
    w = verdict(C, [deny, deny2], "x/a", "y/a")
    assert not w.allowed and w.ignored == "" and not w.ingress.ambiguous
    # Accept against Pass with nothing after: both allow, so the cell stands.
    passing = cnp("b-pass", "Admin", 5, ns("y"), [rule("Pass", ns("x"))])
    u = verdict(C, [accept, passing], "x/a", "y/a")
    assert u.allowed and u.ignored == "" and not u.ingress.ambiguous
    assert [r.policy for r in u.ingress.ambiguous_with] == ["b-pass"]
    assert "does not change the outcome" in u.ingress.reason
    # ... but a default-deny NetworkPolicy behind the Pass makes it matter.
    t = verdict(C, [accept, passing, DENY_ALL_INGRESS_Y], "x/a", "y/a")
    assert t.ignored == "same-priority"
    # A policy of the same priority that does not select the pod is no tie.
    elsewhere = cnp("b-deny", "Admin", 5, ns("x"), [rule("Deny", ns("x"))])
    assert verdict(C, [accept, elsewhere], "x/a", "y/a").ignored == ""


def test_networks_match_pod_ips() -> None:
    everything = cnp(
        "no-egress", "Admin", 1, ns("x"), egress=[rule("Deny", {"networks": ["0.0.0.0/0"]})]
    )
    v = verdict(C, [everything], "x/a", "y/a")
    assert not v.allowed and not v.egress.allowed and v.egress.tier == "Admin"
    assert verdict(C, [everything], "y/a", "x/a").allowed  # y is no subject
    one = cnp("no-yb", "Admin", 1, ns("x"), egress=[rule("Deny", {"networks": ["10.0.1.4/32"]})])
    assert not verdict(C, [one], "x/a", "y/b").allowed
    assert verdict(C, [one], "x/a", "y/a").allowed
    v6 = cnp("no-v6", "Admin", 1, ns("x"), egress=[rule("Deny", {"networks": ["::/0"]})])
    assert verdict(C, [v6], "x/a", "y/a").allowed  # IPv4 pods are not in ::/0


def test_port_numbers_and_ranges() -> None:
    ranged = cnp(
        "ranged",
        "Admin",
        1,
        ns("y"),
        [
            rule(
                "Deny",
                ns("x"),
                protocols=[{"tcp": {"destinationPort": {"range": {"start": 80, "end": 81}}}}],
            )
        ],
    )
    assert not verdict(C, [ranged], "x/a", "y/a", 80).allowed
    assert not verdict(C, [ranged], "x/a", "y/a", 81).allowed
    assert verdict(C, [ranged], "x/a", "y/a", 80, Protocol.UDP).allowed
    above = cnp(
        "above",
        "Admin",
        1,
        ns("y"),
        [
            rule(
                "Deny",
                ns("x"),
                protocols=[{"tcp": {"destinationPort": {"range": {"start": 81, "end": 90}}}}],
            )
        ],
    )
    assert verdict(C, [above], "x/a", "y/a", 80).allowed
    assert not verdict(C, [above], "x/a", "y/a", 81).allowed
    udp = cnp(
        "udp",
        "Admin",
        1,
        ns("y"),
        [rule("Deny", ns("x"), protocols=[{"udp": {"destinationPort": {"number": 80}}}])],
    )
    assert not verdict(C, [udp], "x/a", "y/a", 80, Protocol.UDP).allowed
    assert verdict(C, [udp], "x/a", "y/a", 80, Protocol.TCP).allowed
    named = cnp(
        "named",
        "Admin",
        1,
        ns("y"),
        [rule("Deny", ns("x"), protocols=[{"destinationNamedPort": "alt"}])],
    )
    assert not verdict(C, [named], "x/a", "y/a", 81).allowed  # alt is 81/TCP on y/a
    assert verdict(C, [named], "x/a", "y/a", 80).allowed


def test_egress_accept_does_not_bypass_the_destinations_ingress() -> None:
    out = cnp("out", "Admin", 1, ns("x"), egress=[rule("Accept", ns("y"))])
    v = verdict(C, [out, DENY_ALL_INGRESS_Y], "x/a", "y/a")
    assert v.egress.allowed and v.egress.tier == "Admin"
    assert not v.ingress.allowed and not v.allowed and v.reason == "denied by ingress"
    # And an egress NetworkPolicy of x that would deny is overridden by the Admin Accept.
    no_egress = policy("x", "no-egress", {"podSelector": {}, "policyTypes": ["Egress"]})
    assert verdict(C, [out, no_egress], "x/a", "y/a").allowed
    assert not verdict(C, [out, no_egress], "x/a", "x/b").allowed


def test_hairpin_own_ip_is_never_subject_but_through_a_service_it_is() -> None:
    deny_all = cnp("deny-all", "Admin", 1, ns("x"), [rule("Deny", {"namespaces": {}})])
    oracle = Oracle(C, [deny_all])
    own = oracle.verdict(Probe("x/a", "x/a", 80))
    assert own.allowed and own.ignored == ""  # defined: cluster policies never apply
    assert own.ingress.tier == ""
    assert not oracle.verdict(Probe("x/b", "x/a", 80)).allowed
    service = oracle.verdict(Probe("x/a", "x/a", 80, service=True))
    assert not service.allowed and service.ingress.tier == "Admin"
    # A dataplane whose socket-level load balancer never sees the Service: a profile.
    lenient = Oracle(C, [deny_all], Profile(cnp_service_hairpin=False))
    assert lenient.verdict(Probe("x/a", "x/a", 80, service=True)).allowed
    # A NetworkPolicy isolating the pod: its loopback semantics are undefined, left out.
    isolated = Oracle(C, [deny_all, policy("x", "iso", {"podSelector": {}})])
    assert isolated.verdict(Probe("x/a", "x/a", 80)).ignored == "loopback"
    # No policy of either kind about the pod: left out as before.
    assert Oracle(C, []).verdict(Probe("x/a", "x/a", 80)).ignored == "loopback"


def test_pass_in_baseline_skips_the_rest_of_baseline() -> None:
    passing = cnp("p", "Baseline", 1, ns("y"), [rule("Pass", ns("x"))])
    deny = cnp("q", "Baseline", 2, ns("y"), [rule("Deny", {"namespaces": {}})])
    v = verdict(C, [passing, deny], "x/a", "y/a")
    assert v.allowed and v.ingress.tier == "" and [r.policy for r in v.ingress.passed] == ["p"]
    assert not verdict(C, [passing, deny], "y/b", "y/a").allowed


def test_host_network_pods_are_never_subjects_or_selector_peers() -> None:
    host = Pod("x", "h", {"pod": "h"}, "10.0.0.9", WEB, host_network=True)
    with_host = C.__class__(C.namespaces, (*C.pods, host))
    deny = cnp("deny", "Admin", 1, ns("x"), [rule("Deny", {"namespaces": {}})])
    oracle = Oracle(with_host, [deny])
    assert oracle.verdict(Probe("y/a", "x/h", 80)).ingress.allowed  # not a subject
    assert not oracle.verdict(Probe("y/a", "x/a", 80)).ingress.allowed
    from_host = oracle.verdict(Probe("x/h", "x/a", 80))
    assert from_host.ingress.allowed  # not a namespaces peer either


def test_an_experimental_peer_the_oracle_cannot_judge_leaves_the_cell_out() -> None:
    host = Pod("y", "h", {"pod": "h"}, "10.0.1.9", WEB, host_network=True)
    with_host = C.__class__(C.namespaces, (*C.pods, host))
    nodes = cnp("nodes", "Admin", 1, ns("x"), egress=[rule("Deny", {"nodes": {}})])
    # A node is no ordinary pod: the rule cannot match y/a, the cell is judged.
    assert verdict(with_host, [nodes], "x/a", "y/a").ignored == ""
    assert verdict(with_host, [nodes], "x/a", "y/a").allowed
    # A host-network pod's address is its node's: whether the selector picks it is unknown.
    v = Oracle(with_host, [nodes], Profile(host_network=HostNetworkMode.AS_PODS)).verdict(
        Probe("x/a", "y/h", 80)
    )
    assert v.ignored == "unsupported" and "nodes" in v.egress.unsupported
    assert "cannot judge Admin nodes (priority 1) egress[0] (nodes)" in v.egress.reason
    # What a domain name resolves to is unknown for every address.
    names = cnp(
        "names", "Admin", 1, ns("x"), egress=[rule("Accept", {"domainNames": ["example.com"]})]
    )
    assert verdict(C, [names], "x/a", "y/a").ignored == "unsupported"
    first = cnp("first", "Admin", 0, ns("x"), egress=[rule("Deny", {"namespaces": {}})])
    # Decided before the domain rule is reached: judged.
    decided = verdict(C, [first, names], "x/a", "y/a")
    assert decided.ignored == "" and not decided.allowed


def test_the_bulk_matrix_agrees_with_single_verdicts() -> None:
    policies = [
        cnp("a", "Admin", 1, ns("y"), [rule("Pass", pod("x", "a")), rule("Deny", ns("x"))]),
        cnp(
            "b",
            "Admin",
            1,
            {"namespaces": {}},
            egress=[rule("Deny", {"networks": ["10.0.1.4/32"]})],
        ),
        cnp("c", "Baseline", 3, ns("x"), [rule("Deny", ns("y"), protocols=tcp(80))]),
        DENY_ALL_INGRESS_Y,
        policy(
            "y",
            "from-xa",
            {
                "podSelector": {},
                "ingress": [
                    {
                        "from": [
                            {"namespaceSelector": {}, "podSelector": {"matchLabels": {"pod": "a"}}}
                        ]
                    }
                ],
            },
        ),
    ]
    for port, protocol in ((80, Protocol.TCP), (81, Protocol.TCP), (80, Protocol.UDP)):
        bulk = Oracle(C, policies).matrix(port, protocol)
        single = Oracle(C, policies)
        for v in bulk:
            one = single.verdict(v.probe)
            assert (one.allowed, one.ignored, one.reason) == (v.allowed, v.ignored, v.reason)
            assert one.ingress.reason == v.ingress.reason and one.egress.reason == v.egress.reason
    # Hand-checked cells of that mix at 80/TCP.
    oracle = Oracle(C, policies)
    assert oracle.verdict(Probe("x/a", "y/a", 80)).allowed  # passed; NP from-xa allows
    assert not oracle.verdict(Probe("x/b", "y/a", 80)).allowed  # Admin a ingress[1]
    assert not oracle.verdict(Probe("x/a", "y/b", 80)).allowed  # Admin b: networks 10.0.1.4
    assert not oracle.verdict(Probe("y/a", "x/a", 80)).allowed  # Baseline c at 80
    assert oracle.verdict(Probe("y/a", "x/a", 81)).allowed  # ... not at 81
    assert oracle.verdict(Probe("y/a", "x/a", 81)).ingress.tier == ""


def test_rule_ref_text_names_tier_policy_priority_rule_and_name() -> None:
    ref = RuleRef("guard", Direction.EGRESS, 2, None)
    assert str(ref) == "guard egress[2]"
    guard = cnp("guard", "Baseline", 900, ns("x"), egress=[rule("Deny", ns("y"), name="r")])
    v = verdict(C, [guard], "x/a", "y/a")
    assert str(v.egress.decided_by) == "Baseline guard (priority 900) egress[0] 'r'"


def test_expect_takes_a_file_mixing_both_kinds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = {
        "namespaces": {"x": {}, "y": {}},
        "pods": [
            {"namespace": "x", "name": "a", "ip": "10.1.0.1", "ports": [{"port": 80}]},
            {"namespace": "y", "name": "b", "ip": "10.1.0.2", "ports": [{"port": 80}]},
        ],
    }
    guard = {
        "apiVersion": "policy.networking.k8s.io/v1beta1",
        "kind": "ClusterNetworkPolicy",
        "metadata": {"name": "guard"},
        "spec": {
            "tier": "Admin",
            "priority": 4,
            "subject": {"namespaces": {"matchLabels": {NAME: "y"}}},
            "ingress": [{"name": "no-x", "action": "Deny", "from": [ns("x")]}],
        },
    }
    allow = {
        "metadata": {"name": "allow", "namespace": "y"},
        "spec": {"podSelector": {}, "ingress": [{}]},
    }
    path = tmp_path / "mixed.yaml"
    path.write_text(yaml.safe_dump({"model": model, "policies": [allow, guard]}))
    assert main(["expect", str(path)]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    cell = next(r for r in results if (r["from"], r["to"]) == ("x/a", "y/b"))
    assert cell["allowed"] is False
    assert cell["ingress"]["tier"] == "Admin"
    assert cell["ingress"]["decided_by"] == {
        "policy": "guard",
        "rule": "ingress[0]",
        "kind": "ClusterNetworkPolicy",
        "tier": "Admin",
        "priority": 4,
        "name": "no-x",
        "action": "Deny",
    }
    back = next(r for r in results if (r["from"], r["to"]) == ("y/b", "y/b"))
    assert back["ingress"]["tier"] == "NetworkPolicy" and back["ignored"] == "loopback"
    assert main(["expect", str(path), "--format", "table"]) == 0
    assert capsys.readouterr().out.splitlines()[2].split() == ["x/a", ".", "X"]
