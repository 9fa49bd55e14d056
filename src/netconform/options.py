"""The options of a conformance run, declared once for `netconform run` and the pytest
plugin, normalised once into `RunOptions` (defaults, environment, checks of what was named).

A flag is given or not (argparse and pytest both default to None/False here); what it
stands for when absent is said only by RunOptions, LabConfig and Settings."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from netconform.errors import InputError
from netconform.k8s.external_target import OPTION as EXTERNAL_TARGET
from netconform.k8s.external_target import ExternalTarget, parse_option
from netconform.k8s.mesh import DEFAULT_NODE_LIMIT, parse_node_count
from netconform.lab.config import LabConfig
from netconform.netpol.catalogue import CaseSelection
from netconform.settings import Settings


@dataclass(frozen=True)
class RunOptions:
    platform: str
    out: Path  # results directory
    keep: bool = False  # keep (and reuse) the platform
    scenario: Path | None = None  # None: scenarios/<family>.yaml
    lab: LabConfig = field(default_factory=LabConfig)  # swarm-lab
    node_image: str | None = None  # kind: None is the node image of the platform's config
    offline: bool = False  # kind
    # Kubernetes: the NetworkPolicy cases (a user's directory instead of or beside the
    # built-in catalogue); validated with the other inputs, before any platform exists.
    netpol_cases: CaseSelection = field(default_factory=CaseSelection)
    # cluster: an address outside the cluster for the external checks (kind starts its own)
    external_target: ExternalTarget | None = None
    # cluster: nodes in the node-pair mesh (None: every node up to mesh.DEFAULT_NODE_LIMIT)
    mesh_size: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "out": str(self.out),
            "keep": self.keep,
            "scenario": None if self.scenario is None else str(self.scenario),
            "lab": {
                "name": self.lab.name,
                "hosts": self.lab.hosts,
                "underlay_mtu": self.lab.underlay_mtu,
            },
            "node_image": self.node_image,
            "offline": self.offline,
            "netpol_cases": str(self.netpol_cases) or None,
            "external_target": None
            if self.external_target is None
            else self.external_target.to_json(),
            "mesh_size": self.mesh_size,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunOptions:
        return cls(
            platform=data["platform"],
            out=Path(data["out"]),
            keep=data["keep"],
            scenario=None if data["scenario"] is None else Path(data["scenario"]),
            lab=LabConfig(**data["lab"]),
            node_image=data["node_image"],
            offline=data["offline"],
            netpol_cases=CaseSelection.parse(data.get("netpol_cases")),
            external_target=None
            if data.get("external_target") is None
            else ExternalTarget.from_json(data["external_target"], "options.external_target"),
            mesh_size=data.get("mesh_size"),
        )


def _is_kind(platform: str) -> bool:
    return platform.startswith("kind-")


class Scope(Enum):
    """The platforms an option means something on (by name: options are parsed before the
    platform table is loaded); given elsewhere it is refused, never silently ignored."""

    EVERY = ("every platform", lambda p: True)
    SWARM_LAB = ("platform swarm-lab", lambda p: p == "swarm-lab")
    KIND = ("the kind platforms", _is_kind)
    KUBERNETES = ("the Kubernetes platforms", lambda p: _is_kind(p) or p == "cluster")
    CLUSTER = ("platform cluster; the kind platforms start their own", lambda p: p == "cluster")

    def __init__(self, says: str, covers: Callable[[str], bool]) -> None:
        self.says = says
        self.covers = covers


@dataclass(frozen=True)
class Option:
    """One option of a run, as `netconform run` spells it and as the pytest plugin does
    (prefixed where a plain name could clash with another plugin's)."""

    cli: str
    pytest: str
    dest: str
    help: str
    type: Callable[[str], Any] | None = str
    flag: bool = False  # given or not, no value
    cli_required: bool = False
    metavar: str | None = None
    scope: Scope = Scope.EVERY


OPTIONS = (
    Option("--platform", "--platform", "platform", "the platform to run on", cli_required=True),
    Option("--out", "--netconform-out", "out", "results directory (default reports/<platform>)",
           Path, metavar="DIR"),
    Option("--keep", "--keep", "keep", "keep (and reuse) the platform", None, flag=True),
    Option("--scenario", "--scenario", "scenario",
           "scenario file (default scenarios/<family>.yaml)", Path, metavar="FILE"),
    Option("--hosts", "--lab-hosts", "hosts", f"swarm-lab: hosts (default {LabConfig.hosts})",
           int, metavar="N", scope=Scope.SWARM_LAB),
    Option("--underlay-mtu", "--underlay-mtu", "underlay_mtu",
           f"swarm-lab: underlay MTU (default {LabConfig.underlay_mtu})", int, metavar="MTU",
           scope=Scope.SWARM_LAB),
    Option("--lab-name", "--lab-name", "lab_name",
           f"swarm-lab: lab name (default {LabConfig.name!r})", metavar="NAME",
           scope=Scope.SWARM_LAB),
    Option("--node-image", "--node-image", "node_image",
           "kind platforms: node image (default: the platform's kind config; "
           "env NETCONFORM_KIND_NODE_IMAGE)", metavar="IMAGE", scope=Scope.KIND),
    Option("--offline", "--offline", "offline",
           "kind platforms: run without the network (env NETCONFORM_OFFLINE=1)", None, flag=True,
           scope=Scope.KIND),
    Option("--netpol-cases", "--netpol-cases", "netpol_cases",
           "Kubernetes platforms: run the NetworkPolicy cases of DIR (*.yaml, the "
           "scenarios/netpol/ format) instead of the built-in catalogue; +DIR runs them "
           "beside it", str, metavar="[+]DIR", scope=Scope.KUBERNETES),
    Option(EXTERNAL_TARGET, "--external-target", "external_target",
           "platform cluster: a server outside the cluster for the external checks, running "
           "netconform/probes/peer_echo.py (`python3 peer_echo.py TCPPORT UDPPORT world`); "
           "kind starts its own (env NETCONFORM_EXTERNAL_TARGET)", str,
           metavar="IPV4:TCPPORT[:UDPPORT]", scope=Scope.CLUSTER),
    Option("--nodes", "--mesh-nodes", "mesh_size",
           "platform cluster: nodes in the node-pair mesh, sampled over zones (default: every "
           f"schedulable node up to {DEFAULT_NODE_LIMIT})", str, metavar="N",
           scope=Scope.CLUSTER),
)  # fmt: skip


AddOption = Callable[..., Any]  # argparse's add_argument, pytest's addoption


def _add(add: AddOption, option: Option, name: str, platforms: Sequence[str], **kw: Any) -> None:
    if option.flag:
        add(name, dest=option.dest, action="store_true", default=False, help=option.help)
        return
    what = f"{option.help}: {', '.join(platforms)}" if option.dest == "platform" else option.help
    metavar = option.metavar or option.dest.upper()
    add(name, dest=option.dest, type=option.type, default=None, help=what, metavar=metavar, **kw)


def add_cli_options(parser: argparse.ArgumentParser, platforms: Sequence[str]) -> None:
    for option in OPTIONS:
        extra = {"required": True} if option.cli_required else {}
        _add(parser.add_argument, option, option.cli, platforms, **extra)


def add_pytest_options(addoption: AddOption, platforms: Sequence[str]) -> None:
    for option in OPTIONS:
        _add(addoption, option, option.pytest, platforms)


def normalise(given: Mapping[str, Any], settings: Settings) -> RunOptions:
    """RunOptions from what the user gave (dest -> value, None when not given): defaults
    filled, the environment merged (the command line wins), named directories checked."""
    platform = str(given["platform"])
    _refuse_out_of_scope(given, platform)
    lab = LabConfig()
    cases = given.get("netpol_cases")
    selection = CaseSelection.parse(None if cases is None else str(cases))
    selection.user_cases()  # bad case files are exit 2 here, before anything is built
    return RunOptions(
        platform=platform,
        out=Path(given.get("out") or f"reports/{platform}"),
        keep=bool(given.get("keep")),
        scenario=None if given.get("scenario") is None else Path(given["scenario"]),
        lab=LabConfig(
            name=_or(given.get("lab_name"), lab.name),
            hosts=_or(given.get("hosts"), lab.hosts),
            underlay_mtu=_or(given.get("underlay_mtu"), lab.underlay_mtu),
        ),
        node_image=given.get("node_image") or settings.kind_node_image,
        offline=bool(given.get("offline")) or settings.offline,
        netpol_cases=selection,
        external_target=_external_target(platform, given.get("external_target"), settings),
        mesh_size=None if given.get("mesh_size") is None else parse_node_count(given["mesh_size"]),
    )


def _refuse_out_of_scope(given: Mapping[str, Any], platform: str) -> None:
    """An option given for a platform it means nothing on is exit 2, naming both."""
    for option in OPTIONS:
        value = given.get(option.dest)
        if value is None or value is False or option.scope.covers(platform):
            continue
        shown = option.cli if option.flag else f"{option.cli} {value}"
        raise InputError(f"{shown}: not an option of {platform} (it is for {option.scope.says})")


def _external_target(platform: str, given: Any, settings: Settings) -> ExternalTarget | None:
    """--external-target (else NETCONFORM_EXTERNAL_TARGET), parsed; on a platform other than
    cluster the variable is not read (the option is refused before)."""
    if platform != "cluster":
        return None
    if given is not None:
        return parse_option(str(given), EXTERNAL_TARGET)
    if settings.external_target is not None:
        return parse_option(settings.external_target, "NETCONFORM_EXTERNAL_TARGET")
    return None


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value
