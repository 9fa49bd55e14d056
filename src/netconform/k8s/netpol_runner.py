"""Runs the NetworkPolicy cases of a process side by side, one per lane (a copy of the x/y/z
model in namespaces of its own, see workloads.NETPOL_LANES). How a case is judged is the
check module's (`checks.k8s_netpol.run_case`); when and where it runs is this module's.

Lanes cannot disturb each other's cells: a policy isolates pods of its own namespace only,
and a case probes only between its lane's pods (a peer selecting every namespace admits
other lanes' pods too, but no case probes them). What lanes buy: a round of probes lasts as
long as its slowest probe, a denied one's timeout, and lanes wait for theirs at once.

pytest runs checks one at a time, so the cases this process will run (the plan, in order)
are started in the background when the first one is reached; each case check then returns
its own case's outcome. Each outcome carries the time its case held its lane: the check
records that, not how long it waited (a case that finished before its check was reached
waited nothing; one behind another in the same lane waited for both). Without a plan (a
check run alone), a case runs in the first free lane, in the caller's thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from netconform.k8s.netpol_binding import NetpolBinding
from netconform.netpol.catalogue import Case

Binding = TypeVar("Binding")
R = TypeVar("R")
Clock = Callable[[], float]
Judge = Callable[[Case, NetpolBinding], R]  # runs one case in the lane it is given


def monotonic() -> float:
    """The default clock, read from the time module at each call (as polling and the checks'
    own timing do), so a test faking that clock fakes the lanes' too."""
    return time.monotonic()


class Lanes(Generic[Binding]):
    """The lanes' bindings; `take` waits for a free one, the lowest first (so a run that
    never overlaps cases always uses lane 0)."""

    def __init__(self, bindings: Sequence[Binding]) -> None:
        self._bindings = list(bindings)
        self._free = set(range(len(self._bindings)))
        self._changed = threading.Condition()

    def __len__(self) -> int:
        return len(self._bindings)

    @contextmanager
    def take(self) -> Iterator[Binding]:
        with self._changed:
            self._changed.wait_for(lambda: bool(self._free))
            lane = min(self._free)
            self._free.remove(lane)
        try:
            yield self._bindings[lane]
        finally:
            with self._changed:
                self._free.add(lane)
                self._changed.notify()


@dataclass(frozen=True)
class CaseRun(Generic[R]):
    """One case as it ran: its outcome (or what it raised) and when it held its lane, in
    the runner's clock's seconds."""

    case_id: str
    started: float  # the lane taken: waiting for a free lane is not the case's time
    finished: float
    outcome: R | None
    error: Exception | None = None

    @property
    def duration_s(self) -> float:
        return self.finished - self.started


class NetpolRunner:
    """The lanes and the schedule of one process's NetworkPolicy cases. What a case's run
    gives is its judge's: the one `result` is given is the one `start` was (the check
    module's), so a started case's outcome has the type `result`'s judge says."""

    def __init__(self, bindings: Sequence[NetpolBinding], clock: Clock = monotonic) -> None:
        self._lanes = Lanes(bindings)
        self._clock = clock
        self._guard = threading.Lock()
        self._started = False
        self._pool: ThreadPoolExecutor | None = None
        self._scheduled: dict[str, Future[CaseRun[Any]]] = {}

    @property
    def lanes(self) -> int:
        return len(self._lanes)

    def start(self, planned: Sequence[Case], judge: Judge[R]) -> None:
        """Start the planned cases in plan order, on as many threads as lanes. Once: later
        calls do nothing (nothing planned: every case runs when its check asks for it)."""
        with self._guard:
            if self._started:
                return
            self._started = True
            if not planned:
                return
            self._pool = ThreadPoolExecutor(
                max_workers=len(self._lanes), thread_name_prefix="netpol-lane"
            )
            self._scheduled = {
                case.id: self._pool.submit(self._in_a_lane, case, judge) for case in planned
            }

    def __contains__(self, case_id: str) -> bool:
        """Whether the case was started in the background."""
        return case_id in self._scheduled

    def result(self, case: Case, judge: Judge[R]) -> CaseRun[R]:
        """A started case's run, once it has finished; any other case runs now, in the first
        free lane, in the caller's thread."""
        scheduled = self._scheduled.get(case.id)
        if scheduled is not None:
            return scheduled.result()
        return self._in_a_lane(case, judge)

    def _in_a_lane(self, case: Case, judge: Judge[R]) -> CaseRun[R]:
        with self._lanes.take() as binding:
            started = self._clock()
            try:
                outcome = judge(case, binding)
            except Exception as exc:  # the check makes it an error verdict, with its time
                return CaseRun(case.id, started, self._clock(), None, exc)
            return CaseRun(case.id, started, self._clock(), outcome)

    def cancelled(self) -> list[str]:
        """The started cases that never ran: the run ended (close) before their turn."""
        return [case_id for case_id, f in self._scheduled.items() if f.cancelled()]

    def close(self) -> None:
        """Cancel what has not started; wait for the running cases to clean up."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
