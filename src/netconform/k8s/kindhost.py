"""What provisioning found on the machine before rendering a kind cluster, and where the
pinned CNI files come from: the inputs every CNI installer renders with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from netconform.k8s.profiles import CniProfile, OptionalImage

Artifacts = Callable[[str, str], bytes]  # (url, sha256) -> verified bytes


@dataclass(frozen=True)
class KindHost:
    """What provisioning found on the machine before rendering (plan assumes defaults):
    the node image to run, the host's cgroup version, which images the local Docker has,
    and whether the node image already carries the CNI plugins the profile needs."""

    node_image: str | None = None  # None: the kind config's own
    cgroup_v1: bool = False
    local_images: frozenset[str] | None = None  # None: assume every image is local
    node_plugins_present: bool = False
    probe_image_present: bool = False
    # the profile's optional images that cannot be had here (offline, not local)
    absent_optional: frozenset[str] = frozenset()
    local_chart: Path | None = None  # a chart file to install instead of the pinned one
    # the capabilities a privileged node container has (its bounding set); None: unknown,
    # assume all. A CNI container asking for one outside it cannot start.
    node_capabilities: frozenset[str] | None = None


def absent_optional(profile: CniProfile, host: KindHost) -> list[OptionalImage]:
    return [o for o in profile.optional_images if o.image in host.absent_optional]
