"""What a Kubernetes check runs against: the run's endpoints, batch probing, the
NetworkPolicy operations and the run's shared state (`run_state`: what checks compute once).
`KubeCheckContext` is the interface checks use (tests give a fake); `KubeContext` is the
real one, attached to with a `KubeHandle`."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from netconform.catalog.scenario import KubernetesScenario
from netconform.core import Capabilities
from netconform.k8s.facts import UNKNOWN_CNI, CniFacts
from netconform.k8s.handle import KubeHandle
from netconform.k8s.kube import KubeApi, PodEndpoint
from netconform.k8s.netpol_binding import ClusterDns
from netconform.k8s.run_state import KubeRunState
from netconform.k8s.workloads import (
    NODE_INDEX_LABEL,
    ROLE_LABEL,
    SLOT_LABEL,
    WorkloadSpec,
)
from netconform.probes.executors import run_batches
from netconform.probes.model import Probe, ProbeKind, ProbeResult
from netconform.vocab import Family


class KubeCheckContext(Protocol):
    params: KubernetesScenario
    spec: WorkloadSpec
    run_state: KubeRunState  # computed once per run and shared by checks (e.g. the canary)

    @property
    def capabilities(self) -> Capabilities: ...

    @property
    def facts(self) -> CniFacts: ...

    def platform_info(self) -> dict[str, Any]: ...

    def pods(self, role: str) -> list[PodEndpoint]: ...

    def pod(self, namespace: str, name: str) -> PodEndpoint: ...

    def service_ip(self, namespace: str, name: str) -> str: ...

    def node_port(self, namespace: str, name: str) -> int: ...

    def node_addresses(self) -> dict[str, str]: ...

    def run_many(
        self, batches: Mapping[PodEndpoint, Sequence[Probe]]
    ) -> dict[PodEndpoint, list[ProbeResult]]: ...

    def probe(self, kind: ProbeKind, target: str, **kw: Any) -> Probe: ...

    def run_python(
        self, endpoint: PodEndpoint, source: str, args: Sequence[str], timeout_s: float
    ) -> tuple[str, str]: ...

    def apply_policy(self, manifest: Mapping[str, Any]) -> None: ...

    def delete_policy(self, namespace: str, name: str) -> None: ...

    def delete_all_policies(self, namespace: str) -> None: ...

    def delete_cluster_policies(self, label_selector: str) -> int: ...

    def set_namespace_labels(self, name: str, labels: Mapping[str, str]) -> None: ...

    def set_pod_labels(self, namespace: str, name: str, labels: Mapping[str, str]) -> None: ...

    def cluster_dns(self) -> ClusterDns: ...


def make_probe(kind: ProbeKind, target: str, default_timeout_s: float, **kw: Any) -> Probe:
    """A probe with a batch-unique id."""
    port = kw.pop("port", None)
    timeout = kw.pop("timeout_s", default_timeout_s)
    return Probe(f"{kind}-{target}-{port}-{uuid.uuid4().hex[:6]}", kind, target, port, timeout, kw)


def probe_pods_by_node(ctx: KubeCheckContext) -> dict[int, dict[str, PodEndpoint]]:
    """node index -> slot (a, b) -> probe pod."""
    out: dict[int, dict[str, PodEndpoint]] = {}
    for pod in ctx.pods("probe"):
        out.setdefault(int(pod.label(NODE_INDEX_LABEL)), {})[pod.label(SLOT_LABEL)] = pod
    return out


class KubeContext:
    family = Family.KUBERNETES

    def __init__(
        self,
        api: KubeApi,
        spec: WorkloadSpec,
        capabilities: Capabilities,
        info: Mapping[str, Any],
        params: KubernetesScenario,
        facts: CniFacts = UNKNOWN_CNI,
    ) -> None:
        self.api = api
        self.spec = spec
        self.params = params
        self.run_state = KubeRunState.for_spec(spec)
        self._capabilities = capabilities
        self._info = dict(info)
        self._facts = facts
        self._pods: list[PodEndpoint] | None = None

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    @property
    def facts(self) -> CniFacts:
        return self._facts

    def platform_info(self) -> dict[str, Any]:
        return dict(self._info)

    def _all_pods(self) -> list[PodEndpoint]:
        # A local: another lane's thread may drop the cache between the two lines.
        pods = self._pods
        if pods is None:
            pods = self._pods = self.api.run_pods(self.spec.run_id)
        return pods

    def pods(self, role: str) -> list[PodEndpoint]:
        return [p for p in self._all_pods() if p.label(ROLE_LABEL) == role]

    def pod(self, namespace: str, name: str) -> PodEndpoint:
        for p in self._all_pods():
            if p.namespace == namespace and p.name == name:
                return p
        raise KeyError(f"{namespace}/{name}")

    def service_ip(self, namespace: str, name: str) -> str:
        return str(self.api.service(namespace, name).spec.cluster_ip)

    def node_port(self, namespace: str, name: str) -> int:
        return int(self.api.service(namespace, name).spec.ports[0].node_port)

    def node_addresses(self) -> dict[str, str]:
        return self.api.node_addresses()

    def run_many(
        self, batches: Mapping[PodEndpoint, Sequence[Probe]]
    ) -> dict[PodEndpoint, list[ProbeResult]]:
        """One exec per source pod, all sources at once (each thread its own exec client)."""
        return run_batches(batches, self.api.executor)

    def probe(self, kind: ProbeKind, target: str, **kw: Any) -> Probe:
        return make_probe(kind, target, self.params.probe_timeout_s, **kw)

    def run_python(
        self, endpoint: PodEndpoint, source: str, args: Sequence[str], timeout_s: float
    ) -> tuple[str, str]:
        """A script of the harness's own (e.g. probes/service_watch.py) in a pod: stdout,
        stderr."""
        return self.api.run_python(endpoint, source, args, timeout_s)

    def apply_policy(self, manifest: Mapping[str, Any]) -> None:
        self.api.apply_policy(manifest)

    def delete_policy(self, namespace: str, name: str) -> None:
        self.api.delete_policy(namespace, name)

    def delete_all_policies(self, namespace: str) -> None:
        self.api.delete_all_policies(namespace)

    def delete_cluster_policies(self, label_selector: str) -> int:
        return self.api.delete_cluster_policies(label_selector)

    def set_namespace_labels(self, name: str, labels: Mapping[str, str]) -> None:
        self.api.set_namespace_labels(name, labels)

    def set_pod_labels(self, namespace: str, name: str, labels: Mapping[str, str]) -> None:
        self.api.set_pod_labels(namespace, name, labels)
        self._pods = None  # labels are part of the endpoint value

    def cluster_dns(self) -> ClusterDns:
        return self.api.cluster_dns()

    def plan_checks(self, check_ids: Sequence[str]) -> None:
        """The checks this process will run, in order (a check may start some early)."""
        self.run_state.planned = tuple(check_ids)

    def close(self) -> None:
        self.run_state.close()  # what checks started in the background, before the API
        self.api.close()


def attach(handle: KubeHandle, params: KubernetesScenario) -> KubeContext:
    """The checks' context in any process (xdist workers attach with the handle)."""
    api = KubeApi(handle.kubeconfig, handle.context)
    spec = handle.workload_spec()
    return KubeContext(api, spec, handle.capabilities, handle.info, params, handle.facts)


if TYPE_CHECKING:  # the real context keeps to both interfaces (checked by mypy, never run)
    from netconform.core import RunContext

    def _conforms(ctx: KubeContext) -> tuple[KubeCheckContext, RunContext]:
        return ctx, ctx
