"""Where a batch runs: inside a container (docker exec) or in a host's network namespace.

Every executor runs the same agent source with one exec per batch, and gives each result
the argv that re-runs that probe alone (`ProbeResult.reproduce`): the executor's exec prefix
and `python3 -c AGENT_SOURCE batch '[probe]'`, with the agent's source elided as
`AGENT_ELIDED` so a report stays readable; `runnable()` puts the source back.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from typing import Any, Protocol, TypeVar

from netconform.probes.model import Probe, ProbeResult, Reproduce, parse_agent_output

# Stands for the agent's source in a reproduce argv (netconform/probes/agent.py).
AGENT_ELIDED = "<netconform/probes/agent.py>"


def agent_source() -> str:
    return resources.files("netconform.probes").joinpath("agent.py").read_text()


def agent_command(probes: Sequence[Probe], python: str = "python3") -> list[str]:
    return [python, "-c", agent_source(), "batch", json.dumps([p.to_wire() for p in probes])]


def reproducer(prefix: Sequence[str], python: str = "python3") -> Reproduce:
    """The reproduce argv of one probe run through an exec `prefix`."""

    def argv(probe: Probe) -> tuple[str, ...]:
        return (*prefix, python, "-c", AGENT_ELIDED, "batch", json.dumps([probe.to_wire()]))

    return argv


def runnable(reproduce: Sequence[str]) -> list[str]:
    """A reproduce argv with the agent source put back, ready for subprocess.run."""
    return [agent_source() if arg == AGENT_ELIDED else arg for arg in reproduce]


def serve_command(tcp_port: int, udp_port: int, python: str = "python3") -> list[str]:
    return [python, "-c", agent_source(), "serve", str(tcp_port), str(udp_port)]


def dns_upstream_command(domain: str, answer: str, python: str = "python3") -> list[str]:
    """The lab's own DNS server (netconform/probes/dns_upstream.py) for `domain`."""
    source = resources.files("netconform.probes").joinpath("dns_upstream.py").read_text()
    return [python, "-c", source, domain, answer]


class BatchExecutor(Protocol):
    """Runs one batch of probes from one source, with one exec."""

    def run_batch(self, probes: Sequence[Probe]) -> list[ProbeResult]: ...


Source = TypeVar("Source", bound=Hashable)


def run_batches(
    batches: Mapping[Source, Sequence[Probe]],
    executor_for: Callable[[Source], BatchExecutor],
    max_workers: int = 16,
) -> dict[Source, list[ProbeResult]]:
    """One exec per source, all sources at once: a round costs its slowest source."""
    items = list(batches.items())
    if not items:
        return {}
    with ThreadPoolExecutor(max_workers=min(max_workers, len(items))) as pool:
        results = list(pool.map(lambda kv: executor_for(kv[0]).run_batch(kv[1]), items))
    return {src: res for (src, _), res in zip(items, results, strict=True)}


# Beyond the probes' own budget: a loaded lab host's dockerd can take this long to start an
# exec. Past it the exec is given up, never waited for without end.
EXEC_GRACE_S = 60.0
T = TypeVar("T")


def within(seconds: float, call: Callable[[], T]) -> T | None:
    """`call()`'s result, or None when it has not returned within `seconds`. The call goes on
    in a daemon thread that is abandoned: the docker SDK's exec stream has no timeout of its
    own, and a stream dockerd never closes (seen on a lab host under a selftest's faults)
    would otherwise hang the whole run."""
    box: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            box.append(call())
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)

    worker = threading.Thread(target=run, name="exec-with-deadline", daemon=True)
    worker.start()
    worker.join(seconds)
    if failure:
        raise failure[0]
    return box[0] if box else None


class DockerExecExecutor:
    """One `docker exec` in a running container (docker SDK container object); `docker_host`
    (the daemon's URL) only makes the reproduce argv name the right daemon."""

    def __init__(self, container: Any, docker_host: str = "") -> None:
        self._container = container
        host = ["-H", docker_host] if docker_host else []
        self._reproduce = reproducer(["docker", *host, "exec", str(container.name)])

    def run_batch(self, probes: Sequence[Probe]) -> list[ProbeResult]:
        if not probes:
            return []
        deadline = max(p.budget_s for p in probes) + EXEC_GRACE_S
        # A docker API error propagates: the check becomes an error verdict.
        done = within(deadline, lambda: self._container.exec_run(agent_command(probes), demux=True))
        if done is None:
            why = f"docker exec did not return within {deadline:.0f} s (the daemon's stream hung)"
            return parse_agent_output(probes, "", why, self._reproduce)
        exit_code, (out, err) = done
        stdout = (out or b"").decode(errors="replace")
        stderr = (err or b"").decode(errors="replace")
        if exit_code not in (0, None) and not stdout:
            stderr = stderr or f"exec exited {exit_code}"
        return parse_agent_output(probes, stdout, stderr, self._reproduce)


class NetnsExecutor:
    """The agent run by the harness's own python3 inside a lab host's network namespace
    (probes "from the host", e.g. to a published port on the underlay)."""

    def __init__(self, netns: str, python: str = "python3") -> None:
        self._netns = netns
        self._python = python

    def run_batch(self, probes: Sequence[Probe]) -> list[ProbeResult]:
        if not probes:
            return []
        prefix = ["nsenter", f"--net=/run/netns/{self._netns}"]
        argv = [*prefix, *agent_command(probes, self._python)]
        reproduce = reproducer(prefix, self._python)
        deadline = max(p.budget_s for p in probes) + 10
        try:
            proc = subprocess.run(
                argv, capture_output=True, text=True, timeout=deadline, check=False
            )
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            return parse_agent_output(probes, out, "exec timed out", reproduce)
        return parse_agent_output(probes, proc.stdout, proc.stderr, reproduce)
