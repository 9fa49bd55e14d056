"""Capabilities as the running CNI reports them: the profile says what a CNI can do; the
cluster says what this install does (an optional image done without, a feature the agent's
configuration turns off). Checks skip on the result with its reason."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from netconform.core import Capabilities
from netconform.k8s import cluster_policy_api
from netconform.k8s.install import Workdir, kubectl
from netconform.k8s.kindhost import KindHost, absent_optional
from netconform.k8s.profiles import CniProfile
from netconform.k8s.tools import Runner
from netconform.vocab import Capability

CILIUM_CONFIG = ("kube-system", "cilium-config")  # the ConfigMap every Cilium agent reads
CILIUM_CNP_FLAG = "enable-k8s-cluster-network-policy"  # v1.20, off by default


@dataclass(frozen=True)
class ReportedCapabilities:
    capabilities: Capabilities
    reported: Mapping[str, Any]  # what the cluster said, and where from (into run info)


def _without(
    missing: dict[Capability, str], available: set[Capability], cap: Capability, why: str
) -> None:
    """The capability is missing; a second reason (the agent confirming) joins the first."""
    if cap in missing and cap not in available:
        missing[cap] = f"{missing[cap]}; {why}"
    else:
        missing[cap] = why
    available.discard(cap)


def cilium_config(runner: Runner, work: Workdir) -> dict[str, str] | None:
    namespace, name = CILIUM_CONFIG
    config_map = _object(runner, work, "-n", namespace, "configmap", name)
    if config_map is None:
        return None
    return {str(k): str(v) for k, v in (config_map.get("data") or {}).items()}


def cilium_reported(
    runner: Runner, work: Workdir, missing: dict[Capability, str], available: set[Capability]
) -> dict[str, Any]:
    """What the agents' ConfigMap turns off (read into platform_info)."""
    config = cilium_config(runner, work)
    if config is None:
        return {
            "source": "profile",
            "cilium-config": "unreadable: the profile's capabilities stand",
        }
    keys = (
        "enable-l7-proxy",
        "enable-policy",
        "tunnel-protocol",
        "routing-mode",
        CILIUM_CNP_FLAG,
    )
    reported: dict[str, Any] = {"source": "configmap kube-system/cilium-config"}
    reported.update({k: config[k] for k in keys if k in config})
    if config.get("enable-l7-proxy") == "false":
        _without(
            missing,
            available,
            Capability.L7_POLICY,
            "the running Cilium has no L7 proxy (cilium-config enable-l7-proxy=false)",
        )
    if config.get("enable-policy") == "never":
        _without(
            missing,
            available,
            Capability.NETWORKPOLICY,
            "the running Cilium enforces no policy (cilium-config enable-policy=never)",
        )
    if config.get(CILIUM_CNP_FLAG) != "true":
        _without(
            missing,
            available,
            Capability.CLUSTER_NETWORK_POLICY,
            f"the running Cilium does not enforce ClusterNetworkPolicy "
            f"(cilium-config {CILIUM_CNP_FLAG}={config.get(CILIUM_CNP_FLAG, 'unset')})",
        )
    return reported


def cluster_policy_served(
    crd: Mapping[str, Any] | None, missing: dict[Capability, str], available: set[Capability]
) -> dict[str, Any]:
    """What the ClusterNetworkPolicy CRD says (None: not installed): no CRD or no version
    the run can write takes the capability away, whatever the CNI could do; only an
    experimental-channel CRD admits the experimental cases."""
    if crd is None:
        why = f"{cluster_policy_api.CRD_NAME} is not installed"
        _without(missing, available, Capability.CLUSTER_NETWORK_POLICY, why)
        _without(missing, available, Capability.CLUSTER_NETWORK_POLICY_EXPERIMENTAL, why)
        return {"crd": cluster_policy_api.CRD_NAME, "installed": False}
    served = cluster_policy_api.served_api(crd)
    if why := served.unusable():
        _without(missing, available, Capability.CLUSTER_NETWORK_POLICY, why)
    if served.channel != "experimental" or Capability.CLUSTER_NETWORK_POLICY not in available:
        _without(
            missing,
            available,
            Capability.CLUSTER_NETWORK_POLICY_EXPERIMENTAL,
            f"the {served.channel or 'unlabelled'}-channel CRD (bundle "
            f"{served.bundle_version or '?'}) refuses experimental peers and named ports",
        )
    else:
        available.add(Capability.CLUSTER_NETWORK_POLICY_EXPERIMENTAL)
    return served.to_json()


def _object(runner: Runner, work: Workdir, *args: str) -> dict[str, Any] | None:
    """`kubectl get ... -o json` (None when absent or unreadable)."""
    result = runner.run(kubectl(work, "get", *args, "-o", "json"), timeout_s=60)
    if result.returncode != 0:
        return None
    try:
        loaded = json.loads(result.stdout)
    except ValueError:
        return None
    return loaded if isinstance(loaded, dict) else None


# A CNI whose running configuration can turn off what its profile says it does: its reader
# (missing and available are updated in place; what was read goes into platform_info).
ConfigReader = Callable[[Runner, Workdir, dict[Capability, str], set[Capability]], dict[str, Any]]
CONFIG_READERS: dict[str, ConfigReader] = {"cilium": cilium_reported}


def reported_capabilities(
    runner: Runner, work: Workdir, profile: CniProfile, host: KindHost
) -> ReportedCapabilities:
    available = set(profile.capabilities.available)
    missing: dict[Capability, str] = dict(profile.capabilities.missing)
    reported: dict[str, Any] = {"source": "profile"}
    for optional in absent_optional(profile, host):
        _without(
            missing,
            available,
            optional.capability,
            f"{optional.what} is not installed: {optional.image} is not available offline",
        )
    reader = CONFIG_READERS.get(profile.cni)
    if reader is not None:
        reported = reader(runner, work, missing, available)
    crd = _object(runner, work, "crd", cluster_policy_api.CRD_NAME)
    reported = {
        **reported,
        "cluster_network_policy": cluster_policy_served(crd, missing, available),
    }
    for cap in available:
        missing.pop(cap, None)
    return ReportedCapabilities(Capabilities(frozenset(available), missing), reported)
