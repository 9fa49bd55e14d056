"""The provisioning deadline loops on netconform.polling, driven by a fake clock: each
stops as soon as its condition holds and gives up at its deadline, in no real time."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from netconform.errors import EnvironmentUnfit
from netconform.lab import cgroups, daemons
from netconform.platforms import swarm_deploy
from netconform.polling import poll


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_poll_keeps_the_last_observation_and_counts_attempts() -> None:
    clock = FakeClock()
    polled = poll(lambda: clock.now, lambda v: v >= 2, 10, 1, clock, clock.sleep)
    assert (polled.value, polled.held, polled.attempts, polled.elapsed_s) == (2.0, True, 3, 2.0)
    polled = poll(lambda: clock.now, lambda v: False, 3, 1, clock, clock.sleep)
    assert (polled.held, polled.attempts, polled.elapsed_s) == (False, 4, 3.0)


def test_an_observation_that_outlasts_the_deadline_is_followed_by_a_second_one() -> None:
    clock = FakeClock()

    def slow_observation() -> float:  # lasts 12 s: longer than the whole deadline
        began = clock.now
        clock.now += 12
        return began

    # the change took effect 3 s in: the first observation began before it, the second after
    polled = poll(slow_observation, lambda began: began >= 3, 10, 1, clock, clock.sleep,
                  min_attempts=2)  # fmt: skip
    assert (polled.held, polled.attempts, polled.began_s) == (True, 2, 13.0)
    once = poll(slow_observation, lambda began: began >= 1000, 10, 1, clock, clock.sleep)
    assert (once.held, once.attempts) == (False, 1)


def test_kill_all_kills_until_the_cgroup_is_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    rounds = iter([{11, 12}, {12}, set()])
    killed: list[tuple[int, int]] = []
    monkeypatch.setattr(cgroups, "pids", lambda name: next(rounds))
    monkeypatch.setattr(cgroups.os, "kill", lambda pid, sig: killed.append((pid, sig)))
    clock = FakeClock()
    assert cgroups.kill_all("lab", clock=clock, sleep=clock.sleep) == 2
    assert sorted(killed) == [(11, signal.SIGKILL), (12, signal.SIGKILL), (12, signal.SIGKILL)]


def test_kill_all_gives_up_at_its_deadline_naming_the_survivors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cgroups, "pids", lambda name: {7})
    monkeypatch.setattr(cgroups.os, "kill", lambda pid, sig: None)
    clock = FakeClock()
    with pytest.raises(TimeoutError, match=r"\[7\]"):
        cgroups.kill_all("lab", timeout_s=1.0, clock=clock, sleep=clock.sleep)
    assert 0.9 < clock.now <= 1.0


class FakeProc:
    def __init__(self, exits_at: float | None, clock: FakeClock) -> None:
        self.exits_at, self.clock, self.returncode = exits_at, clock, None

    def poll(self) -> int | None:
        if self.exits_at is not None and self.clock.now >= self.exits_at:
            self.returncode = 1
        return self.returncode


def _wait(tmp_path: Path, ready_at: float | None, exits_at: float | None) -> FakeClock:
    clock = FakeClock()
    log = tmp_path / "d.log"
    log.write_text("starting\nbind: address in use\n")
    proc: Any = FakeProc(exits_at, clock)
    daemons.wait_for(
        lambda: ready_at is not None and clock.now >= ready_at,
        proc,
        "dockerd in h1",
        log,
        30,
        clock,
        clock.sleep,
    )
    return clock


def test_wait_for_returns_once_the_daemon_answers(tmp_path: Path) -> None:
    assert _wait(tmp_path, ready_at=1.0, exits_at=None).now == pytest.approx(1.0)


def test_wait_for_a_daemon_that_exits_quotes_its_log(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentUnfit, match=r"exited with 1: starting \| bind: address in use"):
        _wait(tmp_path, ready_at=None, exits_at=0.5)


def test_wait_for_gives_up_at_the_deadline(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentUnfit, match="not ready after 30s"):
        _wait(tmp_path, ready_at=None, exits_at=None)


class FakeContainers:
    def __init__(self, errors: list[docker.errors.APIError | None]) -> None:
        self.errors, self.runs, self.removed = errors, 0, 0

    def run(self, *args: Any, **kwargs: Any) -> None:
        self.runs += 1
        error = self.errors.pop(0) if self.errors else None
        if error is not None:
            raise error

    def get(self, name: str) -> Any:
        containers = self

        class Created:
            def remove(self, force: bool) -> None:
                containers.removed += 1

        return Created()


class FakeClient:
    def __init__(self, errors: list[docker.errors.APIError | None]) -> None:
        self.containers = FakeContainers(errors)


def _start(client: FakeClient, deadline_s: float = 90) -> FakeClock:
    clock = FakeClock()
    swarm_deploy._start_peer(
        client, "img", ["serve"], "peer", "net", {}, deadline_s, clock, clock.sleep
    )
    return clock


BUSY = docker.errors.APIError("attaching to network failed: context deadline exceeded")


def test_a_peer_is_retried_while_the_overlay_is_not_there_yet() -> None:
    client = FakeClient([docker.errors.NotFound("network nc1-main not found"), BUSY, None])
    assert _start(client).now == 2.0
    assert (client.containers.runs, client.containers.removed) == (3, 2)


def test_a_peer_refused_for_another_reason_is_not_retried() -> None:
    client = FakeClient([docker.errors.APIError("conflict: name in use")])
    with pytest.raises(docker.errors.APIError, match="conflict"):
        _start(client)
    assert client.containers.runs == 1


def test_a_peer_still_refused_at_the_deadline_raises_the_last_refusal() -> None:
    client = FakeClient([BUSY] * 100)
    with pytest.raises(docker.errors.APIError, match="attaching to network"):
        _start(client, deadline_s=5)
    assert client.containers.runs == 6


class FakeNetwork:
    def __init__(self, name: str, gone_after: int, registry: list[FakeNetwork]) -> None:
        self.name, self.tries, self.gone_after, self.registry = name, 0, gone_after, registry

    def remove(self) -> None:
        self.tries += 1
        if self.tries < self.gone_after:
            raise docker.errors.APIError(f"network {self.name} is in use by task abc")
        self.registry.remove(self)


class FakeManager:
    def __init__(self, networks: dict[str, int]) -> None:
        self.left: list[FakeNetwork] = []
        self.left += [FakeNetwork(n, k, self.left) for n, k in networks.items()]
        manager = self

        class Listing:
            def __init__(self, items: list[Any]) -> None:
                self.items = items

            def list(
                self, filters: Any = None, all: bool = False, ignore_removed: bool = False
            ) -> list[Any]:
                return list(self.items)

        class Api:
            def inspect_task(self, task_id: str) -> dict[str, Any]:
                return {"ID": task_id, "ServiceID": "svc", "Spec": {}}  # a service's task

        self.services = Listing([])
        self.containers = Listing([])
        self.networks = Listing(manager.left)
        self.api = Api()


def test_remove_retries_networks_until_they_go() -> None:
    manager = FakeManager({"nc1-main": 3, "nc1-other": 1})
    clock = FakeClock()
    nodes = [swarm_deploy.Node("h1", "unix:///x", "10.0.0.1")]
    pinned = swarm_deploy.remove({"h1": manager}, nodes, "1", 120, clock, clock.sleep)
    # tried at t = 0, 0.5 and 1 (gone), seen gone at 1.5
    assert (pinned, manager.left, clock.now) == ([], [], 1.5)


def test_remove_gives_up_at_its_deadline() -> None:
    manager = FakeManager({"nc1-main": 10_000})
    clock = FakeClock()
    nodes = [swarm_deploy.Node("h1", "unix:///x", "10.0.0.1")]
    with pytest.raises(EnvironmentUnfit, match="could not remove networks of run 1"):
        swarm_deploy.remove({"h1": manager}, nodes, "1", 120, clock, clock.sleep)
    assert clock.now == pytest.approx(120.0)
