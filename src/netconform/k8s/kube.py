"""The Kubernetes API as the harness uses it: discovery of the run's pods and Services,
NetworkPolicy and label operations, and batch probing through the exec API. REST calls use
one ApiClient; every thread that execs gets its own second client, because the sync
stream() swaps the transport of the client it is given."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from netconform.errors import EnvironmentUnfit
from netconform.k8s.cluster_policy_api import KIND as CLUSTER_POLICY_KIND
from netconform.k8s.cluster_policy_api import ClusterPolicies
from netconform.k8s.mesh import NO_ZONE, ZONE_LABEL, MeshNode
from netconform.k8s.netpol_binding import ClusterDns
from netconform.k8s.workloads import RUN_LABEL
from netconform.netpol.catalogue import CLUSTER_DNS_LABELS, DNS_NAMESPACE
from netconform.probes.executors import agent_command, reproducer
from netconform.probes.model import Probe, ProbeResult, parse_agent_output


@dataclass(frozen=True)
class PodEndpoint:
    """One pod the checks probe from or to; hashable so batches can be keyed by it."""

    namespace: str
    name: str
    container: str
    ip: str
    node: str
    labels: tuple[tuple[str, str], ...] = ()
    host_network: bool = False

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def label(self, key: str, default: str = "") -> str:
        return dict(self.labels).get(key, default)


def _client_from(kubeconfig: str, context: str | None) -> Any:
    from kubernetes import config

    load: Any = config.new_client_from_config  # untyped in the client
    return load(config_file=kubeconfig, context=context)


class KubeExecExecutor:
    """One exec of the agent per batch, in one container of one pod."""

    def __init__(self, ws_core: Any, endpoint: PodEndpoint) -> None:
        self._core = ws_core
        self._endpoint = endpoint
        e = endpoint
        self._reproduce = reproducer(
            ["kubectl", "exec", "-n", e.namespace, e.name, "-c", e.container, "--"]
        )

    def run_batch(self, probes: Sequence[Probe]) -> list[ProbeResult]:
        if not probes:
            return []
        from kubernetes.stream import stream

        deadline = max(p.budget_s for p in probes) + 15
        try:
            resp = stream(
                self._core.connect_get_namespaced_pod_exec,
                self._endpoint.name,
                self._endpoint.namespace,
                container=self._endpoint.container,
                command=agent_command(probes),
                stderr=True,
                stdin=False,
                stdout=True,
                tty=False,
                _preload_content=False,
            )
            resp.run_forever(timeout=deadline)
            # Still open: the exec itself outlived its deadline (not a probe's timeout); the
            # probes it never reported did not run, and say so.
            timed_out = resp.is_open()
            stdout, stderr = resp.read_stdout() or "", resp.read_stderr() or ""
            resp.close()
            if timed_out:
                stderr = f"{stderr}\nexec did not finish within {deadline:g}s"
        except Exception as exc:  # an exec that fails is every probe's error, not a crash
            why = f"exec failed: {type(exc).__name__}: {exc}"
            return parse_agent_output(probes, "", why, self._reproduce)
        return parse_agent_output(probes, stdout, stderr, self._reproduce)


class KubeApi:
    def __init__(self, kubeconfig: str, context: str | None = None) -> None:
        from kubernetes import client

        self._kubeconfig = kubeconfig
        self._context = context
        self.api_client: Any = _client_from(kubeconfig, context)
        # The v37 models type every field Optional; the calls below read what the API server
        # always sets on a persisted object, so they are used untyped.
        self.core: Any = client.CoreV1Api(self.api_client)
        self.networking: Any = client.NetworkingV1Api(self.api_client)
        self.cluster_policies = ClusterPolicies(self.api_client)
        self._local = threading.local()

    def ws_core(self) -> Any:
        """This thread's exec client (created on first use, never shared across threads)."""
        core = getattr(self._local, "core", None)
        if core is None:
            from kubernetes import client

            core = client.CoreV1Api(_client_from(self._kubeconfig, self._context))
            self._local.core = core
        return core

    def executor(self, endpoint: PodEndpoint) -> KubeExecExecutor:
        return KubeExecExecutor(self.ws_core(), endpoint)

    def run_python(
        self, endpoint: PodEndpoint, source: str, args: Sequence[str], timeout_s: float
    ) -> tuple[str, str]:
        """`python3 -c source *args` in the endpoint's container: its stdout and stderr. An
        exec still open after `timeout_s` is closed, and stderr says so."""
        from kubernetes.stream import stream

        resp = stream(
            self.ws_core().connect_get_namespaced_pod_exec,
            endpoint.name,
            endpoint.namespace,
            container=endpoint.container,
            command=["python3", "-c", source, *args],
            stderr=True,
            stdin=False,
            stdout=True,
            tty=False,
            _preload_content=False,
        )
        resp.run_forever(timeout=timeout_s)
        timed_out = resp.is_open()
        stdout, stderr = resp.read_stdout() or "", resp.read_stderr() or ""
        resp.close()
        if timed_out:
            stderr = f"{stderr}\nexec did not finish within {timeout_s:g}s"
        return stdout, stderr

    # --- discovery -----------------------------------------------------------------------
    def run_pods(self, run_id: str) -> list[PodEndpoint]:
        pods = self.core.list_pod_for_all_namespaces(label_selector=f"{RUN_LABEL}={run_id}")
        found = []
        for pod in pods.items:
            if pod.status.phase != "Running":
                continue
            found.append(
                PodEndpoint(
                    namespace=pod.metadata.namespace,
                    name=pod.metadata.name,
                    container=pod.spec.containers[0].name,
                    ip=pod.status.pod_ip or "",
                    node=pod.spec.node_name or "",
                    labels=tuple(sorted((pod.metadata.labels or {}).items())),
                    host_network=bool(pod.spec.host_network),
                )
            )
        return sorted(found, key=lambda p: p.key)

    def service(self, namespace: str, name: str) -> Any:
        return self.core.read_namespaced_service(name, namespace)

    def node_addresses(self) -> dict[str, str]:
        """Node name -> InternalIP."""
        out = {}
        for node in self.core.list_node().items:
            for addr in node.status.addresses or []:
                if addr.type == "InternalIP":
                    out[node.metadata.name] = addr.address
        return out

    def schedulable_nodes(self) -> list[MeshNode]:
        """Every schedulable Linux node by its kubernetes.io/hostname, with its zone label."""
        found = []
        for node in self.core.list_node().items:
            if node.spec.unschedulable:
                continue
            labels = node.metadata.labels or {}
            if labels.get("kubernetes.io/os", "linux") == "linux":
                name = labels.get("kubernetes.io/hostname", node.metadata.name)
                found.append(MeshNode(name, labels.get(ZONE_LABEL, NO_ZONE)))
        return sorted(found, key=lambda n: n.name)

    def cluster_dns(self) -> ClusterDns:
        """The first running cluster DNS pod (k8s-app=kube-dns in kube-system, as kubeadm
        labels CoreDNS), with its labels and its namespace's, for NetworkPolicy cases."""
        ns, (key, value) = DNS_NAMESPACE, next(iter(CLUSTER_DNS_LABELS.items()))
        pods = self.core.list_namespaced_pod(ns, label_selector=f"{key}={value}").items
        running = sorted(
            (p for p in pods if p.status.phase == "Running" and p.status.pod_ip),
            key=lambda p: p.metadata.name,
        )
        if not running:
            raise EnvironmentUnfit(f"no running cluster DNS pod ({key}={value} in {ns})")
        pod = running[0]
        namespace = self.core.read_namespace(ns)
        return ClusterDns(
            pod.status.pod_ip,
            dict(pod.metadata.labels or {}),
            dict(namespace.metadata.labels or {}),
        )

    def cluster_dns_ip(self) -> str:
        return str(self.core.read_namespaced_service("kube-dns", "kube-system").spec.cluster_ip)

    # --- NetworkPolicy and labels ----------------------------------------------------------
    def apply_policy(self, manifest: Mapping[str, Any]) -> None:
        """A NetworkPolicy, or a ClusterNetworkPolicy (by its kind): created or replaced."""
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        if manifest.get("kind") == CLUSTER_POLICY_KIND:
            self.cluster_policies.apply(manifest)
            return
        ns = manifest["metadata"]["namespace"]
        name = manifest["metadata"]["name"]
        body = client.V1NetworkPolicy.from_dict(dict(manifest))
        try:
            self.networking.create_namespaced_network_policy(ns, body)
        except ApiException as exc:
            if exc.status != 409:
                raise
            self.networking.replace_namespaced_network_policy(name, ns, body)

    def delete_policy(self, namespace: str, name: str) -> None:
        """namespace "": the cluster-scoped ClusterNetworkPolicy `name`."""
        from kubernetes.client.exceptions import ApiException

        if not namespace:
            self.cluster_policies.delete(name)
            return
        try:
            self.networking.delete_namespaced_network_policy(name, namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise

    def delete_cluster_policies(self, label_selector: str) -> int:
        return self.cluster_policies.delete_labelled(label_selector)

    def delete_all_policies(self, namespace: str) -> None:
        self.networking.delete_collection_namespaced_network_policy(namespace)

    def set_namespace_labels(self, name: str, labels: Mapping[str, str]) -> None:
        current = self.core.read_namespace(name).metadata.labels or {}
        self.core.patch_namespace(name, {"metadata": {"labels": _replacing(current, labels)}})

    def set_pod_labels(self, namespace: str, name: str, labels: Mapping[str, str]) -> None:
        current = self.core.read_namespaced_pod(name, namespace).metadata.labels or {}
        body = {"metadata": {"labels": _replacing(current, labels)}}
        self.core.patch_namespaced_pod(name, namespace, body)

    def close(self) -> None:
        self.api_client.close()


# The API server owns this label; a patch must never try to remove it.
_PROTECTED = ("kubernetes.io/metadata.name",)


def _replacing(current: Mapping[str, str], wanted: Mapping[str, str]) -> dict[str, str | None]:
    """A merge patch that makes the labels exactly `wanted` (null removes a key)."""
    patch: dict[str, str | None] = {
        k: None for k in current if k not in wanted and k not in _PROTECTED
    }
    patch.update(wanted)
    return patch
