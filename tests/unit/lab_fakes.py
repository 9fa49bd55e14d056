"""A lab without root: state root, cgroup tree and namespace directory in a tmp dir, and the
steps of `lab up` that need root (packages, routes, daemons) replaced by a fake build that
leaves one marker file, so a test can tell whether a lab was harmed."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from netconform.lab import addressing, cgroups, image, lab, netns, setup, state
from netconform.lab.state import HostRecord, LabState
from netconform.owner import ProcessOwner, start_time

MARKER = "built-by"


@dataclass
class FakeLabEnv:
    root: Path  # the state root
    cgroup_fs: Path
    netns_dir: Path
    removed_netns: list[str] = field(default_factory=list)

    def lab_cgroup(self, name: str) -> Path:
        return self.cgroup_fs / "pids" / state.cgroup_name(name) / "daemons"

    def add_cgroup(self, cgroup: str, pids: tuple[int, ...]) -> Path:
        directory = self.cgroup_fs / "pids" / cgroup
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "cgroup.procs").write_text("".join(f"{p}\n" for p in pids))
        return directory


def _fake_build(built: LabState, progress: object) -> LabState:
    """What `_build` leaves that a second run could harm: a file in the lab's directory."""
    Path(built.dir).mkdir(parents=True, exist_ok=True)
    (Path(built.dir) / MARKER).write_text(str(built.owner.pid if built.owner else ""))
    ready = replace(built, phase="ready")
    state.save(ready)
    return ready


def fake_lab_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeLabEnv:
    env = FakeLabEnv(tmp_path / "labs", tmp_path / "cgroup", tmp_path / "netns")
    monkeypatch.setenv("NETCONFORM_STATE_DIR", str(env.root))
    (env.cgroup_fs / "pids").mkdir(parents=True)
    (env.cgroup_fs / "pids" / "cgroup.procs").write_text("")
    env.netns_dir.mkdir()
    monkeypatch.setattr(cgroups, "CGROUP_FS", env.cgroup_fs)
    monkeypatch.setattr(netns, "NETNS_DIR", env.netns_dir)

    def remove_all(names: list[str] | tuple[str, ...]) -> None:
        for name in names:
            env.removed_netns.append(name)
            (env.netns_dir / name).unlink()

    monkeypatch.setattr(netns, "remove_all", remove_all)
    monkeypatch.setattr(lab, "DAEMON_FIXED_DIRS", ())
    monkeypatch.setattr(setup, "prepare_host", lambda: None)
    monkeypatch.setattr(setup, "check_host", lambda: None)
    monkeypatch.setattr(addressing, "machine_routes", lambda: [])
    monkeypatch.setattr(image, "host_suite", lambda: "bookworm")
    monkeypatch.setattr(lab, "_build", _fake_build)
    return env


def valid_state(name: str, owner: ProcessOwner | None = None) -> LabState:
    directory = state.lab_dir(name)
    return LabState(
        name=name,
        dir=str(directory),
        underlay_netns=f"nc-{name}-ul",
        subnet="192.168.213.0/24",
        gateway="192.168.213.1",
        underlay_mtu=1500,
        address_pool="10.213.0.0/16",
        cgroup=state.cgroup_name(name),
        hosts=(HostRecord("h1", f"nc-{name}-h1", "192.168.213.11", str(directory / "h1")),),
        phase="ready",
        owner=owner,
    )


def owner_of(pid: int) -> ProcessOwner:
    """The owner record a process `pid` of this host would write."""
    start = start_time(pid)
    assert start is not None, f"process {pid} is gone"
    return replace(ProcessOwner.current(), pid=pid, start_time=start)


def dead_owner() -> ProcessOwner:
    """The record of a process that has exited (and been reaped)."""
    proc = subprocess.Popen(["sleep", "0"])
    owner = owner_of(proc.pid)  # readable until reaped, even once it has exited
    proc.wait()
    return owner


@contextmanager
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A process of our own that a test can check is still alive."""
    proc = subprocess.Popen(["sleep", "60"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()
