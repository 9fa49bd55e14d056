"""NetworkPolicy oracle timings: `python benchmarks/bench_netpol.py` prints the figures.

Targets (issue 3): 9x9 pods x 2 ports x 3 protocols with 20 policies well under 50 ms;
1,000 x 1,000 pods x 1 port with 100 policies under 10 s. Both include compiling the
policies and building every explained verdict.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable

from netconform.netpol.catalogue import load_catalogue, standard_cluster
from netconform.netpol.model import Cluster, ContainerPort, Namespace, Pod, Protocol
from netconform.netpol.oracle import Oracle, default_probes
from netconform.netpol.policy import NetworkPolicy
from netconform.netpol.validation import parse_policy


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def small_policies() -> list[NetworkPolicy]:
    """20 distinct policies drawn from the generated catalogue (varied peers and ports)."""
    policies: dict[str, NetworkPolicy] = {}
    for case in load_catalogue():
        if "generated" not in case.tags:
            continue
        for step in case.resolve().steps:
            for pol in step.policies:
                renamed = NetworkPolicy(
                    pol.namespace,
                    f"p{len(policies)}",
                    pol.pod_selector,
                    pol.ingress,
                    pol.egress,
                    pol.policy_types,
                )
                policies[renamed.name] = renamed
                if len(policies) == 20:
                    return list(policies.values())
    return list(policies.values())


def large_model(rng: random.Random) -> tuple[Cluster, list[NetworkPolicy]]:
    namespaces = [Namespace(f"ns{n}", {"env": rng.choice(["prod", "dev"])}) for n in range(20)]
    pods = [
        Pod(
            f"ns{i % 20}",
            f"pod{i}",
            {"app": f"app{i % 50}", "tier": f"t{i % 5}"},
            f"10.{i // 250}.{i % 250}.1",
            (ContainerPort(80, Protocol.TCP, "http"),),
        )
        for i in range(1000)
    ]
    policies = []
    for p in range(100):
        ns = f"ns{p % 20}"
        peer_kind = p % 4
        if peer_kind == 0:
            peer = {"podSelector": {"matchLabels": {"tier": f"t{rng.randrange(5)}"}}}
        elif peer_kind == 1:
            peer = {"namespaceSelector": {"matchLabels": {"env": "prod"}}}
        elif peer_kind == 2:
            peer = {
                "namespaceSelector": {},
                "podSelector": {
                    "matchExpressions": [
                        {
                            "key": "app",
                            "operator": "In",
                            "values": [f"app{rng.randrange(50)}", f"app{rng.randrange(50)}"],
                        }
                    ]
                },
            }
        else:
            peer = {"ipBlock": {"cidr": f"10.{rng.randrange(4)}.0.0/16"}}
        rule = {
            "from" if p % 2 == 0 else "to": [peer],
            "ports": [{"port": rng.choice([80, "http", 443])}],
        }
        direction = "ingress" if p % 2 == 0 else "egress"
        manifest = {
            "metadata": {"name": f"p{p}", "namespace": ns},
            "spec": {
                "podSelector": {"matchLabels": {"tier": f"t{p % 5}"}},
                direction: [rule],
                "policyTypes": ["Ingress" if direction == "ingress" else "Egress"],
            },
        }
        policies.append(parse_policy(manifest))
    return Cluster(tuple(namespaces), tuple(pods)), policies


def main() -> None:
    cluster = standard_cluster((80, 81), (Protocol.TCP, Protocol.UDP, Protocol.SCTP))
    policies = small_policies()
    probes = default_probes(cluster)
    small = timed(lambda: Oracle(cluster, policies).verdicts(probes), repeat=50)
    print(
        f"small: {len(cluster.pods)}x{len(cluster.pods)} pods x 2 ports x 3 protocols "
        f"({len(probes)} probes), {len(policies)} policies: "
        f"median {statistics.median(small) * 1000:.1f} ms, max {max(small) * 1000:.1f} ms"
    )

    big_cluster, big_policies = large_model(random.Random(7))
    start = time.perf_counter()
    oracle = Oracle(big_cluster, big_policies)
    compiled = time.perf_counter() - start
    verdicts = oracle.matrix(80, Protocol.TCP)
    total = time.perf_counter() - start
    allowed = sum(v.allowed for v in verdicts)
    print(
        f"large: 1000x1000 pods x 1 port ({len(verdicts)} probes), {len(big_policies)} policies: "
        f"compile {compiled:.2f} s, total {total:.2f} s ({allowed} allowed)"
    )


if __name__ == "__main__":
    main()
