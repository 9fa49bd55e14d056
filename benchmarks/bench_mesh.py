"""Benchmark: the node-pair mesh at 100, 500 and 1000 nodes, by simulation.

The real planner (k8s/mesh.py) and the real check (checks/k8s_mesh.py) run against a fake
cluster whose executor answers every probe at once (one pair broken), so what is measured
is netconform's own cost: planning, probe objects, folding answers into the matrix,
results.json and the report. The wall time on a real cluster is modelled from measured costs
(defaults: kind-flannel on this 2-core machine, 3 and 6 nodes, one wave each: a round took
0.65 s with 10 probes per batch and 0.88-0.94 s with 22), with the check's bounded
concurrency: MESH_EXEC_CONCURRENCY execs at once, 64 probes at once inside each.

Budget: a 1000-node plan (planning and every target) in under 10 s and 500 MiB.

Run: python benchmarks/bench_mesh.py [--nodes 100 500 1000] [--slot-s S] [--exec-s S]
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from netconform.catalog.scenario import KubernetesScenario
from netconform.checks import k8s_mesh
from netconform.checks.base import CATALOGUE, execute
from netconform.core import Capabilities
from netconform.k8s import mesh
from netconform.k8s.context import make_probe
from netconform.k8s.kube import PodEndpoint
from netconform.k8s.mesh import MeshNode, MeshPath
from netconform.k8s.run_state import KubeRunState
from netconform.k8s.workloads import MESH_HOST_ROLE, MESH_ROLE, ROLE_LABEL, WorkloadSpec
from netconform.probes.model import Connectivity, Probe, ProbeResult
from netconform.report.compare import load_runs, merge_runs
from netconform.report.html import render_html
from netconform.results import RunResults, write_results

PLAN_BUDGET_S = 10.0
PLAN_BUDGET_MIB = 500.0
AGENT_THREADS = 64  # probes at once inside one batch (probes/agent.py)
PING = "64 bytes from {}: icmp_seq=1 ttl=63 time=0.21 ms"


def _ip(i: int, base: int) -> str:
    return f"10.{base + i // 62500}.{i // 250 % 250}.{i % 250 + 1}"


class FakeMesh:
    """KubeCheckContext enough for the mesh check: N nodes in 3 zones, every probe
    answered at once, except those from the last node to the first (a broken pair)."""

    def __init__(self, nodes: int) -> None:
        names = tuple(f"node-{i:04d}" for i in range(nodes))
        self.spec = WorkloadSpec("bench", names[:3], "probe:1", "10.96.0.10", mesh_nodes=names)
        self.params = KubernetesScenario(converge_deadline_s=0.01, poll_interval_s=0.01)
        self.run_state = KubeRunState.for_spec(self.spec)
        self.capabilities = Capabilities(frozenset({"icmp", "hostnetwork"}))
        self._pods = [
            PodEndpoint("nc-bench-probe", f"{role}-{i}", "agent", _ip(i, base), name,
                        ((ROLE_LABEL, role),))
            for i, name in enumerate(names)
            for role, base in ((MESH_ROLE, 0), (MESH_HOST_ROLE, 100))
        ]  # fmt: skip
        self.broken = (self._pods[-2].node, self._pods[0].ip)
        self.probes = 0

    def pods(self, role: str) -> list[PodEndpoint]:
        return [p for p in self._pods if p.label(ROLE_LABEL) == role]

    def probe(self, kind: Any, target: str, **kw: Any) -> Probe:
        return make_probe(kind, target, 2.0, **kw)

    def run_many(
        self, batches: Mapping[PodEndpoint, Sequence[Probe]]
    ) -> dict[PodEndpoint, list[ProbeResult]]:
        out = {}
        for src, probes in batches.items():
            self.probes += len(probes)
            results = []
            for p in probes:
                lost = (src.node, p.target) == self.broken
                answered = str(p.kind) == "dns"
                ok = Connectivity.ANSWERED if answered else Connectivity.CONNECTED
                outcome = Connectivity.TIMEOUT if lost else ok
                values = {"output": PING.format(p.target)} if str(p.kind) == "icmp" else {}
                argv = ("kubectl", "exec", src.name, "--", "<agent>")
                results.append(
                    ProbeResult(p.id, str(p.kind), p.target, not lost, "timeout" if lost else None,
                                1.0, values, outcome=outcome, reproduce=argv)
                )  # fmt: skip
            out[src] = results
        return out


def bench_plan(nodes: int) -> dict[str, float]:
    """Node selection (sampling `nodes` out of twice as many, over 3 zones) and every
    target of every batch, built one batch at a time as the check does."""
    cluster = [MeshNode(f"node-{i:05d}", f"zone-{i % 3}") for i in range(2 * nodes)]

    def plan_all() -> int:
        chosen = mesh.select_nodes(cluster, nodes)
        ips = {n: _ip(i, 0) for i, n in enumerate(chosen)}
        plan = mesh.MeshPlan(chosen, ips, ips, tuple(MeshPath))
        return sum(len(plan.targets(src)) for src in chosen)

    begin = time.perf_counter()
    targets = plan_all()
    seconds = time.perf_counter() - begin
    tracemalloc.start()  # a second pass for memory: tracing slows Python down several times
    plan_all()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return {"plan_s": seconds, "plan_peak_mib": peak, "targets": targets}


def bench_check(nodes: int, out: Path) -> dict[str, float]:
    """The whole check on the fake cluster, then results.json and comparison.html."""
    ctx = FakeMesh(nodes)
    begin = time.perf_counter()
    result = execute(CATALOGUE.get(mesh.CHECK_ID), ctx)  # type: ignore[arg-type]
    seconds = time.perf_counter() - begin
    # the process's peak so far (the sizes run smallest first, so it is this size's)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert result.verdict == "fail", result.reason
    assert "1 failing pairs" in result.reason, result.reason
    run = RunResults(
        platform="cluster",
        platform_info={"nodes": nodes},
        started="2026-12-08T03:00:00+00:00",
        finished="2026-12-08T03:10:00+00:00",
        checks=(result,),
    )
    run_dir = out / f"n{nodes}"
    write_results(run_dir / "results.json", run)
    begin = time.perf_counter()
    html = render_html(merge_runs(load_runs([run_dir])))
    report_s = time.perf_counter() - begin
    return {
        "check_s": seconds,
        "check_peak_mib": peak,
        "probes": ctx.probes,
        "results_json_mib": (run_dir / "results.json").stat().st_size / 2**20,
        "report_s": report_s,
        "html_mib": len(html.encode()) / 2**20,
    }


def wall_model(nodes: int, slot_s: float, exec_s: float) -> float:
    """Seconds for one round: waves of MESH_EXEC_CONCURRENCY execs; each exec costs exec_s
    plus slot_s per AGENT_THREADS probes of its batch (every other node x 4 paths + DNS)."""
    waves = math.ceil(nodes / mesh.MESH_EXEC_CONCURRENCY)
    per_batch = math.ceil(((nodes - 1) * len(MeshPath) + 1) / AGENT_THREADS) * slot_s
    return waves * (exec_s + per_batch)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, nargs="+", default=[100, 500, 1000])
    parser.add_argument(
        "--slot-s", type=float, default=0.3, help="64 probes at once in a batch, measured"
    )
    parser.add_argument("--exec-s", type=float, default=0.65, help="one exec, measured")
    args = parser.parse_args(argv)
    print("| nodes | pairs | probes | plan s | plan MiB | check s | peak RSS MiB | "
          "results.json MiB | report s | HTML MiB | modelled round on a cluster |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    over = []
    with tempfile.TemporaryDirectory(prefix="nc-bench-mesh-") as tmp:
        for n in args.nodes:
            plan = bench_plan(n)
            check = bench_check(n, Path(tmp))
            model = wall_model(n, args.slot_s, args.exec_s)
            print(
                f"| {n} | {n * (n - 1)} | {check['probes']:,} | {plan['plan_s']:.2f} | "
                f"{plan['plan_peak_mib']:.0f} | {check['check_s']:.1f} | "
                f"{check['check_peak_mib']:.0f} | {check['results_json_mib']:.1f} | "
                f"{check['report_s']:.1f} | {check['html_mib']:.1f} | {model / 60:.1f} min |"
            )
            if n == 1000 and (
                plan["plan_s"] > PLAN_BUDGET_S or plan["plan_peak_mib"] > PLAN_BUDGET_MIB
            ):
                over.append(
                    f"1000-node plan: {plan['plan_s']:.1f} s, {plan['plan_peak_mib']:.0f} MiB"
                )
    print(json.dumps({"mesh_exec_concurrency": mesh.MESH_EXEC_CONCURRENCY,
                      "agent_threads": AGENT_THREADS, "slot_s": args.slot_s,
                      "exec_s": args.exec_s, "check": k8s_mesh.__name__}))  # fmt: skip
    for line in over:
        print(f"OVER BUDGET: {line}", file=sys.stderr)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
