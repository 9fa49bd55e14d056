"""results.json's `status`, `phase` and `not_run`: written, read back, and derived for files
written before them (complete=false read as crashed, or not provisioned when it says why)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from netconform.core import running
from netconform.interrupts import Terminated, terminate_as_interrupt
from netconform.results import (
    PROVISIONING_ERROR,
    Phase,
    ResultsWriter,
    RunResults,
    RunStatus,
    checks_path,
    read_results,
    write_results,
)

STARTED = "2026-01-05T02:00:00+00:00"


def test_status_decides_complete_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    run = RunResults("fake", {}, STARTED, "t1", (), status=RunStatus.INTERRUPTED,
                     phase=Phase.CHECKS, not_run=("a.b", "c.d"))  # fmt: skip
    assert run.complete is False
    write_results(path, run)
    data = json.loads(path.read_text())
    assert (data["complete"], data["status"], data["phase"], data["not_run"]) == (
        False, "interrupted", "checks", ["a.b", "c.d"],
    )  # fmt: skip
    assert read_results(path) == run


@pytest.mark.parametrize(
    ("complete", "info", "status"),
    [
        (True, {}, RunStatus.COMPLETE),
        (False, {}, RunStatus.CRASHED),
        (False, {PROVISIONING_ERROR: "no docker"}, RunStatus.NOT_PROVISIONED),
    ],
)
def test_files_before_status_read_as_they_always_were(
    complete: bool, info: dict[str, str], status: RunStatus, tmp_path: Path
) -> None:
    path = tmp_path / "results.json"
    write_results(path, RunResults("fake", info, STARTED, None, (), complete=complete))
    data = json.loads(path.read_text())
    for key in ("status", "phase", "not_run"):
        del data[key]
    path.write_text(json.dumps(data))
    run = read_results(path)
    assert (run.status, run.complete, run.not_run, run.phase) == (status, complete, (), None)


def test_the_in_progress_header_reads_as_crashed_if_the_run_dies(tmp_path: Path) -> None:
    """A run killed outright (SIGKILL, OOM) leaves the header: that run crashed."""
    path = tmp_path / "results.json"
    ResultsWriter(path, "fake", STARTED).progress({"platform": "fake"}, ())
    assert json.loads(path.read_text())["status"] == "crashed"


def test_an_ended_run_never_reads_a_stale_sidecar(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    ResultsWriter(path, "fake", STARTED).finish(
        {}, (), "t1", RunStatus.INTERRUPTED, Phase.PROVISIONING
    )
    checks_path(path).write_text('{"not": "a check"}\n')  # a kill between write and unlink
    assert read_results(path).checks == ()


def test_under_xdist_the_plan_comes_from_the_workers_node_ids(tmp_path: Path) -> None:
    """The xdist controller collects nothing: the checks it did not hear back from are still
    named in not_run, from the node ids a worker collected."""
    from netconform.options import RunOptions
    from netconform.platforms.registry import load_checks
    from netconform.plugin import ControllerHooks, RunState

    load_checks("swarm-lab")
    state = RunState(RunOptions(platform="swarm-lab", out=tmp_path))
    ids = [
        "test_dns.py::test_check[no-dns-checks]",
        "test_reachability.py::test_check[reachability.cross-host.tcp]",
        "test_mtu.py::test_check[mtu.interface.default]",
    ]
    ControllerHooks(state).pytest_xdist_node_collection_finished(node=None, ids=ids)
    state.end(RunStatus.INTERRUPTED, Phase.CHECKS)
    run = read_results(tmp_path / "results.json")
    # the placeholder of an area without checks is no check; every real id is kept, in order
    assert "no-dns-checks" not in run.not_run
    assert run.not_run == ("reachability.cross-host.tcp", "mtu.interface.default")
    assert run.status is RunStatus.INTERRUPTED


def test_a_forked_child_dies_of_sigterm_instead_of_unwinding_the_run() -> None:
    """pyroute2 runs a namespace's netlink in a forked child and stops it with SIGTERM: the
    child inherits the run's handler, and unwinding the run there tore down the half-made
    lab under its parent (`No such file or directory: /var/run/netns/nc-default-h1`)."""
    with terminate_as_interrupt():
        ready_r, ready_w = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover - the child
            try:
                os.write(ready_w, b"1")
                time.sleep(10)
            except BaseException:
                os._exit(7)  # the run's code would have run here
            os._exit(0)
        os.read(ready_r, 1)
        os.kill(child, signal.SIGTERM)
        _, status = os.waitpid(child, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM


def test_sigterm_in_the_run_s_own_process_is_an_interrupt() -> None:
    with terminate_as_interrupt(), pytest.raises(Terminated):  # noqa: PT012 - raised in sleep
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)


def test_sigint_interrupts_the_run_even_when_the_process_inherited_it_ignored() -> None:
    """A run started in the background by a script inherits SIGINT ignored; CI lost every
    Ctrl-C test that way (the run went on and exited 0)."""
    inherited = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with terminate_as_interrupt(), pytest.raises(KeyboardInterrupt):  # noqa: PT012
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN  # given back after the run
    finally:
        signal.signal(signal.SIGINT, inherited)


class _Platform:
    """Provisions, then is interrupted; its teardown gets signals of its own halfway."""

    def __init__(self, during_teardown: tuple[signal.Signals, ...]) -> None:
        self.during_teardown = during_teardown
        self.torn_down = False

    def provision(self) -> str:
        return "handle"

    def teardown(self) -> None:
        for signum in self.during_teardown:
            os.kill(os.getpid(), signum)
        time.sleep(0.05)  # where the signals are taken
        self.torn_down = True


@pytest.mark.parametrize(
    "signals",
    [(signal.SIGTERM,), (signal.SIGINT,), (signal.SIGTERM, signal.SIGINT, signal.SIGTERM)],
)
def test_a_signal_during_teardown_never_abandons_it(
    signals: tuple[signal.Signals, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    """GNU timeout sends SIGTERM to the run and then to its process group: the second one
    arrived in teardown and left a swarm lab up, its daemons running. A second Ctrl-C does
    the same. The teardown finishes, the first interruption is what the run ends with, and
    each later signal is said."""
    platform = _Platform(signals)
    with (  # noqa: PT012 - raised in sleep
        terminate_as_interrupt(),
        pytest.raises(Terminated),
        running(platform),  # type: ignore[arg-type]
    ):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    assert platform.torn_down
    said = capsys.readouterr().err.splitlines()
    assert len(said) == len(signals) and all("during teardown: finishing it" in s for s in said)


def test_a_signal_during_the_normal_teardown_is_said_and_the_teardown_ends() -> None:
    platform = _Platform((signal.SIGINT,))
    with terminate_as_interrupt(), running(platform):  # type: ignore[arg-type]
        pass
    assert platform.torn_down
