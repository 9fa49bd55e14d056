"""An in-memory stand-in for a cluster's data plane: the run's pods (rendered by the real
workload code, with assigned IPs), the policies and labels the checks set through the API,
and probes answered by the NetworkPolicy oracle evaluated on the REAL namespace names. A
binding mistake (a policy left pointing at namespace `y` instead of the run's) therefore
shows up as a wrong cell, exactly as it would on a cluster."""

from __future__ import annotations

import copy
import functools
import itertools
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from netconform.catalog.scenario import KubernetesScenario
from netconform.core import Capabilities
from netconform.k8s.context import make_probe
from netconform.k8s.facts import UNKNOWN_CNI
from netconform.k8s.kube import PodEndpoint
from netconform.k8s.netpol_binding import CLUSTER_POLICY_OWNER, ClusterDns
from netconform.k8s.netpol_runner import Clock, monotonic
from netconform.k8s.run_state import KubeRunState
from netconform.k8s.workloads import (
    MANAGED_BY,
    NETPOL_LANES,
    ROLE_LABEL,
    RUN_LABEL,
    WorkloadSpec,
    netpol_objects,
)
from netconform.netpol.catalogue import port_name
from netconform.netpol.manifest import manifest_kind, parse_manifest
from netconform.netpol.model import Cluster, ContainerPort, Namespace, Pod, Protocol
from netconform.netpol.oracle import Oracle, Profile
from netconform.netpol.oracle import Probe as NetpolProbe
from netconform.probes.executors import reproducer
from netconform.probes.model import Connectivity, Probe, ProbeKind, ProbeResult, did_not_run

PORTS = tuple(
    ContainerPort(p, proto, port_name(p, proto))
    for p in (80, 81)
    for proto in (Protocol.TCP, Protocol.UDP)
)


# The cluster's CoreDNS pod as kubeadm labels it (not made by the run).
DNS_POD = Pod(
    "kube-system",
    "coredns-7db6d8ff4d-x2x9q",
    {"k8s-app": "kube-dns", "pod-template-hash": "7db6d8ff4d"},
    "10.244.0.2",
    (
        ContainerPort(53, Protocol.UDP, "dns"),
        ContainerPort(53, Protocol.TCP, "dns-tcp"),
        ContainerPort(9153, Protocol.TCP, "metrics"),
    ),
)
DNS_NAMESPACE_LABELS = {"kubernetes.io/metadata.name": "kube-system"}


F = TypeVar("F", bound=Callable[..., Any])


def _locked(method: F) -> F:
    @functools.wraps(method)
    def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            return method(self, *args, **kwargs)

    return locked  # type: ignore[return-value]


@dataclass
class FakeDataPlane:
    enforce: bool = True
    profile: Profile = field(default_factory=Profile)
    ignore_egress: bool = False
    delay_observations: int = 0  # observations before a change takes effect
    crash_on_deny: bool = False  # the agent dies before reporting a cell the oracle denies
    effect_after_s: float = 0.0  # wall-clock time before a change takes effect
    observation_s: float = 0.0  # how long one observation takes (its slowest probe)
    # wall-clock time before a label change takes effect (Cilium's identity jitter)
    label_effect_after_s: float = 0.0
    # one allowed probe of every large batch (a whole matrix) is lost, as one SYN among
    # hundreds on a loaded machine; probed again alone, it connects
    loses_one_of_a_matrix: bool = False


class FakeNetpolContext:
    def __init__(
        self,
        plane: FakeDataPlane | None = None,
        capabilities: Capabilities | None = None,
        lanes: int = NETPOL_LANES,
        clock: Clock = monotonic,  # the NetworkPolicy runner's
    ) -> None:
        self.plane = plane or FakeDataPlane()
        self._capabilities = capabilities or Capabilities(
            frozenset(
                {"networkpolicy", "cluster-network-policy", "cluster-network-policy-experimental"}
            )
        )
        self._ids = itertools.count()
        self.spec = WorkloadSpec(
            "r1", ("n0", "n1", "n2"), "probe:1", "10.96.0.10", netpol_lanes=lanes
        )
        self.params = KubernetesScenario(
            netpol_deadline_s=0.3, poll_interval_s=0.01, converge_deadline_s=0.3
        )
        self.run_state = KubeRunState.for_spec(self.spec, clock)
        self.ns_labels: dict[str, dict[str, str]] = {}
        self.pod_labels: dict[str, dict[str, str]] = {}
        self.endpoints: dict[str, PodEndpoint] = {}
        self.policies: dict[tuple[str, str], dict[str, Any]] = {}
        self.effective: dict[tuple[str, str], dict[str, Any]] = {}
        self.pending = 0
        self.lock = threading.RLock()  # cases in several lanes call at once
        self.observations = 0
        self.in_flight = self.most_in_flight = 0  # observations under way at once
        self.changed_at = 0.0
        self.labels_changed_at = 0.0
        self.info: dict[str, Any] = {}
        self.facts = UNKNOWN_CNI
        self.api_calls: list[str] = []
        ips = (f"10.244.{a}.{b}" for a, b in itertools.product(range(1, 4), range(10, 20)))
        for obj in netpol_objects(self.spec):
            meta = obj["metadata"]
            if obj["kind"] == "Namespace":
                self.ns_labels[meta["name"]] = {
                    **meta["labels"],
                    "kubernetes.io/metadata.name": meta["name"],
                }
            elif obj["kind"] == "Pod":
                key = f"{meta['namespace']}/{meta['name']}"
                self.pod_labels[key] = dict(meta["labels"])
                self.endpoints[key] = PodEndpoint(
                    meta["namespace"],
                    meta["name"],
                    "serve-80",
                    next(ips),
                    obj["spec"]["nodeSelector"]["kubernetes.io/hostname"],
                )

        self.effective_labels = copy.deepcopy((self.ns_labels, self.pod_labels))

    # --- RunContext -----------------------------------------------------------------
    def plan_checks(self, check_ids: Sequence[str]) -> None:
        self.run_state.planned = tuple(check_ids)

    def close(self) -> None:
        self.run_state.close()

    # --- KubeCheckContext -----------------------------------------------------------
    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    def platform_info(self) -> dict[str, Any]:
        return dict(self.info)

    def pods(self, role: str) -> list[PodEndpoint]:
        return list(self.endpoints.values()) if role == "netpol" else []

    def pod(self, namespace: str, name: str) -> PodEndpoint:
        return self.endpoints[f"{namespace}/{name}"]

    def probe(self, kind: ProbeKind, target: str, **kw: Any) -> Probe:
        probe = make_probe(kind, target, 0.1, **kw)
        return replace(probe, id=f"{kind}-{target}-{probe.port}-{next(self._ids)}")  # stable

    def _changed(self) -> None:
        self.pending = self.plane.delay_observations
        self.changed_at = time.monotonic()

    @_locked
    def apply_policy(self, manifest: Mapping[str, Any]) -> None:
        parse_manifest(manifest)  # what the API server would reject, the fake rejects
        namespace = manifest["metadata"].get("namespace", "")  # "": cluster-scoped
        if namespace:
            self._own(namespace)
        else:  # a run's cluster-scoped policy must be findable by its lane's label
            assert CLUSTER_POLICY_OWNER in manifest["metadata"]["labels"], manifest
        self.api_calls.append(f"apply {namespace}/{manifest['metadata']['name']}")
        self.policies[(namespace, manifest["metadata"]["name"])] = copy.deepcopy(dict(manifest))
        self._changed()

    @_locked
    def delete_cluster_policies(self, label_selector: str) -> int:
        key, _, value = label_selector.partition("=")
        self.api_calls.append(f"delete-cluster {value}")  # the lane's own label value
        doomed = [
            k
            for k, doc in self.policies.items()
            if not k[0] and doc["metadata"]["labels"].get(key) == value
        ]
        for k in doomed:
            del self.policies[k]
        self._changed()
        return len(doomed)

    @_locked
    def delete_policy(self, namespace: str, name: str) -> None:
        self.api_calls.append(f"delete {namespace}/{name}")
        self.policies.pop((namespace, name), None)
        self._changed()

    @_locked
    def delete_all_policies(self, namespace: str) -> None:
        self.api_calls.append(f"delete-all {namespace}")
        for key in [k for k in self.policies if k[0] == namespace]:
            del self.policies[key]
        self._changed()

    @_locked
    def set_namespace_labels(self, name: str, labels: Mapping[str, str]) -> None:
        self._own(name)
        self.ns_labels[name] = {**labels, "kubernetes.io/metadata.name": name}
        self._changed()
        self.labels_changed_at = time.monotonic()

    @_locked
    def set_pod_labels(self, namespace: str, name: str, labels: Mapping[str, str]) -> None:
        self._own(namespace)
        # the real context finds the run's pods by the run's labels: without them, lost
        lost = sorted({MANAGED_BY, RUN_LABEL, ROLE_LABEL} - set(labels))
        if lost:
            raise AssertionError(f"relabelling {namespace}/{name} dropped the run's {lost}")
        self.pod_labels[f"{namespace}/{name}"] = dict(labels)
        self._changed()
        self.labels_changed_at = time.monotonic()

    def cluster_dns(self) -> ClusterDns:
        return ClusterDns(DNS_POD.ip, dict(DNS_POD.labels), dict(DNS_NAMESPACE_LABELS))

    def _own(self, namespace: str) -> None:
        # A run touches only what it made: kube-system (and any other) is the cluster's.
        if namespace not in self.ns_labels:
            raise AssertionError(f"the run changed namespace {namespace}, which it did not make")

    def run_many(
        self, batches: Mapping[PodEndpoint, Sequence[Probe]]
    ) -> dict[PodEndpoint, list[ProbeResult]]:
        with self.lock:  # the data plane as it is when the observation begins
            self.observations += 1
            began = time.monotonic()
            if self.pending > 0:
                self.pending -= 1
            elif began - self.changed_at >= self.plane.effect_after_s:
                self.effective = copy.deepcopy(self.policies)
            if began - self.labels_changed_at >= self.plane.label_effect_after_s:
                self.effective_labels = copy.deepcopy((self.ns_labels, self.pod_labels))
            ns_labels, pod_labels = self.effective_labels
            cluster = Cluster(
                (
                    *(Namespace(n, labels) for n, labels in ns_labels.items()),
                    Namespace("kube-system", DNS_NAMESPACE_LABELS),
                ),
                (
                    *(
                        Pod(e.namespace, e.name, pod_labels[k], e.ip, PORTS)
                        for k, e in self.endpoints.items()
                    ),
                    DNS_POD,
                ),
            )
            docs = list(self.effective.values()) if self.plane.enforce else []
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        time.sleep(self.plane.observation_s)
        with self.lock:
            self.in_flight -= 1
        if self.plane.ignore_egress:
            docs = [self._without_egress(d) for d in docs]
        oracle = Oracle(cluster, [parse_manifest(d) for d in docs], self.plane.profile)
        by_ip = {e.ip: e.key for e in self.endpoints.values()} | {DNS_POD.ip: DNS_POD.key}
        out = {}
        lose_one = self.plane.loses_one_of_a_matrix and sum(map(len, batches.values())) > 3
        for src, probes in batches.items():
            results = []
            for p in probes:
                if p.kind == ProbeKind.DNS:  # a query to the DNS pod over its transport
                    dst = by_ip[p.params["server"]]
                    protocol = Protocol(str(p.params["transport"]).upper())
                    assert p.target.endswith(".svc.cluster.local"), p.target
                else:
                    dst, protocol = by_ip[p.target], Protocol(str(p.kind).upper())
                verdict = oracle.verdict(NetpolProbe(src.key, dst, p.port or 0, protocol))
                ok = verdict.allowed
                if ok and lose_one and dst != src.key:  # a pod to itself is not compared
                    ok, lose_one = False, False
                argv = reproducer(["kubectl", "exec", "-n", src.namespace, src.name, "--"])(p)
                if not ok and self.plane.crash_on_deny:
                    results.append(did_not_run(p, "no result: agent: Killed", argv))
                    continue
                success = (
                    Connectivity.ANSWERED if p.kind == ProbeKind.DNS else Connectivity.CONNECTED
                )
                results.append(
                    ProbeResult(
                        p.id,
                        str(p.kind),
                        p.target,
                        ok,
                        None if ok else "timeout",
                        1.0,
                        {"peer": dst} if ok else {},
                        outcome=success if ok else Connectivity.TIMEOUT,
                        reproduce=argv,
                    )
                )
            out[src] = results
        return out

    @staticmethod
    def _without_egress(doc: Mapping[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(dict(doc))
        if manifest_kind(out) != "NetworkPolicy":
            return out
        types = [t for t in out["spec"].get("policyTypes", []) if t != "Egress"] or ["Ingress"]
        out["spec"]["policyTypes"] = types
        out["spec"].pop("egress", None)
        return out

    # unused by netpol checks
    def service_ip(self, namespace: str, name: str) -> str:
        raise NotImplementedError

    def node_port(self, namespace: str, name: str) -> int:
        raise NotImplementedError

    def node_addresses(self) -> dict[str, str]:
        return {}
