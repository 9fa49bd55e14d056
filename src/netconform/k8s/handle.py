"""How any process attaches to a Kubernetes run (kind or the user's cluster)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from netconform.core import Capabilities
from netconform.k8s.facts import UNKNOWN_CNI, CniFacts
from netconform.k8s.workloads import WorkloadSpec


@dataclass(frozen=True)
class KubeHandle:
    platform: str
    kubeconfig: str  # self-contained: every command names it, no context flag
    run_id: str
    nodes: tuple[str, ...]
    image: str
    cluster_dns_ip: str
    capabilities: Capabilities
    info: Mapping[str, Any] = field(default_factory=dict)
    cluster_domain: str = "cluster.local"
    context: str | None = None
    cluster: str | None = None  # the kind cluster's name
    facts: CniFacts = UNKNOWN_CNI  # what the checks judge with (platform_info only reports)
    mesh_nodes: tuple[str, ...] = ()  # the node-pair mesh's nodes; () is `nodes`

    def workload_spec(self) -> WorkloadSpec:
        return WorkloadSpec(
            self.run_id,
            self.nodes,
            self.image,
            self.cluster_dns_ip,
            self.cluster_domain,
            mesh_nodes=self.mesh_nodes,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "kubeconfig": self.kubeconfig,
            "run_id": self.run_id,
            "nodes": list(self.nodes),
            "image": self.image,
            "cluster_dns_ip": self.cluster_dns_ip,
            "capabilities": self.capabilities.to_json(),
            "info": dict(self.info),
            "cluster_domain": self.cluster_domain,
            "context": self.context,
            "cluster": self.cluster,
            "facts": self.facts.to_json(),
            "mesh_nodes": list(self.mesh_nodes),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> KubeHandle:
        return cls(
            platform=data["platform"],
            kubeconfig=data["kubeconfig"],
            run_id=data["run_id"],
            nodes=tuple(data["nodes"]),
            image=data["image"],
            cluster_dns_ip=data["cluster_dns_ip"],
            capabilities=Capabilities.from_json(data["capabilities"]),
            info=dict(data.get("info", {})),
            cluster_domain=data.get("cluster_domain", "cluster.local"),
            context=data.get("context"),
            cluster=data.get("cluster"),
            facts=CniFacts.from_json(data.get("facts") or {}),
            mesh_nodes=tuple(data.get("mesh_nodes") or ()),
        )
