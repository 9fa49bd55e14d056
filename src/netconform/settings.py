"""Every environment variable netconform reads, in one place: names, defaults and parsing.

`Settings.from_env()` is the only reader of os.environ for configuration (the report's
Allure cache has its own, in report/). Values that are also options (`--node-image`,
`--offline`) are merged in options.py: the command line wins."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from netconform.errors import InputError

# name -> what it sets (`netconform run --help` lists them)
VARIABLES = {
    "NETCONFORM_PROBE_IMAGE": "platforms swarm and cluster: the probe image on every node",
    "NETCONFORM_DOCKER_HOSTS": "platform swarm: daemon URLs, one per node, the first a manager",
    "NETCONFORM_SWARM_CAPABILITIES": "platform swarm: the kernel features the nodes have",
    "NETCONFORM_KUBECONFIG": "platform cluster: the kubeconfig (else KUBECONFIG)",
    "NETCONFORM_KUBE_CONTEXT": "platform cluster: the kubeconfig context",
    "NETCONFORM_EXTERNAL_TARGET": "platform cluster: an address outside it, IPV4:TCPPORT[:UDPPORT] "
    "(--external-target)",
    "NETCONFORM_KIND_NODE_IMAGE": "kind platforms: the node image (--node-image)",
    "NETCONFORM_OFFLINE": "kind platforms: 1 to run without the network (--offline)",
    "NETCONFORM_ARTIFACTS": "kind platforms: a directory with the pinned CNI files (no download)",
    "NETCONFORM_CILIUM_CHART": "kind-cilium: a chart .tgz to install in place of the pinned one",
    "NETCONFORM_STATE_DIR": "swarm-lab: lab state (default /var/lib/netconform/labs)",
    "NETCONFORM_CACHE_DIR": "swarm-lab: image cache (default /var/cache/netconform)",
    "DOCKER_HOST": "kind platforms: the Docker daemon of kind's nodes and the external targets",
    "XDG_STATE_HOME": "kind and cluster work directories (default ~/.local/state)",
    "XDG_CACHE_HOME": "downloaded CNI files (default ~/.cache)",
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


@dataclass(frozen=True)
class Settings:
    probe_image: str = ""
    docker_hosts: tuple[str, ...] = ()
    swarm_capabilities: tuple[str, ...] | None = None  # None: not declared
    kubeconfig: Path = Path("~/.kube/config")
    kube_context: str | None = None
    external_target: str | None = None  # as given; options.py parses and checks it
    kind_node_image: str | None = None
    offline: bool = False
    artifacts_dir: Path | None = None
    cilium_chart: Path | None = None
    lab_state_dir: Path = Path("/var/lib/netconform/labs")
    lab_cache_dir: Path = Path("/var/cache/netconform")
    docker_host: str = ""  # "": Docker's default daemon
    state_home: Path = Path("~/.local/state")
    cache_home: Path = Path("~/.cache")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = Path(env.get("HOME") or Path.home())
        kubeconfig = env.get("NETCONFORM_KUBECONFIG") or env.get("KUBECONFIG")
        declared = env.get("NETCONFORM_SWARM_CAPABILITIES")
        return cls(
            probe_image=env.get("NETCONFORM_PROBE_IMAGE", ""),
            docker_hosts=_words(env.get("NETCONFORM_DOCKER_HOSTS", "")),
            swarm_capabilities=None if declared is None else _words(declared),
            # a KUBECONFIG list: the first file, as kubectl writes to it
            kubeconfig=Path(kubeconfig.split(os.pathsep)[0])
            if kubeconfig
            else home / ".kube" / "config",
            kube_context=env.get("NETCONFORM_KUBE_CONTEXT") or None,
            external_target=env.get("NETCONFORM_EXTERNAL_TARGET") or None,
            kind_node_image=env.get("NETCONFORM_KIND_NODE_IMAGE") or None,
            offline=_flag(env, "NETCONFORM_OFFLINE"),
            artifacts_dir=Path(env["NETCONFORM_ARTIFACTS"])
            if env.get("NETCONFORM_ARTIFACTS")
            else None,
            cilium_chart=Path(env["NETCONFORM_CILIUM_CHART"])
            if env.get("NETCONFORM_CILIUM_CHART")
            else None,
            docker_host=env.get("DOCKER_HOST", ""),
            lab_state_dir=_absolute(env, "NETCONFORM_STATE_DIR", cls.lab_state_dir),
            lab_cache_dir=_absolute(env, "NETCONFORM_CACHE_DIR", cls.lab_cache_dir),
            state_home=_xdg(env, "XDG_STATE_HOME", home / ".local" / "state"),
            cache_home=_xdg(env, "XDG_CACHE_HOME", home / ".cache"),
        )


def _words(value: str) -> tuple[str, ...]:
    return tuple(w.strip() for w in value.split(",") if w.strip())


def _absolute(env: Mapping[str, str], name: str, default: Path) -> Path:
    """A directory variable of ours: absolute (the lab's state and cache are removed by
    path, never relative to wherever the run started), else the default when unset."""
    value = env.get(name)
    if not value:
        return default
    if not os.path.isabs(value):
        raise InputError(f"{name}={value!r}: expected an absolute path")
    return Path(value)


def _xdg(env: Mapping[str, str], name: str, default: Path) -> Path:
    """An XDG base directory: a relative value is invalid and ignored, as the spec says."""
    value = env.get(name, "")
    return Path(value) if os.path.isabs(value) else default


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InputError(f"{name}={env[name]!r}: expected 1 or 0 (also true/false, yes/no, on/off)")
