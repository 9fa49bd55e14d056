"""kind-flannel for real on the offline kit: a 3-node cluster, Flannel from the pinned
manifest, the probe image, reachability, DNS, MTU and the NetworkPolicy canary; then nothing
left behind (cluster, node containers, kind network, work files), also after Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from netconform.platforms.kind import state_root
from netconform.results import Measure

NETCONFORM = [sys.executable, "-m", "netconform.cli"]
CLUSTER = "netconform-flannel"
SUBSET = "reach or dns or mtu or enforcement"


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False).stdout


def assert_nothing_left() -> None:
    clusters = subprocess.run(
        ["kind", "get", "clusters"], capture_output=True, text=True, check=False
    )
    assert CLUSTER not in clusters.stdout.split()
    nodes = docker("ps", "-a", "--filter", f"label=io.x-k8s.kind.cluster={CLUSTER}", "-q")
    assert nodes.strip() == ""
    assert "kind" not in docker("network", "ls", "--format", "{{.Name}}").split()
    assert not (state_root() / CLUSTER).exists()


def test_flannel_run_end_to_end(tmp_path: Path) -> None:
    # kind's network may be left by an earlier cluster; a run removes it only if it made it
    docker("network", "rm", "kind")
    out = tmp_path / "flannel"
    proc = subprocess.run(
        [*NETCONFORM, "run", "--platform", "kind-flannel", "--out", str(out), "-k", SUBSET],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    results = json.loads((out / "results.json").read_text())
    assert results["complete"] is True
    info = results["platform_info"]
    assert info["node_image"] == os.environ["NETCONFORM_KIND_NODE_IMAGE"]
    assert info["kubernetes"] == "v1.36.1" and len(info["nodes"]) == 3
    checks = {c["id"]: c for c in results["checks"]}
    by_area: dict[str, list[str]] = {}
    for check in checks.values():
        by_area.setdefault(check["area"], []).append(check["verdict"])
    for area in ("reachability", "dns", "mtu"):
        assert by_area[area] and set(by_area[area]) <= {"pass", "skip"}, (area, by_area[area])
        assert by_area[area].count("pass") >= 3, area
    canary = checks["k8s.netpol.enforcement"]
    # Flannel enforces nothing: one profile finding, measured, not a failure
    assert canary["verdict"] == "pass" and canary["profile"] is True
    assert canary["measurements"][Measure.ENFORCED] is False
    assert "no enforcement" in canary["reason"]
    cross = checks["k8s.reach.pod-to-pod.cross-node.tcp"]
    assert cross["verdict"] == "pass"
    assert (out / "allure-results").is_dir() and (out / "junit.xml").is_file()
    assert_nothing_left()


def test_ctrl_c_during_provisioning_leaves_nothing(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [*NETCONFORM, "run", "--platform", "kind-flannel", "--out", str(tmp_path / "r")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if docker("ps", "--filter", f"label=io.x-k8s.kind.cluster={CLUSTER}", "-q").strip():
            break
        time.sleep(1)
    time.sleep(5)  # inside kind create / the install steps
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=300) != 0
    assert_nothing_left()
