"""A CNI pod that crash-loops while provisioning waits on the CNI: found between the wait's
slices, so the wait ends in a minute with the pod's reason instead of at its timeout."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from netconform.k8s.tools import Runner

# Restarts before a CrashLoopBackOff counts: agents may restart once or twice while the
# pieces they talk to come up (an operator, Typha, the API server's Service).
CRASH_RESTARTS = 3
LOOK_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class CrashWatch:
    kubeconfig: str
    namespaces: tuple[str, ...]
    restarts: int = CRASH_RESTARTS


def _kubectl(watch: CrashWatch, *args: str) -> tuple[str, ...]:
    return ("kubectl", "--kubeconfig", watch.kubeconfig, *args)


def _crashing(pod: dict[str, Any], restarts: int) -> list[tuple[str, dict[str, Any]]]:
    statuses = pod.get("status", {}).get("containerStatuses") or []
    statuses += pod.get("status", {}).get("initContainerStatuses") or []
    return [
        (str(s.get("name")), s)
        for s in statuses
        if (s.get("state", {}).get("waiting") or {}).get("reason") == "CrashLoopBackOff"
        and int(s.get("restartCount", 0)) >= restarts
    ]


def _last_words(runner: Runner, watch: CrashWatch, ns: str, pod: str, container: str) -> str:
    """The previous attempt's last log line that says something (a panic names itself)."""
    logs = runner.run(
        _kubectl(watch, "-n", ns, "logs", pod, "-c", container, "--previous", "--tail=40"),
        timeout_s=LOOK_TIMEOUT_S,
    )
    lines = [line.strip() for line in logs.stdout.splitlines() if line.strip()]
    panic = [line for line in lines if line.startswith(("panic:", "fatal error:"))]
    return (panic or lines or [""])[-1][:300]


def crash_looping(runner: Runner, watch: CrashWatch) -> list[str]:
    """One line per crash-looping container of the watched namespaces: pod, container,
    restarts, how the last attempt ended and its last log line."""
    found = []
    for ns in watch.namespaces:
        listed = runner.run(
            _kubectl(watch, "-n", ns, "get", "pods", "-o", "json"), timeout_s=LOOK_TIMEOUT_S
        )
        try:
            pods = json.loads(listed.stdout or "{}").get("items", [])
        except ValueError:
            continue  # the API server is not answering yet: the wait goes on
        for pod in pods:
            name = str(pod.get("metadata", {}).get("name"))
            for container, status in _crashing(pod, watch.restarts):
                ended = (status.get("lastState") or {}).get("terminated") or {}
                how = f"exit {ended.get('exitCode', '?')} ({ended.get('reason', 'unknown')})"
                words = _last_words(runner, watch, ns, name, container)
                found.append(
                    f"{ns}/{name} container {container} is in CrashLoopBackOff after "
                    f"{status.get('restartCount')} restarts, last {how}"
                    + (f": {words}" if words else "")
                    + f" (kubectl -n {ns} logs {name} -c {container} --previous)"
                )
    return found
