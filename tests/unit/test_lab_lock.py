"""One owner per lab: the lock between real processes, the owner's death releasing it, a dead
owner's lab reclaimed and a live one's never touched, and the race two runs used to lose."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import signal
import subprocess
import sys
from dataclasses import replace
from multiprocessing.synchronize import Event
from pathlib import Path

import pytest
from lab_fakes import MARKER, FakeLabEnv, dead_owner, fake_lab_env, owner_of, sleeper, valid_state

from netconform.errors import InputError
from netconform.lab import lab, lock, state
from netconform.lab.config import LabConfig
from netconform.owner import ProcessOwner, start_time

HOLD = """
import sys
from netconform.lab import lock
held = lock.acquire(sys.argv[1])
print("held", flush=True)
sys.stdin.read()  # until the test closes stdin (or kills us)
"""


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeLabEnv:
    return fake_lab_env(tmp_path, monkeypatch)


def _holder(name: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, name], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "held\n"
    return proc


def _lab_down_cli(name: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "netconform.cli", "lab", "down", "--name", name]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def test_a_second_taker_is_refused_naming_the_holder_until_the_holder_exits(
    env: FakeLabEnv,
) -> None:
    first = _holder("x")
    try:
        second = _lab_down_cli("x")
        assert second.returncode == 3
        assert second.stderr == (
            f"netconform: lab 'x' is in use by PID {first.pid} (lock {env.root}/x.lock)\n"
        )
        with pytest.raises(lock.LabBusy, match=f"in use by PID {first.pid} "):
            lock.acquire("x")
    finally:
        assert first.stdin is not None
        first.stdin.close()  # the holder exits
        assert first.wait(timeout=30) == 0
    third = lock.acquire("x")
    try:
        assert (env.root / "x.lock").read_text() == f"{os.getpid()}\n"
    finally:
        third.release()


def test_a_killed_holder_releases_the_lock(env: FakeLabEnv) -> None:
    first = _holder("x")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    taken = lock.acquire("x")
    taken.release()
    assert not taken.is_held


def test_a_lock_file_removed_between_open_and_flock_is_not_the_one_taken(
    env: FakeLabEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`lab down` removes the file it holds; a taker that opened it just before must not end
    up holding an unlinked file while the next taker locks the new one."""
    real_flock = fcntl.flock
    calls: list[int] = []

    def down_finishes_in_between(fd: int, operation: int) -> None:
        if not calls:
            lock.lock_path("x").unlink()
        calls.append(fd)
        real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", down_finishes_in_between)
    taken = lock.acquire("x")
    try:
        assert len(calls) == 2
        assert os.stat(lock.lock_path("x")).st_ino == os.fstat(calls[-1]).st_ino
    finally:
        taken.release()


def test_lab_down_removes_the_lock_file_it_held(env: FakeLabEnv) -> None:
    state.save(valid_state("x"))
    assert lab.down("x") is not None
    assert not lock.lock_path("x").exists()
    lock.acquire("x").release()  # and the next taker makes a new one


def test_other_labs_do_not_share_a_lock(env: FakeLabEnv) -> None:
    with lock.held("x"), lock.held("y") as other:
        assert other.is_held


def test_the_owners_start_time_is_field_22_of_its_stat(tmp_path: Path) -> None:
    # fields 3..21 are their own numbers; a comm may hold spaces and ')'
    after_comm = ["S", *(str(n) for n in range(4, 22)), "987654", "23", "24"]
    stat = f"4242 (a name) with) spaces) {' '.join(after_comm)}\n"
    (tmp_path / "4242").mkdir()
    (tmp_path / "4242" / "stat").write_text(stat)
    assert start_time(4242, tmp_path) == 987654
    assert start_time(4243, tmp_path) is None


def test_owner_is_dead_only_when_provably_so() -> None:
    me = ProcessOwner.current()
    assert me.start_time is not None and not me.is_dead()
    assert dead_owner().is_dead()
    assert replace(me, start_time=me.start_time + 1).is_dead()  # the PID now someone else's
    elsewhere = replace(dead_owner(), hostname=me.hostname + "-other")
    assert not elsewhere.is_dead()  # another host's process: cannot tell from here


def test_a_dead_owners_lab_is_reclaimed_by_the_next_run_saying_so(
    env: FakeLabEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = dead_owner()
    state.save(replace(valid_state("x"), phase="creating", owner=gone))
    (env.netns_dir / "nc-x-ul").touch()
    made = lab.up(LabConfig("x", hosts=2), owned=True)
    said = capsys.readouterr().err
    assert said == f"netconform: lab 'x': its owner {gone.describe()} is dead; reclaiming the lab\n"
    assert env.removed_netns == ["nc-x-ul"]
    assert made.owner is not None and made.owner.pid == os.getpid()
    assert state.load("x") == made


def test_a_live_owners_lab_is_never_touched(env: FakeLabEnv) -> None:
    with sleeper() as owner_proc:
        owned = replace(valid_state("x"), owner=owner_of(owner_proc.pid))
        state.save(owned)
        (env.netns_dir / "nc-x-ul").touch()
        with pytest.raises(lock.LabBusy, match=f"belongs to PID {owner_proc.pid} on .*alive"):
            lab.down("x")
        with pytest.raises(InputError, match="already up"):
            lab.up(LabConfig("x", hosts=2))
        assert state.load("x") == owned
        assert env.removed_netns == []


def test_lab_up_hands_the_lab_over_once_ready_unless_owned(env: FakeLabEnv) -> None:
    assert lab.up(LabConfig("x", hosts=2)).owner is None
    loaded = state.load("x")
    assert loaded is not None and loaded.owner is None and loaded.phase == "ready"


def _first_run(reached: Event, go: Event) -> None:
    """The first `lab up`, stopped inside the window between "no lab recorded" and the first
    state write until the test lets it go."""

    def pause() -> None:
        reached.set()
        assert go.wait(30)

    lab.up(LabConfig("x", hosts=2), owned=True, before_first_write=pause)


def test_a_second_run_in_the_race_window_refuses_and_the_first_is_unharmed(
    env: FakeLabEnv,
) -> None:
    fork = multiprocessing.get_context("fork")  # inherits the fakes of this test
    reached, go = fork.Event(), fork.Event()
    first = fork.Process(target=_first_run, args=(reached, go))
    first.start()
    try:
        assert reached.wait(30)
        # The first run has checked "no lab recorded" and not written anything yet.
        assert state.load("x") is None
        with pytest.raises(lock.LabBusy, match=f"^lab 'x' is in use by PID {first.pid} "):
            lab.up(LabConfig("x", hosts=2), owned=True)
        with pytest.raises(lock.LabBusy, match=f"PID {first.pid}"):
            lab.down("x")
    finally:
        go.set()
        first.join(30)
    assert first.exitcode == 0
    built = state.load("x")
    assert built is not None and built.phase == "ready"
    assert built.owner is not None and built.owner.pid == first.pid
    assert (state.lab_dir("x") / MARKER).read_text() == str(first.pid)
    assert env.removed_netns == []
