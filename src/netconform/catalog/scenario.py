"""Scenario files (scenarios/*.yaml): check parameters per platform family.

Validated with pydantic so that every error names the file and the dotted field."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from netconform.errors import file_field_error
from netconform.inputs import load_yaml, read_text, yaml_problem

SCHEMA: Final = "netconform/scenario/v1"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MtuParams(_Strict):
    transfer_bytes: int = Field(4 * 1024 * 1024, ge=1024, le=1 << 30)  # cross-host TCP transfer


class DnsParams(_Strict):
    latency_samples: int = Field(40, ge=5, le=1000)
    latency_p90_max_ms: float = Field(250, gt=0)


class PerfParams(_Strict):
    """The perf area: short samples taken alternately on the path and its baseline (the host
    network), so a drift of the machine weighs on both; thresholds are opt-in."""

    samples: int = Field(3, ge=1, le=20)  # per path and figure; 3 keep the area under 60 s
    sample_s: int = Field(1, ge=1, le=30)  # one iperf3 sample (iperf3 -t takes seconds)
    streams: int = Field(4, ge=2, le=16)  # the multi-stream TCP figure
    udp_mbit: int = Field(500, ge=1, le=100_000)  # the rate UDP is offered at
    udp_length: int = Field(1200, ge=64, le=8972)  # UDP payload: below every overlay MTU
    rr_requests: int = Field(1000, ge=10, le=10_000)  # request/response exchanges per sample
    connections: int = Field(300, ge=10, le=5_000)  # connections per connection-rate sample
    # Opt-in: a throughput under this fraction of the baseline's fails (k8s-netperf: 0.9).
    min_throughput_ratio: float | None = Field(None, gt=0, le=10)
    # Opt-in: a p50 latency over this multiple of the baseline's fails.
    max_latency_ratio: float | None = Field(None, ge=1, le=1000)


class _CommonScenario(_Strict):
    """What the checks of every family read. The defaults here are the only ones: the files
    in scenarios/ spell them out for the reader, and a test keeps the two equal."""

    schema_: Literal["netconform/scenario/v1"] = Field(SCHEMA, alias="schema")
    probe_timeout_s: float = Field(2.0, gt=0, le=30)  # a denied or broken path costs this
    converge_deadline_s: float = Field(30.0, gt=0, le=600)  # a check polls until this
    mtu: MtuParams = MtuParams()
    dns: DnsParams = DnsParams()
    perf: PerfParams = PerfParams()


class SwarmNetworks(_Strict):
    mtu_option: int = Field(1400, ge=1280, le=9000)


class VipParams(_Strict):
    replicas: int = Field(3, ge=2, le=20)
    requests: int = Field(30, ge=2, le=1000)


class ScaleParams(_Strict):
    low: int = Field(1, ge=0, le=20)
    high: int = Field(3, ge=1, le=20)


class SwarmScenario(_CommonScenario):
    family: Literal["swarm"] = "swarm"
    networks: SwarmNetworks = SwarmNetworks()
    vip: VipParams = VipParams()
    scale: ScaleParams = ScaleParams()


class CniOverride(_Strict):
    """Platform cluster: the CNI and its encapsulation as the user states them, in place of
    what detection found (a CNI netconform cannot recognise, or one it misreads); its profile
    (overhead, label-change time, capabilities) is then the one applied."""

    name: Literal["flannel", "calico", "cilium"]
    encapsulation: Literal["vxlan", "geneve", "ipip", "none"] | None = None


class KubernetesScenario(_CommonScenario):
    """The Kubernetes checks' parameters (`ctx.params`)."""

    family: Literal["kubernetes"] = "kubernetes"
    netpol_deadline_s: float = Field(10.0, gt=0, le=600)  # per NetworkPolicy step
    poll_interval_s: float = Field(0.5, gt=0, le=10)
    cni: CniOverride | None = None  # platform cluster only: None trusts detection

    @property
    def transfer_bytes(self) -> int:
        return self.mtu.transfer_bytes


Scenario = SwarmScenario | KubernetesScenario


def scenarios_dir() -> Path:
    """The repository's scenarios/ in a checkout, the packaged copy in an installed wheel."""
    checkout = Path(__file__).resolve().parents[3] / "scenarios"
    if checkout.is_dir():
        return checkout
    return Path(str(resources.files("netconform").joinpath("scenarios")))


Model = TypeVar("Model", bound=BaseModel)


SCENARIO_TYPES: dict[str, type[SwarmScenario] | type[KubernetesScenario]] = {
    "swarm": SwarmScenario,
    "kubernetes": KubernetesScenario,
}


def load_scenario(family: str, path: Path | None = None) -> Scenario:
    """A family's scenario file (default scenarios/<family>.yaml), validated."""
    return _load(path or scenarios_dir() / f"{family}.yaml", SCENARIO_TYPES[family])


def scenario_from_json(family: str, data: dict[str, Any]) -> Scenario:
    """What `scenario.model_dump(by_alias=True)` gave, in another process."""
    return SCENARIO_TYPES[family].model_validate(data)


def load_swarm_scenario(path: Path | None = None) -> SwarmScenario:
    return _load(path or scenarios_dir() / "swarm.yaml", SwarmScenario)


def load_kubernetes_scenario(path: Path | None = None) -> KubernetesScenario:
    return _load(path or scenarios_dir() / "kubernetes.yaml", KubernetesScenario)


def _load(path: Path, model: type[Model]) -> Model:
    text = read_text(path)
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as exc:
        where, problem = yaml_problem(exc)
        raise file_field_error(path, where or "yaml", f"malformed YAML: {problem}") from None
    if not isinstance(raw, dict):
        raise file_field_error(path, "", "top level must be a mapping")
    for key in ("schema", "family"):  # defaulted in code, said in every file
        if key not in raw:
            raise file_field_error(path, key, "Field required")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(top)"
        raise file_field_error(path, field, first["msg"]) from None
