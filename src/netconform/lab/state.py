"""Lab state on disk: written *before* each resource is made, so `lab down` can always
reclaim everything, also after SIGKILL part way through `lab up` or a run."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from netconform.settings import Settings

STATE_FILE = "state.json"


def state_root() -> Path:
    return Settings.from_env().lab_state_dir


def cache_root() -> Path:
    return Settings.from_env().lab_cache_dir


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
    phase: str = "creating"  # creating -> ready; anything else than ready is a partial lab
    faults: tuple[dict[str, Any], ...] = ()

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

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LabState:
        hosts = tuple(HostRecord(**h) for h in data.pop("hosts", []))
        faults = tuple(data.pop("faults", []))
        return cls(**data, hosts=hosts, faults=faults)


def lab_dir(name: str) -> Path:
    return state_root() / name


def save(state: LabState) -> None:
    directory = Path(state.dir)
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".state-", dir=directory)
    with os.fdopen(fd, "w") as out:
        json.dump(state.to_json(), out, indent=2)
    os.replace(tmp, directory / STATE_FILE)


def load(name: str) -> LabState | None:
    path = lab_dir(name) / STATE_FILE
    try:
        return LabState.from_json(json.loads(path.read_text()))
    except FileNotFoundError:
        return None


def known_labs() -> list[str]:
    root = state_root()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / STATE_FILE).is_file())
