"""Offline kit and kind platform figures (run as root, with the kit built):

    eval "$(bash .ci/kit up)" && python benchmarks/bench_kind.py [--cni flannel|cilium] [DIR]

- the kit's warm `up` (everything cached: target under 30 s, nothing rebuilt);
- the last recorded build time of every kit component (kit state/timings.json: a cold build
  is recorded the first time a component is built on a machine);
- the platform's provisioning, step by step (cluster up, CNI Ready, nodes Ready, workloads);
- a full `netconform run --platform kind-<cni>` (target at most 10 minutes), with the peak
  memory of the three node containers sampled during it, and the NetworkPolicy catalogue's
  figures from its results: time, cases passed / matched under a profile / failed / errored /
  skipped, and the time each step's policies took to take effect (p50, p99);
- the kit's disk use per cache directory.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from netconform.platforms.kind import KindPlatform
from netconform.report.compare import Column, results_path
from netconform.report.netpol_summary import is_case, summarise
from netconform.results import read_results
from netconform.settings import Settings

REPO = Path(__file__).resolve().parent.parent
KIT_CACHE = Path("/var/cache/netconform/kit")
# the install step after which the CNI's agents are Ready
CNI_READY = {
    "flannel": "wait for kube-flannel/daemonset/kube-flannel-ds",
    "cilium": "wait for kube-system/daemonset/cilium",
    "calico": "wait for calico-system/daemonset/calico-node",
    "calico-manifest": "wait for kube-system/daemonset/calico-node",
    "calico-bgp": "wait for kube-system/daemonset/calico-node",
    "calico-bpf": "wait for calico-system/daemonset/calico-node",
}


class TimedSteps:
    """A Progress that stamps every step with the seconds since the start."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.steps: list[tuple[float, str]] = []

    def step(self, message: str) -> None:
        self.steps.append((round(time.monotonic() - self.t0, 1), message))

    def at(self, prefix: str) -> float | None:
        """When the step after the one starting with prefix began (= prefix finished)."""
        for i, (_, message) in enumerate(self.steps):
            if message.startswith(prefix) and i + 1 < len(self.steps):
                return self.steps[i + 1][0]
        return None


def warm_kit_up() -> float:
    t0 = time.monotonic()
    subprocess.run(["bash", str(REPO / ".ci" / "kit"), "up"], capture_output=True, check=True)
    return round(time.monotonic() - t0, 1)


def provisioning(cni: str) -> dict[str, float | None]:
    steps = TimedSteps()
    settings = Settings.from_env()  # the kit's exports: node image, offline, artifacts
    platform = KindPlatform(
        f"kind-{cni}",
        progress=steps,
        node_image=settings.kind_node_image,
        offline=settings.offline,
        artifacts_dir=settings.artifacts_dir,
        local_chart=settings.cilium_chart if cni == "cilium" else None,
    )
    try:
        platform.provision()
        ready = time.monotonic() - steps.t0
    finally:
        platform.teardown()
    return {
        "cluster_up_s": steps.at("create the kind cluster"),
        "cni_ready_s": steps.at(CNI_READY[cni]),
        "nodes_ready_s": steps.at("wait for every node Ready"),
        "provisioned_s": round(ready, 1),
    }


def node_memory_bytes(cluster: str) -> int:
    """Memory in use by the kind node containers now (docker stats, summed)."""
    proc = subprocess.run(
        ["docker", "stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    units = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
    total = 0
    for line in proc.stdout.splitlines():
        name, usage = line.split(" ", 1)
        if not name.startswith(cluster):
            continue
        used = usage.split("/")[0].strip()
        for unit, factor in sorted(units.items(), key=lambda u: -len(u[0])):
            if used.endswith(unit):
                total += int(float(used[: -len(unit)]) * factor)
                break
    return total


def netpol_figures(out: Path) -> dict[str, object]:
    """The catalogue's share of a run: the report's own NetworkPolicy summary of its results,
    and the cases' summed time."""
    run = read_results(results_path(out))
    summary = summarise(Column(run.platform, out, run))
    cases_s = sum(c.duration_s for c in run.checks if is_case(c))
    return {"catalogue_s": round(cases_s, 1), **summary.to_json()}


def full_run(cni: str, keep_in: Path | None) -> dict[str, object]:
    cluster = f"netconform-{cni}"
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], node_memory_bytes(cluster))
            done.wait(5)

    sampler = threading.Thread(target=sample, daemon=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = str(keep_in or tmp)
        argv = [sys.executable, "-m", "netconform.cli", "run", "--platform", f"kind-{cni}"]
        sampler.start()
        t0 = time.monotonic()
        proc = subprocess.run([*argv, "--out", out], capture_output=True, check=False)
        seconds = round(time.monotonic() - t0, 1)
        done.set()
        sampler.join()
        results = json.loads((Path(out) / "results.json").read_text())
        netpol = netpol_figures(Path(out))
    return {
        "full_run_s": seconds,
        "exit": proc.returncode,
        "summary": results["summary"],
        "netpol": netpol,
        "peak_node_memory_mib": round(peak[0] / (1 << 20)),
    }


def disk() -> dict[str, float]:
    sizes = {}
    for sub in sorted(p for p in KIT_CACHE.iterdir() if p.is_dir()):
        du = subprocess.run(["du", "-sb", str(sub)], capture_output=True, text=True, check=False)
        sizes[sub.name] = round(int(du.stdout.split()[0]) / (1 << 30), 2) if du.stdout else 0.0
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cni", choices=sorted(CNI_READY), default="flannel")
    parser.add_argument("results", nargs="?", type=Path, help="keep the full run's results")
    args = parser.parse_args()
    if shutil.which("kind") is None:
        sys.exit('the kit is not up: eval "$(bash .ci/kit up)" first')
    timings_file = KIT_CACHE / "state" / "timings.json"
    figures: dict[str, object] = {
        "kit_warm_up_s": warm_kit_up(),
        "kit_component_build_s": json.loads(timings_file.read_text()),
        f"kind_{args.cni}_provisioning": provisioning(args.cni),
        f"kind_{args.cni}_run": full_run(args.cni, args.results),
        "kit_disk_gib": disk(),
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
