"""Running NetworkPolicy cases side by side, one per lane (a copy of the x/y/z model in
namespaces of its own, see workloads.NETPOL_LANES).

Lanes cannot disturb each other's cells: a policy isolates pods of its own namespace only,
and a case probes only between its lane's pods (a peer selecting every namespace admits
other lanes' pods too, but no case probes them). What lanes buy: a round of probes lasts as
long as its slowest probe, a denied one's timeout, and lanes wait for theirs at once.

pytest runs checks one at a time, so the cases this process will run (the plan, in order)
are started in the background when the first one is reached; each case check then returns
its own case's outcome, in order. Without a plan (a check run alone), a case runs in the
first free lane, in the caller's thread."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Generic, TypeVar

Binding = TypeVar("Binding")
Outcome = TypeVar("Outcome")


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


class Prefetch(Generic[Binding, Outcome]):
    """The planned cases (by id), started in plan order on as many threads as lanes."""

    def __init__(
        self,
        lanes: Lanes[Binding],
        planned: Sequence[str],
        run: Callable[[str, Binding], Outcome],
    ) -> None:
        self._lanes = lanes
        self._run = run
        self._pool = ThreadPoolExecutor(max_workers=len(lanes), thread_name_prefix="netpol-lane")
        self._futures: dict[str, Future[Outcome]] = {
            case_id: self._pool.submit(self._in_a_lane, case_id) for case_id in planned
        }

    def _in_a_lane(self, case_id: str) -> Outcome:
        with self._lanes.take() as binding:
            return self._run(case_id, binding)

    def __contains__(self, case_id: str) -> bool:
        return case_id in self._futures

    def outcome(self, case_id: str) -> Outcome:
        """A planned case's outcome, once it is there (its exception, if it raised)."""
        return self._futures[case_id].result()

    def close(self) -> None:
        """Cancel what has not started; wait for the running cases to clean up."""
        self._pool.shutdown(wait=True, cancel_futures=True)
