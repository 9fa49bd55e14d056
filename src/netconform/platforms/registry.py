"""The platform table: every platform name with its family, its factory, the builder of its
check context and the check modules it runs. The CLI, the pytest plugin and the self-test
read it; nothing else lists platforms or dispatches on a family.

`prepare_run` is the one place a run is set up: the scenario parsed, the platform built,
the host prepared and the platform preflighted, once."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from netconform.catalog.scenario import KubernetesScenario, Scenario, SwarmScenario, load_scenario
from netconform.core import Handle, Platform, RunContext
from netconform.errors import InputError
from netconform.k8s.profiles import PROFILES, load_profile
from netconform.options import RunOptions
from netconform.progress import Progress
from netconform.settings import Settings
from netconform.vocab import Family

Factory = Callable[[RunOptions, Any, Settings, Progress], Platform]
Attach = Callable[[Any, Any, RunOptions], RunContext]


@dataclass(frozen=True)
class PlatformEntry:
    name: str
    family: Family
    build: Factory  # (options, scenario, settings, progress) -> Platform
    attach: Attach  # (handle, scenario, options) -> the family's check context
    handle_from_json: Callable[[Mapping[str, Any]], Handle]
    check_modules: tuple[str, ...]


# --- factories: each imports its platform module only when that platform is used --------


def _swarm_lab(options: RunOptions, scenario: SwarmScenario, _: Settings, p: Progress) -> Platform:
    from netconform.platforms.swarm_platforms import SwarmLabPlatform

    return SwarmLabPlatform(scenario, keep=options.keep, lab=options.lab, progress=p)


def _swarm(
    options: RunOptions, scenario: SwarmScenario, settings: Settings, p: Progress
) -> Platform:
    from netconform.platforms.swarm_platforms import SwarmPlatform

    return SwarmPlatform(scenario, settings=settings, progress=p)


def cni_of(platform: str) -> str:
    """The CNI product of a kind platform (`kind-<profile>`)."""
    return load_profile(platform.removeprefix("kind-")).cni


def _kind(name: str) -> Factory:
    def build(
        options: RunOptions, _: KubernetesScenario, settings: Settings, p: Progress
    ) -> Platform:
        from netconform.platforms.kind import KindPlatform, state_root

        return KindPlatform(
            name,
            keep=options.keep,
            progress=p,
            state_dir=state_root(settings),
            node_image=options.node_image,
            offline=options.offline,
            artifacts_dir=settings.artifacts_dir,
            # NETCONFORM_CILIUM_CHART: the chart every Cilium profile installs from
            local_chart=settings.cilium_chart if cni_of(name) == "cilium" else None,
            diagnostics_dir=options.out / "diagnostics",
        )

    return build


def _cluster(
    options: RunOptions, scenario: KubernetesScenario, settings: Settings, p: Progress
) -> Platform:
    from netconform.platforms.cluster import ClusterPlatform

    return ClusterPlatform(
        keep=options.keep,
        progress=p,
        settings=settings,
        mesh_size=options.mesh_size,
        cni_override=scenario.cni,
    )


def _attach_swarm(handle: Any, scenario: SwarmScenario, _: RunOptions) -> RunContext:
    from netconform.platforms.swarm_platforms import context_from_handle

    return context_from_handle(handle, scenario)


def _attach_kube(handle: Any, scenario: KubernetesScenario, _: RunOptions) -> RunContext:
    from netconform.k8s.context import attach

    return attach(handle, scenario)


def _swarm_handle(data: Mapping[str, Any]) -> Handle:
    from netconform.platforms.swarm_platforms import SwarmHandle

    return SwarmHandle.from_json(data)


def _kube_handle(data: Mapping[str, Any]) -> Handle:
    from netconform.k8s.handle import KubeHandle

    return KubeHandle.from_json(data)


SWARM_CHECKS = tuple(
    f"netconform.checks.swarm_{area}"
    for area in ("reachability", "dns", "mtu", "isolation", "dns_options", "perf")
)
KUBERNETES_CHECKS = tuple(
    f"netconform.checks.k8s_{area}"
    for area in ("reachability", "mesh", "services", "external", "dns", "mtu", "netpol", "perf")
)


@runtime_checkable
class TakesRunOptions(Protocol):
    """A check module whose catalogue depends on the run (checks.k8s_netpol: the run's own
    NetworkPolicy cases) declares it with this function; every other module's is fixed."""

    def use_run_options(self, options: RunOptions) -> None: ...


def _swarm_entry(name: str, build: Factory) -> PlatformEntry:
    return PlatformEntry(name, Family.SWARM, build, _attach_swarm, _swarm_handle, SWARM_CHECKS)


def _kube_entry(name: str, build: Factory) -> PlatformEntry:
    return PlatformEntry(
        name, Family.KUBERNETES, build, _attach_kube, _kube_handle, KUBERNETES_CHECKS
    )


PLATFORMS: dict[str, PlatformEntry] = {
    e.name: e
    for e in (
        _swarm_entry("swarm-lab", _swarm_lab),
        _swarm_entry("swarm", _swarm),
        # one kind platform per CNI profile (fixtures/cni/<profile>.yaml)
        *(_kube_entry(f"kind-{p}", _kind(f"kind-{p}")) for p in PROFILES),
        _kube_entry("cluster", _cluster),
    )
}


def entry(name: str) -> PlatformEntry:
    try:
        return PLATFORMS[name]
    except KeyError:
        raise InputError(
            f"unknown platform {name!r}: choose one of {', '.join(PLATFORMS)}"
        ) from None


def names(family: Family | None = None) -> tuple[str, ...]:
    return tuple(n for n, e in PLATFORMS.items() if family in (None, e.family))


def load_checks(which: str, options: RunOptions | None = None) -> None:
    """Import the check modules of a platform, or of every platform of a family (`swarm` is
    both, with the same modules); importing registers the checks in the catalogue. With a
    run's options, its own NetworkPolicy cases (--netpol-cases) replace or join the
    built-in ones; a bad case file is an InputError here."""
    if which in PLATFORMS or which not in set(Family):
        modules = entry(which).check_modules
    else:
        modules = tuple(m for e in PLATFORMS.values() if e.family == which for m in e.check_modules)
    for module in dict.fromkeys(modules):
        loaded = importlib.import_module(module)
        if options is not None and isinstance(loaded, TakesRunOptions):
            loaded.use_run_options(options)


@dataclass(frozen=True)
class PreparedRun:
    """A run ready to provision: the options as normalised, the scenario as parsed, the
    platform as built, its host prepared and preflighted."""

    options: RunOptions
    entry: PlatformEntry
    scenario: Scenario
    platform: Platform


def prepare_run(options: RunOptions, settings: Settings, progress: Progress) -> PreparedRun:
    """Bad input (2) or an unfit machine (3) is raised here, before anything is created."""
    found = entry(options.platform)
    load_checks(options.platform, options)  # bad --netpol-cases: exit 2, nothing built yet
    scenario = load_scenario(found.family, options.scenario)
    if isinstance(scenario, KubernetesScenario) and scenario.cni and options.platform != "cluster":
        where = options.scenario or f"scenarios/{found.family}.yaml"
        raise InputError(
            f"{where}: cni: only for platform cluster ({options.platform} installs its own CNI)"
        )
    platform = found.build(options, scenario, settings, progress)
    platform.prepare_host()
    platform.preflight()
    return PreparedRun(options, found, scenario, platform)
