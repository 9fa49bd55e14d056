"""Cyclonus-style generated cases: one dimension of a base policy varied at a time.

The base (after Cyclonus) targets x/a: ingress from pods b, c of namespaces x, y on 80/TCP;
egress to pods a, b of namespaces y, z on 80/TCP, plus DNS. Variations change the target,
the peers, the ports and protocols, combine policies (conflicts) or act over several steps.
Output is YAML under scenarios/netpol/generated-*.yaml, regenerated with
`python -m netconform.netpol.variations scenarios/netpol`; a test keeps it in sync.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

NS_LABEL = "kubernetes.io/metadata.name"
DNS_RULE = {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}

Json = dict[str, Any]


def _in(key: str, *values: str) -> Json:
    return {"matchExpressions": [{"key": key, "operator": "In", "values": list(values)}]}


BASE_INGRESS_PEER: Json = {
    "namespaceSelector": _in(NS_LABEL, "x", "y"),
    "podSelector": _in("pod", "b", "c"),
}
BASE_EGRESS_PEER: Json = {
    "namespaceSelector": _in(NS_LABEL, "y", "z"),
    "podSelector": _in("pod", "a", "b"),
}
BASE_PORTS: list[Json] = [{"port": 80, "protocol": "TCP"}]


def policy(
    name: str,
    *,
    namespace: str = "x",
    target: Json | None = None,
    ingress: list[Json] | None = None,
    egress: list[Json] | None = None,
    types: list[str] | None = None,
) -> Json:
    spec: Json = {"podSelector": {"matchLabels": {"pod": "a"}} if target is None else target}
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    if types is not None:
        spec["policyTypes"] = types
    return {"metadata": {"name": name, "namespace": namespace}, "spec": spec}


def directional(
    name: str, direction: str, peers: list[Json] | None, ports: list[Json] | None, **kw: Any
) -> Json:
    """A policy with one rule for `direction`; `None` peers/ports leaves the field out."""
    rule: Json = {}
    key = "from" if direction == "ingress" else "to"
    if peers is not None:
        rule[key] = peers
    if ports is not None:
        rule["ports"] = ports
    if direction == "ingress":
        return policy(name, ingress=[rule], types=["Ingress"], **kw)
    return policy(name, egress=[rule, DNS_RULE], types=["Egress"], **kw)


def case(
    case_id: str, title: str, tags: list[str], steps: list[Json], protocols: list[str] | None = None
) -> Json:
    protocols = protocols or ["TCP", "UDP"]
    probes = [f"{port}/{proto}" for port in (80, 81) for proto in protocols]
    for step in steps:
        step.setdefault("probes", probes)
    return {
        "id": case_id,
        "title": title,
        "tags": ["generated", *tags],
        "ports": [80, 81],
        "protocols": protocols,
        "steps": steps,
    }


def one_step(actions: list[Json], name: str = "apply") -> list[Json]:
    return [{"name": name, "actions": actions}]


def target_cases() -> list[Json]:
    targets: list[tuple[str, str, Json, str]] = [
        ("all-pods", "every pod of x", {}, "x"),
        ("pod-a", "pod=a", {"matchLabels": {"pod": "a"}}, "x"),
        ("pods-a-b", "pod in (a, b)", _in("pod", "a", "b"), "x"),
        (
            "not-pod-a",
            "pod notin (a)",
            {"matchExpressions": [{"key": "pod", "operator": "NotIn", "values": ["a"]}]},
            "x",
        ),
        ("namespace-y", "pod=a of namespace y", {"matchLabels": {"pod": "a"}}, "y"),
    ]
    cases = []
    for slug, text, target, namespace in targets:
        for direction in ("ingress", "egress"):
            peer = BASE_INGRESS_PEER if direction == "ingress" else BASE_EGRESS_PEER
            pol = directional(
                "base", direction, [peer], BASE_PORTS, namespace=namespace, target=target
            )
            cases.append(
                case(
                    f"generated.target.{direction}.{slug}",
                    f"{direction} base policy targeting {text}",
                    ["target", direction],
                    one_step([{"create-policy": pol}]),
                )
            )
    return cases


def peer_cases() -> list[Json]:
    peers: list[tuple[str, str, list[Json] | None, list[str]]] = [
        ("absent", "no peers: everyone", None, ["any-peer"]),
        (
            "empty-pod-selector",
            "podSelector {}: the policy's namespace",
            [{"podSelector": {}}],
            ["pod-selector", "empty-selector"],
        ),
        (
            "empty-namespace-selector",
            "namespaceSelector {}: every namespace",
            [{"namespaceSelector": {}}],
            ["namespace-selector", "empty-selector"],
        ),
        (
            "both-empty",
            "both selectors empty: every pod",
            [{"namespaceSelector": {}, "podSelector": {}}],
            ["pod-selector", "namespace-selector", "empty-selector"],
        ),
        (
            "pod-b",
            "podSelector pod=b",
            [{"podSelector": {"matchLabels": {"pod": "b"}}}],
            ["pod-selector"],
        ),
        (
            "namespace-y",
            "namespaceSelector y",
            [{"namespaceSelector": {"matchLabels": {NS_LABEL: "y"}}}],
            ["namespace-selector"],
        ),
        (
            "namespace-y-pod-b",
            "namespace y AND pod b",
            [
                {
                    "namespaceSelector": {"matchLabels": {NS_LABEL: "y"}},
                    "podSelector": {"matchLabels": {"pod": "b"}},
                }
            ],
            ["pod-selector", "namespace-selector"],
        ),
        (
            "any-namespace-pods-b-c",
            "any namespace AND pod in (b, c)",
            [{"namespaceSelector": {}, "podSelector": _in("pod", "b", "c")}],
            ["pod-selector", "namespace-selector", "match-expressions"],
        ),
        (
            "pod-not-b",
            "pod notin (b)",
            [
                {
                    "podSelector": {
                        "matchExpressions": [{"key": "pod", "operator": "NotIn", "values": ["b"]}]
                    }
                }
            ],
            ["pod-selector", "match-expressions"],
        ),
        (
            "pod-label-exists",
            "pod label exists",
            [{"podSelector": {"matchExpressions": [{"key": "pod", "operator": "Exists"}]}}],
            ["pod-selector", "match-expressions"],
        ),
        (
            "pod-label-absent",
            "pod label does not exist: nobody",
            [{"podSelector": {"matchExpressions": [{"key": "pod", "operator": "DoesNotExist"}]}}],
            ["pod-selector", "match-expressions"],
        ),
        (
            "pod-b-or-namespace-z",
            "pod b OR namespace z",
            [
                {"podSelector": {"matchLabels": {"pod": "b"}}},
                {"namespaceSelector": {"matchLabels": {NS_LABEL: "z"}}},
            ],
            ["pod-selector", "namespace-selector", "multi-peer"],
        ),
        ("ip-block", "ipBlock z/c /32", [{"ipBlock": {"cidr": "${ip:z/c}/32"}}], ["ip-block"]),
        (
            "ip-block-except",
            "ipBlock z/c's /24 except z/c",
            [{"ipBlock": {"cidr": "${cidr:z/c:24}", "except": ["${ip:z/c}/32"]}}],
            ["ip-block", "except"],
        ),
    ]
    cases = []
    for slug, text, peer_list, tags in peers:
        for direction in ("ingress", "egress"):
            pol = directional("base", direction, peer_list, BASE_PORTS)
            cases.append(
                case(
                    f"generated.peers.{direction}.{slug}",
                    f"{direction} of x/a on 80/TCP, peers: {text}",
                    ["peers", direction, *tags],
                    one_step([{"create-policy": pol}]),
                )
            )
    return cases


def port_cases() -> list[Json]:
    ports: list[tuple[str, str, list[Json] | None, list[str]]] = [
        ("absent", "no ports: every port", None, ["all-ports"]),
        ("80-default-protocol", "80 without protocol (TCP)", [{"port": 80}], ["protocol-default"]),
        ("81-tcp", "81/TCP", [{"port": 81, "protocol": "TCP"}], ["tcp"]),
        ("80-udp", "80/UDP", [{"port": 80, "protocol": "UDP"}], ["udp"]),
        ("80-sctp", "80/SCTP", [{"port": 80, "protocol": "SCTP"}], ["sctp"]),
        ("any-tcp", "TCP, any port", [{"protocol": "TCP"}], ["any-port", "tcp"]),
        ("any-udp", "UDP, any port", [{"protocol": "UDP"}], ["any-port", "udp"]),
        ("any-sctp", "SCTP, any port", [{"protocol": "SCTP"}], ["any-port", "sctp"]),
        ("named-80-tcp", "named serve-80-tcp", [{"port": "serve-80-tcp"}], ["named-port"]),
        (
            "named-81-udp",
            "named serve-81-udp over UDP",
            [{"port": "serve-81-udp", "protocol": "UDP"}],
            ["named-port", "udp"],
        ),
        (
            "named-tcp-name-as-udp",
            "named serve-80-tcp over UDP: resolves to nothing",
            [{"port": "serve-80-tcp", "protocol": "UDP"}],
            ["named-port", "pathological"],
        ),
        (
            "named-udp-name-as-tcp",
            "named serve-80-udp, protocol defaulted to TCP: nothing",
            [{"port": "serve-80-udp"}],
            ["named-port", "pathological"],
        ),
        (
            "named-missing",
            "named port no pod declares",
            [{"port": "no-such-port"}],
            ["named-port", "pathological"],
        ),
        (
            "end-port-tcp",
            "80-81/TCP range",
            [{"port": 80, "endPort": 81, "protocol": "TCP"}],
            ["end-port"],
        ),
        (
            "end-port-udp",
            "81-90/UDP range",
            [{"port": 81, "endPort": 90, "protocol": "UDP"}],
            ["end-port", "udp"],
        ),
        ("end-port-single", "80-80/TCP range", [{"port": 80, "endPort": 80}], ["end-port"]),
        (
            "multi-tcp-udp",
            "80/TCP and 81/UDP",
            [{"port": 80, "protocol": "TCP"}, {"port": 81, "protocol": "UDP"}],
            ["multi-port-protocol", "udp"],
        ),
        (
            "multi-sctp-udp",
            "81/SCTP and 80/UDP",
            [{"port": 81, "protocol": "SCTP"}, {"port": 80, "protocol": "UDP"}],
            ["multi-port-protocol", "sctp", "udp"],
        ),
    ]
    cases = []
    for slug, text, port_list, tags in ports:
        protocols = ["TCP", "UDP", "SCTP"] if "sctp" in tags else None
        for direction in ("ingress", "egress"):
            peer = BASE_INGRESS_PEER if direction == "ingress" else BASE_EGRESS_PEER
            pol = directional("base", direction, [peer], port_list)
            cases.append(
                case(
                    f"generated.ports.{direction}.{slug}",
                    f"{direction} of x/a from the base peers, ports: {text}",
                    ["port-protocol", direction, *tags],
                    one_step([{"create-policy": pol}]),
                    protocols,
                )
            )
    return cases


def conflict_cases() -> list[Json]:
    base_in = directional("base-ingress", "ingress", [BASE_INGRESS_PEER], BASE_PORTS)
    base_out = directional("base-egress", "egress", [BASE_EGRESS_PEER], BASE_PORTS)
    deny_in = policy("deny-ingress", target={}, ingress=[], types=["Ingress"])
    deny_out = policy("deny-egress", target={}, egress=[], types=["Egress"])
    allow_in = policy("allow-ingress", target={}, ingress=[{}], types=["Ingress"])
    allow_out = policy("allow-egress", target={}, egress=[{}], types=["Egress"])
    port81 = directional("ingress-81", "ingress", [{"namespaceSelector": {}}], [{"port": 81}])
    variants: list[tuple[str, str, list[Json], list[str]]] = [
        (
            "deny-ingress-plus-base",
            "default-deny ingress in x plus the base ingress policy",
            [deny_in, base_in],
            ["ingress", "default-deny"],
        ),
        (
            "deny-egress-plus-base",
            "default-deny egress in x plus the base egress policy",
            [deny_out, base_out],
            ["egress", "default-deny"],
        ),
        (
            "allow-ingress-plus-deny",
            "allow-all and deny-all ingress in x: allow wins",
            [deny_in, allow_in],
            ["ingress", "allow-all"],
        ),
        (
            "allow-egress-plus-deny",
            "allow-all and deny-all egress in x: allow wins",
            [deny_out, allow_out],
            ["egress", "allow-all"],
        ),
        (
            "base-ingress-and-egress",
            "the base ingress and egress policies together",
            [base_in, base_out],
            ["ingress", "egress"],
        ),
        (
            "union-of-ports",
            "base ingress on 80 plus any namespace on 81",
            [base_in, port81],
            ["ingress", "union"],
        ),
        (
            "deny-ingress-x-deny-egress-y",
            "default-deny ingress in x and egress in y",
            [deny_in, {**deny_out, "metadata": {"name": "deny-egress", "namespace": "y"}}],
            ["ingress", "egress", "default-deny"],
        ),
        (
            "types-egress-ignores-ingress-rules",
            "policyTypes [Egress] with ingress rules: ingress rules ignored",
            [policy("egress-only", ingress=[{}], egress=[], types=["Egress"])],
            ["policy-types", "egress"],
        ),
        (
            "types-defaulted-with-egress",
            "no policyTypes, egress rules present: both directions",
            [
                policy(
                    "defaulted",
                    ingress=[{"from": [BASE_INGRESS_PEER]}],
                    egress=[{"to": [BASE_EGRESS_PEER]}],
                )
            ],
            ["policy-types", "ingress", "egress"],
        ),
        (
            "types-defaulted-empty-egress",
            "no policyTypes, empty egress list: ingress only",
            [policy("defaulted", ingress=[], egress=[])],
            ["policy-types", "ingress"],
        ),
    ]
    return [
        case(
            f"generated.conflict.{slug}",
            text,
            ["conflict", *tags],
            one_step([{"create-policy": p} for p in pols]),
        )
        for slug, text, pols, tags in variants
    ]


def action_cases() -> list[Json]:
    base_in = directional("base", "ingress", [BASE_INGRESS_PEER], BASE_PORTS)
    team_in = directional(
        "team", "ingress", [{"namespaceSelector": {"matchLabels": {"team": "blue"}}}], None
    )
    allow_in = policy("base", ingress=[{}], types=["Ingress"])
    return [
        case(
            "generated.action.create-delete",
            "create the base ingress policy, then delete it",
            ["action", "create-policy", "delete-policy", "ingress"],
            [
                {"name": "create", "actions": [{"create-policy": base_in}]},
                {"name": "delete", "actions": [{"delete-policy": "x/base"}]},
            ],
        ),
        case(
            "generated.action.update-to-allow-all",
            "update the base ingress policy to allow everything",
            ["action", "update-policy", "ingress"],
            [
                {"name": "create", "actions": [{"create-policy": base_in}]},
                {"name": "update", "actions": [{"update-policy": allow_in}]},
            ],
        ),
        case(
            "generated.action.relabel-pod-into-peers",
            "relabelling x/c to pod=a drops it from the peers and makes it a target",
            ["action", "pod-label", "ingress"],
            [
                {"name": "create", "actions": [{"create-policy": base_in}]},
                {
                    "name": "relabel x/c to pod=a",
                    "actions": [
                        {"set-pod-labels": {"pod": "x/c", "labels": {"pod": "a"}, "replace": True}}
                    ],
                },
            ],
        ),
        case(
            "generated.action.relabel-namespace",
            "namespaces labelled team=blue are admitted; z gets the label",
            ["action", "namespace-label", "ingress", "namespace-selector"],
            [
                {"name": "create", "actions": [{"create-policy": team_in}]},
                {
                    "name": "label z team=blue",
                    "actions": [
                        {"set-namespace-labels": {"namespace": "z", "labels": {"team": "blue"}}}
                    ],
                },
                {
                    "name": "label y team=blue, unlabel z",
                    "actions": [
                        {"set-namespace-labels": {"namespace": "y", "labels": {"team": "blue"}}},
                        {"set-namespace-labels": {"namespace": "z", "labels": {}, "replace": True}},
                    ],
                },
            ],
        ),
        case(
            "generated.action.relabel-target",
            "a policy for pod=d applies once x/b is relabelled pod=d",
            ["action", "pod-label", "target", "ingress"],
            [
                {
                    "name": "create",
                    "actions": [
                        {
                            "create-policy": policy(
                                "deny-d",
                                target={"matchLabels": {"pod": "d"}},
                                ingress=[],
                                types=["Ingress"],
                            )
                        }
                    ],
                },
                {
                    "name": "relabel x/b to pod=d",
                    "actions": [
                        {"set-pod-labels": {"pod": "x/b", "labels": {"pod": "d"}, "replace": True}}
                    ],
                },
            ],
        ),
        case(
            "generated.action.deny-then-allow",
            "default-deny, then an allow policy, then delete the deny",
            ["action", "create-policy", "delete-policy", "conflict", "ingress"],
            [
                {
                    "name": "deny all ingress in x",
                    "actions": [
                        {"create-policy": policy("deny", target={}, ingress=[], types=["Ingress"])}
                    ],
                },
                {"name": "add the base ingress policy", "actions": [{"create-policy": base_in}]},
                {"name": "delete the deny", "actions": [{"delete-policy": "x/deny"}]},
            ],
        ),
    ]


GROUPS = {
    "target": target_cases,
    "peers": peer_cases,
    "ports": port_cases,
    "conflict": conflict_cases,
    "action": action_cases,
}


def render(group: str) -> str:
    header = (
        f"# Generated by `python -m netconform.netpol.variations scenarios/netpol` ({group}).\n"
        "# Do not edit by hand: change src/netconform/netpol/variations.py and regenerate.\n"
    )
    body = yaml.safe_dump({"cases": GROUPS[group]()}, sort_keys=False, width=100)
    return header + body


def write(directory: Path) -> list[Path]:
    paths = []
    for group in GROUPS:
        path = directory / f"generated-{group}.yaml"
        path.write_text(render(group), encoding="utf-8")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m netconform.netpol.variations DIRECTORY", file=sys.stderr)
        return 2
    for path in write(Path(args[0])):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
