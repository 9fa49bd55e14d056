"""A docker exec whose stream never closes (seen on a lab host during a selftest) is given up
after the probes' budget and a grace, its probes reported as not run with the reason and the
argv that re-runs them; it never hangs the run."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from netconform.probes import executors
from netconform.probes.executors import DockerExecExecutor, within
from netconform.probes.model import Probe, ProbeKind


class HungContainer:
    name = "probe.1.abc"

    def __init__(self) -> None:
        self.released = threading.Event()

    def exec_run(self, cmd: Any, demux: bool) -> Any:
        self.released.wait(30)  # a stream dockerd never closes
        return 0, (b"", b"")


def test_a_hung_exec_is_given_up_with_its_probes_not_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(executors, "EXEC_GRACE_S", 0.2)
    container = HungContainer()
    probe = Probe("p1", ProbeKind.TCP, "10.0.0.2", port=80, timeout_s=0.1)
    try:
        (result,) = DockerExecExecutor(container, "unix:///h1.sock").run_batch([probe])
    finally:
        container.released.set()
    assert not result.ran and not result.ok
    assert "did not return within 0 s" in str(result.error)
    assert result.reproduce[:5] == ("docker", "-H", "unix:///h1.sock", "exec", "probe.1.abc")


def test_within_gives_the_result_or_the_error_of_a_call_that_returns() -> None:
    assert within(5, lambda: 42) == 42
    with pytest.raises(ValueError, match="bad"):
        within(5, lambda: int("bad"))
    gate = threading.Event()
    assert within(0.05, lambda: gate.wait(10)) is None
    gate.set()
