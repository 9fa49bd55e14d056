"""Track every process of a lab in one cgroup, so teardown kills exactly what we started.

Daemons join the cgroup before they exec; dockerd is given the same cgroup as
--cgroup-parent, so containers (and the shims, which inherit containerd's) land under it too.
Works on cgroup v1 (the pids hierarchy) and v2 (the unified hierarchy).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from netconform.polling import Clock, Sleep, poll

CGROUP_FS = Path("/sys/fs/cgroup")
KILL_INTERVAL_S = 0.05


def tracking_root() -> Path:
    """The hierarchy whose cgroup.procs we read to find every lab process."""
    if (CGROUP_FS / "cgroup.controllers").exists():
        return CGROUP_FS  # pure v2
    if (CGROUP_FS / "pids").is_dir():
        return CGROUP_FS / "pids"
    raise FileNotFoundError("no cgroup v2 root nor a v1 pids hierarchy under /sys/fs/cgroup")


def hierarchy_dirs() -> list[Path]:
    """Every mounted hierarchy (dockerd creates the container cgroups in all of them)."""
    if (CGROUP_FS / "cgroup.controllers").exists():
        return [CGROUP_FS]
    return [p for p in CGROUP_FS.iterdir() if p.is_dir() and (p / "cgroup.procs").exists()]


def create(name: str) -> Path:
    path = tracking_root() / name / "daemons"
    path.mkdir(parents=True, exist_ok=True)
    return path


def join(name: str) -> None:
    """Move the calling process into the lab's cgroup (used as a Popen preexec_fn)."""
    (tracking_root() / name / "daemons" / "cgroup.procs").write_text("0\n")


def pids(name: str) -> set[int]:
    found: set[int] = set()
    for hierarchy in hierarchy_dirs():
        top = hierarchy / name
        if not top.is_dir():
            continue
        # os.walk, not rglob: container cgroups vanish while we walk, and walk skips them
        for dirpath, _dirs, _files in os.walk(top):
            with contextlib.suppress(OSError):
                found.update(int(p) for p in Path(dirpath, "cgroup.procs").read_text().split())
    return found


def kill_all(
    name: str, timeout_s: float = 10.0, clock: Clock = time.monotonic, sleep: Sleep = time.sleep
) -> int:
    """SIGKILL every process in the lab's cgroup until none is left. Returns how many."""
    killed: set[int] = set()

    def kill_alive() -> set[int]:
        alive = pids(name)
        for pid in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        killed.update(alive)
        return alive

    polled = poll(kill_alive, lambda alive: not alive, timeout_s, KILL_INTERVAL_S, clock, sleep)
    if not polled.held:
        raise TimeoutError(f"processes still alive in cgroup {name}: {sorted(polled.value)}")
    return len(killed)


def remove(name: str) -> None:
    for hierarchy in hierarchy_dirs():
        top = hierarchy / name
        if not top.is_dir():
            continue
        # bottom-up: a cgroup directory only goes once it has no children
        for dirpath, _dirs, _files in os.walk(top, topdown=False):
            with contextlib.suppress(OSError):
                os.rmdir(dirpath)


def exists(name: str) -> bool:
    return any((h / name).is_dir() for h in hierarchy_dirs())
