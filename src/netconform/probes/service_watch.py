"""Watches Services' virtual IPs from inside an endpoint, for the service programming latency
check (checks/k8s_services.py). Run as `python3 -c <this file> <json>`; standard library
only, like the agent, and shipped as source with the exec.

The JSON gives `targets` ({name: ip}; a target "answers" when its TCP reply is `name`, the
hostname of the one pod that may back it), `port`, `timeout_s` per connection,
`interval_s` between rounds, `duration_s`, `changes` (stop once every target changed this
often) and `stop_file` (stop once it exists). One JSON line per event, flushed at once:
{"event": "start", "t"}, then {"event": "change", "name", "answering", "peer", "t"} for
each target's first state and every change of it, then {"event": "end", "t", "attempts"}.
`t` is time.time() just before the connection attempt that saw it: the harness compares
it with when it made the change, on the same clock when the pod shares its host's kernel
(kind), and checks that it does (the start event must lie inside the exec's window)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from typing import Any


def emit(**event: Any) -> None:
    sys.stdout.write(json.dumps(event, sort_keys=True) + "\n")
    sys.stdout.flush()


def attempt(ip: str, port: int, timeout_s: float) -> str:
    """The reply's first line ('' when nothing answered)."""
    try:
        with socket.create_connection((ip, port), timeout=timeout_s) as s:
            s.sendall(b"hostname\n")
            return s.recv(256).decode(errors="replace").strip()
    except OSError:
        return ""


def main(spec: dict[str, Any]) -> None:
    targets, port = spec["targets"], int(spec["port"])
    timeout_s, interval_s = float(spec["timeout_s"]), float(spec["interval_s"])
    ends = time.monotonic() + float(spec["duration_s"])
    wanted, stop_file = int(spec["changes"]), spec["stop_file"]
    state: dict[str, bool] = {}
    changes, attempts = dict.fromkeys(targets, 0), 0
    emit(event="start", t=time.time())
    while time.monotonic() < ends and not os.path.exists(stop_file):
        if all(n >= wanted for n in changes.values()):
            break
        for name, ip in sorted(targets.items()):
            t = time.time()
            peer = attempt(ip, port, timeout_s)
            attempts += 1
            answering = peer == name
            if state.get(name) != answering:
                if name in state:
                    changes[name] += 1
                state[name] = answering
                emit(event="change", name=name, answering=answering, peer=peer, t=t)
        time.sleep(interval_s)  # pacing between rounds, not a wait for anything
    emit(event="end", t=time.time(), attempts=attempts)
    with contextlib.suppress(OSError):
        os.remove(stop_file)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
