"""One run per lab: an OS lock held from "is the lab up" to teardown.

The lock is `flock` on `<state root>/<name>.lock`: the kernel drops it when its holder dies,
however it dies, so a stale lock cannot exist. `lab down` removes the file while it holds
it, once the lab is gone; a taker that locked a file no longer at the path (removed meanwhile)
lets it go and takes the file that is there, so two runs never hold two files of one name.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from netconform.errors import EnvironmentUnfit
from netconform.lab import state


class LabBusy(EnvironmentUnfit):
    """Another process holds the lab (exit 3)."""


def lock_path(name: str) -> Path:
    return state.state_root() / f"{name}.lock"


class LabLock:
    """The held lock of one lab: closing its file releases it (once: the descriptor number
    may be another file's after that)."""

    def __init__(self, name: str, path: Path, fd: int) -> None:
        self.name = name
        self.path = path
        self._fd: int | None = fd

    @property
    def is_held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def remove_file(self) -> None:
        """The lab is gone: its lock file goes too (while held; see the module's note)."""
        if self._fd is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()


def acquire(name: str) -> LabLock:
    """Take the lab's lock at once, or refuse in one line naming the holder's PID."""
    path = lock_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise LabBusy(f"lab {name!r} is in use by PID {holder} (lock {path})") from None
        except BaseException:
            os.close(fd)
            raise
        if _is_at(fd, path):
            break
        os.close(fd)  # removed by `lab down` after we opened it: take the one there now
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return LabLock(name, path, fd)


def _is_at(fd: int, path: Path) -> bool:
    try:
        there = path.stat()
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino)


@contextlib.contextmanager
def held(name: str, lock: LabLock | None = None) -> Iterator[LabLock]:
    """The caller's lock when it holds one (a `swarm-lab` run holds it for the whole run),
    else one taken for this block (a `lab up` or `lab down` command)."""
    if lock is not None:
        yield lock
        return
    taken = acquire(name)
    try:
        yield taken
    finally:
        taken.release()
