"""A wait on the CNI runs in slices and looks at the CNI's pods between them: a pod in
CrashLoopBackOff (past a few restarts) ends it with the pod's reason; healthy but slow pods
let it run its whole window."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from tests.unit.test_deadline_loops import FakeClock

from netconform.k8s.install import (
    CniCrashLooping,
    StepFailed,
    Workdir,
    rollout,
    run_step,
)
from netconform.k8s.tools import Completed


class Cluster:
    """kubectl as a slow CNI answers it: the rollout is never done; pods restart `restarts`
    times in CrashLoopBackOff."""

    def __init__(self, restarts: int) -> None:
        self.restarts = restarts
        self.calls: list[tuple[str, ...]] = []

    def run(
        self, argv: Sequence[str], *, timeout_s: float | None = None, stdin: str | None = None
    ) -> Completed:
        self.calls.append(tuple(argv))
        if "rollout" in argv:
            return Completed(tuple(argv), 1, "", "Waiting for daemon set rollout to finish")
        if "logs" in argv:
            return Completed(tuple(argv), 0, "felix starting\nlost connection to Typha\n", "")
        status = {
            "name": "calico-node",
            "restartCount": self.restarts,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
        }
        pod = {"metadata": {"name": "calico-node-x"}, "status": {"containerStatuses": [status]}}
        return Completed(tuple(argv), 0, json.dumps({"items": [pod]}), "")


def test_a_crash_looping_pod_ends_the_wait_at_once_with_its_reason(tmp_path: Path) -> None:
    cluster, clock = Cluster(restarts=4), FakeClock()
    step = rollout(Workdir(tmp_path), "calico-system", "daemonset/calico-node", 600)
    with pytest.raises(CniCrashLooping) as raised:
        run_step(step, cluster, clock, clock.sleep)
    assert clock.now == 0.0  # the first slice ended it
    assert "calico-system/calico-node-x container calico-node" in str(raised.value)
    assert "lost connection to Typha" in str(raised.value)
    assert "--timeout=30s" in step.argv and step.retry_s == 600


def test_restarts_below_the_threshold_let_the_wait_run_its_window(tmp_path: Path) -> None:
    cluster, clock = Cluster(restarts=2), FakeClock()
    step = rollout(Workdir(tmp_path), "calico-system", "daemonset/calico-node", 600)
    with pytest.raises(StepFailed, match="rollout"):
        run_step(step, cluster, clock, clock.sleep)
    assert 598 <= clock.now <= 600
    assert sum("rollout" in c for c in cluster.calls) == sum("pods" in c for c in cluster.calls)
