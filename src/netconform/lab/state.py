"""Lab state on disk: written *before* each resource is made, so `lab down` can always
reclaim everything, also after SIGKILL part way through `lab up` or a run.

Nothing in it is trusted before it is validated: `load` parses it strictly (unknown keys and
wrong types are refused) and then checks that it can only name this lab's own resources
(its directory under the state root, its cgroup, its namespaces), so a crafted file cannot
make teardown delete, unmount or kill anything else.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, TypeAdapter, ValidationError, with_config

from netconform.errors import InputError
from netconform.inputs import read_text
from netconform.owner import ProcessOwner
from netconform.settings import Settings

STATE_FILE = "state.json"
# Strict: a string is not a number, a number is not a string; unknown keys are refused.
STRICT = ConfigDict(extra="forbid", strict=True)


def state_root() -> Path:
    return Settings.from_env().lab_state_dir


def cache_root() -> Path:
    return Settings.from_env().lab_cache_dir


def cgroup_name(lab: str) -> str:
    """The one cgroup (under every hierarchy) holding every process of the lab."""
    return f"netconform-{lab}"


def netns_prefix(lab: str) -> str:
    """Every namespace of the lab is named `<prefix>-<part>` (ul, h1, h2, ...)."""
    return f"nc-{lab}"


@with_config(STRICT)
@dataclass(frozen=True)
class HostRecord:
    name: str  # h1, h2, ...
    netns: str
    address: str  # underlay IPv4
    dir: str
    containerd_pid: int | None = None
    dockerd_pid: int | None = None

    @property
    def docker_socket(self) -> str:
        return f"unix://{self.dir}/docker.sock"


@with_config(STRICT)
@dataclass(frozen=True)
class LabState:
    name: str
    dir: str
    underlay_netns: str
    subnet: str  # underlay, e.g. 192.168.213.0/24
    gateway: str  # address of the underlay bridge
    underlay_mtu: int
    address_pool: str  # swarm default address pool
    cgroup: str  # cgroup name (under every hierarchy) holding every process of the lab
    hosts: tuple[HostRecord, ...] = ()
    image: str = ""
    kernel_features: dict[str, Any] = field(default_factory=dict)
    phase: Literal["creating", "ready"] = "creating"  # creating: a partial lab
    faults: tuple[dict[str, Any], ...] = ()
    # the process the lab belongs to while it is built or run on; None once handed over
    # (a lab made by `lab up` stays until `lab down`)
    owner: ProcessOwner | None = None

    def with_host(self, host: HostRecord) -> LabState:
        others = tuple(h for h in self.hosts if h.name != host.name)
        return replace(self, hosts=(*others, host))

    def host(self, name: str) -> HostRecord:
        for h in self.hosts:
            if h.name == name:
                return h
        raise KeyError(name)

    @property
    def all_netns(self) -> tuple[str, ...]:
        return (self.underlay_netns, *(h.netns for h in self.hosts))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class StateCorrupt(InputError):
    """The file is not a lab state (not JSON, a wrong type, an unknown key): `lab down` can
    still reclaim the lab from what is on the system, found by its name."""


class StateNotConfined(InputError):
    """The file names something that is not the lab's own (a path outside its directory, a
    foreign cgroup or namespace): refused, nothing is touched."""


_LAB_STATE = TypeAdapter(LabState)
# What a namespace of the lab may be called after its prefix: ul, h1, h2, ...
NETNS_PART = re.compile(r"[a-z0-9]{1,8}")


def parse(path: Path, text: str, name: str) -> LabState:
    """The state of lab `name` from the text of its file; one line naming the file and the
    field that is wrong otherwise (exit 2)."""
    try:
        lab = _LAB_STATE.validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(document)"
        raise StateCorrupt(f"{path}: {where}: {first['msg']}") from None
    _check_confined(path, lab, name)
    return lab


def _check_confined(path: Path, lab: LabState, name: str) -> None:
    """Every path, cgroup and namespace the state names is this lab's own."""

    def refuse(where: str, problem: str) -> StateNotConfined:
        return StateNotConfined(f"{path}: {where}: {problem}")

    if lab.name != name:
        raise refuse("name", f"{lab.name!r} is not the lab this file belongs to ({name!r})")
    own_dir = lab_dir(name).resolve()
    if Path(lab.dir).resolve() != own_dir:
        raise refuse("dir", f"{lab.dir!r} is not the lab's directory {own_dir}")
    if lab.cgroup != cgroup_name(name):
        raise refuse("cgroup", f"{lab.cgroup!r} is not the lab's cgroup {cgroup_name(name)!r}")
    named = [("underlay_netns", lab.underlay_netns)]
    named += [(f"hosts.{i}.netns", h.netns) for i, h in enumerate(lab.hosts)]
    for where, netns in named:
        part = netns.removeprefix(netns_prefix(name) + "-")
        if part == netns or not NETNS_PART.fullmatch(part):
            raise refuse(where, f"{netns!r} is not a namespace of the lab ({netns_prefix(name)}-*)")
    for i, host in enumerate(lab.hosts):
        host_dir = Path(host.dir).resolve()
        if host_dir == own_dir or not host_dir.is_relative_to(own_dir):
            raise refuse(f"hosts.{i}.dir", f"{host.dir!r} is not under the lab's directory")
        for pid_field, pid in (
            ("containerd_pid", host.containerd_pid),
            ("dockerd_pid", host.dockerd_pid),
        ):
            if pid is not None and pid <= 0:
                raise refuse(f"hosts.{i}.{pid_field}", f"{pid} is not a process id")


def lab_dir(name: str) -> Path:
    return state_root() / name


def save(state: LabState) -> None:
    directory = Path(state.dir)
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".state-", dir=directory)
    with os.fdopen(fd, "w") as out:
        json.dump(state.to_json(), out, indent=2)
    os.replace(tmp, directory / STATE_FILE)


def state_file(name: str) -> Path:
    return lab_dir(name) / STATE_FILE


def load(name: str) -> LabState | None:
    """The validated state of the lab, None when none is recorded; InputError (one line
    naming the file and field) when it is corrupt or names anything not the lab's own."""
    path = state_file(name)
    if not os.path.lexists(path):
        return None
    try:
        # a regular UTF-8 file of bounded size: a FIFO or /dev/zero there would never end
        text = read_text(path)
    except InputError as exc:
        raise StateCorrupt(str(exc)) from None
    return parse(path, text, name)


def known_labs() -> list[str]:
    root = state_root()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / STATE_FILE).is_file())
