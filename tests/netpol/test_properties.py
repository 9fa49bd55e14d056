"""Invariants of the oracle over random clusters and policies (hypothesis)."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from netconform.netpol.model import Cluster, ContainerPort, Namespace, Pod, Protocol
from netconform.netpol.oracle import Probe, default_probes, evaluate
from netconform.netpol.policy import NetworkPolicy
from netconform.netpol.validation import parse_policy

NAMESPACES = ("x", "y", "z")
PORTS = (
    ContainerPort(80, Protocol.TCP, "web"),
    ContainerPort(81, Protocol.UDP, "web"),
    ContainerPort(82, Protocol.SCTP, "s"),
)

labels_st = st.dictionaries(
    st.sampled_from(["app", "tier"]), st.sampled_from(["a", "b"]), max_size=2
)
selector_st = st.one_of(
    st.just({}),
    labels_st.map(lambda m: {"matchLabels": m}),
    st.tuples(
        st.sampled_from(["app", "tier"]), st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"])
    ).map(
        lambda t: {
            "matchExpressions": [
                {
                    "key": t[0],
                    "operator": t[1],
                    **({"values": ["a"]} if t[1] in ("In", "NotIn") else {}),
                }
            ]
        }
    ),
)
peer_st = st.one_of(
    selector_st.map(lambda s: {"podSelector": s}),
    selector_st.map(lambda s: {"namespaceSelector": s}),
    st.tuples(selector_st, selector_st).map(
        lambda t: {"namespaceSelector": t[0], "podSelector": t[1]}
    ),
    st.sampled_from(["10.0.0.0/8", "10.1.0.0/16", "10.2.0.0/24"]).map(
        lambda c: {"ipBlock": {"cidr": c}}
    ),
)
port_st = st.one_of(
    st.builds(lambda p: {"port": p}, st.sampled_from([80, 81, 82])),
    st.builds(
        lambda p, pr: {"port": p, "protocol": pr},
        st.sampled_from([80, "web", "s"]),
        st.sampled_from(["TCP", "UDP", "SCTP"]),
    ),
    st.builds(lambda pr: {"protocol": pr}, st.sampled_from(["TCP", "UDP", "SCTP"])),
    st.just({"port": 79, "endPort": 81}),
)
rule_st = st.fixed_dictionaries(
    {}, optional={"peers": st.lists(peer_st, max_size=2), "ports": st.lists(port_st, max_size=2)}
)


@st.composite
def policy_st(draw: st.DrawFn, name: str = "", namespace: str | None = None) -> NetworkPolicy:
    ns = namespace or draw(st.sampled_from(NAMESPACES))
    spec: dict[str, Any] = {"podSelector": draw(selector_st)}
    for direction, key in (("ingress", "from"), ("egress", "to")):
        if draw(st.booleans()):
            rules = draw(st.lists(rule_st, max_size=2))
            spec[direction] = [
                {
                    **({key: r["peers"]} if "peers" in r else {}),
                    **({"ports": r["ports"]} if "ports" in r else {}),
                }
                for r in rules
            ]
    types = draw(st.sampled_from([None, ["Ingress"], ["Egress"], ["Ingress", "Egress"]]))
    if types:
        spec["policyTypes"] = types
    name = name or f"p{draw(st.integers(0, 10**6))}"
    return parse_policy({"metadata": {"name": name, "namespace": ns}, "spec": spec})


@st.composite
def cluster_st(draw: st.DrawFn) -> Cluster:
    count = draw(st.integers(2, 6))
    pods = []
    for i in range(count):
        ns = draw(st.sampled_from(NAMESPACES))
        pods.append(Pod(ns, f"p{i}", draw(labels_st), f"10.{i % 3}.0.{i + 1}", PORTS))
    namespaces = tuple(Namespace(n, draw(labels_st)) for n in NAMESPACES)
    return Cluster(namespaces, tuple(pods))


def policies_st() -> st.SearchStrategy[list[NetworkPolicy]]:
    return st.lists(policy_st(), max_size=4, unique_by=lambda p: p.key)


def table(cluster: Cluster, policies: list[NetworkPolicy]) -> dict[Probe, bool]:
    return {v.probe: v.allowed for v in evaluate(cluster, policies)}


@settings(max_examples=60, deadline=None)
@given(cluster_st(), policies_st(), st.randoms())
def test_policy_order_never_matters(
    cluster: Cluster, policies: list[NetworkPolicy], rnd: random.Random
) -> None:
    shuffled = list(policies)
    rnd.shuffle(shuffled)
    assert table(cluster, policies) == table(cluster, shuffled)


@settings(max_examples=60, deadline=None)
@given(
    cluster_st(), policies_st(), st.sampled_from(NAMESPACES), st.sampled_from(["ingress", "egress"])
)
def test_an_allow_all_rule_never_denies_more(
    cluster: Cluster, policies: list[NetworkPolicy], namespace: str, direction: str
) -> None:
    allow_all = parse_policy(
        {
            "metadata": {"name": "allow-all-zz", "namespace": namespace},
            "spec": {"podSelector": {}, direction: [{}], "policyTypes": [direction.capitalize()]},
        }
    )
    before = table(cluster, policies)
    after = table(cluster, [*policies, allow_all])
    assert all(after[p] for p, ok in before.items() if ok)


@settings(max_examples=60, deadline=None)
@given(cluster_st(), policies_st())
def test_a_pod_selected_by_no_policy_is_not_isolated(
    cluster: Cluster, policies: list[NetworkPolicy]
) -> None:
    for v in evaluate(cluster, policies):
        dst = cluster.pod(v.probe.destination)
        src = cluster.pod(v.probe.source)
        selects_dst = any(
            p.namespace == dst.namespace
            and p.pod_selector.matches(dst.labels)
            and p.isolates(v.ingress.direction)
            for p in policies
        )
        selects_src = any(
            p.namespace == src.namespace
            and p.pod_selector.matches(src.labels)
            and p.isolates(v.egress.direction)
            for p in policies
        )
        assert v.ingress.isolated == selects_dst
        assert v.egress.isolated == selects_src
        if not selects_dst:
            assert v.ingress.allowed


@settings(max_examples=60, deadline=None)
@given(cluster_st(), policies_st(), policy_st(name="added-zz"))
def test_a_new_policy_only_changes_cells_touching_its_namespace(
    cluster: Cluster, policies: list[NetworkPolicy], added: NetworkPolicy
) -> None:
    before = table(cluster, policies)
    after = table(cluster, [*policies, added])
    for probe, ok in before.items():
        ends = {probe.source.split("/")[0], probe.destination.split("/")[0]}
        if added.namespace not in ends:
            assert after[probe] == ok


@settings(max_examples=60, deadline=None)
@given(cluster_st(), policies_st())
def test_allowed_iff_served_and_both_directions_allow(
    cluster: Cluster, policies: list[NetworkPolicy]
) -> None:
    results = evaluate(cluster, policies)
    assert len(results) == len(default_probes(cluster))
    for v in results:
        assert v.allowed == (v.served and v.egress.allowed and v.ingress.allowed)
        assert v.ingress.allowed == (not v.ingress.isolated or bool(v.ingress.allowed_by))
        assert (v.ignored == "loopback") == (v.probe.source == v.probe.destination)
