"""Track every process of a lab in one cgroup, so teardown kills exactly what we started.

Daemons join the cgroup before they exec; dockerd is given the same cgroup as
--cgroup-parent, so containers (and the shims, which inherit containerd's) land under it too.
Works on cgroup v1 (the pids hierarchy) and v2 (the unified hierarchy).

A PID listed in the lab's cgroup.procs is killed only if its own /proc/<pid>/cgroup says it
is in the lab's cgroup: a listing can be stale (the PID reused) or, in tests, made up.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from netconform.polling import Clock, Sleep, poll

CGROUP_FS = Path("/sys/fs/cgroup")
PROC = Path("/proc")
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


def is_member(pid: int, name: str) -> bool:
    """Whether /proc/<pid>/cgroup places the process in cgroup `name` or under it (in any
    hierarchy: v2 `0::/path`, v1 `N:controllers:/path`)."""
    try:
        lines = (PROC / str(pid) / "cgroup").read_text().splitlines()
    except OSError:  # gone
        return False
    top = f"/{name}"
    for line in lines:
        path = line.split(":", 2)[-1]
        if path == top or path.startswith(top + "/"):
            return True
    return False


def pids(name: str) -> set[int]:
    """Every process in the lab's cgroup, as the process itself confirms."""
    found: set[int] = set()
    for hierarchy in hierarchy_dirs():
        top = hierarchy / name
        if not top.is_dir():
            continue
        # os.walk, not rglob: container cgroups vanish while we walk, and walk skips them
        for dirpath, _dirs, _files in os.walk(top):
            with contextlib.suppress(OSError):
                found.update(int(p) for p in Path(dirpath, "cgroup.procs").read_text().split())
    return {pid for pid in found if is_member(pid, name)}


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
