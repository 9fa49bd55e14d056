"""Which CNI a cluster runs, found from what runs in it: the DaemonSet of a known CNI (its
image tag is the version), then its mode from the CNI's own configuration (Calico's IP
pools, Cilium's cilium-config, Flannel's net-conf.json). Read only; every fact is recorded
with where it came from. A CNI with a profile lends the checks its facts and capabilities."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from netconform.core import Capabilities
from netconform.k8s import cluster_policy_api
from netconform.k8s.cni_status import CILIUM_CNP_FLAG, cluster_policy_served
from netconform.k8s.facts import UNKNOWN_CNI, CniFacts
from netconform.k8s.profiles import PROFILES, load_profile
from netconform.k8s.tools import Runner
from netconform.vocab import Capability

LOOK_TIMEOUT_S = 60.0
# Bytes an encapsulation adds per packet over IPv4 (VXLAN and Geneve 50, IP-in-IP 20).
OVERHEAD = {"vxlan": 50, "geneve": 50, "ipip": 20, "none": 0}


@dataclass(frozen=True)
class Signature:
    """How a CNI shows itself: its node agent's DaemonSet and the container whose image tag
    is the CNI's version."""

    cni: str
    daemonset: str
    container: str


SIGNATURES = (
    Signature("calico", "calico-node", "calico-node"),
    Signature("cilium", "cilium", "cilium-agent"),
    Signature("flannel", "kube-flannel-ds", "kube-flannel"),
    Signature("kindnet", "kindnet", "kindnet-cni"),
    Signature("kube-router", "kube-router", "kube-router"),
    Signature("antrea", "antrea-agent", "antrea-agent"),
    Signature("ovn-kubernetes", "ovnkube-node", "ovnkube-controller"),
    Signature("weave", "weave-net", "weave"),
)


@dataclass(frozen=True)
class DetectedCni:
    cni: str  # "unknown" when no signature matched
    version: str | None
    encapsulation: str | None  # vxlan | geneve | ipip | none; None: not read
    evidence: tuple[str, ...]  # where each fact came from
    facts: CniFacts = UNKNOWN_CNI
    capabilities: Capabilities | None = None  # the profile's; None: no profile

    def to_json(self) -> dict[str, Any]:
        return {
            "cni": self.cni,
            "version": self.version,
            "encapsulation": self.encapsulation,
            "from": list(self.evidence),
            "profiled": self.capabilities is not None,
            "facts": self.facts.to_json(),
        }


Kubectl = Callable[..., tuple[str, ...]]


def _json(runner: Runner, argv: Sequence[str]) -> Any:
    result = runner.run(argv, timeout_s=LOOK_TIMEOUT_S)
    if result.returncode != 0:
        return None
    try:
        return json.loads(result.stdout)
    except ValueError:
        return None


def _version(daemonset: Mapping[str, Any], container: str) -> str | None:
    pod = daemonset.get("spec", {}).get("template", {}).get("spec", {})
    for entry in [*pod.get("containers", []), *pod.get("initContainers", [])]:
        if entry.get("name") == container:
            image = str(entry.get("image", "")).split("@", 1)[0]
            tail = image.rsplit("/", 1)[-1]
            return tail.split(":", 1)[1] if ":" in tail else None
    return None


def _calico_mode(runner: Runner, kubectl: Kubectl) -> tuple[str | None, str]:
    pools = _json(runner, kubectl("get", "ippools.crd.projectcalico.org", "-o", "json"))
    for pool in (pools or {}).get("items", []):
        spec = pool.get("spec", {})
        if ":" in str(spec.get("cidr", "")) or spec.get("disabled"):
            continue  # the IPv4 pool in use
        vxlan, ipip = spec.get("vxlanMode", "Never"), spec.get("ipipMode", "Never")
        mode = "vxlan" if vxlan != "Never" else "ipip" if ipip != "Never" else "none"
        name = pool.get("metadata", {}).get("name")
        return mode, f"ippool {name}: vxlanMode={vxlan}, ipipMode={ipip}"
    return None, "no readable Calico IPv4 IP pool"


def _config_map(runner: Runner, kubectl: Kubectl, ns: str, name: str) -> dict[str, str]:
    found = _json(runner, kubectl("-n", ns, "get", "configmap", name, "-o", "json"))
    return {str(k): str(v) for k, v in ((found or {}).get("data") or {}).items()}


def _cilium_mode(runner: Runner, kubectl: Kubectl, ns: str) -> tuple[str | None, str]:
    config = _config_map(runner, kubectl, ns, "cilium-config")
    if not config:
        return None, f"no readable {ns}/cilium-config"
    routing = config.get("routing-mode", "tunnel")
    mode = config.get("tunnel-protocol", "vxlan") if routing == "tunnel" else "none"
    return mode, f"{ns}/cilium-config: routing-mode={routing}, tunnel-protocol={mode}"


def _flannel_mode(runner: Runner, kubectl: Kubectl, ns: str) -> tuple[str | None, str]:
    config = _config_map(runner, kubectl, ns, "kube-flannel-cfg")
    try:
        backend = str(json.loads(config["net-conf.json"])["Backend"]["Type"]).lower()
    except (KeyError, ValueError, TypeError):
        return None, f"no readable {ns}/kube-flannel-cfg net-conf.json"
    mode = {"vxlan": "vxlan", "host-gw": "none", "ipip": "ipip"}.get(backend)
    return mode, f"{ns}/kube-flannel-cfg: Backend.Type={backend}"


ModeReader = Callable[[Runner, Kubectl, str], tuple[str | None, str]]
MODE_READERS: dict[str, ModeReader] = {
    "calico": lambda runner, kubectl, _: _calico_mode(runner, kubectl),
    "cilium": _cilium_mode,
    "flannel": _flannel_mode,
}


# A CNI that enforces ClusterNetworkPolicy only when switched on: whether this one is.
PolicySwitch = Callable[[Runner, Kubectl, str], bool]
CLUSTER_POLICY_SWITCHES: dict[str, PolicySwitch] = {
    "cilium": lambda runner, kubectl, ns: (
        _config_map(runner, kubectl, ns, "cilium-config").get(CILIUM_CNP_FLAG) == "true"
    ),
}


def _cluster_policy(
    runner: Runner, kubectl: Kubectl, cni: str, ns: str, caps: Capabilities
) -> tuple[Capabilities, str]:
    """The profile's ClusterNetworkPolicy capability as this cluster has it: the CNI's
    switch where it has one, then the CRD (not installed, no usable version, its channel)."""
    available, missing = set(caps.available), dict(caps.missing)
    switch = CLUSTER_POLICY_SWITCHES.get(cni)
    if switch is not None and switch(runner, kubectl, ns):
        available.add(Capability.CLUSTER_NETWORK_POLICY)
        missing.pop(Capability.CLUSTER_NETWORK_POLICY, None)
    crd = _json(runner, kubectl("get", "crd", cluster_policy_api.CRD_NAME, "-o", "json"))
    served = cluster_policy_served(crd, missing, available)
    for cap in available:
        missing.pop(cap, None)
    said = f"crd {cluster_policy_api.CRD_NAME}: " + (
        f"served {served['served']}, bundle {served['bundle_version']}, {served['channel']}"
        if crd is not None
        else "not installed"
    )
    return Capabilities(frozenset(available), missing), said


def _profiled(cni: str, encapsulation: str | None) -> tuple[CniFacts, Capabilities | None]:
    """The facts a known CNI lends the checks: the overhead of the mode found, and the
    label-change time and capabilities of its profile (the first of that CNI). The
    configured MTU is the cluster's own, not the profile's: left unknown."""
    name = next((p for p in PROFILES if load_profile(p).cni == cni), None)
    if name is None:
        return UNKNOWN_CNI, None
    profile = load_profile(name)
    overhead = OVERHEAD.get(encapsulation or "")
    caps = profile.capabilities
    return (
        CniFacts(overhead, None, profile.netpol_timing.label_change_s),
        Capabilities(frozenset(caps.available), dict(caps.missing)),
    )


def detect(runner: Runner, kubectl: Kubectl) -> DetectedCni:
    listed = _json(runner, kubectl("get", "daemonsets", "-A", "-o", "json"))
    if listed is None:
        return DetectedCni("unknown", None, None, ("daemonsets unreadable",))
    by_name = {d.get("metadata", {}).get("name"): d for d in listed.get("items", [])}
    for sig in SIGNATURES:
        daemonset = by_name.get(sig.daemonset)
        if daemonset is None:
            continue
        ns = daemonset.get("metadata", {}).get("namespace", "")
        version = _version(daemonset, sig.container)
        evidence = [f"daemonset {ns}/{sig.daemonset} (container {sig.container}: {version})"]
        reader = MODE_READERS.get(sig.cni)
        mode = None
        if reader is not None:
            mode, said = reader(runner, kubectl, ns)
            evidence.append(said)
        facts, caps = _profiled(sig.cni, mode)
        if caps is not None:
            caps, said = _cluster_policy(runner, kubectl, sig.cni, ns, caps)
            evidence.append(said)
        return DetectedCni(sig.cni, version, mode, tuple(evidence), facts, caps)
    return DetectedCni("unknown", None, None, ("no DaemonSet of a known CNI",))


def overridden(detected: DetectedCni, cni: str, encapsulation: str | None) -> DetectedCni:
    """What the scenario's `cni` field states, in place of what detection found (kept in
    the evidence): that CNI's profile and the stated encapsulation's overhead."""
    facts, caps = _profiled(cni, encapsulation)
    said = f"set by the scenario's cni field ({cni}, {encapsulation or 'encapsulation not given'})"
    found = f"detection found {detected.cni} {detected.version or ''}".rstrip()
    return DetectedCni(
        cni,
        detected.version if detected.cni == cni else None,
        encapsulation,
        (said, found, *detected.evidence),
        facts,
        caps,
    )
