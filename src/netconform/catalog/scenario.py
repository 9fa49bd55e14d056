"""Scenario files (scenarios/*.yaml): check parameters per platform family.

Validated with pydantic so that every error names the file and the dotted field."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from netconform.errors import file_field_error
from netconform.inputs import read_text

SCHEMA = "netconform/scenario/v1"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SwarmNetworks(_Strict):
    mtu_option: int = Field(1400, ge=1280, le=9000)


class DnsParams(_Strict):
    latency_samples: int = Field(40, ge=5, le=1000)
    latency_p99_max_ms: float = Field(250, gt=0)


class MtuParams(_Strict):
    transfer_bytes: int = Field(4 * 1024 * 1024, ge=1024, le=1 << 30)


class VipParams(_Strict):
    replicas: int = Field(3, ge=2, le=20)
    requests: int = Field(30, ge=2, le=1000)


class ScaleParams(_Strict):
    low: int = Field(1, ge=0, le=20)
    high: int = Field(3, ge=1, le=20)


class SwarmScenario(_Strict):
    schema_: Literal["netconform/scenario/v1"] = Field(alias="schema")
    family: Literal["swarm"]
    probe_timeout_s: float = Field(2.0, gt=0, le=30)
    converge_deadline_s: float = Field(30.0, gt=0, le=600)
    networks: SwarmNetworks = SwarmNetworks()
    dns: DnsParams = DnsParams()
    mtu: MtuParams = MtuParams()
    vip: VipParams = VipParams()
    scale: ScaleParams = ScaleParams()


def scenarios_dir() -> Path:
    """The repository's scenarios/ in a checkout, the packaged copy in an installed wheel."""
    checkout = Path(__file__).resolve().parents[3] / "scenarios"
    if checkout.is_dir():
        return checkout
    return Path(str(resources.files("netconform").joinpath("scenarios")))


class KubernetesMtu(_Strict):
    transfer_bytes: int = Field(4 * 1024 * 1024, ge=1024, le=1 << 30)


class KubernetesScenario(_Strict):
    schema_: Literal["netconform/scenario/v1"] = Field(alias="schema")
    family: Literal["kubernetes"]
    probe_timeout_s: float = Field(2.0, gt=0, le=30)
    converge_deadline_s: float = Field(30.0, gt=0, le=600)
    netpol_deadline_s: float = Field(10.0, gt=0, le=600)
    poll_interval_s: float = Field(0.5, gt=0, le=10)
    mtu: KubernetesMtu = KubernetesMtu()


Model = TypeVar("Model", bound=BaseModel)


def load_swarm_scenario(path: Path | None = None) -> SwarmScenario:
    return _load(path or scenarios_dir() / "swarm.yaml", SwarmScenario)


def load_kubernetes_scenario(path: Path | None = None) -> KubernetesScenario:
    return _load(path or scenarios_dir() / "kubernetes.yaml", KubernetesScenario)


def _load(path: Path, model: type[Model]) -> Model:
    text = read_text(path)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "yaml"
        raise file_field_error(
            path, where, f"malformed YAML: {getattr(exc, 'problem', exc)}"
        ) from None
    if not isinstance(raw, dict):
        raise file_field_error(path, "", "top level must be a mapping")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(top)"
        raise file_field_error(path, field, first["msg"]) from None
