"""ipBlock in every position, judged against an independent reference (issue 22).

A CNI whose ipBlock never selects in-cluster endpoints (Cilium: CIDR rules select only
addresses outside the cluster) is the profile `Profile(ipblock_matches_pods=False)`. For
every generated placement of an ipBlock peer (ingress and egress; with and without
`except`; alone, beside podSelector/namespaceSelector peers in the same rule and in other
rules, in other policies selecting the same pods, deny-all beside allow-by-ipBlock; ports
or not; policyTypes written or defaulted) the oracle's matrix under that profile must equal
the reference below, in which an ipBlock peer matches no pod at all; and under the default
profile, the reference in which it matches the pods whose IP it covers.

The reference is written here from the documentation's rules, cell by cell, without the
oracle's compilation (https://kubernetes.io/docs/concepts/services-networking/network-policies/):
a side is isolated when a policy of its namespace selects it for that direction; an
isolated side allows what some rule of those policies allows (peers OR'ed, ports OR'ed,
peers AND ports); both sides must allow, and the destination must serve the port.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netconform.netpol.model import Cluster, Pod, Protocol
from netconform.netpol.oracle import Oracle, Probe, Profile
from netconform.netpol.policy import Direction, NetworkPolicy, Peer, Rule

from .helpers import cluster, policy

# x/a 10.0.0.1, x/b 10.0.0.2, y/a 10.0.1.3, y/b 10.0.1.4, z/a 10.0.2.5 (helpers.cluster)
PODS = (
    ("x/a", {"pod": "a"}),
    ("x/b", {"pod": "b"}),
    ("y/a", {"pod": "a"}),
    ("y/b", {"pod": "b"}),
    ("z/a", {"pod": "a"}),
)
NAMESPACE_LABELS = {"x": {"team": "red"}, "y": {"team": "blue"}, "z": {}}
CLUSTER = cluster(PODS, NAMESPACE_LABELS)
PROBED = ((80, Protocol.TCP), (81, Protocol.TCP), (80, Protocol.UDP))
CILIUM = Profile(ipblock_matches_pods=False)

BLOCKS: dict[str, dict[str, Any]] = {
    "all": {"cidr": "0.0.0.0/0"},
    "all-except-y": {"cidr": "0.0.0.0/0", "except": ["10.0.1.0/24"]},
    "x-only": {"cidr": "10.0.0.0/24"},
    "pods-except-x/a": {"cidr": "10.0.0.0/16", "except": ["10.0.0.1/32"]},
    "outside": {"cidr": "192.168.0.0/16"},
    "all-v6": {"cidr": "::/0"},  # another family: covers none of the (IPv4) pods
}
PORTS: dict[str, list[dict[str, Any]] | None] = {
    "no-ports": None,
    "80": [{"port": 80}],
    "named-alt": [{"port": "alt"}],
    "udp-any": [{"protocol": "UDP"}],
}
TARGETS: dict[str, dict[str, Any]] = {"all-pods": {}, "pod=a": {"matchLabels": {"pod": "a"}}}
POD_B = {"podSelector": {"matchLabels": {"pod": "b"}}}
NS_BLUE = {"namespaceSelector": {"matchLabels": {"team": "blue"}}}
ANY_NS_POD_A = {"namespaceSelector": {}, "podSelector": {"matchLabels": {"pod": "a"}}}


PolicySpec = tuple[str, str, dict[str, Any]]  # namespace, name, spec


def positions(
    direction: Direction, block: Mapping[str, Any], ports: Any, target: Any
) -> dict[str, list[PolicySpec]]:
    """Every position of the ipBlock peer, by name: the policies of that combination."""
    key = direction.peers_field
    ip = {"ipBlock": dict(block)}

    def rule(peers: list[dict[str, Any]], rule_ports: Any = ports) -> dict[str, Any]:
        out: dict[str, Any] = {key: peers}
        if rule_ports:
            out["ports"] = rule_ports
        return out

    def spec(selector: Any, rules: list[dict[str, Any]] | None) -> dict[str, Any]:
        out: dict[str, Any] = {"podSelector": selector}
        if rules is not None:
            out[direction.rules_field] = rules
        return out

    return {
        "alone": [("x", "ip", spec(target, [rule([ip])]))],
        "beside-pod-selector": [("x", "ip", spec(target, [rule([ip, POD_B])]))],
        "beside-namespace-selector": [("x", "ip", spec(target, [rule([ip, NS_BLUE])]))],
        "beside-both-selectors": [("x", "ip", spec(target, [rule([ip, ANY_NS_POD_A])]))],
        "own-rule-beside-pod-selector-rule": [
            ("x", "ip", spec(target, [rule([ip]), rule([POD_B], None)]))
        ],
        "own-rule-beside-ported-namespace-rule": [
            ("x", "ip", spec(target, [rule([ip]), rule([NS_BLUE], [{"port": 81}])]))
        ],
        "deny-all-policy-plus-ipblock-policy": [
            ("x", "deny", spec(target, None)),
            ("x", "ip", spec(target, [rule([ip])])),
        ],
        "deny-all-of-namespace-plus-ipblock-policy": [
            ("x", "deny", spec({}, None)),
            ("x", "ip", spec(target, [rule([ip])])),
        ],
        "selector-policy-plus-ipblock-policy": [
            ("x", "pods", spec(target, [rule([POD_B, NS_BLUE], None)])),
            ("x", "ip", spec(target, [rule([ip])])),
        ],
        "ipblock-policies-in-two-namespaces": [
            ("x", "ip", spec(target, [rule([ip])])),
            ("y", "ip", spec({}, [rule([ip, POD_B])])),
        ],
        "beside-an-allow-all-rule": [("x", "ip", spec(target, [rule([ip]), {}]))],
    }


POSITIONS = tuple(positions(Direction.INGRESS, BLOCKS["all"], None, {}))
# Written policyTypes ([direction], as a deny-all must) or the API's defaulting.
TYPES = ("written", "defaulted")


def combination(
    position: str, direction: Direction, block: str, ports: str, target: str, types: str
) -> list[NetworkPolicy]:
    policies = []
    for namespace, name, spec in positions(direction, BLOCKS[block], PORTS[ports], TARGETS[target])[
        position
    ]:
        typed = spec
        if types == "written" or direction.rules_field not in spec:
            typed = {**spec, "policyTypes": [direction.value]}
        policies.append(policy(namespace, name, typed))
    return policies


def combinations(position: str, direction: Direction) -> Iterator[tuple[str, list[Any]]]:
    for block, ports, target, types in itertools.product(BLOCKS, PORTS, TARGETS, TYPES):
        label = f"{direction.value} {position} {block} {ports} {target} {types}"
        yield label, combination(position, direction, block, ports, target, types)


# -- the reference ---------------------------------------------------------------------


def _ip_block_covers(peer: Peer, pod: Pod) -> bool:
    assert peer.ip_block is not None
    address = ipaddress.ip_address(pod.ip)
    cidr = ipaddress.ip_network(str(peer.ip_block.cidr))
    excepted = (ipaddress.ip_network(str(e)) for e in peer.ip_block.excepts)
    return address in cidr and not any(address in e for e in excepted)


def _peer_matches(
    c: Cluster, owner: NetworkPolicy, peer: Peer, pod: Pod, ipblock_matches_pods: bool
) -> bool:
    if peer.ip_block is not None:
        # The profile under test: a CIDR peer selects only addresses outside the cluster.
        return ipblock_matches_pods and _ip_block_covers(peer, pod)
    if peer.namespace_selector is None:
        in_namespaces = pod.namespace == owner.namespace
    else:
        in_namespaces = peer.namespace_selector.matches(c.namespace(pod.namespace).labels)
    return in_namespaces and (peer.pod_selector is None or peer.pod_selector.matches(pod.labels))


def _port_matches(rule: Rule, destination: Pod, port: int, protocol: Protocol) -> bool:
    if not rule.ports:
        return True
    for entry in rule.ports:
        if entry.protocol != protocol:
            continue
        if entry.port is None:
            return True
        if isinstance(entry.port, int):
            last = entry.end_port if entry.end_port is not None else entry.port
            if entry.port <= port <= last:
                return True
            continue
        if any(
            cp.name == entry.port and cp.protocol == protocol and cp.port == port
            for cp in destination.ports
        ):
            return True
    return False


def _side_allows(
    c: Cluster,
    policies: Sequence[NetworkPolicy],
    direction: Direction,
    subject: Pod,
    peer: Pod,
    destination: Pod,
    port: int,
    protocol: Protocol,
    ipblock_matches_pods: bool,
) -> bool:
    isolating = [
        p
        for p in policies
        if p.namespace == subject.namespace
        and direction in p.policy_types
        and p.pod_selector.matches(subject.labels)
    ]
    if not isolating:
        return True
    return any(
        (
            not rule.peers
            or any(_peer_matches(c, p, x, peer, ipblock_matches_pods) for x in rule.peers)
        )
        and _port_matches(rule, destination, port, protocol)
        for p in isolating
        for rule in p.rules(direction)
    )


def reference(
    c: Cluster, policies: Sequence[NetworkPolicy], probe: Probe, ipblock_matches_pods: bool
) -> bool:
    src, dst = c.pod(probe.source), c.pod(probe.destination)
    port, protocol = probe.port, probe.protocol
    return (
        dst.serves(port, protocol)
        and _side_allows(
            c, policies, Direction.EGRESS, src, dst, dst, port, protocol, ipblock_matches_pods
        )
        and _side_allows(
            c, policies, Direction.INGRESS, dst, src, dst, port, protocol, ipblock_matches_pods
        )
    )


def disagreements(c: Cluster, policies: Sequence[NetworkPolicy], profile: Profile) -> list[str]:
    """Cells where the oracle under `profile` and the reference differ, as text."""
    oracle = Oracle(c, policies, profile)
    keys = [p.key for p in c.pods]
    out = []
    for port, protocol in PROBED:
        for verdict in oracle.matrix(port, protocol, keys):
            want = reference(c, policies, verdict.probe, profile.ipblock_matches_pods)
            if verdict.allowed != want:
                out.append(f"{verdict.probe}: oracle {verdict.allowed}, reference {want}")
    return out


# -- the generated combinations --------------------------------------------------------

COMBINATIONS_PER_POSITION = len(BLOCKS) * len(PORTS) * len(TARGETS) * len(TYPES)


def test_every_position_is_generated() -> None:
    """The product this file judges: 2 directions x 11 positions x 96 = 2112 combinations,
    every one a valid set of policies in which an ipBlock peer takes part."""
    total = 0
    for direction, position in itertools.product(Direction, POSITIONS):
        for _, policies in combinations(position, direction):
            rules = [r for p in policies for r in p.rules(direction)]
            assert any(peer.ip_block for r in rules for peer in r.peers)
            total += 1
    assert COMBINATIONS_PER_POSITION == 96
    assert total == len(Direction) * len(POSITIONS) * COMBINATIONS_PER_POSITION == 2112


@pytest.mark.parametrize("position", POSITIONS)
@pytest.mark.parametrize("direction", list(Direction), ids=str)
@pytest.mark.parametrize("profile", [CILIUM, Profile()], ids=["cilium", "upstream"])
def test_the_oracle_matches_the_reference_in_every_position(
    position: str, direction: Direction, profile: Profile
) -> None:
    wrong = {
        label: found
        for label, policies in combinations(position, direction)
        if (found := disagreements(CLUSTER, policies, profile))
    }
    assert wrong == {}


@pytest.mark.parametrize("position", POSITIONS)
def test_every_position_exercises_the_divergence(position: str) -> None:
    """The comparison is not vacuous: in every position and direction, some combination
    has cells that upstream allows only through an ipBlock and the profile denies (but
    beside an allow-all rule, which leaves the ipBlock nothing to decide); and the profile
    never allows a cell upstream denies."""
    probes = [
        Probe(src.key, dst.key, port, protocol)
        for port, protocol in PROBED
        for src in CLUSTER.pods
        for dst in CLUSTER.pods
    ]
    for direction in Direction:
        diverging = 0
        for label, policies in combinations(position, direction):
            for probe in probes:
                upstream = reference(CLUSTER, policies, probe, ipblock_matches_pods=True)
                cilium = reference(CLUSTER, policies, probe, ipblock_matches_pods=False)
                assert upstream or not cilium, f"{label}: {probe}"
                diverging += upstream and not cilium
        if position == "beside-an-allow-all-rule":  # every peer, every port: no way out
            assert diverging == 0, f"{direction}: the allow-all rule must mask the ipBlock"
        else:
            assert diverging, f"{direction} {position}: no cell diverges"


# -- random policy sets, ipBlock-heavy (hypothesis) --------------------------------------

selector_st = st.one_of(
    st.just({}),
    st.sampled_from(["a", "b"]).map(lambda v: {"matchLabels": {"pod": v}}),
    st.sampled_from(["red", "blue"]).map(lambda v: {"matchLabels": {"team": v}}),
)
ip_block_st = st.builds(
    lambda cidr, excepts: {"cidr": cidr, **({"except": excepts} if excepts else {})},
    st.sampled_from(["0.0.0.0/0", "10.0.0.0/8", "10.0.1.0/24", "192.168.0.0/16"]),
    st.lists(st.sampled_from(["10.0.0.1/32", "10.0.1.0/25", "10.0.2.0/24"]), max_size=2),
).filter(
    # the API requires every except inside the cidr
    lambda b: all(
        ipaddress.ip_network(e).subnet_of(ipaddress.ip_network(b["cidr"]))
        for e in b.get("except", [])
    )
)
peer_st = st.one_of(
    ip_block_st.map(lambda b: {"ipBlock": b}),
    selector_st.map(lambda s: {"podSelector": s}),
    selector_st.map(lambda s: {"namespaceSelector": s}),
    st.tuples(selector_st, selector_st).map(
        lambda t: {"namespaceSelector": t[0], "podSelector": t[1]}
    ),
)
ports_st = st.one_of(st.none(), st.sampled_from(list(PORTS.values())))


@st.composite
def rule_st(draw: st.DrawFn, key: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    peers = draw(st.lists(peer_st, max_size=3))
    if peers:
        out[key] = peers
    ports = draw(ports_st)
    if ports:
        out["ports"] = ports
    return out


@st.composite
def policies_st(draw: st.DrawFn) -> list[NetworkPolicy]:
    out = []
    for i in range(draw(st.integers(1, 4))):
        spec: dict[str, Any] = {"podSelector": draw(selector_st)}
        for direction in Direction:
            if draw(st.booleans()):
                spec[direction.rules_field] = draw(
                    st.lists(rule_st(direction.peers_field), max_size=3)
                )
        types = draw(st.sampled_from([None, ["Ingress"], ["Egress"], ["Ingress", "Egress"]]))
        if types:
            spec["policyTypes"] = types
        out.append(policy(draw(st.sampled_from(["x", "y"])), f"p{i}", spec))
    return out


@settings(max_examples=150, deadline=None)
@given(policies_st(), st.sampled_from([CILIUM, Profile()]))
def test_random_ipblock_heavy_policies_match_the_reference(
    policies: list[NetworkPolicy], profile: Profile
) -> None:
    assert disagreements(CLUSTER, policies, profile) == []
