"""What the checks are told about the CNI a platform runs, typed: the profile's facts the
MTU and NetworkPolicy checks judge with. platform_info reports the same values; it is
never read back as configuration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from netconform.k8s.profiles import CniProfile


@dataclass(frozen=True)
class CniFacts:
    """None: not known (a cluster whose CNI is not profiled): checks judge what they can
    without it (a pod MTU not above the node's, the scenario's NetworkPolicy deadline)."""

    overhead_bytes: int | None = None  # added per packet by the encapsulation
    configured_mtu: int | None = None  # the pod MTU the CNI's configuration sets
    label_change_s: float = 0.0  # extra NetworkPolicy deadline for label changes, by design

    @classmethod
    def of(cls, profile: CniProfile) -> CniFacts:
        return cls(profile.overhead_bytes, profile.mtu, profile.netpol_timing.label_change_s)

    def to_json(self) -> dict[str, Any]:
        return {
            "overhead_bytes": self.overhead_bytes,
            "configured_mtu": self.configured_mtu,
            "label_change_s": self.label_change_s,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CniFacts:
        overhead, mtu = data.get("overhead_bytes"), data.get("configured_mtu")
        return cls(
            None if overhead is None else int(overhead),
            None if mtu is None else int(mtu),
            float(data.get("label_change_s") or 0.0),
        )


UNKNOWN_CNI = CniFacts()  # a cluster whose CNI is not profiled
