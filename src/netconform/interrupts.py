"""SIGINT and SIGTERM end a run the same orderly way: teardown, results.json saying
`interrupted`, and the shell's exit code for the signal (130, 143).

Python turns SIGINT into KeyboardInterrupt; SIGTERM kills outright unless handled. While a
run goes, SIGTERM raises `Terminated`, a KeyboardInterrupt, so every path that already
cleans up after Ctrl-C (the platform lifecycle, pytest's session end) cleans up after it too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from enum import Enum
from types import FrameType


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the run stood."""


class Interruption(Enum):
    """A signal that ended a run, with the exit code a shell gives it (128 + its number)."""

    SIGINT = signal.SIGINT
    SIGTERM = signal.SIGTERM

    @property
    def exit_code(self) -> int:
        return 128 + int(self.value)

    @classmethod
    def of(cls, exc: KeyboardInterrupt) -> Interruption:
        return cls.SIGTERM if isinstance(exc, Terminated) else cls.SIGINT


EXIT_CODES = frozenset(i.exit_code for i in Interruption)


class _RunSignalHandler:
    """SIGINT raises KeyboardInterrupt and SIGTERM Terminated, in the run's own process only.

    Installed for SIGINT too: a run started from a script in the background inherits SIGINT
    ignored (POSIX shells do that to background jobs) and Python then leaves it ignored, so a
    Ctrl-C or a `kill -INT` would be lost. A child forked without exec (pyroute2 runs each
    network namespace's netlink socket in one, and stops it with SIGTERM) inherits the
    handler: there it dies as the signal's default would, instead of unwinding the run's code
    (which, in the child, tore the half-made lab down under the parent)."""

    def __init__(self) -> None:
        self.pid = os.getpid()

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if os.getpid() != self.pid:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Terminated(f"signal {signal.Signals(signum).name}")


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """While the block runs, SIGINT raises KeyboardInterrupt and SIGTERM Terminated (whatever
    the process inherited); the previous handlers after it."""
    with _handling(_RunSignalHandler()):
        yield


@contextlib.contextmanager
def _handling(handler: Callable[[int, FrameType | None], None]) -> Iterator[None]:
    """SIGINT and SIGTERM go to `handler` while the block runs, the handlers before after it.
    Only the main thread can take signals: elsewhere this changes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, before in previous.items():
            signal.signal(signum, before)


class _NotedSignal:
    """While a teardown runs: SIGINT and SIGTERM are said, not raised (in the run's process;
    a forked child still dies of them, as _RunSignalHandler's does)."""

    def __init__(self, what: str) -> None:
        self.pid = os.getpid()
        self.what = what

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if os.getpid() != self.pid:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        name = signal.Signals(signum).name
        sys.stderr.write(
            f"netconform: {name} during {self.what}: finishing it first "
            "(SIGKILL abandons it; the next run or `lab down` / `cluster cleanup` reclaims)\n"
        )


@contextlib.contextmanager
def shielded(what: str) -> Iterator[None]:
    """Run a teardown to its end whatever signal comes: a second Ctrl-C, or the SIGTERM a
    supervisor sends the whole process group after the one it sent the run (GNU timeout
    does), would otherwise abandon it half-way and leave the lab or cluster behind."""
    with _handling(_NotedSignal(what)):
        yield
