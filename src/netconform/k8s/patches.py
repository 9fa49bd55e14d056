"""Patches applied to the verified upstream manifests and chart values: the pod CIDR the kind
config uses, the MTU when one is pinned, and the encapsulation the comparison needs.
Pure functions on dicts: they never touch the input and fail loudly if upstream moved."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any

from netconform.k8s.manifests import Manifest, find


class UpstreamChanged(Exception):
    """The upstream manifest no longer has the shape a patch relies on."""


def flannel(docs: Sequence[Manifest], pod_cidr: str, mtu: int | None) -> list[Manifest]:
    """kube-flannel.yml with net-conf.json "Network" = the pod CIDR (it must equal kind's
    podSubnet) and, when pinned, Backend "MTU"."""
    out = copy.deepcopy(list(docs))
    try:
        config_map = find(out, "ConfigMap", "kube-flannel-cfg")
        net_conf = json.loads(config_map["data"]["net-conf.json"])
        backend = net_conf["Backend"]
    except (KeyError, ValueError) as exc:
        raise UpstreamChanged(f"kube-flannel.yml: no net-conf.json Backend ({exc})") from None
    net_conf["Network"] = pod_cidr
    if mtu is not None:
        backend["MTU"] = mtu
    config_map["data"]["net-conf.json"] = json.dumps(net_conf, indent=2) + "\n"
    return out


# Optional components of custom-resources.yaml: flow aggregator and UI, extra images a
# conformance run does not need.
CALICO_OPTIONAL = ("Goldmane", "Whisker")


def calico_custom_resources(
    docs: Sequence[Manifest], pod_cidr: str, mtu: int | None, encapsulation: str = "VXLAN"
) -> list[Manifest]:
    """custom-resources.yaml with the Installation's pool inside kind's podSubnet (the
    operator rejects pools outside it), a forced encapsulation, the MTU when pinned, and the
    optional Goldmane/Whisker dropped."""
    out = [copy.deepcopy(d) for d in docs if d.get("kind") not in CALICO_OPTIONAL]
    try:
        installation = find(out, "Installation", "default")
        network = installation["spec"]["calicoNetwork"]
        pools = network["ipPools"]
    except KeyError as exc:
        raise UpstreamChanged(f"custom-resources.yaml: no Installation ipPools ({exc})") from None
    if len(pools) != 1:
        raise UpstreamChanged(f"custom-resources.yaml: expected one IP pool, found {len(pools)}")
    pools[0]["cidr"] = pod_cidr
    pools[0]["encapsulation"] = encapsulation
    if mtu is not None:
        network["mtu"] = mtu
    return out


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(copy.deepcopy(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def cilium_cluster_values(cluster: str, mtu: int | None) -> dict[str, Any]:
    """Cilium's values from the cluster: the API server as kind's nodes reach it (needed
    once no kube-proxy serves the `kubernetes` Service), and MTU (0 = auto-detect)."""
    return {"k8sServiceHost": f"{cluster}-control-plane", "k8sServicePort": 6443, "MTU": mtu or 0}


def unknown_value_paths(values: Mapping[str, Any], defaults: Mapping[str, Any]) -> list[str]:
    """Dotted paths set in `values` that the chart's values.yaml does not have: a typo there
    is silently ignored by helm, so tests check against upstream."""
    unknown = []
    for key, value in values.items():
        if key not in defaults:
            unknown.append(key)
        elif isinstance(value, Mapping) and isinstance(defaults[key], Mapping):
            unknown += [f"{key}.{p}" for p in unknown_value_paths(value, defaults[key])]
    return unknown


def capabilities_beyond(
    chart_defaults: Mapping[str, Any], path: str, bounding: frozenset[str]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """(values, dropped): the chart's capability lists at `path` (dotted) trimmed to the
    `bounding` set, as helm values that replace them, and what each list lost. A container
    asking for a capability its node's bounding set lacks cannot start ("unable to apply
    caps"); without the capability it starts, and the report says what was dropped."""
    node: Any = chart_defaults
    for key in path.split("."):
        node = node.get(key, {}) if isinstance(node, Mapping) else {}
    values: dict[str, Any] = {}
    dropped: dict[str, list[str]] = {}
    for container, asked in (node or {}).items():
        if not isinstance(asked, list):
            continue
        missing = [c for c in asked if str(c).upper().removeprefix("CAP_") not in bounding]
        if missing:
            dropped[container] = missing
            values[container] = [c for c in asked if c not in missing]
    for key in reversed(path.split(".")):
        values = {key: values} if values else {}
    return values, dropped


# The manifest install's pool modes, by the profile's encapsulation: (IPIP, VXLAN).
CALICO_POOL_MODES = {
    "vxlan": ("Never", "Always"),  # upstream's calico-vxlan.yaml says CrossSubnet: kind's
    "ipip": ("Always", "Never"),  # nodes share one subnet, so it would never encapsulate
    "none": ("Never", "Never"),  # BGP: BIRD peers the nodes, routes are native
}


def _set_env(container: dict[str, Any], name: str, value: str) -> None:
    env = container.setdefault("env", [])
    for var in env:
        if var.get("name") == name:
            var.pop("valueFrom", None)
            var["value"] = value
            return
    env.append({"name": name, "value": value})


def calico_manifest(
    docs: Sequence[Manifest], pod_cidr: str, mtu: int | None, encapsulation: str
) -> list[Manifest]:
    """Upstream's manifest install (calico.yaml / calico-vxlan.yaml): the default pool in
    kind's podSubnet with the profile's encapsulation, and the MTU in calico-config's
    `veth_mtu` (what the seed sets; the CNI config's `mtu` and Felix's tunnel MTUs read it)."""
    out = copy.deepcopy(list(docs))
    try:
        config = find(out, "ConfigMap", "calico-config")["data"]
        node = find(out, "DaemonSet", "calico-node")
        containers = node["spec"]["template"]["spec"]["containers"]
        agent = next(c for c in containers if c["name"] == "calico-node")
        config["veth_mtu"]
    except (KeyError, StopIteration) as exc:
        raise UpstreamChanged(f"calico manifest: no calico-config or calico-node ({exc})") from None
    ipip, vxlan = CALICO_POOL_MODES[encapsulation]
    _set_env(agent, "CALICO_IPV4POOL_CIDR", pod_cidr)
    _set_env(agent, "CALICO_IPV4POOL_IPIP", ipip)
    _set_env(agent, "CALICO_IPV4POOL_VXLAN", vxlan)
    if mtu is not None:
        config["veth_mtu"] = str(mtu)
    return out
