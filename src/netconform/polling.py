"""Polling until an expectation holds: the one deadline loop of the library.

Checks poll observations, provisioning polls daemons and APIs; all of them take the clock
and the sleep as arguments, so a unit test runs a 120 s deadline in no time."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

Clock = Callable[[], float]
Sleep = Callable[[float], None]


@dataclass(frozen=True)
class Polled(Generic[T]):
    value: T  # the last observation
    held: bool
    attempts: int
    elapsed_s: float  # from the start until the last observation ended
    # From the start until the last observation began: when it held, what it saw was in
    # effect by then (an observation lasts as long as its slowest probe, e.g. a denied one).
    began_s: float = 0.0


def poll(
    observe: Callable[[], T],
    holds: Callable[[T], bool],
    deadline_s: float,
    interval_s: float = 0.5,
    clock: Clock | None = None,
    sleep: Sleep | None = None,
    since: float | None = None,
    min_attempts: int = 1,
) -> Polled[T]:
    """Observe until the expectation holds or the deadline passes; the last observation is
    kept either way, so a failure reports what was really seen. The first observation is
    always made; none starts after the deadline, except to reach `min_attempts`. `since` (a
    `clock()` value) is when the awaited change was made, if before the call: times and the
    deadline count from it. The clock and the sleep default to time's, looked up at call
    time (a script that fakes time patches the time module, not these defaults)."""
    clock = clock or time.monotonic
    sleep = sleep or time.sleep
    start = clock() if since is None else since
    attempts = 0
    while True:
        attempts += 1
        began = clock() - start
        value = observe()
        if holds(value):
            return Polled(value, True, attempts, clock() - start, began)
        if attempts >= min_attempts and clock() - start + interval_s > deadline_s:
            return Polled(value, False, attempts, clock() - start, began)
        sleep(interval_s)
