"""ClusterNetworkPolicy + NetworkPolicy oracle timings:
`python benchmarks/bench_cluster_policy_oracle.py` prints the figures.

Issue 26: 100 ClusterNetworkPolicies (Admin and Baseline, every action, namespace, pod and
`networks` peers, port numbers and ranges) and 100 NetworkPolicies over 1,000 pods, the
full 1,000 x 1,000 matrix for one port, compiling and every explained verdict included.
The NetworkPolicy-only figure beside it is the same model without the cluster policies.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from typing import Any

from bench_netpol import large_model
from netconform.netpol.cluster_policy import AnyPolicy
from netconform.netpol.manifest import parse_manifest
from netconform.netpol.model import Cluster, Protocol
from netconform.netpol.oracle import Oracle

NAME = "kubernetes.io/metadata.name"


def _peer(rng: random.Random, egress: bool) -> dict[str, Any]:
    kind = rng.randrange(4 if egress else 3)
    if kind == 0:
        return {"namespaces": {"matchLabels": {"env": rng.choice(["prod", "dev"])}}}
    if kind == 1:
        return {
            "pods": {
                "namespaceSelector": {},
                "podSelector": {"matchLabels": {"tier": f"t{rng.randrange(5)}"}},
            }
        }
    if kind == 2:
        return {"namespaces": {"matchLabels": {NAME: f"ns{rng.randrange(20)}"}}}
    return {"networks": [f"10.{rng.randrange(4)}.0.0/16"]}


def _protocols(rng: random.Random) -> list[dict[str, Any]] | None:
    kind = rng.randrange(3)
    if kind == 0:
        return None
    if kind == 1:
        return [{"tcp": {"destinationPort": {"number": rng.choice([80, 443])}}}]
    return [{"tcp": {"destinationPort": {"range": {"start": 70, "end": rng.choice([79, 90])}}}}]


def cluster_policies(rng: random.Random, count: int = 100) -> list[AnyPolicy]:
    """Admin (2/3) and Baseline (1/3) policies, 1-4 rules per direction; priorities drawn
    so that some tie (the oracle has to tell which ties matter)."""
    policies = []
    for p in range(count):
        tier = "Baseline" if p % 3 == 2 else "Admin"
        actions = ["Accept", "Deny", "Pass"]
        subject: dict[str, Any]
        if p % 2:
            subject = {"namespaces": {"matchLabels": {NAME: f"ns{p % 20}"}}}
        else:
            subject = {
                "pods": {
                    "namespaceSelector": {"matchLabels": {"env": rng.choice(["prod", "dev"])}},
                    "podSelector": {"matchLabels": {"app": f"app{rng.randrange(50)}"}},
                }
            }
        spec: dict[str, Any] = {"tier": tier, "priority": rng.randrange(60), "subject": subject}
        for direction, peers_field in (("ingress", "from"), ("egress", "to")):
            rules = []
            for r in range(rng.randrange(1, 5)):
                rule: dict[str, Any] = {
                    "name": f"{direction}-{r}",
                    "action": rng.choice(actions),
                    peers_field: [_peer(rng, direction == "egress")],
                }
                protocols = _protocols(rng)
                if protocols:
                    rule["protocols"] = protocols
                rules.append(rule)
            spec[direction] = rules
        policies.append(
            parse_manifest(
                {
                    "apiVersion": "policy.networking.k8s.io/v1beta1",
                    "kind": "ClusterNetworkPolicy",
                    "metadata": {"name": f"cnp{p}"},
                    "spec": spec,
                }
            )
        )
    return policies


def run(cluster: Cluster, policies: list[AnyPolicy]) -> tuple[float, float, float, Counter[str]]:
    """Compile and total wall seconds, and total CPU seconds of this process (what the
    oracle costs on a machine busy with something else, as CI's often is)."""
    start, cpu = time.perf_counter(), time.process_time()
    oracle = Oracle(cluster, policies)
    compiled = time.perf_counter() - start
    verdicts = oracle.matrix(80, Protocol.TCP)
    total, cpu = time.perf_counter() - start, time.process_time() - cpu
    tally: Counter[str] = Counter()
    for v in verdicts:
        tally["allowed" if v.allowed else "denied"] += 1
        if v.ignored:
            tally[f"ignored:{v.ignored}"] += 1
        for side in (v.egress, v.ingress):
            tally[f"{side.direction.value.lower()} tier:{side.tier or 'none'}"] += 1
    return compiled, total, cpu, tally


def main() -> None:
    cluster, network_policies = large_model(random.Random(7))
    cnps = cluster_policies(random.Random(11))
    compiled, total, cpu, _ = run(cluster, list(network_policies))
    print(
        f"NetworkPolicy only: 1000x1000 pods x 1 port, {len(network_policies)} policies: "
        f"compile {compiled:.2f} s, total {total:.2f} s (CPU {cpu:.2f} s)"
    )
    compiled, total, cpu, tally = run(cluster, [*cnps, *network_policies])
    print(
        f"mixed: 1000x1000 pods x 1 port, {len(cnps)} ClusterNetworkPolicies + "
        f"{len(network_policies)} NetworkPolicies: compile {compiled:.2f} s, "
        f"total {total:.2f} s (CPU {cpu:.2f} s)"
    )
    for key, count in sorted(tally.items()):
        print(f"  {key}: {count}")


if __name__ == "__main__":
    main()
