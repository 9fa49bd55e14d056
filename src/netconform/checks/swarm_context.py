"""What a Swarm check runs against: `SwarmCheckContext` lists exactly what the Swarm checks use
(tests give a scripted fake); `platforms.swarm.SwarmContext` is the real one.

Light on purpose: importing it (and so any Swarm check module) needs neither docker nor
pyroute2."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from netconform.catalog.scenario import SwarmScenario
from netconform.core import Capabilities
from netconform.platforms.swarm_plan import ContainerRole, Endpoint, SwarmPlan
from netconform.probes.executors import BatchExecutor
from netconform.probes.model import Probe, ProbeKind, ProbeResult


class SwarmNode(Protocol):
    """One node of the swarm as the checks see it."""

    @property
    def name(self) -> str: ...

    @property
    def address(self) -> str: ...  # underlay / advertise address


class PacketCounters(Protocol):
    """Named packet counters on the underlay, read while the watch lasts."""

    def read(self) -> dict[str, int]: ...


class SwarmCheckContext(Protocol):
    @property
    def capabilities(self) -> Capabilities: ...

    def platform_info(self) -> dict[str, Any]: ...

    @property
    def scenario(self) -> SwarmScenario: ...  # the check parameters

    @property
    def plan(self) -> SwarmPlan: ...  # the run's Docker names

    @property
    def nodes(self) -> Sequence[SwarmNode]: ...

    def tasks(self, key: str, network: str | None = None) -> list[Endpoint]:
        """Running tasks of a service with their address on `network` (default: its own)."""
        ...

    def peers(self) -> list[Endpoint]:
        """The standalone containers, one per node, on the main overlay."""
        ...

    def vip(self, key: str, network: str) -> str | None: ...

    def standalone(self, role: ContainerRole) -> list[Endpoint]:
        """The standalone containers of a role: host-network, bridge, DNS options."""
        ...

    def overlay(self, key: str) -> tuple[int, str]:
        """The VXLAN network id and the subnet of one of the run's overlays."""
        ...

    def probe(self, kind: ProbeKind, target: str, **kw: Any) -> Probe: ...

    def run(self, source: Endpoint, probes: Sequence[Probe]) -> list[ProbeResult]: ...

    def run_many(
        self, batches: Mapping[Endpoint, Sequence[Probe]]
    ) -> dict[Endpoint, list[ProbeResult]]: ...

    def host_executor(self, node: str) -> BatchExecutor | None:
        """Probes from a node's own network namespace (capability host-access)."""
        ...

    def scale(self, key: str, replicas: int) -> None: ...

    def watch_underlay(self, rules: Mapping[str, str]) -> AbstractContextManager[PacketCounters]:
        """Named packet counters on the underlay switch (capability underlay-capture)."""
        ...


if TYPE_CHECKING:  # the real context keeps to both interfaces (checked by mypy, never run)
    from netconform.core import RunContext
    from netconform.platforms.swarm import SwarmContext

    def _conforms(ctx: SwarmContext) -> tuple[SwarmCheckContext, RunContext]:
        return ctx, ctx
