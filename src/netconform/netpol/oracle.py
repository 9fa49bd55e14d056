"""The expected verdict of every probe under NetworkPolicies and ClusterNetworkPolicies,
with its reasons.

Semantics (https://kubernetes.io/docs/concepts/services-networking/network-policies/):
traffic from S to D on port/protocol is allowed only when S's egress and D's ingress both
allow it. A pod is isolated for a direction only when a policy in its own namespace selects
it and lists that direction in (defaulted) policyTypes; an isolated pod accepts what the
union of those policies' rules allows, in any order. Named ports resolve on the destination
pod, for the rule's protocol.

ClusterNetworkPolicy (sigs.k8s.io/network-policy-api v1beta1) wraps that, per direction of
the subject pod: the Admin tier's policies selecting it, by priority (lower first) and then
rule order; the first rule matching decides (Accept: allowed, Deny: denied, Pass: the rest
of the Admin tier is skipped). Then NetworkPolicy, if one isolates the pod for that
direction. Then the Baseline tier the same way (Pass skips the rest of it). Nothing
deciding: allowed. Host-network pods are never subjects nor pod/namespace peers; `networks`
CIDRs match any address, pod IPs included. A pod to its own IP is never subject to it
(hairpin); through a Service it is (`Probe.service`, `Profile.cnp_service_hairpin`). Two
policies of one tier and priority both matching a flow may be applied in either order
(upstream leaves it to the implementation): when that changes the outcome, the cell is
`ignored` as "same-priority", its explanation names both rules.

Speed comes from compiling each rule once: its peers become a set of pod indexes, so a cell
costs set lookups, and verdicts that read alike are shared objects. Cluster tiers are
resolved per subject group and port at once: for every peer, which rules hit first.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from netconform.netpol.cluster_policy import (
    Action,
    AnyPolicy,
    ClusterNetworkPolicy,
    ClusterPeer,
    ClusterRule,
    Tier,
)
from netconform.netpol.model import Cluster, ContainerPort, Pod, Protocol
from netconform.netpol.policy import (
    Direction,
    IPNetwork,
    NetworkPolicy,
    Peer,
    PolicyPort,
    Rule,
)
from netconform.netpol.selectors import LabelSelector

NETWORK_POLICY_TIER = "NetworkPolicy"  # DirectionVerdict.tier when NetworkPolicy decided


class HostNetworkMode(StrEnum):
    """How hostNetwork pods are treated; upstream leaves it undefined (website#39875)."""

    IGNORE = "ignore"  # as UNSELECTED, and their cells are left out of comparisons
    UNSELECTED = "unselected"  # never isolated, never matched by pod/namespace selectors
    AS_PODS = "as-pods"  # exactly like other pods


@dataclass(frozen=True)
class Profile:
    """Knobs where CNIs legitimately differ. Defaults follow upstream e2e and Calico."""

    ipblock_matches_pods: bool = True
    # a ClusterNetworkPolicy's egress `networks` match pod addresses too (the API says so;
    # Cilium v1.20, selecting by CIDR identity, does not, as with ipBlock)
    networks_match_pods: bool = True
    ignore_loopback: bool = True
    host_network: HostNetworkMode = HostNetworkMode.IGNORE
    # A pod to itself through a Service: upstream prefers it subject to cluster policies but
    # does not require it in Beta (a socket-level load balancer never sees the Service).
    cnp_service_hairpin: bool = True


@dataclass(frozen=True)
class Probe:
    """One connection attempt: `source` and `destination` are `namespace/pod`."""

    source: str
    destination: str
    port: int
    protocol: Protocol = Protocol.TCP
    service: bool = False  # through a Service to the destination (hairpin when source)

    def __str__(self) -> str:
        via = " via a Service" if self.service else ""
        return f"{self.source} -> {self.destination} {self.port}/{self.protocol}{via}"


@dataclass(frozen=True)
class RuleRef:
    """Rule `index` of `policy`'s ingress or egress list. A ClusterNetworkPolicy's rule also
    names its `tier`, the policy's `priority`, the rule's `name` and `action`."""

    policy: str
    direction: Direction
    index: int
    tier: Tier | None = None
    priority: int | None = None
    name: str = ""
    action: Action | None = None

    @property
    def rule(self) -> str:
        """`ingress[0]`: the rule's place in its policy."""
        return f"{self.direction.rules_field}[{self.index}]"

    def __str__(self) -> str:
        if self.tier is None:
            return f"{self.policy} {self.rule}"
        name = f" {self.name!r}" if self.name else ""
        return f"{self.tier} {self.policy} (priority {self.priority}) {self.rule}{name}"


@dataclass(frozen=True)
class RuleMiss:
    """The rule closest to allowing a denied probe, and which part of it failed."""

    rule: RuleRef
    failed: str  # "peers", "ports" or "peers and ports"
    detail: str


@dataclass(frozen=True)
class DirectionVerdict:
    """What one side (the source's egress or the destination's ingress) decided.

    `tier` is what decided: "Admin" or "Baseline" (then `decided_by` is the cluster rule),
    "NetworkPolicy" (then `isolated_by`, `allowed_by`, `closest` say how), or "" (nothing
    did: allowed). `passed` are the Pass rules the flow went through on the way. The
    NetworkPolicy fields are empty when the flow never reached that tier. `ambiguous_with`
    are rules of the same tier and priority as a deciding one whose action differs;
    `ambiguous` says the outcome depends on which the implementation applies. `unsupported`
    names an experimental peer (nodes, domainNames) on the path the oracle cannot judge."""

    direction: Direction
    allowed: bool
    isolated_by: tuple[str, ...]
    allowed_by: tuple[RuleRef, ...]
    closest: RuleMiss | None
    reason: str
    tier: str = ""
    decided_by: RuleRef | None = None
    passed: tuple[RuleRef, ...] = ()
    ambiguous_with: tuple[RuleRef, ...] = ()
    ambiguous: bool = False
    unsupported: str = ""

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


@dataclass(frozen=True, eq=False)
class _ClusterCompiled:
    """A cluster rule compiled: its peers as pod indexes. Hashed by identity (a cache key)."""

    ref: RuleRef
    rule: ClusterRule
    action: Action
    members: frozenset[int]
    unsupported: str  # an experimental peer the oracle cannot judge ("" when none)
    uncertain: frozenset[int]  # peers that experimental peer might be (or might not)
    named: bool  # named ports: whether the ports match depends on the destination pod


@dataclass(frozen=True, eq=False)
class _TierPlan:
    """The policies of one tier selecting a group of pods, by priority: each group holds
    every same-priority policy's rules (policies by name, rules in order)."""

    tier: Tier
    groups: tuple[tuple[tuple[_ClusterCompiled, ...], ...], ...]
    named: bool


@dataclass(frozen=True)
class _Hits:
    """For one peer: the first matching rule of each policy in the first priority group
    where any matched (empty: none did), and the experimental peers passed on the way."""

    rules: tuple[_ClusterCompiled, ...] = ()
    unsupported: str = ""
    may_pass: bool = False  # some hit is a Pass: the later tiers matter


_NO_HITS = _Hits()


def _port_match(rule: Rule, dst: Pod, port: int, protocol: Protocol) -> PolicyPort | bool | None:
    """True for a port-less rule, the matching entry, or None when no entry matches."""
    return _ports_match(rule.ports, dst, port, protocol)


def _ports_match(
    ports: tuple[PolicyPort, ...], dst: Pod, port: int, protocol: Protocol
) -> PolicyPort | bool | None:
    if not ports:
        return True
    for entry in ports:
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
        self.policies = tuple(policies)
        self._network_policies = tuple(p for p in self.policies if isinstance(p, NetworkPolicy))
        self._cluster_policies = tuple(
            p for p in self.policies if isinstance(p, ClusterNetworkPolicy)
        )
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
        # Per tier, direction and pod: the cluster policies selecting it (None: none).
        self._admin = {d: self._compile_tier(Tier.ADMIN, d) for d in Direction}
        self._baseline = {d: self._compile_tier(Tier.BASELINE, d) for d in Direction}
        self._hits_cache: dict[tuple[int, int, int, Protocol], dict[int, _Hits]] = {}
        self._hits_interned: dict[tuple[object, ...], _Hits] = {}

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
        for policy in sorted(self._network_policies, key=lambda p: p.key):
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

    # -- cluster policies: compilation ------------------------------------------------

    def _cluster_select(
        self, namespace_selector: LabelSelector, pod_selector: LabelSelector | None
    ) -> frozenset[int]:
        """Pods (never host-network ones) of namespaces matching, matching `pod_selector`."""
        members: set[int] = set()
        for ns, labels in self._ns_labels.items():
            if namespace_selector.matches(labels):
                members |= {
                    i
                    for i in self._select(ns, pod_selector or LabelSelector())
                    if not self._pods[i].host_network
                }
        return frozenset(members)

    def _cluster_peer_members(self, peer: ClusterPeer) -> frozenset[int]:
        if peer.namespaces is not None:
            return self._cluster_select(peer.namespaces, None)
        if peer.pods is not None:
            return self._cluster_select(peer.pods.namespace_selector, peer.pods.pod_selector)
        if peer.networks:
            # Cluster-internal traffic is checked against networks too (the API's words).
            return frozenset(
                i
                for i, pod in enumerate(self._pods)
                if pod.ip
                and any(_in_network(pod.ip, n) for n in peer.networks)
                and (self.profile.networks_match_pods or not self._ordinary(pod))
            )
        return frozenset()  # nodes, domainNames: judged by no pod address here

    def _cluster_subject(self, policy: ClusterNetworkPolicy) -> frozenset[int]:
        subject = policy.subject
        if subject.pods is not None:
            return self._cluster_select(subject.pods.namespace_selector, subject.pods.pod_selector)
        return self._cluster_select(subject.namespaces or LabelSelector(), None)

    def _compile_cluster_rule(
        self, policy: ClusterNetworkPolicy, direction: Direction, index: int
    ) -> _ClusterCompiled:
        rule = policy.rules(direction)[index]
        members: set[int] = set()
        for peer in rule.peers:
            members |= self._cluster_peer_members(peer)
        unsupported = next((p.unsupported for p in rule.peers if p.unsupported), "")
        uncertain: set[int] = set()
        for peer in rule.peers:
            if peer.nodes is not None:
                # A node's address is a host-network pod's, never another pod's; which
                # nodes a selector picks the model does not know.
                uncertain |= {i for i, pod in enumerate(self._pods) if pod.host_network}
            elif peer.domain_names:
                uncertain |= set(range(len(self._pods)))  # what a name resolves to: unknown
        ref = RuleRef(
            policy.key, direction, index, policy.tier, policy.priority, rule.name, rule.action
        )
        named = any(isinstance(p.port, str) for p in rule.ports)
        return _ClusterCompiled(
            ref, rule, rule.action, frozenset(members), unsupported, frozenset(uncertain), named
        )

    def _compile_tier(self, tier: Tier, direction: Direction) -> list[_TierPlan | None]:
        per_pod: list[list[ClusterNetworkPolicy]] = [[] for _ in self._pods]
        ordered = sorted(
            (p for p in self._cluster_policies if p.tier is tier and p.rules(direction)),
            key=lambda p: (p.priority, p.name),
        )
        compiled: dict[str, tuple[_ClusterCompiled, ...]] = {}
        for policy in ordered:
            selected = self._cluster_subject(policy)
            if not selected:
                continue
            compiled[policy.name] = tuple(
                self._compile_cluster_rule(policy, direction, i)
                for i in range(len(policy.rules(direction)))
            )
            for i in selected:
                per_pod[i].append(policy)
        # Pods selected by the same policies share one plan (and one cache key).
        shared: dict[tuple[str, ...], _TierPlan] = {}
        result: list[_TierPlan | None] = []
        for policies in per_pod:
            if not policies:
                result.append(None)
                continue
            names = tuple(p.name for p in policies)
            if names not in shared:
                groups: dict[int, list[tuple[_ClusterCompiled, ...]]] = {}
                for policy in policies:
                    groups.setdefault(policy.priority, []).append(compiled[policy.name])
                shared[names] = _TierPlan(
                    tier,
                    tuple(tuple(groups[k]) for k in sorted(groups)),
                    any(r.named for p in policies for r in compiled[p.name]),
                )
            result.append(shared[names])
        return result

    # -- cluster policies: evaluation -------------------------------------------------

    def _hits(self, plan: _TierPlan, peer: int, dst_i: int, probe: Probe) -> _Hits:
        """Which rules of `plan` hit first for `peer`. Computed for every peer at once per
        plan and port (and destination port signature when named ports are involved)."""
        signature = self._port_signature[dst_i] if plan.named else -1
        key = (id(plan), signature, probe.port, probe.protocol)
        table = self._hits_cache.get(key)
        if table is None:
            table = self._plan_table(plan, dst_i, probe)
            self._hits_cache[key] = table
        return table.get(peer, _NO_HITS)

    def _plan_table(self, plan: _TierPlan, dst_i: int, probe: Probe) -> dict[int, _Hits]:
        hits: dict[int, list[_ClusterCompiled]] = {}
        unsupported: dict[int, str] = {}
        decided: set[int] = set()
        for group in plan.groups:
            group_hits: dict[int, list[_ClusterCompiled]] = {}
            for rules in group:
                claimed: set[int] = set()  # peers an earlier rule of this policy matched
                for rule in rules:
                    if rule.rule.ports and not self._cluster_ports_ok(rule, dst_i, probe):
                        continue
                    if rule.uncertain:
                        for i in rule.uncertain:
                            if i not in claimed and i not in decided:
                                unsupported.setdefault(i, f"{rule.ref} ({rule.unsupported})")
                    for i in rule.members:
                        if i not in claimed and i not in decided:
                            group_hits.setdefault(i, []).append(rule)
                    claimed |= rule.members
            for i, found in group_hits.items():
                hits[i] = found
            decided |= group_hits.keys()
        table: dict[int, _Hits] = {}
        for i in hits.keys() | unsupported.keys():
            key = (*(id(r) for r in hits.get(i, ())), unsupported.get(i, ""))
            interned = self._hits_interned.get(key)
            if interned is None:
                chosen = tuple(hits.get(i, ()))
                interned = _Hits(
                    chosen,
                    unsupported.get(i, ""),
                    any(r.action is Action.PASS for r in chosen),
                )
                self._hits_interned[key] = interned
            table[i] = interned
        return table

    def _cluster_ports_ok(self, rule: _ClusterCompiled, dst_i: int, probe: Probe) -> bool:
        key = (id(rule), self._port_signature[dst_i], probe.port, probe.protocol)
        hit = self._port_cache.get(key)
        if hit is None:
            dst = self._pods[dst_i]
            hit = _ports_match(rule.rule.ports, dst, probe.port, probe.protocol) is not None
            self._port_cache[key] = hit
        return hit

    def _direction(
        self, direction: Direction, subject: int, peer: int, dst_i: int, probe: Probe
    ) -> DirectionVerdict:
        """The subject's verdict for `direction`: cluster tiers around NetworkPolicy."""
        admin = self._admin[direction][subject]
        baseline = self._baseline[direction][subject]
        if (admin is None and baseline is None) or (
            subject == peer and not (probe.service and self.profile.cnp_service_hairpin)
        ):
            # No cluster policy selects it, or a pod to its own IP (never subject to them).
            return self._network_direction(direction, subject, peer, dst_i, probe)
        admin_hits = _NO_HITS if admin is None else self._hits(admin, peer, dst_i, probe)
        network: DirectionVerdict | None = None
        base_hits = _NO_HITS
        # The later tiers only matter when Admin did not decide (or a tie could Pass).
        if admin_hits.may_pass or not admin_hits.rules:
            network = self._network_direction(direction, subject, peer, dst_i, probe)
            if baseline is not None and not network.isolated:
                base_hits = self._hits(baseline, peer, dst_i, probe)
        key = ("cluster", direction, id(admin_hits), id(network), id(base_hits))
        verdict = self._verdict_cache.get(key)
        if verdict is None:
            verdict = _cluster_verdict(direction, admin_hits, network, base_hits)
            self._verdict_cache[key] = verdict
        return verdict

    # -- evaluation --------------------------------------------------------------------

    def _ports_ok(self, rule: _CompiledRule, dst_i: int, port: int, protocol: Protocol) -> bool:
        # Keyed by the destination's port signature: pods declaring the same ports share it.
        key = (id(rule), self._port_signature[dst_i], port, protocol)
        hit = self._port_cache.get(key)
        if hit is None:
            hit = _port_match(rule.rule, self._pods[dst_i], port, protocol) is not None
            self._port_cache[key] = hit
        return hit

    def _network_direction(
        self, direction: Direction, subject: int, peer: int, dst_i: int, probe: Probe
    ) -> DirectionVerdict:
        """NetworkPolicy alone: isolated pods take the union of their policies' rules."""
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
            tier=NETWORK_POLICY_TIER if isolated_by else "",
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
        if src_i == dst_i and self.profile.ignore_loopback and self._loopback_undefined(src_i):
            ignored = "loopback"
        elif (src.host_network or dst.host_network) and (
            self.profile.host_network is HostNetworkMode.IGNORE
        ):
            ignored = "hostNetwork"
        elif egress.ambiguous or ingress.ambiguous:
            ignored = "same-priority"
        elif served and (egress.unsupported or ingress.unsupported):
            ignored = "unsupported"
        return ProbeVerdict(probe, allowed, served, egress, ingress, ignored, reason)

    def _loopback_undefined(self, pod: int) -> bool:
        """A pod to itself is left out of comparisons unless a cluster policy selects it and
        no NetworkPolicy isolates it: then it is defined (cluster policies never apply to a
        pod's own IP), where NetworkPolicy leaves it to the implementation."""
        if any(self._isolation[d][pod][0] for d in Direction):
            return True
        tiers = (self._admin, self._baseline)
        return all(tier[d][pod] is None for tier in tiers for d in Direction)

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


def _in_network(ip: str, network: IPNetwork) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return addr.version == network.version and addr in network


_VERB = {Action.ACCEPT: "accepts", Action.DENY: "denies", Action.PASS: "passes"}


def _cluster_verdict(
    direction: Direction, admin: _Hits, network: DirectionVerdict | None, baseline: _Hits
) -> DirectionVerdict:
    """Admin, then NetworkPolicy, then Baseline, for one direction of one subject. A tier's
    first hit (by policy name among one priority) decides; the outcomes its same-priority
    alternatives would give tell whether the cell depends on which one is applied.
    `network` is None when Admin decided and no alternative could pass the flow on."""
    side = "source" if direction is Direction.EGRESS else "destination"
    kind = direction.value.lower()
    # Every outcome some choice among same-priority hits could give.
    if network is None:
        after_admin: set[bool] = set()
    elif network.isolated:
        after_admin = {network.allowed}
    else:
        after_admin = {r.action is not Action.DENY for r in baseline.rules} or {True}
    outcomes: set[bool] = set()
    for hit in admin.rules:
        outcomes |= after_admin if hit.action is Action.PASS else {hit.action is Action.ACCEPT}
    outcomes = outcomes or after_admin

    parts: list[str] = []
    passed: list[RuleRef] = []
    ties: list[RuleRef] = []
    tier, decided_by, unsupported = "", None, admin.unsupported
    first = admin.rules[0] if admin.rules else None
    if first is not None:
        ties += [r.ref for r in admin.rules[1:] if r.action is not first.action]
    if first is not None and first.action is not Action.PASS:
        allowed, tier, decided_by = first.action is Action.ACCEPT, Tier.ADMIN.value, first.ref
        parts.append(f"{first.ref} {_VERB[first.action]} it")
    else:
        assert network is not None  # computed whenever Admin did not decide
        if first is not None:
            passed.append(first.ref)
            parts.append(f"passed by {first.ref}")
        if network.isolated:
            allowed, tier = network.allowed, NETWORK_POLICY_TIER
            parts.append(f"NetworkPolicy tier: {network.reason}")
        else:
            parts.append(f"no NetworkPolicy isolates the {side} for {kind}")
            unsupported = unsupported or baseline.unsupported
            last = baseline.rules[0] if baseline.rules else None
            if last is None:
                allowed = True
                parts.append("no tier decides: allowed")
            else:
                ties += [r.ref for r in baseline.rules[1:] if r.action is not last.action]
                allowed = last.action is not Action.DENY
                if last.action is Action.PASS:
                    passed.append(last.ref)
                    parts.append(f"passed by {last.ref}: no tier decides, allowed")
                else:
                    tier, decided_by = Tier.BASELINE.value, last.ref
                    parts.append(f"{last.ref} {_VERB[last.action]} it")
    ambiguous = len(outcomes) > 1
    if ties:
        which = "changes" if ambiguous else "does not change"
        parts.append(
            f"same priority as {', '.join(str(t) for t in ties)}, which an implementation "
            f"may apply instead ({which} the outcome)"
        )
    if unsupported:
        parts.append(f"cannot judge {unsupported}")
    reached = network if tier != Tier.ADMIN.value else None
    return DirectionVerdict(
        direction,
        allowed,
        reached.isolated_by if reached is not None else (),
        reached.allowed_by if reached is not None else (),
        reached.closest if reached is not None else None,
        "; ".join(parts),
        tier=tier,
        decided_by=decided_by,
        passed=tuple(passed),
        ambiguous_with=tuple(ties),
        ambiguous=ambiguous,
        unsupported=unsupported,
    )


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
