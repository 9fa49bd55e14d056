"""Benchmark: merge 10 runs x 500 checks and render the comparison (budget: < 2 s, HTML < 2 MB).

Run: python benchmarks/bench_report.py [--runs 10] [--checks 500]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

from netconform.probes.model import Connectivity, ProbeResult
from netconform.report.compare import comparison_to_json, load_runs, merge_runs
from netconform.report.html import render_html
from netconform.report.markdown import render_markdown
from netconform.results import (
    Area,
    CellError,
    CellValue,
    CheckResult,
    Measure,
    NetpolReport,
    NetpolStep,
    RunResults,
    TruthTable,
    Verdict,
    write_results,
)
from netconform.vocab import Family

TIME_BUDGET_S = 2.0
HTML_BUDGET_BYTES = 2 * 1024 * 1024
PLATFORMS = (
    ("swarm-lab", Family.SWARM),
    ("kind-flannel", Family.KUBERNETES),
    ("kind-calico", Family.KUBERNETES),
    ("kind-cilium", Family.KUBERNETES),
    ("cluster", Family.KUBERNETES),
)
ENDPOINTS = tuple(f"{ns}/{pod}" for ns in "xyz" for pod in "abc")
REPRODUCE = ("kubectl", "exec", "-n", "nc-x", "a", "--", "python3", "-c", "<agent>")


def _grid(rng: random.Random) -> tuple[tuple[CellValue, ...], ...]:
    return tuple(
        tuple(CellValue.ALLOW if rng.random() < 0.6 else CellValue.DENY for _ in ENDPOINTS)
        for _ in ENDPOINTS
    )


def _failed_case(rng: random.Random) -> NetpolReport:
    """A case whose last step did not hold: one cell differs, one failed to run."""
    expected = _grid(rng)
    observed = [list(row) for row in expected]
    observed[0][3] = CellValue.DENY if observed[0][3] is CellValue.ALLOW else CellValue.ALLOW
    observed[1][4] = CellValue.ERROR
    table = TruthTable(
        80, "TCP", ENDPOINTS, ENDPOINTS, expected, tuple(tuple(row) for row in observed)
    )
    wrong = table.label(ENDPOINTS[0], ENDPOINTS[3])
    crashed = table.label(ENDPOINTS[1], ENDPOINTS[4])
    return NetpolReport(
        "synthetic",
        (
            NetpolStep("step 1", True, 1.1, 2, ()),
            NetpolStep(
                "step 2",
                False,
                30.0,
                14,
                (table,),
                {wrong: "ingress: no rule of y/deny-all allows x/a"},
                (CellError(crashed, "probe failed to run: agent crashed", REPRODUCE),),
            ),
        ),
    )


def _failed_probe() -> dict[str, object]:
    return ProbeResult(
        "p1",
        "tcp",
        "10.0.1.5",
        False,
        "timed out",
        None,
        outcome=Connectivity.TIMEOUT,
        reproduce=("docker", "exec", "nc-probe.1.x", "python3", "-c", "<agent>"),
    ).to_json()


def _check(rng: random.Random, index: int, family: Family) -> CheckResult:
    area = list(Area)[index % len(Area)]
    verdict = rng.choices(list(Verdict), weights=(85, 5, 8, 2))[0]
    measurements: dict[str, object] = {Measure.PROBES: rng.randint(6, 81), Measure.ATTEMPTS: 1}
    observed: object = None
    netpol = None
    if area is Area.MTU:
        measurements |= {Measure.EFFECTIVE_MTU: 1450, Measure.LARGEST_DF_PAYLOAD: 1422}
    elif area is Area.DNS:
        measurements |= {Measure.DNS_P50_MS: round(rng.uniform(0.3, 0.8), 2)}
    elif area is Area.NETPOL:
        if verdict is Verdict.FAIL:
            netpol = _failed_case(random.Random(rng.random()))
        else:
            netpol = NetpolReport("synthetic", (NetpolStep("step 1", True, 1.2, 2, ()),))
    if verdict in (Verdict.FAIL, Verdict.ERROR) and netpol is None:
        observed = [_failed_probe()]
    prefix = "k8s." if family is Family.KUBERNETES else ""
    return CheckResult(
        id=f"{prefix}{area}.case-{index:04d}",
        area=area,
        title=f"Synthetic {area} case {index}",
        verdict=verdict,
        reason=f"{verdict}: 18/18 probes as expected" if verdict is Verdict.PASS else "differs",
        duration_s=rng.uniform(0.1, 10),
        observed=observed,
        measurements={str(k): v for k, v in measurements.items()},
        aspect=f"{area}.aspect-{index:04d}",
        family=family,
        netpol=netpol,
    )


def synthetic_run(platform: str, family: Family, checks: int, seed: int) -> RunResults:
    rng = random.Random(seed)
    return RunResults(
        platform=platform,
        platform_info={"kernel": "6.1.0-27-amd64", "underlay_mtu": 1500, "nodes": 3},
        started="2025-11-25T02:00:00+00:00",
        finished="2025-11-25T02:12:00+00:00",
        checks=tuple(_check(rng, i, family) for i in range(checks)),
    )


def write_synthetic_runs(root: Path, runs: int, checks: int) -> list[Path]:
    dirs = []
    for index in range(runs):
        run_dir = root / f"run-{index:02d}"
        platform, family = PLATFORMS[index % len(PLATFORMS)]
        run = synthetic_run(platform, family, checks, seed=index)
        write_results(run_dir / "results.json", run)
        dirs.append(run_dir)
    return dirs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--checks", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dirs = write_synthetic_runs(Path(tmp), args.runs, args.checks)
        began = time.perf_counter()
        comparison = merge_runs(load_runs(dirs))
        merged = time.perf_counter()
        html = render_html(comparison)
        markdown = render_markdown(comparison)
        comparison_to_json(comparison)
        done = time.perf_counter()
    size = len(html.encode())
    total = done - began
    print(f"runs x checks      : {args.runs} x {args.checks}")
    print(f"read + merge       : {merged - began:.3f} s")
    print(f"render html/md/json: {done - merged:.3f} s")
    print(f"total              : {total:.3f} s (budget {TIME_BUDGET_S} s)")
    print(f"comparison.html    : {size / 1024 / 1024:.2f} MiB (budget 2 MiB)")
    print(f"comparison.md      : {len(markdown.encode()) / 1024:.0f} KiB")
    within = total < TIME_BUDGET_S and size < HTML_BUDGET_BYTES
    print("within budget" if within else "OVER BUDGET")
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
