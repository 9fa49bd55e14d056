"""The bottom layer every family builds on: what a platform provides (`Platform`, driven by
the plugin, the CLI and the self-test through `running`), what a worker process attaches
with (`Handle`), what a check receives (`CheckContext`), what the plugin holds for a whole
run (`RunContext`), and the capabilities a skip quotes. Family-specific operations (scale a
Swarm service, apply a NetworkPolicy) live on the family's own context type, used by that
family's checks."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from netconform.errors import said_not_raised
from netconform.interrupts import shielded
from netconform.vocab import Capability, Family


@dataclass(frozen=True)
class Capabilities:
    """What the platform can host; a missing one carries the reason a skip will quote."""

    available: frozenset[Capability]
    missing: Mapping[Capability, str] = field(default_factory=dict)

    def why_missing(self, required: Iterable[str]) -> str | None:
        """None when every required capability is there, else the reasons, one per absent."""
        absent = sorted(set(required) - self.available)
        if not absent:
            return None
        reasons = {str(c): why for c, why in self.missing.items()}
        return "; ".join(reasons.get(c, f"platform lacks capability {str(c)!r}") for c in absent)

    def to_json(self) -> dict[str, Any]:
        return {
            "available": sorted(self.available),
            "missing": {str(c): why for c, why in sorted(self.missing.items())},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Capabilities:
        return cls(
            frozenset(Capability(c) for c in data["available"]),
            {Capability(c): str(why) for c, why in data.get("missing", {}).items()},
        )


class Handle(Protocol):
    """What a worker process needs to attach to a platform another process provisioned
    (pytest-xdist: the controller owns the lifecycle). Each family has its own frozen type;
    `to_json` and the family's `from_json` carry it between processes."""

    @property
    def platform(self) -> str: ...

    @property
    def capabilities(self) -> Capabilities: ...

    @property
    def info(self) -> Mapping[str, Any]: ...  # platform_info of results.json

    def to_json(self) -> dict[str, Any]: ...


class Platform(Protocol):
    name: str
    family: Family

    def prepare_host(self) -> None:
        """Make this machine able to host the platform (install what is missing, where the
        user allows it). Nothing of the platform is created."""

    def preflight(self) -> None:
        """Raise EnvironmentUnfit naming exactly what is missing, InputError for a bad
        setting. Creates and changes nothing."""

    def provision(self) -> Handle:
        """Bring the platform up and deploy the endpoints; return the attach handle.
        On any failure, remove what was made before raising."""

    def teardown(self) -> None:
        """Remove everything provision made (unless the user asked to keep it)."""

    def collect_diagnostics(self, out: Path) -> list[Path]:
        """After a failed check: what a person debugging it needs, written under out/
        (best effort, never raises); the files written."""


class CheckContext(Protocol):
    """What a check receives: the family context adds the operations its checks use."""

    @property
    def capabilities(self) -> Capabilities: ...

    def platform_info(self) -> dict[str, Any]: ...


class RunContext(CheckContext, Protocol):
    """A family's real context as a platform attaches it (registry `attach`): the plugin
    tells it the checks to come and closes it at the end. Every family implements both,
    as no-ops where there is nothing to do."""

    def plan_checks(self, check_ids: Sequence[str]) -> None:
        """The ids of the checks this process will run, in order (a context may start
        some early: the Kubernetes one runs NetworkPolicy cases side by side)."""

    def close(self) -> None:
        """Stop what checks started in the background and release the clients."""


@contextlib.contextmanager
def running(platform: Platform) -> Iterator[Handle]:
    """provision -> (the caller's checks) -> teardown, also on failure and Ctrl-C. The
    caller prepared and preflighted the platform once, before (see registry.prepare_run).
    A teardown failing after an error is said, never raised over that error."""
    handle = platform.provision()
    try:
        yield handle
    except BaseException:
        with said_not_raised("teardown"):
            platform.teardown()
        raise
    with shielded("teardown"):
        platform.teardown()
