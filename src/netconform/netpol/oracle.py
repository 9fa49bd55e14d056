"""The expected verdict of every probe under a set of NetworkPolicies, with its reasons.

Semantics (https://kubernetes.io/docs/concepts/services-networking/network-policies/):
traffic from S to D on port/protocol is allowed only when S's egress and D's ingress both
allow it. A pod is isolated for a direction only when a policy in its own namespace selects
it and lists that direction in (defaulted) policyTypes; an isolated pod accepts what the
union of those policies' rules allows, in any order. Named ports resolve on the destination
pod, for the rule's protocol.

Speed comes from compiling each rule once: its peers become a set of pod indexes, so a cell
costs set lookups, and verdicts that read alike are shared objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from netconform.netpol.cluster_policy import AnyPolicy
from netconform.netpol.model import Cluster, ContainerPort, Pod, Protocol
from netconform.netpol.policy import Direction, NetworkPolicy, Peer, PolicyPort, Rule
from netconform.netpol.selectors import LabelSelector


class HostNetworkMode(StrEnum):
    """How hostNetwork pods are treated; upstream leaves it undefined (website#39875)."""

    IGNORE = "ignore"  # as UNSELECTED, and their cells are left out of comparisons
    UNSELECTED = "unselected"  # never isolated, never matched by pod/namespace selectors
    AS_PODS = "as-pods"  # exactly like other pods


@dataclass(frozen=True)
class Profile:
    """Knobs where CNIs legitimately differ. Defaults follow upstream e2e and Calico."""

    ipblock_matches_pods: bool = True
    ignore_loopback: bool = True
    host_network: HostNetworkMode = HostNetworkMode.IGNORE


@dataclass(frozen=True)
class Probe:
    """One connection attempt: `source` and `destination` are `namespace/pod`."""

    source: str
    destination: str
    port: int
    protocol: Protocol = Protocol.TCP

    def __str__(self) -> str:
        return f"{self.source} -> {self.destination} {self.port}/{self.protocol}"


@dataclass(frozen=True)
class RuleRef:
    """Rule `index` of `policy`'s ingress or egress list."""

    policy: str
    direction: Direction
    index: int

    def __str__(self) -> str:
        return f"{self.policy} {self.direction.rules_field}[{self.index}]"


@dataclass(frozen=True)
class RuleMiss:
    """The rule closest to allowing a denied probe, and which part of it failed."""

    rule: RuleRef
    failed: str  # "peers", "ports" or "peers and ports"
    detail: str


@dataclass(frozen=True)
class DirectionVerdict:
    """What one side (the source's egress or the destination's ingress) decided."""

    direction: Direction
    allowed: bool
    isolated_by: tuple[str, ...]
    allowed_by: tuple[RuleRef, ...]
    closest: RuleMiss | None
    reason: str

    @property
    def isolated(self) -> bool:
        return bool(self.isolated_by)


@dataclass(frozen=True)
class ProbeVerdict:
    """The expected outcome of one probe, explained for each direction."""

    probe: Probe
    allowed: bool
    served: bool
    egress: DirectionVerdict
    ingress: DirectionVerdict
    ignored: str  # why comparisons should skip this cell ("" when they should not)
    reason: str


@dataclass(frozen=True)
class _CompiledRule:
    ref: RuleRef
    rule: Rule
    all_peers: bool
    members: frozenset[int]
    peers_text: str
    ports_text: str


def _port_match(rule: Rule, dst: Pod, port: int, protocol: Protocol) -> PolicyPort | bool | None:
    """True for a port-less rule, the matching entry, or None when no entry matches."""
    if not rule.ports:
        return True
    for entry in rule.ports:
        if entry.protocol != protocol:
            continue
        if entry.port is None:
            return entry
        if isinstance(entry.port, int):
            if entry.port <= port <= (entry.end_port or entry.port):
                return entry
        elif dst.named_port(entry.port, protocol) == port:
            return entry
    return None


class Oracle:
    """Compiles a cluster and policies once; then answers probes."""

    def __init__(
        self,
        cluster: Cluster,
        policies: Iterable[AnyPolicy],
        profile: Profile | None = None,
    ) -> None:
        self.cluster = cluster
        self.profile = profile or Profile()
        every = tuple(policies)
        self.policies = tuple(p for p in every if isinstance(p, NetworkPolicy))
        if len(self.policies) != len(every):
            raise ValueError("ClusterNetworkPolicy evaluation is not implemented yet")
        self._pods = cluster.pods
        self._index = {pod.key: i for i, pod in enumerate(self._pods)}
        self._ns_labels = {ns.name: ns.labels for ns in cluster.namespaces}
        self._pods_by_ns: dict[str, list[int]] = {ns.name: [] for ns in cluster.namespaces}
        for i, pod in enumerate(self._pods):
            self._pods_by_ns[pod.namespace].append(i)
        self._selector_cache: dict[tuple[str, LabelSelector], frozenset[int]] = {}
        # Per direction and pod: the policies isolating it and their compiled rules.
        self._isolation: dict[Direction, list[tuple[tuple[str, ...], tuple[_CompiledRule, ...]]]]
        self._isolation = {d: self._compile_isolation(d) for d in Direction}
        signatures: dict[tuple[ContainerPort, ...], int] = {}
        self._port_signature = [signatures.setdefault(p.ports, len(signatures)) for p in self._pods]
        self._served = [frozenset((c.port, c.protocol) for c in p.ports) for p in self._pods]
        self._port_cache: dict[tuple[int, int, int, Protocol], bool] = {}
        self._verdict_cache: dict[tuple[object, ...], DirectionVerdict] = {}

    # -- compilation -------------------------------------------------------------------

    def _ordinary(self, pod: Pod) -> bool:
        """Whether selectors (policy targets, pod and namespace peers) can pick this pod."""
        return not pod.host_network or self.profile.host_network is HostNetworkMode.AS_PODS

    def _select(self, namespace: str, selector: LabelSelector) -> frozenset[int]:
        key = (namespace, selector)
        cached = self._selector_cache.get(key)
        if cached is None:
            cached = frozenset(
                i
                for i in self._pods_by_ns.get(namespace, ())
                if self._ordinary(self._pods[i]) and selector.matches(self._pods[i].labels)
            )
            self._selector_cache[key] = cached
        return cached

    def _peer_members(self, peer: Peer, policy_ns: str) -> frozenset[int]:
        if peer.ip_block is not None:
            block = peer.ip_block
            return frozenset(
                i
                for i, pod in enumerate(self._pods)
                if block.contains(pod.ip)
                and (self.profile.ipblock_matches_pods or not self._ordinary(pod))
            )
        if peer.namespace_selector is None:
            namespaces = [policy_ns]
        else:
            ns_selector = peer.namespace_selector
            namespaces = [n for n, labels in self._ns_labels.items() if ns_selector.matches(labels)]
        pod_selector = peer.pod_selector or LabelSelector()
        members: set[int] = set()
        for ns in namespaces:
            members |= self._select(ns, pod_selector)
        return frozenset(members)

    def _compile_rule(
        self, policy: NetworkPolicy, direction: Direction, index: int
    ) -> _CompiledRule:
        rule = policy.rules(direction)[index]
        members: set[int] = set()
        for peer in rule.peers:
            members |= self._peer_members(peer, policy.namespace)
        peers_text = (
            "; ".join(str(p) for p in rule.peers)
            if rule.peers
            else f"every {'source' if direction is Direction.INGRESS else 'destination'}"
        )
        ports_text = ", ".join(str(p) for p in rule.ports) if rule.ports else "every port"
        return _CompiledRule(
            ref=RuleRef(policy.key, direction, index),
            rule=rule,
            all_peers=not rule.peers,
            members=frozenset(members),
            peers_text=peers_text,
            ports_text=ports_text,
        )

    def _compile_isolation(
        self, direction: Direction
    ) -> list[tuple[tuple[str, ...], tuple[_CompiledRule, ...]]]:
        per_pod: list[tuple[list[str], list[_CompiledRule]]] = [([], []) for _ in self._pods]
        for policy in sorted(self.policies, key=lambda p: p.key):
            if not policy.isolates(direction):
                continue
            selected = self._select(policy.namespace, policy.pod_selector)
            if not selected:
                continue
            compiled = [
                self._compile_rule(policy, direction, i)
                for i in range(len(policy.rules(direction)))
            ]
            for i in selected:
                per_pod[i][0].append(policy.key)
                per_pod[i][1].extend(compiled)
        # Pods with the same isolating policies share one tuple (and one cache key).
        shared: dict[tuple[str, ...], tuple[tuple[str, ...], tuple[_CompiledRule, ...]]] = {}
        result = []
        for keys, rules in per_pod:
            key = tuple(keys)
            if key not in shared:
                shared[key] = (key, tuple(rules))
            result.append(shared[key])
        return result

    # -- evaluation --------------------------------------------------------------------

    def _ports_ok(self, rule: _CompiledRule, dst_i: int, port: int, protocol: Protocol) -> bool:
        # Keyed by the destination's port signature: pods declaring the same ports share it.
        key = (id(rule), self._port_signature[dst_i], port, protocol)
        hit = self._port_cache.get(key)
        if hit is None:
            hit = _port_match(rule.rule, self._pods[dst_i], port, protocol) is not None
            self._port_cache[key] = hit
        return hit

    def _direction(
        self, direction: Direction, subject: int, peer: int, dst_i: int, probe: Probe
    ) -> DirectionVerdict:
        entry = self._isolation[direction][subject]
        isolated_by, rules = entry
        if not isolated_by:
            return self._intern((direction,), direction, True, entry, (), None, probe)
        matched: list[_CompiledRule] = []
        port_fail: _CompiledRule | None = None
        peer_fail: _CompiledRule | None = None
        for rule in rules:
            peer_ok = rule.all_peers or peer in rule.members
            ports_ok = not rule.rule.ports or self._ports_ok(
                rule, dst_i, probe.port, probe.protocol
            )
            if peer_ok and ports_ok:
                matched.append(rule)
            elif peer_ok:
                port_fail = port_fail or rule
            elif ports_ok:
                peer_fail = peer_fail or rule
        if matched:
            key = (direction, id(entry), *(id(r) for r in matched))
            return self._intern(key, direction, True, entry, tuple(matched), None, probe)
        miss: tuple[str, _CompiledRule] | None = None
        if port_fail is not None:
            miss = ("ports", port_fail)
        elif peer_fail is not None:
            miss = ("peers", peer_fail)
        elif rules:
            miss = ("peers and ports", rules[0])
        key = (
            direction,
            id(entry),
            miss and id(miss[1]),
            miss and miss[0],
            probe.port,
            probe.protocol,
        )
        return self._intern(key, direction, False, entry, (), miss, probe)

    def _intern(
        self,
        key: tuple[object, ...],
        direction: Direction,
        allowed: bool,
        entry: tuple[tuple[str, ...], tuple[_CompiledRule, ...]],
        matched: tuple[_CompiledRule, ...],
        miss: tuple[str, _CompiledRule] | None,
        probe: Probe,
    ) -> DirectionVerdict:
        """Verdicts that read alike are one shared object; build it on first sight."""
        verdict = self._verdict_cache.get(key)
        if verdict is not None:
            return verdict
        isolated_by = entry[0]
        allowed_by = tuple(r.ref for r in matched)
        closest = None if miss is None else _rule_miss(direction, miss[0], miss[1], probe)
        verdict = DirectionVerdict(
            direction,
            allowed,
            isolated_by,
            allowed_by,
            closest,
            _direction_reason(direction, allowed, isolated_by, allowed_by, closest),
        )
        self._verdict_cache[key] = verdict
        return verdict

    def verdict(self, probe: Probe) -> ProbeVerdict:
        """The expected verdict of one probe. KeyError for a pod not in the cluster."""
        src_i = self._index[probe.source]
        dst_i = self._index[probe.destination]
        return self._verdict(probe, src_i, dst_i)

    def _verdict(self, probe: Probe, src_i: int, dst_i: int) -> ProbeVerdict:
        src, dst = self._pods[src_i], self._pods[dst_i]
        port, protocol = probe.port, probe.protocol
        egress = self._direction(Direction.EGRESS, src_i, dst_i, dst_i, probe)
        ingress = self._direction(Direction.INGRESS, dst_i, src_i, dst_i, probe)
        served = (port, protocol) in self._served[dst_i]
        allowed = served and egress.allowed and ingress.allowed
        if not served:
            reason = f"{dst.key} does not serve {port}/{protocol}"
        elif allowed:
            reason = "allowed: egress and ingress both allow it"
        else:
            denied = [v.direction.value.lower() for v in (egress, ingress) if not v.allowed]
            reason = f"denied by {' and '.join(denied)}"
        ignored = ""
        if src_i == dst_i and self.profile.ignore_loopback:
            ignored = "loopback"
        elif (src.host_network or dst.host_network) and (
            self.profile.host_network is HostNetworkMode.IGNORE
        ):
            ignored = "hostNetwork"
        return ProbeVerdict(probe, allowed, served, egress, ingress, ignored, reason)

    def verdicts(self, probes: Iterable[Probe]) -> list[ProbeVerdict]:
        return [self.verdict(p) for p in probes]

    def matrix(
        self, port: int, protocol: Protocol, pods: Sequence[str] | None = None
    ) -> list[ProbeVerdict]:
        """Every ordered pair of `pods` (default: all), row-major by source."""
        keys = list(pods) if pods is not None else [p.key for p in self._pods]
        indexes = [self._index[k] for k in keys]
        return [
            self._verdict(Probe(keys[a], keys[b], port, protocol), ia, ib)
            for a, ia in enumerate(indexes)
            for b, ib in enumerate(indexes)
        ]


def _rule_miss(direction: Direction, failed: str, rule: _CompiledRule, probe: Probe) -> RuleMiss:
    who = "source" if direction is Direction.INGRESS else "destination"
    port = f"{probe.port}/{probe.protocol}"
    if failed == "ports":
        detail = f"{port} is not among {rule.ports_text}"
    elif failed == "peers":
        detail = f"the {who} is not selected by {rule.peers_text}"
    else:
        detail = (
            f"the {who} is not selected by {rule.peers_text}, "
            f"and {port} is not among {rule.ports_text}"
        )
    return RuleMiss(rule.ref, failed, detail)


def _direction_reason(
    direction: Direction,
    allowed: bool,
    isolated_by: tuple[str, ...],
    allowed_by: tuple[RuleRef, ...],
    closest: RuleMiss | None,
) -> str:
    side = "source" if direction is Direction.EGRESS else "destination"
    kind = direction.value.lower()
    if not isolated_by:
        return f"{side} is not isolated for {kind}: no policy selecting it has {direction.value}"
    policies = ", ".join(isolated_by)
    if allowed:
        return f"allowed by {', '.join(str(r) for r in allowed_by)}"
    if closest is None:
        return f"{side} is isolated for {kind} by {policies}, which have no {kind} rules"
    return (
        f"{side} is isolated for {kind} by {policies} and no rule matches; "
        f"closest {closest.rule}: {closest.failed} failed: {closest.detail}"
    )


def default_probes(cluster: Cluster) -> list[Probe]:
    """Every ordered pod pair for every (port, protocol) some pod serves."""
    return [
        Probe(src.key, dst.key, port, protocol)
        for port, protocol in cluster.port_protocols()
        for src in cluster.pods
        for dst in cluster.pods
    ]


def evaluate(
    cluster: Cluster,
    policies: Iterable[AnyPolicy],
    probes: Iterable[Probe] | None = None,
    profile: Profile | None = None,
) -> list[ProbeVerdict]:
    """The expected verdict of each probe (default: `default_probes(cluster)`)."""
    oracle = Oracle(cluster, policies, profile)
    return oracle.verdicts(default_probes(cluster) if probes is None else probes)
