"""Swarm lab figures (run as root): lab up from a cached image, a full swarm-lab run,
probes per second batched vs one exec per probe, and the harness's peak memory.

    python benchmarks/bench_swarm_lab.py
Targets (issue 2): lab up <= 15 s for 3 hosts, full run <= 3 min, batched >= 20x.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from netconform.lab import lab
from netconform.platforms.swarm import SwarmLabPlatform, context_from_handle
from netconform.probes.agent import SERVER_TCP_PORT
from netconform.probes.model import ProbeKind

NAME = "bench"


def timed_run(*extra: str) -> tuple[float, int, dict[str, int]]:
    """`netconform run` on the bench lab: seconds, exit code, verdict counts."""
    with tempfile.TemporaryDirectory() as out:
        argv = [sys.executable, "-m", "netconform.cli", "run", "--platform", "swarm-lab"]
        t0 = time.monotonic()
        proc = subprocess.run(
            [*argv, "--lab-name", NAME, "--out", out, *extra], capture_output=True, check=False
        )
        seconds = round(time.monotonic() - t0, 1)
        summary = json.loads((Path(out) / "results.json").read_text())["summary"]
    return seconds, proc.returncode, summary


def main() -> None:
    lab.down(NAME)
    figures: dict[str, float | int] = {}
    try:
        t0 = time.monotonic()
        lab.up(lab.LabConfig(name=NAME, hosts=3))
        figures["lab_up_s"] = round(time.monotonic() - t0, 2)
        platform = SwarmLabPlatform(keep=True, lab=lab.LabConfig(name=NAME))
        handle = platform.provision()
        ctx = context_from_handle(handle, platform.scenario)
        try:
            source = ctx.tasks("probe")[0]
            targets = [t for t in ctx.tasks("probe") if t.node != source.node] + ctx.peers()
            n = 60
            probes = [
                ctx.probe(ProbeKind.TCP, targets[i % len(targets)].ip, port=SERVER_TCP_PORT)
                for i in range(n)
            ]
            t0 = time.monotonic()
            batched = ctx.run(source, probes)
            batched_s = time.monotonic() - t0
            singles = probes[:20]
            t0 = time.monotonic()
            single = [ctx.run(source, [p])[0] for p in singles]
            single_s = time.monotonic() - t0
            assert all(r.ok for r in batched)
            assert all(r.ok for r in single)
            figures["batched_probes_per_s"] = round(n / batched_s, 1)
            figures["one_exec_per_probe_per_s"] = round(len(singles) / single_s, 1)
            figures["batch_speedup_x"] = round(
                figures["batched_probes_per_s"] / figures["one_exec_per_probe_per_s"], 1
            )
        finally:
            ctx.close()
            platform.teardown()
        seconds, code, summary = timed_run("--keep")
        figures["full_run_reused_lab_s"] = seconds
        figures["run_exit_code"] = code
        figures.update({f"checks_{k}": v for k, v in summary.items()})
        figures["child_peak_rss_mib"] = round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
        )
        figures["bench_peak_rss_mib"] = round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
        )
    finally:
        lab.down(NAME)
    lab.down(NAME)
    figures["full_run_with_lab_up_and_down_s"] = timed_run()[0]
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
