"""What the Kubernetes checks of one process compute once and share, each under its own
name: the NetworkPolicy canary's result, the MTU measurement, the NetworkPolicy runner (its
lanes and the planned cases) and when each lane's last label change has settled. The
context holds one (`KubeCheckContext.run_state`); xdist workers each have their own."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from netconform.k8s.netpol_binding import NetpolBinding
from netconform.k8s.netpol_runner import Clock, NetpolRunner, monotonic
from netconform.k8s.plan import netpol_binding
from netconform.k8s.workloads import WorkloadSpec


@dataclass(frozen=True)
class Enforcement:
    """The default-deny canary's result: whether the platform enforces NetworkPolicy."""

    enforced: bool
    reason: str
    took_s: float | None
    undecided: bool = False  # the canary's probe did not run: enforcement is unknown


@dataclass(frozen=True)
class MtuFinding:
    """The node's and the pod's MTUs the MTU checks judge with, measured once."""

    node: str
    node_iface: str  # the node's default-route interface
    node_mtu: int
    pod_iface: str
    pod_iface_mtu: int
    pod_route_mtu: int | None  # a route MTU the CNI sets, lowering the interface's
    pod_mtu: int  # effective: the interface's, lowered by the route's

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class LabelSettles:
    """Per lane (its binding), when its last label change will have had the CNI's
    label-change time. Lanes' threads write their own lane's only; the lock keeps the
    read-modify-write whole anyway."""

    def __init__(self) -> None:
        self._at: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(binding: NetpolBinding) -> tuple[str, ...]:
        return tuple(sorted(binding.namespaces.values()))

    def mark(self, binding: NetpolBinding, settles_at: float) -> None:
        with self._lock:
            key = self._key(binding)
            self._at[key] = max(self._at.get(key, 0.0), settles_at)

    def settles_at(self, binding: NetpolBinding) -> float:
        """0.0: the lane's labels never changed."""
        with self._lock:
            return self._at.get(self._key(binding), 0.0)


@dataclass
class KubeRunState:
    netpol: NetpolRunner
    planned: tuple[str, ...] = ()  # the check ids this process will run, in order
    enforcement: Enforcement | None = None  # the canary, once it ran
    mtu: MtuFinding | None = None  # once measured
    label_settles: LabelSettles = field(default_factory=LabelSettles)

    @classmethod
    def for_spec(cls, spec: WorkloadSpec, clock: Clock = monotonic) -> KubeRunState:
        """A run's fresh state: one NetworkPolicy lane per copy of the model the run made."""
        bindings = [netpol_binding(spec, lane) for lane in range(spec.netpol_lanes)]
        return cls(NetpolRunner(bindings, clock))

    def close(self) -> None:
        """Stop what the checks started in the background (the planned cases)."""
        self.netpol.close()
