"""Offline kit and kind-flannel figures (run as root, with the kit built):

    eval "$(bash .ci/kit up)" && python benchmarks/bench_kind.py [RESULTS_DIR]

- the kit's warm `up` (everything cached: target under 30 s, nothing rebuilt);
- the last recorded build time of every kit component (kit state/timings.json: a cold build
  is recorded the first time a component is built on a machine);
- kind-flannel provisioning, step by step (cluster up, Flannel Ready, nodes Ready, workloads);
- a full `netconform run --platform kind-flannel` (target at most 10 minutes), with the peak
  memory of the three node containers sampled during it;
- the kit's disk use per cache directory.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from netconform.platforms.kind import KindPlatform
from netconform.settings import Settings

REPO = Path(__file__).resolve().parent.parent
KIT_CACHE = Path("/var/cache/netconform/kit")
CLUSTER = "netconform-flannel"


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


def provisioning() -> dict[str, float | None]:
    steps = TimedSteps()
    settings = Settings.from_env()  # the kit's exports: node image, offline, artifacts
    platform = KindPlatform(
        "kind-flannel",
        progress=steps,
        node_image=settings.kind_node_image,
        offline=settings.offline,
        artifacts_dir=settings.artifacts_dir,
    )
    try:
        platform.provision()
        ready = time.monotonic() - steps.t0
    finally:
        platform.teardown()
    return {
        "cluster_up_s": steps.at("create the kind cluster"),
        "flannel_ready_s": steps.at("wait for kube-flannel/daemonset/kube-flannel-ds"),
        "nodes_ready_s": steps.at("wait for every node Ready"),
        "provisioned_s": round(ready, 1),
    }


def node_memory_bytes() -> int:
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
        if not name.startswith(CLUSTER):
            continue
        used = usage.split("/")[0].strip()
        for unit, factor in sorted(units.items(), key=lambda u: -len(u[0])):
            if used.endswith(unit):
                total += int(float(used[: -len(unit)]) * factor)
                break
    return total


def full_run(keep_in: Path | None) -> dict[str, object]:
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], node_memory_bytes())
            done.wait(5)

    sampler = threading.Thread(target=sample, daemon=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = str(keep_in or tmp)
        argv = [sys.executable, "-m", "netconform.cli", "run", "--platform", "kind-flannel"]
        sampler.start()
        t0 = time.monotonic()
        proc = subprocess.run([*argv, "--out", out], capture_output=True, check=False)
        seconds = round(time.monotonic() - t0, 1)
        done.set()
        sampler.join()
        summary = json.loads((Path(out) / "results.json").read_text())["summary"]
    return {
        "full_run_s": seconds,
        "exit": proc.returncode,
        "summary": summary,
        "peak_node_memory_mib": round(peak[0] / (1 << 20)),
    }


def disk() -> dict[str, float]:
    sizes = {}
    for sub in sorted(p for p in KIT_CACHE.iterdir() if p.is_dir()):
        du = subprocess.run(["du", "-sb", str(sub)], capture_output=True, text=True, check=False)
        sizes[sub.name] = round(int(du.stdout.split()[0]) / (1 << 30), 2) if du.stdout else 0.0
    return sizes


def main() -> None:
    if shutil.which("kind") is None:
        sys.exit('the kit is not up: eval "$(bash .ci/kit up)" first')
    timings_file = KIT_CACHE / "state" / "timings.json"
    figures: dict[str, object] = {
        "kit_warm_up_s": warm_kit_up(),
        "kit_component_build_s": json.loads(timings_file.read_text()),
        "kind_flannel_provisioning": provisioning(),
        "kind_flannel_run": full_run(Path(sys.argv[1]) if len(sys.argv) > 1 else None),
        "kit_disk_gib": disk(),
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
