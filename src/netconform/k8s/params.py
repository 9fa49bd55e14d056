"""Parameters of the Kubernetes checks: timeouts, deadlines and sizes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KubeParams:
    probe_timeout_s: float = 2.0  # per probe; a denied or broken path costs at most this
    converge_deadline_s: float = 30.0  # a check polls until its expectation holds or this
    netpol_deadline_s: float = 10.0  # per NetworkPolicy step: how long a policy may take
    transfer_bytes: int = 4 * 1024 * 1024  # MTU checks: cross-node bulk transfer
    poll_interval_s: float = 0.5
