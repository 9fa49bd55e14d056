"""Platform names -> platform objects. Unknown names are an input error listing the known."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from netconform.catalog.scenario import load_swarm_scenario
from netconform.errors import InputError
from netconform.platforms.base import Platform
from netconform.progress import Progress

SWARM_PLATFORMS = ("swarm-lab", "swarm")
KUBERNETES_PLATFORMS = ("kind-flannel", "kind-calico", "kind-cilium", "cluster")
PLATFORMS = SWARM_PLATFORMS + KUBERNETES_PLATFORMS


@dataclass(frozen=True)
class PlatformOptions:
    keep: bool = False
    scenario: Path | None = None
    hosts: int = 3
    underlay_mtu: int = 1500
    lab_name: str = "default"


def family_of(name: str) -> str:
    if name in SWARM_PLATFORMS:
        return "swarm"
    if name in KUBERNETES_PLATFORMS:
        return "kubernetes"
    raise InputError(f"unknown platform {name!r}: choose one of {', '.join(PLATFORMS)}")


def make_platform(name: str, options: PlatformOptions, progress: Progress) -> Platform:
    family = family_of(name)
    if family == "swarm":
        from netconform.platforms.swarm import SwarmLabPlatform, SwarmPlatform

        scenario = load_swarm_scenario(options.scenario)
        if name == "swarm-lab":
            return SwarmLabPlatform(
                scenario,
                keep=options.keep,
                hosts=options.hosts,
                underlay_mtu=options.underlay_mtu,
                lab_name=options.lab_name,
                progress=progress,
            )
        return SwarmPlatform(scenario, progress=progress)
    from netconform.catalog.scenario import load_kubernetes_scenario
    from netconform.k8s.cli import make_platform as make_k8s_platform

    load_kubernetes_scenario(
        options.scenario
    )  # a bad scenario is exit 2 before anything is created

    platform: Platform = make_k8s_platform(name, options.keep, progress)
    return platform
