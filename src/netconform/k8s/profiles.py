"""Pinned data from fixtures/: CNI profiles (fixtures/cni/*.yaml) and kind configs
(fixtures/kind/*.yaml), validated so that a wrong field is exit 2 naming file and field."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from netconform.errors import InputError, file_field_error
from netconform.inputs import load_yaml, read_text, yaml_problem
from netconform.k8s import patches
from netconform.vocab import Capability


class InstallMethod(StrEnum):
    """How a profile's CNI is installed: one installer each (k8s/cnis)."""

    FLANNEL_MANIFEST = "flannel-manifest"
    CALICO_OPERATOR = "calico-operator"
    CALICO_MANIFEST = "calico-manifest"
    HELM = "helm"


# The CNI products a profile can name (its `cni`): what a platform runs, for the report.
CNIS = ("flannel", "calico", "cilium")
# The profiles in fixtures/cni/<name>.yaml, each the kind platform `kind-<name>`: a CNI in
# one install method and mode (Calico: the operator with VXLAN, the manifest install with
# VXLAN as the seed configures it, the manifest install with BGP and no encapsulation).
PROFILES = (
    "flannel",
    "calico",
    "calico-manifest",
    "calico-bgp",
    "calico-bpf",
    "cilium",
    "cilium-cnp",
)
SHA256_PATTERN = r"^[0-9a-f]{64}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Artifact(_Strict):
    """One file downloaded at run time, used only if its sha256 matches."""

    name: str = Field(pattern=r"^[a-z0-9-]+$")
    url: str = Field(pattern=r"^https://")
    sha256: str = Field(pattern=SHA256_PATTERN)
    reference_copy: str = ""  # the same bytes under shared/cni/, for offline tests
    # the same bytes in a Go module the offline kit downloads: "<module>@<version>/<path>"
    go_module_file: str = Field("", pattern=r"^$|^[a-z0-9./-]+@v[0-9][^/]*/[A-Za-z0-9._/-]+$")


class ArchiveRef(_Strict):
    url: str = Field(pattern=r"^https://")
    sha256: str = Field(pattern=SHA256_PATTERN)


class NodePlugins(_Strict):
    """Standard CNI plugin binaries copied onto every kind node before the CNI starts."""

    plugins: tuple[str, ...]
    archives: Mapping[Literal["amd64", "arm64"], ArchiveRef]


class HelmRelease(_Strict):
    release: str
    namespace: str
    chart_artifact: str  # the artifact that is the chart .tgz
    # what `helm install` creates that provisioning waits for (e.g. daemonset/cilium)
    rollouts: tuple[str, ...] = ()
    values: Mapping[str, Any] = Field(default_factory=dict)
    # dotted path in the chart's values.yaml to {container: [capability, ...]}: the
    # capabilities the chart asks for, trimmed to what the nodes' bounding set has
    capability_lists: str | None = None


class OptionalImage(_Strict):
    """An image the CNI can run without, at the cost of a capability: when it cannot be had
    (offline and not in the local Docker), the chart is installed with `values_without`, its
    rollout is not waited for, and the capability is missing with the reason."""

    image: str
    what: str  # what the image is, for the reason: "the L7 proxy (Envoy)"
    values_without: Mapping[str, Any]
    rollout: str | None = None  # e.g. daemonset/cilium-envoy
    capability: Capability


class ProfileCapabilities(_Strict):
    available: tuple[Capability, ...]
    missing: Mapping[Capability, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _available_wins(cls, data: Any) -> Any:
        """A variant (`extends`) making available what its base misses drops the reason."""
        if isinstance(data, dict) and isinstance(data.get("missing"), dict):
            available = set(data.get("available") or ())
            missing = {k: v for k, v in data["missing"].items() if k not in available}
            return {**data, "missing": missing}
        return data


class NetpolTiming(_Strict):
    """How long the CNI takes, by design, to apply a label change: steps that change pod or
    namespace labels (and the cases right after one, which start while the put-back labels
    settle) are polled this much longer than the scenario's netpol deadline. Still polled:
    the time a change really took is what is recorded."""

    label_change_s: float = Field(0.0, ge=0.0, le=300.0)
    why: str = ""  # the documented behaviour behind it, with the reference


class CniProfile(_Strict):
    schema_: Literal["netconform/cni-profile/v1"] = Field(alias="schema")
    cni: Literal["flannel", "calico", "cilium"]  # one of CNIS
    install: InstallMethod
    version: str
    kind_config: str
    encapsulation: Literal["vxlan", "geneve", "ipip", "none"]
    overhead_bytes: int = Field(ge=0, le=200)
    mtu: int | None = Field(None, ge=1280, le=9000)
    artifacts: tuple[Artifact, ...]
    node_plugins: NodePlugins | None = None
    helm: HelmRelease | None = None
    preload_images: tuple[str, ...] = ()
    optional_images: tuple[OptionalImage, ...] = ()
    # where the CNI's pods run: their logs go into the diagnostics of a failed run
    namespaces: tuple[str, ...] = ()
    capabilities: ProfileCapabilities
    netpol_timing: NetpolTiming = NetpolTiming()
    # artifacts holding CRDs the CNI needs but does not install (applied before it)
    crds: tuple[str, ...] = ()

    def artifact(self, name: str) -> Artifact:
        for artifact in self.artifacts:
            if artifact.name == name:
                return artifact
        raise KeyError(name)


# --- kind config (kind.x-k8s.io/v1alpha4): the fields we use, validated as kind does ---


class KindNetworking(_Strict):
    ipFamily: Literal["ipv4", "ipv6", "dual"] = "ipv4"
    apiServerAddress: str | None = None
    apiServerPort: int | None = None
    podSubnet: str = "10.244.0.0/16"
    serviceSubnet: str = "10.96.0.0/16"
    disableDefaultCNI: bool = False
    kubeProxyMode: Literal["iptables", "ipvs", "nftables", "none"] = "iptables"
    dnsSearch: tuple[str, ...] | None = None

    @field_validator("podSubnet", "serviceSubnet")
    @classmethod
    def _cidr(cls, value: str) -> str:
        ipaddress.ip_network(value, strict=True)  # single-stack: exactly one CIDR
        return value


class KindNode(_Strict):
    role: Literal["control-plane", "worker"] = "control-plane"
    image: str | None = Field(None, pattern=r"^[^@]+:[^@]+@sha256:[0-9a-f]{64}$")
    labels: Mapping[str, str] | None = None
    extraMounts: tuple[Mapping[str, Any], ...] | None = None
    extraPortMappings: tuple[Mapping[str, Any], ...] | None = None
    kubeadmConfigPatches: tuple[str, ...] | None = None


class KindConfig(_Strict):
    kind: Literal["Cluster"]
    apiVersion: Literal["kind.x-k8s.io/v1alpha4"]
    name: str | None = Field(None, pattern=r"^[a-z0-9.-]+$")
    networking: KindNetworking = KindNetworking()
    nodes: tuple[KindNode, ...] = (KindNode(role="control-plane", image=None),)
    featureGates: Mapping[str, bool] | None = None
    runtimeConfig: Mapping[str, str] | None = None
    kubeadmConfigPatches: tuple[str, ...] | None = None
    containerdConfigPatches: tuple[str, ...] | None = None

    @field_validator("nodes")
    @classmethod
    def _one_control_plane(cls, nodes: tuple[KindNode, ...]) -> tuple[KindNode, ...]:
        if not any(n.role == "control-plane" for n in nodes):
            raise ValueError("at least one control-plane node is required")
        return nodes

    def node_names(self, cluster: str) -> list[str]:
        """kind's container (and node) names: <cluster>-control-plane, -worker, -worker2."""
        names = []
        counts = {"control-plane": 0, "worker": 0}
        for node in self.nodes:
            counts[node.role] += 1
            suffix = "" if counts[node.role] == 1 else str(counts[node.role])
            names.append(f"{cluster}-{node.role}{suffix}")
        return names


def fixtures_dir() -> Path:
    """fixtures/ in a source checkout, the packaged copy in an installed wheel."""
    checkout = Path(__file__).resolve().parents[3] / "fixtures"
    if checkout.is_dir():
        return checkout
    return Path(str(resources.files("netconform").joinpath("fixtures")))


def _load_yaml(path: Path) -> Any:
    text = read_text(path)
    try:
        return load_yaml(text)
    except yaml.YAMLError as exc:
        where, problem = yaml_problem(exc)
        raise file_field_error(path, where, f"malformed YAML: {problem}") from None


def _field_error(path: Path, exc: ValidationError) -> InputError:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return file_field_error(path, where, first["msg"])


def _profile_document(name: str, directory: Path) -> dict[str, Any]:
    """The profile's mapping; `extends: <profile>` starts from that profile's (one level),
    so a variant states only what differs (lists replace, mappings merge)."""
    path = directory / f"{name}.yaml"
    raw = _load_yaml(path)
    if not isinstance(raw, dict):
        raise file_field_error(path, "", "top level must be a mapping")
    base = raw.pop("extends", None)
    if base is None:
        return raw
    if base not in PROFILES or base == name:
        raise file_field_error(path, "extends", f"{base!r} is not another profile")
    parent = _load_yaml(directory / f"{base}.yaml")
    if not isinstance(parent, dict) or "extends" in parent:
        raise file_field_error(path, "extends", f"{base!r} must be a plain profile")
    return patches.deep_merge(parent, raw)


def load_profile(name: str, directory: Path | None = None) -> CniProfile:
    """fixtures/cni/<name>.yaml, one of PROFILES."""
    if name not in PROFILES:
        raise InputError(f"unknown CNI profile {name!r}: expected one of {', '.join(PROFILES)}")
    directory = directory or fixtures_dir() / "cni"
    path = directory / f"{name}.yaml"
    try:
        profile = CniProfile.model_validate(_profile_document(name, directory))
    except ValidationError as exc:
        raise _field_error(path, exc) from None
    for crd in profile.crds:
        if crd not in {a.name for a in profile.artifacts}:
            raise file_field_error(path, "crds", f"{crd!r} is not one of its artifacts")
    return profile


def kind_config_path(profile: CniProfile, directory: Path | None = None) -> Path:
    return (directory or fixtures_dir() / "kind") / profile.kind_config


def load_kind_config(path: Path) -> tuple[KindConfig, dict[str, Any]]:
    """The validated config and the raw mapping (what is written for `kind --config`)."""
    raw = _load_yaml(path)
    if not isinstance(raw, dict):
        raise file_field_error(path, "", "top level must be a mapping")
    try:
        return KindConfig.model_validate(raw), raw
    except ValidationError as exc:
        raise _field_error(path, exc) from None


def kind_node_image(profile: CniProfile, directory: Path | None = None) -> str | None:
    """The node image the profile's kind config pins (None: kind's own default)."""
    config, _ = load_kind_config(kind_config_path(profile, directory))
    return next((n.image for n in config.nodes if n.image), None)
