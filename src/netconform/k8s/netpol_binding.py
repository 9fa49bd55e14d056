"""Binding the NetworkPolicy catalogue (logical namespaces x, y, z) to one run's real
namespaces: policies are rewritten to the real names, and the oracle's model is built from
the real pods' IPs and labels, so expected and observed describe the same cluster."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from netconform.netpol.catalogue import (
    DNS_NAMESPACE,
    Case,
    cluster_dns_pod,
    standard_cluster,
    with_cluster_dns,
)
from netconform.netpol.cluster_policy import KIND as CLUSTER_KIND
from netconform.netpol.manifest import cluster_namespace_selectors, manifest_kind
from netconform.netpol.model import NAMESPACE_NAME_LABEL, Cluster, Namespace, Pod


@dataclass(frozen=True)
class ClusterDns:
    """The real cluster DNS pod a case's `kube-system/kube-dns` stands for: its IP, its
    labels and its namespace's labels, as the cluster has them (never changed by a run)."""

    ip: str
    labels: Mapping[str, str]
    namespace_labels: Mapping[str, str]


# On every ClusterNetworkPolicy a lane creates: the lane's name prefix, so the lane (or a
# cleanup of the run) removes exactly its own cluster-scoped policies.
CLUSTER_POLICY_OWNER = "netconform.io/cluster-policy-owner"


@dataclass(frozen=True)
class NetpolBinding:
    namespaces: Mapping[str, str]  # logical (x, y, z) -> real namespace name
    namespace_labels: Mapping[str, str]  # labels the run puts on every model namespace
    pod_labels: Mapping[str, str]  # labels the run puts on every model pod (besides pod=)
    # prefixes the names of the lane's cluster-scoped policies (unique per run and lane)
    cluster_policy_prefix: str = "nc"
    # on each cluster-scoped policy: what marks it the run's (the run's admission policy on
    # a user's cluster lets the run write only nc-* objects annotated so)
    cluster_policy_annotations: Mapping[str, str] = field(default_factory=dict)

    def real(self, logical: str) -> str:
        return self.namespaces.get(logical, logical)

    def cluster_policy_name(self, name: str) -> str:
        return f"{self.cluster_policy_prefix}-{name}"

    @property
    def cluster_policy_selector(self) -> str:
        """The label selector of every ClusterNetworkPolicy this lane made."""
        return f"{CLUSTER_POLICY_OWNER}={self.cluster_policy_prefix}"

    def policy(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        """The manifest bound to the run: a NetworkPolicy in its real namespace, a
        ClusterNetworkPolicy under the lane's name, labelled as the lane's; every
        namespace-name selector made real (a case's CNP subject is already confined to
        x, y, z: bound, it selects the lane's own namespaces only)."""
        if manifest_kind(manifest) == CLUSTER_KIND:
            return self._cluster_policy(manifest)
        out = copy.deepcopy(dict(manifest))
        metadata = out.setdefault("metadata", {})
        metadata["namespace"] = self.real(metadata.get("namespace", "default"))
        out.setdefault("apiVersion", "networking.k8s.io/v1")
        out.setdefault("kind", "NetworkPolicy")
        spec = out.get("spec", {})
        for direction, peers_field in (("ingress", "from"), ("egress", "to")):
            for rule in spec.get(direction) or []:
                for peer in rule.get(peers_field) or []:
                    selector = peer.get("namespaceSelector")
                    if selector:
                        self._bind_selector(selector)
        return out

    def _cluster_policy(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(dict(manifest))
        metadata = out.setdefault("metadata", {})
        metadata["name"] = self.cluster_policy_name(str(metadata.get("name", "")))
        labels = {**(metadata.get("labels") or {}), **self.pod_labels}
        metadata["labels"] = {**labels, CLUSTER_POLICY_OWNER: self.cluster_policy_prefix}
        metadata["annotations"] = {
            **(metadata.get("annotations") or {}),
            **self.cluster_policy_annotations,
        }
        for selector in cluster_namespace_selectors(out):
            self._bind_selector(selector)
        return out

    def _bind_selector(self, selector: dict[str, Any]) -> None:
        labels = selector.get("matchLabels") or {}
        if NAMESPACE_NAME_LABEL in labels:
            labels[NAMESPACE_NAME_LABEL] = self.real(labels[NAMESPACE_NAME_LABEL])
        for expression in selector.get("matchExpressions") or []:
            if expression.get("key") == NAMESPACE_NAME_LABEL:
                expression["values"] = [self.real(v) for v in expression.get("values") or []]

    def model(
        self, case: Case, pod_ips: Mapping[str, str], dns: ClusterDns | None = None
    ) -> Cluster:
        """The case's model with the run's labels and real IPs (keyed `x/a`); the cluster
        DNS pod, when the case names it, as the cluster has it."""
        base = standard_cluster(case.ports, case.protocols).subset(case.model_pods)
        pods = tuple(
            replace(p, ip=pod_ips[p.key], labels={**self.pod_labels, **p.labels}) for p in base.pods
        )
        namespaces = tuple(
            Namespace(ns.name, dict(self.namespace_labels)) for ns in base.namespaces
        )
        cluster = Cluster(namespaces, pods)
        if not case.uses_cluster_dns:
            return cluster
        if dns is None:
            raise ValueError(f"case {case.id} names the cluster DNS: its pod is needed")
        return with_cluster_dns(
            cluster,
            cluster_dns_pod(dns.ip, dns.labels),
            Namespace(DNS_NAMESPACE, dns.namespace_labels),
        )

    def owns_namespace(self, logical: str) -> bool:
        """Whether the run made this namespace (so a case may change its labels)."""
        return logical in self.namespaces

    def real_pod_labels(self, model: Pod) -> dict[str, str]:
        """What the real pod's labels must be for the model pod: the model's, and the run's
        own (a relabel that dropped them lost the pod to the run: found when a
        ClusterNetworkPolicy case replaced y/b's labels on real Cilium)."""
        return {**model.labels, **self.pod_labels}

    def real_namespace_labels(self, model: Namespace) -> dict[str, str]:
        """What the real namespace's labels must be for the model namespace (the API server
        owns the name label)."""
        return {k: v for k, v in model.labels.items() if k != NAMESPACE_NAME_LABEL}
