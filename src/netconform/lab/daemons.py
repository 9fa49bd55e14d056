"""containerd + dockerd per lab host, each inside that host's network namespace.

`nsenter --net` (not `ip netns exec`, which remounts /sys and hides the cgroup mounts).
Each daemon gets its own containerd: with /run/containerd/containerd.sock present,
dockerd 20.10 would otherwise silently share the system one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from netconform.errors import EnvironmentUnfit
from netconform.lab import cgroups
from netconform.lab.netns import NETNS_DIR
from netconform.polling import Clock, Sleep, poll

REQUIRED_BINARIES = ("dockerd", "containerd", "nsenter", "runc")
START_INTERVAL_S = 0.05


def missing_binaries() -> list[str]:
    return [b for b in REQUIRED_BINARIES if shutil.which(b) is None]


def _spawn(
    argv: list[str], log: Path, cgroup: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    log_handle = log.open("ab")
    try:
        return subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C of the harness must not hit the daemons first
            # Joining before exec leaves no window in which a daemon runs untracked; the
            # child only writes one file, which is safe even with threads in the parent.
            preexec_fn=lambda: cgroups.join(cgroup),  # noqa: PLW1509
        )
    finally:
        log_handle.close()


def wait_for(
    ready: Callable[[], bool],
    proc: subprocess.Popen[bytes],
    what: str,
    log: Path,
    timeout_s: float,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
) -> None:
    """Until `ready()`; a daemon that exits meanwhile is an error quoting its log's tail."""

    def state() -> str:
        if ready():
            return "ready"
        return "exited" if proc.poll() is not None else "starting"

    polled = poll(state, lambda s: s != "starting", timeout_s, START_INTERVAL_S, clock, sleep)
    if polled.value == "exited":
        tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-3:])
        raise EnvironmentUnfit(f"{what} exited with {proc.returncode}: {tail}")
    if not polled.held:
        raise EnvironmentUnfit(f"{what} not ready after {timeout_s:.0f}s (log: {log})")


def start_containerd(netns: str, directory: Path, cgroup: str) -> int:
    sock = directory / "containerd.sock"
    log = directory / "containerd.log"
    proc = _spawn(
        [
            "nsenter",
            f"--net={NETNS_DIR / netns}",
            "containerd",
            "--address",
            str(sock),
            "--root",
            str(directory / "containerd"),
            "--state",
            str(directory / "containerd-state"),
        ],
        log,
        cgroup,
    )
    wait_for(sock.exists, proc, f"containerd in {netns}", log, 30)
    return proc.pid


def start_dockerd(netns: str, directory: Path, cgroup: str, dns_server: str) -> int:
    config = directory / "daemon.json"
    # An explicit config so /etc/docker/daemon.json of the machine never leaks in. The
    # containers' upstream DNS is the lab's own underlay gateway, where nothing listens: an
    # unknown name fails fast and deterministically, and no query leaves the lab.
    config.write_text(json.dumps({"log-level": "warn", "dns": [dns_server]}))
    sock = directory / "docker.sock"
    log = directory / "dockerd.log"
    proc = _spawn(
        [
            "nsenter",
            f"--net={NETNS_DIR / netns}",
            "dockerd",
            "--config-file",
            str(config),
            "--data-root",
            str(directory / "data"),
            "--exec-root",
            str(directory / "exec"),
            "--pidfile",
            str(directory / "docker.pid"),
            "-H",
            f"unix://{sock}",
            "--containerd",
            str(directory / "containerd.sock"),
            "--containerd-namespace",
            f"{cgroup}-{netns}",
            "--containerd-plugins-namespace",
            f"{cgroup}-{netns}-plugins",
            "--cgroup-parent",
            f"/{cgroup}",
            "--exec-opt",
            "native.cgroupdriver=cgroupfs",
        ],
        log,
        cgroup,
        # Tasks use the image loaded locally instead of asking a registry first (there is none).
        env={**os.environ, "DOCKER_SERVICE_PREFER_OFFLINE_IMAGE": "1"},
    )
    wait_for(lambda: _docker_answers(sock), proc, f"dockerd in {netns}", log, 60)
    return proc.pid


def _docker_answers(sock: Path) -> bool:
    if not sock.exists():
        return False
    import docker

    try:
        client = docker.DockerClient(base_url=f"unix://{sock}", timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # not up yet: any client error means "ask again"
        return False
