"""A probe that did not run is never a blocked connection: an exec that outlives its
deadline or fails, an agent crash or an agent error makes an error cell with the reason;
only a connection the network refused, dropped (timeout) or could not route is a deny."""

from __future__ import annotations

from typing import Any

import pytest

from netconform.checks.netpol_report import cell_value, errors
from netconform.k8s.kube import KubeExecExecutor, PodEndpoint
from netconform.netpol.model import Protocol
from netconform.netpol.oracle import Oracle
from netconform.netpol.oracle import Probe as NetpolProbe
from netconform.probes.model import Connectivity, Probe, ProbeKind, ProbeResult
from netconform.results import CellValue

SOURCE = PodEndpoint("nc-r1-x", "a", "serve-80", "10.244.1.10", "n0")
PROBES = [
    Probe("p1", ProbeKind.TCP, "10.244.1.11", 80, timeout_s=1.0),
    Probe("p2", ProbeKind.TCP, "10.244.1.12", 80, timeout_s=1.0),
]
REPORTED = (
    '{"id": "p1", "kind": "tcp", "target": "10.244.1.11", "ok": false, "outcome": "timeout",'
    ' "error": "timeout", "latency_ms": 1000.0, "values": {}}\n'
)


class FakeStream:
    """The exec stream: `still_open` after run_forever means the exec outlived it."""

    def __init__(self, still_open: bool, stdout: str, stderr: str = "") -> None:
        self.still_open = still_open
        self.stdout, self.stderr = stdout, stderr
        self.waited: float | None = None

    def run_forever(self, timeout: float) -> None:
        self.waited = timeout

    def is_open(self) -> bool:
        return self.still_open

    def read_stdout(self) -> str:
        return self.stdout

    def read_stderr(self) -> str:
        return self.stderr

    def close(self) -> None:
        self.still_open = False


def _run(monkeypatch: pytest.MonkeyPatch, stream: Any) -> list[ProbeResult]:
    import kubernetes.stream

    monkeypatch.setattr(kubernetes.stream, "stream", stream)
    return KubeExecExecutor(FakeCore(), SOURCE).run_batch(PROBES)


class FakeCore:
    def connect_get_namespaced_pod_exec(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("called only through stream()")


def test_an_exec_that_outlives_its_deadline_leaves_unreported_probes_not_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeStream(still_open=True, stdout=REPORTED)
    first, second = _run(monkeypatch, lambda *a, **kw: fake)
    assert fake.waited == 16.0  # the probes' timeout + 15 s for the exec itself
    # What the agent reported before the exec was cut stays: a real connection timeout.
    assert first.outcome == Connectivity.TIMEOUT and cell_value(first) == CellValue.DENY
    assert second.outcome == Connectivity.FAILED and not second.ran
    assert second.error == "no result: exec did not finish within 16s"
    assert cell_value(second) == CellValue.ERROR
    assert second.reproduce[:4] == ("kubectl", "exec", "-n", "nc-r1-x")


def test_an_exec_that_fails_makes_every_probe_not_run(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*args: object, **kwargs: object) -> None:
        raise ConnectionResetError("websocket closed by the API server")

    results = _run(monkeypatch, refused)
    assert [r.outcome for r in results] == [Connectivity.FAILED] * 2
    assert all("exec failed: ConnectionResetError" in str(r.error) for r in results)
    assert {cell_value(r) for r in results} == {CellValue.ERROR}


def test_an_exec_that_finishes_reports_what_the_agent_printed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    agent_died = "Traceback (most recent call last):\nMemoryError"
    results = _run(monkeypatch, lambda *a, **kw: FakeStream(False, REPORTED, agent_died))
    assert results[0].outcome == Connectivity.TIMEOUT
    assert results[1].outcome == Connectivity.FAILED
    assert results[1].error == "no result: MemoryError"


@pytest.mark.parametrize(
    ("outcome", "ok", "cell"),
    [
        (Connectivity.CONNECTED, True, CellValue.ALLOW),
        (Connectivity.NO_REPLY, False, CellValue.ALLOW),
        (Connectivity.ANSWERED, False, CellValue.ALLOW),  # a DNS NXDOMAIN crossed the policy
        (Connectivity.REFUSED, False, CellValue.DENY),
        (Connectivity.TIMEOUT, False, CellValue.DENY),  # the connection's own timeout
        (Connectivity.UNREACHABLE, False, CellValue.DENY),
        (Connectivity.ERROR, False, CellValue.ERROR),  # e.g. too many open files in the agent
        (Connectivity.EMSGSIZE, False, CellValue.ERROR),
        (Connectivity.FAILED, False, CellValue.ERROR),  # did not run
    ],
)
def test_only_the_network_stopping_a_connection_is_a_deny(
    outcome: Connectivity, ok: bool, cell: CellValue
) -> None:
    result = ProbeResult("p", "tcp", "t", ok, None if ok else "x", 1.0, outcome=outcome)
    assert cell_value(result) == cell


def test_error_cells_name_why_and_are_not_compared_as_denies() -> None:
    from netconform.netpol.catalogue import standard_cluster

    cluster = standard_cluster((80,), (Protocol.TCP,)).subset(["x/a", "x/b"])
    probe = NetpolProbe("x/a", "x/b", 80, Protocol.TCP)
    (verdict,) = Oracle(cluster, []).verdicts([probe])
    failed = ProbeResult(
        "p", "tcp", "t", False, "no result: exec did not finish within 17s", None,
        outcome=Connectivity.FAILED, reproduce=("kubectl", "exec"),
    )  # fmt: skip
    (error,) = errors([verdict], {probe: failed})
    assert error.cell == "x/a -> x/b 80/TCP"
    assert error.reason == "probe failed to run: no result: exec did not finish within 17s"
    assert error.reproduce == ("kubectl", "exec")
