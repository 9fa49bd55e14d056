"""The owner a lab's state records: the process the lab belongs to while it is built or run
on, so a lab whose owner is provably dead can be reclaimed by the next run."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from netconform.errors import EnvironmentUnfit

PROC = Path("/proc")
# /proc/<pid>/stat field 22: the start time in clock ticks since boot. A PID can be reused;
# a PID with the same start time is the same process.
STAT_START_TIME_FIELD = 22


def start_time(pid: int, proc: Path = PROC) -> int | None:
    """The process's start time (clock ticks since boot), or None when it does not exist."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # field 2 (comm) is in parentheses and may hold spaces or ')': split after the last ')'
    after_comm = stat[stat.rindex(")") + 2 :].split()
    return int(after_comm[STAT_START_TIME_FIELD - 3])


@dataclass(frozen=True)
class Owner:
    """The process a lab belongs to while it builds or runs on it."""

    pid: int
    start_time: int
    hostname: str

    @classmethod
    def current(cls, proc: Path = PROC) -> Owner:
        pid = os.getpid()
        started = start_time(pid, proc)
        if started is None:
            raise EnvironmentUnfit(f"{proc}/{pid}/stat: cannot read this process's start time")
        return cls(pid, started, socket.gethostname())

    def is_dead(self, proc: Path = PROC) -> bool:
        """Provably dead: on this host, and its PID is gone or now another process. An owner
        on another host cannot be proven dead from here."""
        if self.hostname != socket.gethostname():
            return False
        return start_time(self.pid, proc) != self.start_time

    def describe(self) -> str:
        return f"PID {self.pid} on {self.hostname}"
