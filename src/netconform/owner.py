"""The process that owns something a run leaves behind (a lab, a cluster's namespaces): its
host, PID and start time, so that what a provably dead process owned can be reclaimed and
what a live one owns is never touched. A PID can be reused; a PID with the same start time
is the same process."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

PROC = Path("/proc")
# /proc/<pid>/stat field 22: the start time in clock ticks since boot.
STAT_START_TIME_FIELD = 22


def start_time(pid: int, proc: Path = PROC) -> int | None:
    """The process's start time (clock ticks since boot); None when its stat cannot be read
    (no such process, or one hidden from this user)."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    # field 2 (comm) is in parentheses and may hold spaces or ')': split after the last ')'
    after_comm = stat[stat.rindex(")") + 2 :].split()
    return int(after_comm[STAT_START_TIME_FIELD - 3])


class Processes(Protocol):
    """This host, and the processes that run on it (the seam tests fake)."""

    @property
    def host(self) -> str: ...

    def runs(self, pid: int) -> bool: ...

    def start_time(self, pid: int) -> int | None:
        """None when it does not run or its start cannot be read."""
        ...


@dataclass(frozen=True)
class LocalProcesses:
    proc: Path = PROC

    @property
    def host(self) -> str:
        return socket.gethostname()

    def runs(self, pid: int) -> bool:
        if self.start_time(pid) is not None:
            return True
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # it runs, as another user
        return True

    def start_time(self, pid: int) -> int | None:
        return start_time(pid, self.proc)


LOCAL = LocalProcesses()


@dataclass(frozen=True)
class ProcessOwner:
    """A process, named so that a reused PID is not taken for it. The field names are those
    a lab's state.json stores."""

    pid: int
    start_time: int | None  # None: it ran, but its start could not be read
    hostname: str

    @classmethod
    def current(cls, processes: Processes = LOCAL) -> ProcessOwner:
        pid = os.getpid()
        return cls(pid, processes.start_time(pid), processes.host)

    def is_dead(self, processes: Processes = LOCAL) -> bool:
        """Provably dead: on this host, and its PID is gone or now another process. An owner
        on another host, or whose start is unknown on either side, cannot be proven dead."""
        if self.hostname != processes.host:
            return False
        if not processes.runs(self.pid):
            return True
        now = processes.start_time(self.pid)
        return now is not None and self.start_time is not None and now != self.start_time

    def describe(self) -> str:
        return f"PID {self.pid} on {self.hostname}"

    def encode(self) -> str:
        """The annotation text `host/pid/start` (start empty when it was not readable)."""
        start = "" if self.start_time is None else str(self.start_time)
        return f"{self.hostname}/{self.pid}/{start}"

    @classmethod
    def decode(cls, text: str) -> ProcessOwner | None:
        parts = text.split("/")
        if len(parts) != 3 or not parts[0] or not parts[1].isdigit():
            return None
        if parts[2] and not parts[2].isdigit():
            return None
        return cls(int(parts[1]), int(parts[2]) if parts[2] else None, parts[0])
