"""One test (or a few) per NetworkPolicy semantic rule."""

from __future__ import annotations

from netconform.netpol.model import (
    Cluster,
    ContainerPort,
    Namespace,
    Pod,
    Protocol,
)
from netconform.netpol.oracle import HostNetworkMode, Oracle, Probe, Profile, evaluate
from netconform.netpol.policy import Direction

from .helpers import allowed, cluster, policy, verdict

TCP, UDP, SCTP = Protocol.TCP, Protocol.UDP, Protocol.SCTP
DENY_INGRESS = {"podSelector": {}, "policyTypes": ["Ingress"]}


def test_no_policy_allows_everything_and_isolates_nothing() -> None:
    results = evaluate(cluster(), [])
    assert results
    assert all(r.allowed and not r.ingress.isolated and not r.egress.isolated for r in results)


def test_policy_only_isolates_pods_of_its_own_namespace() -> None:
    c = cluster()
    deny = policy("x", "deny", DENY_INGRESS)
    assert not allowed(c, [deny], "y/a", "x/b")
    assert allowed(c, [deny], "x/a", "y/b")


def test_policy_only_isolates_selected_pods() -> None:
    c = cluster()
    deny_a = policy("x", "deny", {"podSelector": {"matchLabels": {"pod": "a"}}})
    assert not allowed(c, [deny_a], "y/a", "x/a")
    assert allowed(c, [deny_a], "y/a", "x/b")


def test_policy_types_default_to_ingress_without_egress_rules() -> None:
    c = cluster()
    p = policy("x", "p", {"podSelector": {}, "ingress": [{}]})
    assert p.policy_types == (Direction.INGRESS,)
    v = verdict(c, [p], "x/a", "y/a")
    assert not v.egress.isolated


def test_policy_types_default_adds_egress_when_egress_rules_exist() -> None:
    c = cluster()
    p = policy("x", "p", {"podSelector": {}, "egress": [{"ports": [{"port": 81}]}]})
    assert p.policy_types == (Direction.INGRESS, Direction.EGRESS)
    # Ingress is isolated too (no ingress rules): the classic defaulting surprise.
    assert not allowed(c, [p], "y/a", "x/a", 81)
    assert not allowed(c, [p], "x/a", "y/a", 80)
    assert allowed(c, [p], "x/a", "y/a", 81)


def test_empty_egress_list_without_policy_types_does_not_isolate_egress() -> None:
    p = policy("x", "p", {"podSelector": {}, "egress": []})
    assert p.policy_types == (Direction.INGRESS,)
    assert verdict(cluster(), [p], "x/a", "y/a").egress.isolated is False


def test_explicit_egress_type_ignores_ingress_rules() -> None:
    p = policy("x", "p", {"podSelector": {}, "ingress": [], "policyTypes": ["Egress"]})
    c = cluster()
    assert allowed(c, [p], "y/a", "x/a")  # ingress rules are ignored: not isolated
    assert not allowed(c, [p], "x/a", "y/a")  # egress isolated with no rules


def test_empty_rule_list_denies_and_empty_rule_allows() -> None:
    c = cluster()
    deny = policy("x", "p", {"podSelector": {}, "ingress": []})
    allow = policy("x", "p", {"podSelector": {}, "ingress": [{}]})
    assert not allowed(c, [deny], "y/a", "x/a")
    assert allowed(c, [allow], "y/a", "x/a", 81)


def test_absent_and_empty_from_both_mean_every_source() -> None:
    c = cluster()
    absent = policy("x", "p", {"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]})
    empty = policy(
        "x", "p", {"podSelector": {}, "ingress": [{"from": [], "ports": [{"port": 80}]}]}
    )
    for p in (absent, empty):
        assert allowed(c, [p], "y/b", "x/a")
        assert not allowed(c, [p], "y/b", "x/a", 81)


def test_absent_and_empty_ports_both_mean_every_port() -> None:
    c = cluster()
    absent = policy("x", "p", {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]})
    empty = policy(
        "x", "p", {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}], "ports": []}]}
    )
    for p in (absent, empty):
        for port, proto in ((80, TCP), (81, TCP), (80, UDP), (80, SCTP)):
            assert allowed(c, [p], "x/b", "x/a", port, proto)


def test_pod_selector_peer_is_limited_to_the_policy_namespace() -> None:
    c = cluster()
    p = policy(
        "x",
        "p",
        {
            "podSelector": {},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}],
        },
    )
    assert allowed(c, [p], "x/b", "x/a")
    assert not allowed(c, [p], "y/b", "x/a")


def test_namespace_selector_peer_takes_every_pod_of_matching_namespaces() -> None:
    c = cluster(namespaces={"x": {}, "y": {"team": "blue"}})
    p = policy(
        "x",
        "p",
        {
            "podSelector": {},
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "blue"}}}]}],
        },
    )
    assert allowed(c, [p], "y/a", "x/a")
    assert allowed(c, [p], "y/b", "x/a")
    assert not allowed(c, [p], "x/b", "x/a")


def test_namespace_and_pod_selector_in_one_peer_are_anded() -> None:
    c = cluster()
    peer = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "y"}},
        "podSelector": {"matchLabels": {"pod": "b"}},
    }
    p = policy("x", "p", {"podSelector": {}, "ingress": [{"from": [peer]}]})
    assert allowed(c, [p], "y/b", "x/a")
    assert not allowed(c, [p], "y/a", "x/a")
    assert not allowed(c, [p], "x/b", "x/a")


def test_two_peers_are_ored() -> None:
    c = cluster()
    peers = [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "y"}}},
        {"podSelector": {"matchLabels": {"pod": "b"}}},
    ]
    p = policy(
        "x", "p", {"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": peers}]}
    )
    assert allowed(c, [p], "y/a", "x/a")
    assert allowed(c, [p], "x/b", "x/a")
    assert not allowed(c, [p], "x/a", "x/a")


def test_empty_namespace_selector_with_pod_selector_spans_all_namespaces() -> None:
    c = cluster()
    peer = {"namespaceSelector": {}, "podSelector": {"matchLabels": {"pod": "b"}}}
    p = policy("x", "p", {"podSelector": {}, "ingress": [{"from": [peer]}]})
    assert allowed(c, [p], "y/b", "x/a")
    assert allowed(c, [p], "x/b", "x/a")
    assert not allowed(c, [p], "y/a", "x/a")


def test_match_expressions_not_in_and_does_not_exist_match_missing_keys() -> None:
    c = cluster([("x/a", {"pod": "a"}), ("x/b", {"pod": "b"}), ("x/n", {})])
    not_in = {
        "podSelector": {"matchExpressions": [{"key": "pod", "operator": "NotIn", "values": ["b"]}]}
    }
    absent = {"podSelector": {"matchExpressions": [{"key": "pod", "operator": "DoesNotExist"}]}}
    p1 = policy(
        "x", "p", {"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [not_in]}]}
    )
    assert allowed(c, [p1], "x/n", "x/a")
    assert not allowed(c, [p1], "x/b", "x/a")
    p2 = policy(
        "x", "p", {"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [absent]}]}
    )
    assert allowed(c, [p2], "x/n", "x/a")
    assert not allowed(c, [p2], "x/b", "x/a")


def test_namespace_name_label_is_always_present() -> None:
    ns = Namespace("x", {"kubernetes.io/metadata.name": "forged", "team": "a"})
    assert ns.labels == {"kubernetes.io/metadata.name": "x", "team": "a"}


def test_ip_block_with_except() -> None:
    c = cluster()  # x/a 10.0.0.1, x/b 10.0.0.2, y/a 10.0.1.3, y/b 10.0.1.4
    block = {"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.0.1.0/24"]}}
    p = policy(
        "x",
        "p",
        {
            "podSelector": {"matchLabels": {"pod": "a"}},
            "egress": [{"to": [block]}],
            "policyTypes": ["Egress"],
        },
    )
    assert allowed(c, [p], "x/a", "x/b")
    assert not allowed(c, [p], "x/a", "y/a")


def test_ip_block_profile_knob_stops_matching_pod_ips() -> None:
    c = cluster()
    p = policy(
        "x", "p", {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]}
    )
    assert allowed(c, [p], "y/a", "x/a")
    assert not allowed(c, [p], "y/a", "x/a", profile=Profile(ipblock_matches_pods=False))


def test_named_port_resolves_on_each_destination_for_the_protocol() -> None:
    ports_b = (ContainerPort(80, TCP, "web"),)
    ports_c = (
        ContainerPort(81, TCP, "web"),
        ContainerPort(80, TCP, "other"),
        ContainerPort(81, UDP, "web"),
    )
    c = Cluster(
        (Namespace("x"),),
        (
            Pod("x", "a", {"pod": "a"}, "10.0.0.1", ports_b),
            Pod("x", "b", {"pod": "b"}, "10.0.0.2", ports_b),
            Pod("x", "c", {"pod": "c"}, "10.0.0.3", ports_c),
        ),
    )
    p = policy(
        "x",
        "p",
        {"podSelector": {}, "egress": [{"ports": [{"port": "web"}]}], "policyTypes": ["Egress"]},
    )
    assert allowed(c, [p], "x/a", "x/b", 80)
    assert not allowed(c, [p], "x/a", "x/c", 80)
    assert allowed(c, [p], "x/a", "x/c", 81)
    assert not allowed(c, [p], "x/a", "x/c", 81, UDP)  # named port with protocol defaulted TCP
    udp = policy(
        "x",
        "p",
        {
            "podSelector": {},
            "egress": [{"ports": [{"port": "web", "protocol": "UDP"}]}],
            "policyTypes": ["Egress"],
        },
    )
    assert allowed(c, [udp], "x/a", "x/c", 81, UDP)
    assert not allowed(c, [udp], "x/a", "x/c", 81, TCP)


def test_named_port_of_the_source_is_irrelevant() -> None:
    # aws-network-policy-agent#149 resolved ingress names on the source; Kubernetes does not.
    src_ports = (ContainerPort(81, TCP, "web"),)
    dst_ports = (ContainerPort(80, TCP, "web"), ContainerPort(81, TCP, "alt"))
    c = Cluster(
        (Namespace("x"),),
        (Pod("x", "s", {}, "10.0.0.1", src_ports), Pod("x", "d", {}, "10.0.0.2", dst_ports)),
    )
    p = policy("x", "p", {"podSelector": {}, "ingress": [{"ports": [{"port": "web"}]}]})
    assert allowed(c, [p], "x/s", "x/d", 80)
    assert not allowed(c, [p], "x/s", "x/d", 81)


def test_end_port_range_is_inclusive_and_per_protocol() -> None:
    ports = (*tuple(ContainerPort(n, TCP) for n in (79, 80, 85, 90, 91)), ContainerPort(85, UDP))
    c = Cluster(
        (Namespace("x"),),
        (Pod("x", "a", {}, "10.0.0.1", ports), Pod("x", "b", {}, "10.0.0.2", ports)),
    )
    p = policy("x", "p", {"podSelector": {}, "ingress": [{"ports": [{"port": 80, "endPort": 90}]}]})
    results = {port: allowed(c, [p], "x/a", "x/b", port) for port in (79, 80, 85, 90, 91)}
    assert results == {79: False, 80: True, 85: True, 90: True, 91: False}
    assert not allowed(c, [p], "x/a", "x/b", 85, UDP)


def test_protocol_defaults_to_tcp() -> None:
    c = cluster()
    p = policy("x", "p", {"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]})
    assert allowed(c, [p], "y/a", "x/a", 80, TCP)
    assert not allowed(c, [p], "y/a", "x/a", 80, UDP)
    assert not allowed(c, [p], "y/a", "x/a", 80, SCTP)


def test_protocol_without_port_means_every_port_of_that_protocol() -> None:
    c = cluster()
    p = policy("x", "p", {"podSelector": {}, "ingress": [{"ports": [{"protocol": "SCTP"}]}]})
    assert allowed(c, [p], "y/a", "x/a", 80, SCTP)
    assert not allowed(c, [p], "y/a", "x/a", 80, TCP)
    assert not allowed(c, [p], "y/a", "x/a", 81, TCP)


def test_policies_add_up() -> None:
    c = cluster()
    p80 = policy("x", "p80", {"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]})
    p81 = policy("x", "p81", {"podSelector": {}, "ingress": [{"ports": [{"port": 81}]}]})
    assert not allowed(c, [p80], "y/a", "x/a", 81)
    assert allowed(c, [p80, p81], "y/a", "x/a", 81)
    assert allowed(c, [p81, p80], "y/a", "x/a", 80)


def test_both_egress_of_source_and_ingress_of_destination_must_allow() -> None:
    c = cluster()
    egress_ok = policy("x", "e", {"podSelector": {}, "egress": [{}], "policyTypes": ["Egress"]})
    ingress_deny = policy("y", "i", DENY_INGRESS)
    v = verdict(c, [egress_ok, ingress_deny], "x/a", "y/a")
    assert v.egress.allowed
    assert not v.ingress.allowed
    assert not v.allowed
    assert v.reason == "denied by ingress"


def test_probe_to_a_port_the_destination_does_not_serve_is_denied() -> None:
    v = verdict(cluster(), [], "x/a", "y/a", 8080)
    assert not v.allowed
    assert not v.served
    assert v.reason == "y/a does not serve 8080/TCP"


def test_explanation_names_the_allowing_rule() -> None:
    p = policy(
        "x",
        "p",
        {"podSelector": {}, "ingress": [{"ports": [{"port": 81}]}, {"ports": [{"port": 80}]}]},
    )
    v = verdict(cluster(), [p], "y/a", "x/a")
    assert [str(r) for r in v.ingress.allowed_by] == ["x/p ingress[1]"]
    assert v.ingress.isolated_by == ("x/p",)


def test_explanation_of_a_denial_names_the_closest_rule_and_the_failed_part() -> None:
    peer = {"podSelector": {"matchLabels": {"pod": "b"}}}
    p = policy(
        "x",
        "p",
        {
            "podSelector": {},
            "ingress": [
                {
                    "from": [{"podSelector": {"matchLabels": {"pod": "zzz"}}}],
                    "ports": [{"port": 443}],
                },
                {"from": [peer], "ports": [{"port": 81}]},
            ],
        },
    )
    v = verdict(cluster(), [p], "x/b", "x/a", 80)
    assert v.ingress.closest is not None
    assert str(v.ingress.closest.rule) == "x/p ingress[1]"
    assert v.ingress.closest.failed == "ports"
    assert "80/TCP is not among 81/TCP" in v.ingress.reason
    w = verdict(cluster(), [p], "y/b", "x/a", 81)
    assert w.ingress.closest is not None
    assert w.ingress.closest.failed == "peers"


def test_explanation_of_deny_all() -> None:
    v = verdict(cluster(), [policy("x", "deny", DENY_INGRESS)], "y/a", "x/a")
    assert v.ingress.closest is None
    assert (
        v.ingress.reason
        == "destination is isolated for ingress by x/deny, which have no ingress rules"
    )


def test_loopback_cells_are_computed_but_flagged() -> None:
    c = cluster()
    deny = policy("x", "deny", DENY_INGRESS)
    v = verdict(c, [deny], "x/a", "x/a")
    assert not v.allowed
    assert v.ignored == "loopback"
    assert verdict(c, [deny], "x/a", "x/a", profile=Profile(ignore_loopback=False)).ignored == ""


def _host_network_cluster() -> Cluster:
    return Cluster(
        (Namespace("x"),),
        (
            Pod("x", "a", {"pod": "a"}, "10.0.0.1", (ContainerPort(80),)),
            Pod("x", "h", {"pod": "h"}, "192.168.0.5", (ContainerPort(80),), host_network=True),
        ),
    )


def test_host_network_pods_are_unselected_by_default_and_flagged() -> None:
    c = _host_network_cluster()
    deny = policy("x", "deny", DENY_INGRESS)
    from_pods = policy(
        "x",
        "p",
        {
            "podSelector": {"matchLabels": {"pod": "a"}},
            "ingress": [{"from": [{"podSelector": {}}]}],
        },
    )
    to_h = Oracle(c, [deny]).verdict(Probe("x/a", "x/h", 80))
    assert to_h.allowed
    assert to_h.ignored == "hostNetwork"
    assert not Oracle(c, [from_pods]).verdict(Probe("x/h", "x/a", 80)).allowed
    as_pods = Profile(host_network=HostNetworkMode.AS_PODS)
    assert not Oracle(c, [deny], as_pods).verdict(Probe("x/a", "x/h", 80)).allowed
    assert Oracle(c, [from_pods], as_pods).verdict(Probe("x/h", "x/a", 80)).allowed


def test_host_network_pods_match_ip_blocks_by_node_ip_even_when_pod_ips_do_not() -> None:
    c = _host_network_cluster()
    p = policy(
        "x",
        "p",
        {
            "podSelector": {"matchLabels": {"pod": "a"}},
            "ingress": [{"from": [{"ipBlock": {"cidr": "192.168.0.0/24"}}]}],
        },
    )
    profile = Profile(ipblock_matches_pods=False, host_network=HostNetworkMode.UNSELECTED)
    v = Oracle(c, [p], profile).verdict(Probe("x/h", "x/a", 80))
    assert v.allowed
    assert v.ignored == ""
