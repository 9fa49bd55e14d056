"""Every object a run creates in a cluster, rendered as plain manifests: the probe pods
spread over the nodes with their Services, hostNetwork clients, the NetworkPolicy model
(namespaces x, y, z x pods a, b, c) and the DNS model. All of it lives in namespaces named
and labelled with the run id, so a run removes exactly what it made."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from netconform.k8s.manifests import Manifest
from netconform.netpol.catalogue import NAMESPACES, POD_NAMES, port_name
from netconform.netpol.model import Protocol
from netconform.probes.agent import IPERF3_PORT, SERVER_TCP_PORT, SERVER_UDP_PORT
from netconform.probes.executors import serve_command

MANAGED_BY = "app.kubernetes.io/managed-by"
RUN_LABEL = "netconform.io/run"
ROLE_LABEL = "netconform.io/role"
ENDPOINT_LABEL = "netconform.io/endpoint"
NODE_INDEX_LABEL = "netconform.io/node-index"
SLOT_LABEL = "netconform.io/slot"
# On every namespace of a `cluster` run, set when it is created and never changed after: the
# mark the admission policy and `netconform cluster cleanup` go by (a NetworkPolicy case may
# replace a namespace's labels, never its annotations), and who made it (host/pid/start).
RUN_ANNOTATION = "netconform.io/run"
OWNER_ANNOTATION = "netconform.io/owner"
NAMESPACE_PREFIX = "nc-"
NETPOL_PORTS = (80, 81)
NETPOL_PROTOCOLS = (Protocol.TCP, Protocol.UDP)  # SCTP: the agent has no SCTP probe yet
# Copies of the NetworkPolicy model, each in namespaces of its own, so cases run side by
# side: a policy selects pods of its own namespace only, and a case probes only its lane's
# pods, so no lane's policies can change another lane's cells. A round of probes costs its
# slowest (denied) probe; lanes wait for those at the same time.
NETPOL_LANES = 3
PROBE_SLOTS = ("a", "b")  # two probe pods per node: same-node pairs and local backends
DNS_BACKENDS = 2
# hostPort (checks/k8s_services.py): on each of the first HOSTPORT_NODES nodes, one pod
# publishes the run's hostPort over TCP and another the same number over UDP, so the pair is
# also the upstream "no conflict" case (same hostPort, other protocol, both answer). The
# number is the run's own in HOSTPORT_BASE..+HOSTPORT_SPAN: two runs on one cluster (a kept
# one, another host's) would otherwise hold each other's pods Pending on the port.
HOSTPORT_BASE, HOSTPORT_SPAN = 18000, 1000
# The node-pair mesh (k8s/mesh.py): on every mesh node a pod-network agent and a hostNetwork
# agent; the latter serves TCP and UDP on the run's own port in MESH_HOST_PORT_BASE..+SPAN.
MESH_HOST_PORT_BASE = 19000
MESH_ROLE, MESH_HOST_ROLE = "mesh", "mesh-host"
HOSTPORT_NODES = 2
HOSTPORT_PROTOCOLS = ("TCP", "UDP")
# Service session affinity: a ClientIP Service over the probe pods of slot `a`.
AFFINITY_SERVICE = "affinity"
# Service programming latency: LATENCY_LANES pods, each the only possible backend of its own
# Service, which selects it only while it carries IN_SERVICE_LABEL (the check toggles it).
LATENCY_LANES = 2
IN_SERVICE_LABEL = "netconform.io/in-service"
DNS_EXTERNAL_NAME = "dns-target.example.com"
# The first search domain of the dnsPolicy None pod: inside the cluster domain (a namespace
# that does not exist), so CoreDNS answers NXDOMAIN itself and the lookup moves on to the
# next domain; a domain outside it would send the query to the machine's upstream resolver,
# which this check does not test (and which may not serve TCP at all).
DNS_CUSTOM_SEARCH_NAMESPACE = "netconform-custom-search"


def dns_custom_search(cluster_domain: str) -> str:
    return f"{DNS_CUSTOM_SEARCH_NAMESPACE}.svc.{cluster_domain}"


CONTROL_PLANE_TOLERATION = {
    "key": "node-role.kubernetes.io/control-plane",
    "operator": "Exists",
    "effect": "NoSchedule",
}


@dataclass(frozen=True)
class WorkloadSpec:
    """What the workloads depend on; everything else is fixed by this module."""

    run_id: str
    nodes: tuple[str, ...]  # the kubernetes.io/hostname of each node used, in order
    image: str
    cluster_dns_ip: str
    cluster_domain: str = "cluster.local"
    image_pull_policy: str = "IfNotPresent"
    netpol_lanes: int = NETPOL_LANES
    # the node-pair mesh's nodes (every node up to a limit, or a sample); () is `nodes`
    mesh_nodes: tuple[str, ...] = ()

    @property
    def hostport(self) -> int:
        return HOSTPORT_BASE + zlib.crc32(self.run_id.encode()) % HOSTPORT_SPAN

    @property
    def mesh_host_port(self) -> int:
        return MESH_HOST_PORT_BASE + zlib.crc32(self.run_id.encode()) % HOSTPORT_SPAN

    @property
    def mesh(self) -> tuple[str, ...]:
        return self.mesh_nodes or self.nodes

    def labels(self, **extra: str) -> dict[str, str]:
        return {MANAGED_BY: "netconform", RUN_LABEL: self.run_id, **extra}

    @property
    def probe_namespace(self) -> str:
        return f"{NAMESPACE_PREFIX}{self.run_id}-probe"

    @property
    def dns_namespace(self) -> str:
        return f"{NAMESPACE_PREFIX}{self.run_id}-dns"

    def netpol_namespace(self, logical: str, lane: int = 0) -> str:
        """nc-<run>-x for lane 0, nc-<run>-x1, nc-<run>-x2 ... for the others."""
        return f"{NAMESPACE_PREFIX}{self.run_id}-{logical}{lane or ''}"

    def netpol_namespaces(self, lane: int = 0) -> dict[str, str]:
        """Logical name (x, y, z) -> the run's real namespace name in that lane."""
        return {ns: self.netpol_namespace(ns, lane) for ns in NAMESPACES}

    def namespaces(self) -> list[str]:
        lanes = [
            n for lane in range(self.netpol_lanes) for n in self.netpol_namespaces(lane).values()
        ]
        return [self.probe_namespace, self.dns_namespace, *lanes]

    def netpol_pod_node(self, logical_ns: str, pod: str, lane: int = 0) -> str:
        """Round-robin over the nodes, so every policy case crosses nodes (each lane starts
        one node further on)."""
        index = NAMESPACES.index(logical_ns) * len(POD_NAMES) + POD_NAMES.index(pod) + lane
        return self.nodes[index % len(self.nodes)]


def probe_pod_name(node_index: int, slot: str) -> str:
    return f"probe-{node_index}-{slot}"


def probe_service_name(node_index: int, slot: str) -> str:
    return f"svc-{node_index}-{slot}"


def host_pod_name(node_index: int) -> str:
    return f"host-{node_index}"


def hostport_pod_name(node_index: int, protocol: str) -> str:
    return f"hostport-{node_index}-{protocol.lower()}"


def latency_name(lane: int) -> str:
    """The latency lane's pod and its Service (one name for both)."""
    return f"latency-{lane}"


def _namespace(spec: WorkloadSpec, name: str, **extra: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": spec.labels(**extra)},
    }


def _port(number: int, protocol: str, name: str = "") -> dict[str, Any]:
    port: dict[str, Any] = {"containerPort": number, "protocol": protocol}
    if name:
        port["name"] = name
    return port


def _container(
    spec: WorkloadSpec, name: str, command: Sequence[str], ports: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": name,
        "image": spec.image,
        "imagePullPolicy": spec.image_pull_policy,
        "command": list(command),
    }
    if ports:
        container["ports"] = list(ports)
        tcp = next(p["containerPort"] for p in ports if p["protocol"] == "TCP")
        container["readinessProbe"] = {
            "tcpSocket": {"port": tcp},
            "periodSeconds": 2,
            "timeoutSeconds": 1,
        }
    return container


def _pod(
    spec: WorkloadSpec,
    namespace: str,
    name: str,
    labels: dict[str, str],
    node: str,
    containers: list[dict[str, Any]],
    **pod_spec: Any,
) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "nodeSelector": {"kubernetes.io/hostname": node},
            "tolerations": [CONTROL_PLANE_TOLERATION],
            "terminationGracePeriodSeconds": 1,
            "containers": containers,
            **pod_spec,
        },
    }


def _server(spec: WorkloadSpec, name: str, tcp: int, udp: int, named: bool = False) -> Any:
    ports = [
        _port(tcp, "TCP", port_name(tcp, Protocol.TCP) if named else "tcp"),
        _port(udp, "UDP", port_name(udp, Protocol.UDP) if named else "udp"),
    ]
    return _container(spec, name, serve_command(tcp, udp), ports)


def _service(
    spec: WorkloadSpec,
    namespace: str,
    name: str,
    selector: dict[str, str],
    ports: list[dict[str, Any]],
    **service_spec: Any,
) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": spec.labels()},
        "spec": {"selector": selector, "ports": ports, **service_spec},
    }


def _service_port(name: str, port: int, target: int, protocol: str) -> dict[str, Any]:
    return {"name": name, "port": port, "targetPort": target, "protocol": protocol}


def _hostport_pod(spec: WorkloadSpec, node_index: int, protocol: str) -> Manifest:
    """An agent whose `protocol` port is published on its node as the run's hostPort (the other port
    stays unpublished: the readiness probe needs the TCP one either way)."""
    name = hostport_pod_name(node_index, protocol)
    ports = [_port(SERVER_TCP_PORT, "TCP", "tcp"), _port(SERVER_UDP_PORT, "UDP", "udp")]
    for port in ports:
        if port["protocol"] == protocol:
            port["hostPort"] = spec.hostport
    labels = spec.labels(
        **{ROLE_LABEL: "hostport", ENDPOINT_LABEL: name, NODE_INDEX_LABEL: str(node_index)}
    )
    server = _container(spec, "agent", serve_command(SERVER_TCP_PORT, SERVER_UDP_PORT), ports)
    return _pod(spec, spec.probe_namespace, name, labels, spec.nodes[node_index], [server])


def service_objects(spec: WorkloadSpec) -> list[Manifest]:
    """The Services area's objects (checks/k8s_services.py), in the probe namespace: the
    hostPort pods, a ClientIP-affinity Service over the `a` probe pods, and the latency
    lanes (a pod on node lane+1, outside its Service until the check labels it in)."""
    ns = spec.probe_namespace
    objects = [
        _hostport_pod(spec, i, protocol)
        for i in range(min(HOSTPORT_NODES, len(spec.nodes)))
        for protocol in HOSTPORT_PROTOCOLS
    ]
    tcp = [_service_port("tcp", SERVER_TCP_PORT, SERVER_TCP_PORT, "TCP")]
    objects.append(
        _service(
            spec,
            ns,
            AFFINITY_SERVICE,
            {ROLE_LABEL: "probe", SLOT_LABEL: "a"},
            tcp,
            sessionAffinity="ClientIP",
        )
    )
    for lane in range(LATENCY_LANES):
        name = latency_name(lane)
        labels = spec.labels(**{ROLE_LABEL: "latency", ENDPOINT_LABEL: name})
        node = spec.nodes[(lane + 1) % len(spec.nodes)]
        server = _server(spec, "agent", SERVER_TCP_PORT, SERVER_UDP_PORT)
        objects.append(_pod(spec, ns, name, labels, node, [server]))
        selector = {ENDPOINT_LABEL: name, IN_SERVICE_LABEL: "true"}
        objects.append(_service(spec, ns, name, selector, tcp))
    return objects


def probe_objects(spec: WorkloadSpec) -> list[Manifest]:
    """Two probe pods per node, a ClusterIP Service per probe pod, a NodePort Service over
    the `a` pods, and a hostNetwork client per node."""
    ns = spec.probe_namespace
    # hostNetwork pods need the privileged Pod Security level where it is enforced.
    objects = [_namespace(spec, ns, **{"pod-security.kubernetes.io/enforce": "privileged"})]
    service_ports = [
        _service_port("tcp", SERVER_TCP_PORT, SERVER_TCP_PORT, "TCP"),
        _service_port("udp", SERVER_UDP_PORT, SERVER_UDP_PORT, "UDP"),
        # the perf area's iperf3 through a ClusterIP (k8s.perf.tcp.clusterip)
        _service_port("iperf3", IPERF3_PORT, IPERF3_PORT, "TCP"),
    ]
    for i, node in enumerate(spec.nodes):
        for slot in PROBE_SLOTS:
            name = probe_pod_name(i, slot)
            labels = spec.labels(
                **{
                    ROLE_LABEL: "probe",
                    ENDPOINT_LABEL: name,
                    NODE_INDEX_LABEL: str(i),
                    SLOT_LABEL: slot,
                }
            )
            server = _server(spec, "agent", SERVER_TCP_PORT, SERVER_UDP_PORT)
            objects.append(_pod(spec, ns, name, labels, node, [server]))
            objects.append(
                _service(
                    spec, ns, probe_service_name(i, slot), {ENDPOINT_LABEL: name}, service_ports
                )
            )
        host_labels = spec.labels(**{ROLE_LABEL: "host", NODE_INDEX_LABEL: str(i)})
        idle = ["python3", "-c", "import time\nwhile True: time.sleep(3600)"]
        objects.append(
            _pod(
                spec,
                ns,
                host_pod_name(i),
                host_labels,
                node,
                [_container(spec, "agent", idle, [])],
                hostNetwork=True,
                dnsPolicy="ClusterFirstWithHostNet",
            )
        )
    objects.append(
        _service(
            spec,
            ns,
            "nodeport",
            {ROLE_LABEL: "probe", SLOT_LABEL: "a"},
            [_service_port("tcp", SERVER_TCP_PORT, SERVER_TCP_PORT, "TCP")],
            type="NodePort",
        )
    )
    return objects


def mesh_pod_name(node_index: int, role: str) -> str:
    return f"{role}-{node_index}"


def mesh_objects(spec: WorkloadSpec) -> list[Manifest]:
    """On every mesh node: `mesh-<i>`, an agent on the pod network, and `mesh-host-<i>`, one
    on the node's network serving the run's mesh port (in the probe namespace, which already
    admits hostNetwork pods)."""
    ns, port = spec.probe_namespace, spec.mesh_host_port
    objects = []
    for i, node in enumerate(spec.mesh):
        for role, tcp, udp, host in (
            (MESH_ROLE, SERVER_TCP_PORT, SERVER_UDP_PORT, False),
            (MESH_HOST_ROLE, port, port, True),
        ):
            labels = spec.labels(**{ROLE_LABEL: role, NODE_INDEX_LABEL: str(i)})
            extra: dict[str, Any] = {"hostNetwork": True} if host else {}
            server = _server(spec, "agent", tcp, udp)
            objects.append(_pod(spec, ns, mesh_pod_name(i, role), labels, node, [server], **extra))
    return objects


def netpol_objects(spec: WorkloadSpec) -> list[Manifest]:
    """The upstream e2e model, once per lane: pods a, b, c in x, y, z (labelled
    pod=<name>), each serving 80 and 81 over TCP and UDP on named ports, and a Service
    s-<pod> per pod."""
    objects: list[Manifest] = []
    service_ports = [
        _service_port(port_name(p, proto), p, p, str(proto))
        for p in NETPOL_PORTS
        for proto in NETPOL_PROTOCOLS
    ]
    lanes = [(lane, ns) for lane in range(spec.netpol_lanes) for ns in NAMESPACES]
    for lane, logical in lanes:
        real = spec.netpol_namespace(logical, lane)
        objects.append(_namespace(spec, real))
        for pod in POD_NAMES:
            labels = spec.labels(**{"pod": pod, ROLE_LABEL: "netpol"})
            containers = [
                _server(spec, f"serve-{port}", port, port, named=True) for port in NETPOL_PORTS
            ]
            node = spec.netpol_pod_node(logical, pod, lane)
            objects.append(_pod(spec, real, pod, labels, node, containers))
            objects.append(
                _service(
                    spec, real, f"s-{pod}", {"pod": pod, RUN_LABEL: spec.run_id}, service_ports
                )
            )
    return objects


def dns_objects(spec: WorkloadSpec) -> list[Manifest]:
    """The DNS specification's objects: a ClusterIP and a headless Service with named ports
    over two backends that set hostname + subdomain, an ExternalName Service, a client with
    the default ClusterFirst policy and one with dnsPolicy None + dnsConfig."""
    ns = spec.dns_namespace
    objects = [_namespace(spec, ns)]
    backend = {"app": "dns-backend"}
    for i in range(DNS_BACKENDS):
        name = f"dns-backend-{i}"
        labels = spec.labels(**backend, **{ROLE_LABEL: "dns-backend"})
        server = _server(spec, "agent", SERVER_TCP_PORT, SERVER_UDP_PORT)
        objects.append(
            _pod(
                spec,
                ns,
                name,
                labels,
                spec.nodes[i % len(spec.nodes)],
                [server],
                hostname=name,
                subdomain="dns-headless",
            )
        )
    named_ports = [
        _service_port("http", 80, SERVER_TCP_PORT, "TCP"),
        _service_port("echo", 81, SERVER_UDP_PORT, "UDP"),
    ]
    objects.append(_service(spec, ns, "dns-svc", backend, named_ports))
    objects.append(
        _service(
            spec,
            ns,
            "dns-headless",
            backend,
            named_ports,
            clusterIP="None",
            publishNotReadyAddresses=False,
        )
    )
    objects.append(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "dns-external", "namespace": ns, "labels": spec.labels()},
            "spec": {"type": "ExternalName", "externalName": DNS_EXTERNAL_NAME},
        }
    )
    client = _server(spec, "agent", SERVER_TCP_PORT, SERVER_UDP_PORT)
    objects.append(
        _pod(
            spec,
            ns,
            "dns-client",
            spec.labels(**{ROLE_LABEL: "dns-client"}),
            spec.nodes[-1],
            [client],
        )
    )
    custom = _server(spec, "agent", SERVER_TCP_PORT, SERVER_UDP_PORT)
    objects.append(
        _pod(
            spec,
            ns,
            "dns-custom",
            spec.labels(**{ROLE_LABEL: "dns-custom"}),
            spec.nodes[0],
            [custom],
            dnsPolicy="None",
            dnsConfig={
                "nameservers": [spec.cluster_dns_ip],
                "searches": [
                    dns_custom_search(spec.cluster_domain),
                    f"{ns}.svc.{spec.cluster_domain}",
                ],
                "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}],
            },
        )
    )
    return objects


def claimed_namespaces(spec: WorkloadSpec, owner: str) -> list[Manifest]:
    """The run's namespaces as it creates them before anything else: labelled as in
    all_objects, and annotated with the run and its owner."""
    claimed = []
    for doc in all_objects(spec):
        if doc["kind"] == "Namespace":
            annotations = {RUN_ANNOTATION: spec.run_id, OWNER_ANNOTATION: owner}
            claimed.append({**doc, "metadata": {**doc["metadata"], "annotations": annotations}})
    return claimed


def all_objects(spec: WorkloadSpec) -> list[Manifest]:
    """Namespaces first, so one `kubectl apply` of the list succeeds in order."""
    objects = [
        *probe_objects(spec),
        *mesh_objects(spec),
        *service_objects(spec),
        *dns_objects(spec),
        *netpol_objects(spec),
    ]
    return sorted(objects, key=lambda o: o["kind"] != "Namespace")
