"""Parameters of the Kubernetes checks: timeouts, deadlines and sizes
(scenarios/kubernetes.yaml; these defaults are the file's)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from netconform.catalog.scenario import load_kubernetes_scenario


@dataclass(frozen=True)
class KubeParams:
    probe_timeout_s: float = 2.0  # per probe; a denied or broken path costs at most this
    converge_deadline_s: float = 30.0  # a check polls until its expectation holds or this
    netpol_deadline_s: float = 10.0  # per NetworkPolicy step: how long a policy may take
    transfer_bytes: int = 4 * 1024 * 1024  # MTU checks: cross-node bulk transfer
    poll_interval_s: float = 0.5

    @classmethod
    def load(cls, scenario: Path | None = None) -> KubeParams:
        """From a scenario file (default scenarios/kubernetes.yaml); exit 2 naming the field."""
        loaded = load_kubernetes_scenario(scenario)
        return cls(
            probe_timeout_s=loaded.probe_timeout_s,
            converge_deadline_s=loaded.converge_deadline_s,
            netpol_deadline_s=loaded.netpol_deadline_s,
            transfer_bytes=loaded.mtu.transfer_bytes,
            poll_interval_s=loaded.poll_interval_s,
        )
