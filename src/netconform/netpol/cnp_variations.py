"""Generated ClusterNetworkPolicy cases: the tiers against each other and against
NetworkPolicy, one interaction at a time, for ingress and egress.

Every case's subject is namespace x (or pods of it): the Admin tier, then NetworkPolicy,
then the Baseline tier decide a flow, `Pass` hands it to the next, lower `priority` values
come first within a tier and rules are read in order within a policy. The cases pit each
of these against another (Admin Deny over an NP allow, Admin Accept over an NP default
deny, Pass to NP and to Baseline, Baseline overridden by a selecting NP, priority against
rule order and tier, egress `networks` over pod IPs, port ranges).

Subjects select only the model's namespaces (by `kubernetes.io/metadata.name In [...]`),
never every namespace: a run binds x, y, z to namespaces of its own per lane, and a subject
that reached past them would change other lanes' cells. Peers may be broader.

Output is scenarios/netpol/generated-cnp.yaml, regenerated with
`python -m netconform.netpol.cnp_variations scenarios/netpol`; a test keeps it in sync.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from netconform.netpol.cluster_policy import Action, Tier

NS_LABEL = "kubernetes.io/metadata.name"
CNP_API_VERSION = "policy.networking.k8s.io/v1beta1"
CNP_KIND = "ClusterNetworkPolicy"
FILE_NAME = "generated-cnp.yaml"

Json = dict[str, Any]


@dataclass(frozen=True)
class Side:
    """One direction as the subject sees it: whose traffic the rules hold, and the words."""

    direction: str  # "ingress" or "egress"

    @property
    def peers_key(self) -> str:
        return "from" if self.direction == "ingress" else "to"

    @property
    def np_type(self) -> str:
        return "Ingress" if self.direction == "ingress" else "Egress"

    @property
    def toward(self) -> str:
        """How a peer relates to the subject: traffic `from y` or `to y`."""
        return "from" if self.direction == "ingress" else "to"


SIDES = (Side("ingress"), Side("egress"))


# -- manifest builders -----------------------------------------------------------------


def ns_in(*names: str) -> Json:
    """A selector of model namespaces by name (the binding maps the names per run)."""
    return {"matchExpressions": [{"key": NS_LABEL, "operator": "In", "values": list(names)}]}


def namespaces(*names: str) -> Json:
    """A subject or peer: every pod of these model namespaces."""
    return {"namespaces": ns_in(*names)}


def pods(pod_labels: Json, *names: str) -> Json:
    """A subject or peer: pods with these labels in these model namespaces."""
    return {
        "pods": {"namespaceSelector": ns_in(*names), "podSelector": {"matchLabels": pod_labels}}
    }


def networks(*cidrs: str) -> Json:
    return {"networks": list(cidrs)}


def port(protocol: str, number: int | None = None, end: int | None = None) -> Json:
    """One `protocols` entry: a protocol, a destination port or a port range, or neither."""
    if number is None:
        return {protocol.lower(): {}}
    if end is None:
        return {protocol.lower(): {"destinationPort": {"number": number}}}
    return {protocol.lower(): {"destinationPort": {"range": {"start": number, "end": end}}}}


def rule(
    side: Side, name: str, action: Action, peers: list[Json], protocols: list[Json] | None = None
) -> Json:
    out: Json = {"name": name, "action": str(action), side.peers_key: peers}
    if protocols is not None:
        out["protocols"] = protocols
    return out


def cnp(
    name: str,
    tier: Tier,
    priority: int,
    side: Side,
    rules: list[Json],
    subject: Json | None = None,
) -> Json:
    """A ClusterNetworkPolicy holding `rules` in one direction; the subject defaults to
    namespace x."""
    return {
        "apiVersion": CNP_API_VERSION,
        "kind": CNP_KIND,
        "metadata": {"name": name},
        "spec": {
            "tier": str(tier),
            "priority": priority,
            "subject": subject or namespaces("x"),
            side.direction: rules,
        },
    }


def np(
    name: str,
    side: Side,
    rules: list[Json],
    target: Json | None = None,
    namespace: str = "x",
    np_type: str | None = None,
) -> Json:
    """A NetworkPolicy in x isolating its target (default every pod) for one direction."""
    return {
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "podSelector": {} if target is None else target,
            "policyTypes": [np_type or side.np_type],
            (np_type or side.np_type).lower(): rules,
        },
    }


def np_peer_namespace(side: Side, name: str) -> Json:
    return {side.peers_key: [{"namespaceSelector": {"matchLabels": {NS_LABEL: name}}}]}


POD_A = {"matchLabels": {"pod": "a"}}


def case(
    case_id: str,
    title: str,
    tags: list[str],
    steps: list[Json],
    pods_: list[str] | None = None,
    ports: list[int] | None = None,
    protocols: list[str] | None = None,
) -> Json:
    ports = ports or [80, 81]
    protocols = protocols or ["TCP"]
    probes = [f"{p}/{proto}" for p in ports for proto in protocols]
    for step in steps:
        step.setdefault("probes", probes)
    tier_tags = [t for t in ("admin", "baseline") if t in tags]
    rest = [t for t in tags if t not in tier_tags]
    return {
        "id": f"generated.cnp.{case_id}",
        "title": title,
        "tags": ["generated", "cluster-network-policy", *tier_tags, *rest],
        "pods": pods_ or ["x/a", "x/b", "y/a", "z/a"],
        "ports": ports,
        "protocols": protocols,
        "steps": steps,
    }


def step(name: str, *actions: Json) -> Json:
    return {"name": name, "actions": list(actions)}


def create(manifest: Json) -> Json:
    return {"create-policy": manifest}


def update(manifest: Json) -> Json:
    return {"update-policy": manifest}


# -- the tiers against NetworkPolicy ---------------------------------------------------


def networkpolicy_cases(side: Side) -> list[Json]:
    d, to = side.direction, side.toward
    np_allow_y = np("allow-y", side, [np_peer_namespace(side, "y")])
    np_deny = np("deny-all", side, [])
    cases = [
        case(
            f"admin-deny-over-np-allow.{d}",
            f"an Admin Deny {to} y on 80/TCP overrides x's NetworkPolicy allowing y",
            ["admin", d, "networkpolicy", "deny", "tier-order"],
            [
                step("NetworkPolicy allows y only", create(np_allow_y)),
                step(
                    "Admin denies y on 80/TCP",
                    create(
                        cnp(
                            "deny-y-80",
                            Tier.ADMIN,
                            10,
                            side,
                            [
                                rule(
                                    side,
                                    "deny-y-80",
                                    Action.DENY,
                                    [namespaces("y")],
                                    [port("TCP", 80)],
                                )
                            ],
                        )
                    ),
                ),
            ],
        ),
        case(
            f"admin-accept-over-np-deny.{d}",
            f"an Admin Accept {to} y overrides x's default-deny NetworkPolicy",
            ["admin", d, "networkpolicy", "accept", "tier-order", "default-deny"],
            [
                step("NetworkPolicy denies all", create(np_deny)),
                step(
                    "Admin accepts y",
                    create(
                        cnp(
                            "accept-y",
                            Tier.ADMIN,
                            10,
                            side,
                            [rule(side, "accept-y", Action.ACCEPT, [namespaces("y")])],
                        )
                    ),
                ),
            ],
        ),
        case(
            f"admin-pass-to-np.{d}",
            f"an Admin Pass {to} y hands y to x/a's NetworkPolicy (80/TCP only); "
            "the Deny after the Pass still holds z",
            ["admin", d, "networkpolicy", "pass", "tier-order", "rule-order"],
            [
                step(
                    "x/a's NetworkPolicy allows y on 80/TCP, Admin passes y and denies y, z",
                    create(
                        np(
                            "a-allows-y-80",
                            side,
                            [{**np_peer_namespace(side, "y"), "ports": [{"port": 80}]}],
                            target=POD_A,
                        )
                    ),
                    create(
                        cnp(
                            "pass-y-deny-rest",
                            Tier.ADMIN,
                            10,
                            side,
                            [
                                rule(side, "pass-y", Action.PASS, [namespaces("y")]),
                                rule(side, "deny-y-z", Action.DENY, [namespaces("y", "z")]),
                            ],
                        )
                    ),
                )
            ],
        ),
        case(
            f"admin-pass-to-baseline.{d}",
            f"an Admin Pass {to} y reaches the Baseline Deny on 80/TCP; an Admin Accept "
            f"{to} z is never overruled by the Baseline",
            ["admin", "baseline", d, "pass", "tier-order"],
            [
                step(
                    "Admin passes y and accepts z; Baseline denies y and z on 80/TCP",
                    create(
                        cnp(
                            "pass-y-accept-z",
                            Tier.ADMIN,
                            5,
                            side,
                            [
                                rule(side, "pass-y", Action.PASS, [namespaces("y")]),
                                rule(side, "accept-z", Action.ACCEPT, [namespaces("z")]),
                            ],
                        )
                    ),
                    create(
                        cnp(
                            "deny-y-z-80",
                            Tier.BASELINE,
                            5,
                            side,
                            [
                                rule(
                                    side,
                                    "deny-y-z-80",
                                    Action.DENY,
                                    [namespaces("y", "z")],
                                    [port("TCP", 80)],
                                )
                            ],
                        )
                    ),
                )
            ],
        ),
        case(
            f"baseline-overridden-by-np.{d}",
            f"x/a's NetworkPolicy (only {to} z) overrides the Baseline (accept y, deny the "
            "rest) for x/a alone",
            ["baseline", d, "networkpolicy", "tier-order"],
            [
                step(
                    "Baseline accepts y, denies x, y, z",
                    create(
                        cnp(
                            "accept-y-deny-rest",
                            Tier.BASELINE,
                            10,
                            side,
                            [
                                rule(side, "accept-y", Action.ACCEPT, [namespaces("y")]),
                                rule(side, "deny-all", Action.DENY, [namespaces("x", "y", "z")]),
                            ],
                        )
                    ),
                ),
                step(
                    "a NetworkPolicy selects x/a, allowing z only",
                    create(np("a-allows-z", side, [np_peer_namespace(side, "z")], target=POD_A)),
                ),
            ],
        ),
    ]
    other = Side("egress" if side.direction == "ingress" else "ingress")
    cases.append(
        case(
            f"baseline-not-overridden-by-other-direction-np.{d}",
            f"a NetworkPolicy selecting x/a for {other.direction} only leaves x/a's "
            f"{d} to the Baseline Deny {to} y",
            ["baseline", d, "networkpolicy", "policy-types", "tier-order"],
            [
                step(
                    "Baseline denies y",
                    create(
                        cnp(
                            "deny-y",
                            Tier.BASELINE,
                            10,
                            side,
                            [rule(side, "deny-y", Action.DENY, [namespaces("y")])],
                        )
                    ),
                ),
                step(
                    f"a NetworkPolicy selects x/a for {other.direction}, allowing everything",
                    create(np(f"a-{other.direction}-open", other, [{}], target=POD_A)),
                ),
            ],
        )
    )
    return cases


# -- priority, ties and rule order -----------------------------------------------------


def priority_cases(side: Side) -> list[Json]:
    d, to = side.direction, side.toward

    def deny_y(priority: int) -> Json:
        return cnp(
            "deny-y",
            Tier.ADMIN,
            priority,
            side,
            [rule(side, "deny-y", Action.DENY, [namespaces("y")])],
        )

    accept_y = cnp(
        "accept-y", Tier.ADMIN, 20, side, [rule(side, "accept-y", Action.ACCEPT, [namespaces("y")])]
    )
    first_match = [
        rule(side, "deny-y-80", Action.DENY, [namespaces("y")], [port("TCP", 80)]),
        rule(side, "accept-y", Action.ACCEPT, [namespaces("y")]),
        rule(side, "deny-all", Action.DENY, [namespaces("x", "y", "z")]),
    ]
    return [
        case(
            f"priority.lower-value-wins.{d}",
            f"Admin Deny {to} y at priority 10 beats Admin Accept at 20; moved to 30 it loses",
            ["admin", d, "priority"],
            [
                step("Deny at 10, Accept at 20", create(deny_y(10)), create(accept_y)),
                step("Deny moved to 30", update(deny_y(30))),
            ],
        ),
        case(
            f"priority.tier-beats-priority.{d}",
            f"an Admin Accept {to} y at priority 1000 beats a Baseline Deny at priority 0",
            ["admin", "baseline", d, "priority", "tier-order"],
            [
                step(
                    "Admin accepts y at 1000; Baseline denies y and z at 0",
                    create(
                        cnp(
                            "accept-y-last",
                            Tier.ADMIN,
                            1000,
                            side,
                            [rule(side, "accept-y", Action.ACCEPT, [namespaces("y")])],
                        )
                    ),
                    create(
                        cnp(
                            "deny-y-z-first",
                            Tier.BASELINE,
                            0,
                            side,
                            [rule(side, "deny-y-z", Action.DENY, [namespaces("y", "z")])],
                        )
                    ),
                )
            ],
        ),
        case(
            f"priority.same-priority-disjoint.{d}",
            f"two Admin policies at one priority with disjoint rules ({to} y on 80, {to} z "
            "on 81) both apply",
            ["admin", d, "priority", "same-priority"],
            [
                step(
                    "both at priority 10",
                    create(
                        cnp(
                            "deny-y-80",
                            Tier.ADMIN,
                            10,
                            side,
                            [
                                rule(
                                    side,
                                    "deny-y-80",
                                    Action.DENY,
                                    [namespaces("y")],
                                    [port("TCP", 80)],
                                )
                            ],
                        )
                    ),
                    create(
                        cnp(
                            "deny-z-81",
                            Tier.ADMIN,
                            10,
                            side,
                            [
                                rule(
                                    side,
                                    "deny-z-81",
                                    Action.DENY,
                                    [namespaces("z")],
                                    [port("TCP", 81)],
                                )
                            ],
                        )
                    ),
                )
            ],
        ),
        case(
            f"priority.same-priority-agreeing.{d}",
            f"two Admin policies at one priority that match the same flows {to} y agree "
            "(both Deny), so the outcome is defined",
            ["admin", d, "priority", "same-priority"],
            [
                step(
                    "both at priority 10",
                    create(
                        cnp(
                            "deny-y",
                            Tier.ADMIN,
                            10,
                            side,
                            [rule(side, "deny-y", Action.DENY, [namespaces("y")])],
                        )
                    ),
                    create(
                        cnp(
                            "deny-y-a-80",
                            Tier.ADMIN,
                            10,
                            side,
                            [
                                rule(
                                    side,
                                    "deny-y-a-80",
                                    Action.DENY,
                                    [pods({"pod": "a"}, "y")],
                                    [port("TCP", 80)],
                                )
                            ],
                        )
                    ),
                )
            ],
        ),
        case(
            f"rule-order.first-match-wins.{d}",
            f"within one Admin policy the first matching rule decides: Deny {to} y on 80, "
            "Accept y, Deny the rest; then the Deny-all moved first",
            ["admin", d, "rule-order"],
            [
                step(
                    "deny y:80, accept y, deny all",
                    create(cnp("ordered", Tier.ADMIN, 10, side, first_match)),
                ),
                step(
                    "deny all moved first",
                    update(
                        cnp(
                            "ordered",
                            Tier.ADMIN,
                            10,
                            side,
                            [first_match[2], first_match[0], first_match[1]],
                        )
                    ),
                ),
            ],
        ),
        case(
            f"rule-order.baseline-first-match-wins.{d}",
            f"within one Baseline policy the first matching rule decides: Accept {to} y, "
            "then Deny y, z; swapped, the Deny takes y too",
            ["baseline", d, "rule-order"],
            [
                step(
                    "accept y, deny y and z",
                    create(
                        cnp(
                            "ordered",
                            Tier.BASELINE,
                            10,
                            side,
                            [
                                rule(side, "accept-y", Action.ACCEPT, [namespaces("y")]),
                                rule(side, "deny-y-z", Action.DENY, [namespaces("y", "z")]),
                            ],
                        )
                    ),
                ),
                step(
                    "swapped",
                    update(
                        cnp(
                            "ordered",
                            Tier.BASELINE,
                            10,
                            side,
                            [
                                rule(side, "deny-y-z", Action.DENY, [namespaces("y", "z")]),
                                rule(side, "accept-y", Action.ACCEPT, [namespaces("y")]),
                            ],
                        )
                    ),
                ),
            ],
        ),
    ]


# -- egress networks -------------------------------------------------------------------


def network_cases() -> list[Json]:
    side = Side("egress")
    deny_all = rule(side, "deny-ipv4", Action.DENY, [networks("0.0.0.0/0")])
    return [
        case(
            "networks.deny-all-ipv4-includes-pods.egress",
            "an Admin Deny to 0.0.0.0/0 denies x's egress to every pod, its own namespace's too",
            ["admin", "egress", "networks"],
            [step("deny 0.0.0.0/0", create(cnp("deny-ipv4", Tier.ADMIN, 10, side, [deny_all])))],
        ),
        case(
            "networks.accept-pod-ip-before-deny-all.egress",
            "an Admin Accept of y/a's /32 before a Deny of 0.0.0.0/0 lets x reach y/a only",
            ["admin", "egress", "networks", "rule-order"],
            [
                step(
                    "accept y/a's IP, deny 0.0.0.0/0",
                    create(
                        cnp(
                            "only-y-a",
                            Tier.ADMIN,
                            10,
                            side,
                            [
                                rule(side, "accept-y-a", Action.ACCEPT, [networks("${ip:y/a}/32")]),
                                deny_all,
                            ],
                        )
                    ),
                )
            ],
            pods_=["x/a", "x/b", "y/a", "y/b", "z/a"],
        ),
        case(
            "networks.deny-one-ip-before-accept-all.egress",
            "except-like: an Admin Deny of z/a's /32 at priority 10 before an Admin Accept of "
            "0.0.0.0/0 at 20 opens x's default-deny egress to every pod but z/a",
            ["admin", "egress", "networks", "priority", "networkpolicy", "default-deny"],
            [
                step("NetworkPolicy denies x's egress", create(np("deny-all", side, []))),
                step(
                    "deny z/a's IP at 10, accept 0.0.0.0/0 at 20",
                    create(
                        cnp(
                            "deny-z-a",
                            Tier.ADMIN,
                            10,
                            side,
                            [rule(side, "deny-z-a", Action.DENY, [networks("${ip:z/a}/32")])],
                        )
                    ),
                    create(
                        cnp(
                            "accept-ipv4",
                            Tier.ADMIN,
                            20,
                            side,
                            [rule(side, "accept-ipv4", Action.ACCEPT, [networks("0.0.0.0/0")])],
                        )
                    ),
                ),
            ],
            pods_=["x/a", "x/b", "y/a", "z/a", "z/b"],
        ),
        case(
            "networks.pass-pods-before-deny-all.egress",
            "an Admin Pass to the model's namespaces before a Deny of 0.0.0.0/0 leaves pod "
            "traffic to x's NetworkPolicy (to y only)",
            ["admin", "egress", "networks", "pass", "networkpolicy"],
            [
                step(
                    "pass x, y, z; deny 0.0.0.0/0",
                    create(
                        cnp(
                            "pass-pods-deny-ipv4",
                            Tier.ADMIN,
                            10,
                            side,
                            [
                                rule(side, "pass-pods", Action.PASS, [namespaces("x", "y", "z")]),
                                deny_all,
                            ],
                        )
                    ),
                ),
                step(
                    "x's NetworkPolicy allows egress to y only",
                    create(np("allow-y", side, [np_peer_namespace(side, "y")])),
                ),
            ],
        ),
        case(
            "networks.baseline-deny-all-overridden-by-np.egress",
            "a Baseline Deny to 0.0.0.0/0 holds x/b; x/a's NetworkPolicy (to z only) decides "
            "for x/a instead",
            ["baseline", "egress", "networks", "networkpolicy", "tier-order"],
            [
                step(
                    "Baseline denies 0.0.0.0/0; x/a's NetworkPolicy allows z",
                    create(cnp("deny-ipv4", Tier.BASELINE, 10, side, [deny_all])),
                    create(np("a-allows-z", side, [np_peer_namespace(side, "z")], target=POD_A)),
                )
            ],
        ),
    ]


# -- port ranges -----------------------------------------------------------------------


def port_range_cases(side: Side) -> list[Json]:
    d, to = side.direction, side.toward
    return [
        case(
            f"port-range.admin-deny-range.{d}",
            f"an Admin Deny {to} y on TCP 81-82 holds 81/TCP only: 80/TCP and UDP stay open",
            ["admin", d, "port-range", "udp"],
            [
                step(
                    "deny y on TCP 81-82",
                    create(
                        cnp(
                            "deny-y-81-82",
                            Tier.ADMIN,
                            10,
                            side,
                            [
                                rule(
                                    side,
                                    "deny-y-81-82",
                                    Action.DENY,
                                    [namespaces("y")],
                                    [port("TCP", 81, 82)],
                                )
                            ],
                        )
                    ),
                )
            ],
            protocols=["TCP", "UDP"],
        ),
        case(
            f"port-range.admin-accept-range-over-np-deny.{d}",
            f"an Admin Accept {to} y on UDP 80-81 opens x's default-deny NetworkPolicy for UDP "
            "only",
            ["admin", d, "port-range", "networkpolicy", "default-deny", "udp"],
            [
                step(
                    "NetworkPolicy denies all; Admin accepts y on UDP 80-81",
                    create(np("deny-all", side, [])),
                    create(
                        cnp(
                            "accept-y-udp-80-81",
                            Tier.ADMIN,
                            10,
                            side,
                            [
                                rule(
                                    side,
                                    "accept-y-udp",
                                    Action.ACCEPT,
                                    [namespaces("y")],
                                    [port("UDP", 80, 81)],
                                )
                            ],
                        )
                    ),
                )
            ],
            protocols=["TCP", "UDP"],
        ),
        case(
            f"port-range.baseline-number-before-range.{d}",
            f"a Baseline Accept {to} y on 81/TCP before a Deny of TCP 80-82: 81 open, 80 denied, "
            "UDP untouched",
            ["baseline", d, "port-range", "rule-order", "udp"],
            [
                step(
                    "accept 81, deny 80-82",
                    create(
                        cnp(
                            "y-81-only",
                            Tier.BASELINE,
                            10,
                            side,
                            [
                                rule(
                                    side,
                                    "accept-y-81",
                                    Action.ACCEPT,
                                    [namespaces("y")],
                                    [port("TCP", 81)],
                                ),
                                rule(
                                    side,
                                    "deny-y-80-82",
                                    Action.DENY,
                                    [namespaces("y")],
                                    [port("TCP", 80, 82)],
                                ),
                            ],
                        )
                    ),
                )
            ],
            protocols=["TCP", "UDP"],
        ),
    ]


def all_cases() -> list[Json]:
    groups: list[Callable[[Side], list[Json]]] = [
        networkpolicy_cases,
        priority_cases,
        port_range_cases,
    ]
    cases = [c for group in groups for side in SIDES for c in group(side)]
    return cases + network_cases()


class _NoAliases(yaml.SafeDumper):
    """Every manifest written out in full: rules shared between steps would be anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render() -> str:
    header = (
        "# Generated by `python -m netconform.netpol.cnp_variations scenarios/netpol`.\n"
        "# Do not edit by hand: change src/netconform/netpol/cnp_variations.py and regenerate.\n"
    )
    body = yaml.dump({"cases": all_cases()}, Dumper=_NoAliases, sort_keys=False, width=100)
    return header + body


def write(directory: Path) -> Path:
    path = directory / FILE_NAME
    path.write_text(render(), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m netconform.netpol.cnp_variations DIRECTORY", file=sys.stderr)
        return 2
    print(write(Path(args[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
