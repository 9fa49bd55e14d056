"""What every platform provides, as Protocols: the lifecycle the plugin and the CLI drive,
and the facts a run records. Family-specific operations (scale a Swarm service, apply a
NetworkPolicy) live on the family's own context type, used by that family's checks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Capabilities:
    """What the platform can host; a missing one carries the reason a skip will quote."""

    available: frozenset[str]
    missing: Mapping[str, str] = field(default_factory=dict)

    def why_missing(self, required: frozenset[str]) -> str | None:
        absent = sorted(required - self.available)
        if not absent:
            return None
        return "; ".join(self.missing.get(c, f"platform lacks capability {c!r}") for c in absent)


@dataclass(frozen=True)
class Handle:
    """What a worker process needs to attach to a platform another process provisioned
    (pytest-xdist: the controller owns the lifecycle). JSON-serialisable."""

    platform: str
    data: Mapping[str, Any]


class Platform(Protocol):
    name: str
    family: str  # "swarm" | "kubernetes"

    def preflight(self) -> None:
        """Raise EnvironmentUnfit naming exactly what is missing. Creates nothing."""

    def provision(self) -> Handle:
        """Bring the platform up and deploy the endpoints; return the attach handle.
        On any failure, remove what was made before raising."""

    def teardown(self) -> None:
        """Remove everything provision made (unless the user asked to keep it)."""


class CheckContext(Protocol):
    """What a check receives: the family context adds the operations its checks use."""

    @property
    def capabilities(self) -> Capabilities: ...

    def platform_info(self) -> dict[str, Any]: ...
