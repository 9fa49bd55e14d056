"""A scripted Kubernetes cluster for the reachability, DNS and MTU checks: the run's pods and
Services with fixed addresses, and a data plane answering every probe the way a conformant
cluster does (`Conformant`), which a test overrides cell by cell to inject one fault.

Used by the check unit tests and by the golden report fixtures (tests/report/data)."""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from tests.dns_series import series_values
from tests.swarm.perf_plane import PERF_KINDS, PerfPlane

from netconform.catalog.scenario import KubernetesScenario
from netconform.core import Capabilities
from netconform.k8s.context import make_probe
from netconform.k8s.facts import CniFacts
from netconform.k8s.kube import PodEndpoint
from netconform.k8s.run_state import KubeRunState
from netconform.k8s.workloads import (
    AFFINITY_SERVICE,
    DNS_BACKENDS,
    DNS_EXTERNAL_NAME,
    MESH_HOST_ROLE,
    MESH_ROLE,
    NODE_INDEX_LABEL,
    ROLE_LABEL,
    SLOT_LABEL,
    WorkloadSpec,
    dns_custom_search,
    mesh_pod_name,
    probe_service_name,
)
from netconform.probes.agent import SERVER_TCP_PORT
from netconform.probes.executors import reproducer
from netconform.probes.model import Connectivity, Probe, ProbeResult

# (ok, error, values) as the agent reports them; the outcome follows (scripted_outcome).
Reply = tuple[bool, str | None, dict[str, Any]]
Answer = Callable[[PodEndpoint, Probe], Reply]
SPEC = WorkloadSpec("r1", ("n0", "n1", "n2"), "probe:1", "10.96.0.10")
ZONE = "cluster.local"
NODE_MTU, OVERHEAD = 1500, 50
NODE_PORT = 30080
CONNECTION_KINDS = {"tcp", "udp", "icmp", "transfer"}


def _pod(ns: str, name: str, ip: str, node: str, **labels: str) -> PodEndpoint:
    return PodEndpoint(ns, name, "agent", ip, node, tuple(sorted(labels.items())))


def scripted_outcome(p: Probe, ok: bool, error: str | None) -> Connectivity:
    """The outcome the agent would classify for a scripted reply: success by kind, else the
    scripted error when it names an outcome (timeout, emsgsize, no-reply, failed, ...)."""
    if ok:
        return Connectivity.CONNECTED if str(p.kind) in CONNECTION_KINDS else Connectivity.ANSWERED
    if error and error.startswith("no result"):
        return Connectivity.FAILED
    if str(p.kind) == "dns" and error not in {"timeout", "failed"}:
        return Connectivity.ANSWERED  # a negative answer (nxdomain, servfail)
    if error == "connected but no reply":
        return Connectivity.NO_REPLY
    try:
        return Connectivity(error)
    except ValueError:
        return Connectivity.ERROR


class ScriptedContext:
    """KubeCheckContext over fixed pods and Services; `answer` decides every probe."""

    def __init__(
        self,
        answer: Answer | None = None,
        info: Mapping[str, Any] | None = None,
        capabilities: Capabilities | None = None,
        facts: CniFacts | None = None,
    ):
        self.spec = SPEC
        self.params = KubernetesScenario(
            converge_deadline_s=0.05, poll_interval_s=0.01, probe_timeout_s=0.01
        )
        self.run_state = KubeRunState.for_spec(SPEC)
        self.info = dict(info or {})
        self.facts = facts or CniFacts(overhead_bytes=OVERHEAD)
        self.all = self._pods()
        self.services = self._services()
        self.answer: Answer = answer or Conformant(self)
        self._capabilities = capabilities or Capabilities(
            frozenset({"nodeport", "hostnetwork", "icmp", "host-port"})
        )
        self._ids = itertools.count()

    @staticmethod
    def _pods() -> list[PodEndpoint]:
        pods = []
        probe_ns, ns = SPEC.probe_namespace, SPEC.dns_namespace
        for i, node in enumerate(SPEC.nodes):
            for s, slot in enumerate("ab"):
                labels = {ROLE_LABEL: "probe", NODE_INDEX_LABEL: str(i), SLOT_LABEL: slot}
                pods.append(
                    _pod(probe_ns, f"probe-{i}-{slot}", f"10.244.{i}.{10 + s}", node, **labels)
                )
            host = {ROLE_LABEL: "host", NODE_INDEX_LABEL: str(i)}
            pods.append(_pod(probe_ns, f"host-{i}", f"172.18.0.{2 + i}", node, **host))
            for role, ip in ((MESH_ROLE, f"10.244.{i}.30"), (MESH_HOST_ROLE, f"172.18.0.{2 + i}")):
                mesh = {ROLE_LABEL: role, NODE_INDEX_LABEL: str(i)}
                pods.append(_pod(probe_ns, mesh_pod_name(i, role), ip, node, **mesh))
        backend = {ROLE_LABEL: "dns-backend", "app": "dns-backend"}
        pods += [
            _pod(ns, f"dns-backend-{i}", f"10.244.{i}.20", SPEC.nodes[i], **backend)
            for i in range(DNS_BACKENDS)
        ]
        pods += [
            _pod(ns, "dns-client", "10.244.2.20", "n2", **{ROLE_LABEL: "dns-client"}),
            _pod(ns, "dns-custom", "10.244.0.21", "n0", **{ROLE_LABEL: "dns-custom"}),
        ]
        return pods

    @staticmethod
    def _services() -> dict[str, str]:
        names = [probe_service_name(i, s) for i in range(len(SPEC.nodes)) for s in "ab"]
        ips = {name: f"10.96.1.{10 + k}" for k, name in enumerate(names)}
        return {
            **ips,
            "nodeport": "10.96.2.10",
            AFFINITY_SERVICE: "10.96.2.11",
            "dns-svc": "10.96.5.5",
            "dns-headless": "None",
        }

    # --- KubeCheckContext ------------------------------------------------------------
    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    def platform_info(self) -> dict[str, Any]:
        return dict(self.info)

    def pods(self, role: str) -> list[PodEndpoint]:
        return [p for p in self.all if p.label(ROLE_LABEL) == role]

    def pod(self, namespace: str, name: str) -> PodEndpoint:
        return next(p for p in self.all if p.namespace == namespace and p.name == name)

    def service_ip(self, namespace: str, name: str) -> str:
        return self.services[name]

    def node_port(self, namespace: str, name: str) -> int:
        return NODE_PORT

    def node_addresses(self) -> dict[str, str]:
        return {node: f"172.18.0.{2 + i}" for i, node in enumerate(SPEC.nodes)}

    def probe(self, kind: Any, target: str, **kw: Any) -> Probe:
        probe = make_probe(kind, target, self.params.probe_timeout_s, **kw)
        return replace(probe, id=f"{kind}-{target}-{probe.port}-{next(self._ids)}")  # stable

    def set_pod_labels(self, namespace: str, name: str, labels: Mapping[str, str]) -> None:
        self.all = [
            PodEndpoint(
                p.namespace, p.name, p.container, p.ip, p.node, tuple(sorted(labels.items()))
            )
            if (p.namespace, p.name) == (namespace, name)
            else p
            for p in self.all
        ]

    def run_many(
        self, batches: Mapping[PodEndpoint, Sequence[Probe]]
    ) -> dict[PodEndpoint, list[ProbeResult]]:
        out = {}
        for src, probes in batches.items():
            out[src] = []
            for p in probes:
                ok, error, values = self.answer(src, p)
                outcome = scripted_outcome(p, ok, error)
                # the argv the real executor would record, as tests/k8s/fake_cluster makes it
                argv = reproducer(["kubectl", "exec", "-n", src.namespace, src.name, "--"])(p)
                out[src].append(
                    ProbeResult(
                        p.id,
                        str(p.kind),
                        p.target,
                        ok,
                        error,
                        1.0,
                        values,
                        outcome=outcome,
                        reproduce=argv,
                    )
                )
        return out


def did_not_run(src: PodEndpoint, p: Probe) -> Reply:
    """What parse_agent_output makes of a probe the agent never reported."""
    return False, "no result: Traceback (most recent call last): agent crashed", {}


class Conformant:
    """The answers of a conformant cluster: pods and Services reachable (a ClusterIP spreads
    over its backends), DNS per the specification, pod MTU = node MTU - 50."""

    def __init__(self, ctx: ScriptedContext) -> None:
        self.ctx = ctx
        self._turn = itertools.count()
        self.perf = PerfPlane()

    @property
    def overhead(self) -> int:
        return self.ctx.facts.overhead_bytes or 0

    def __call__(self, src: PodEndpoint, p: Probe) -> Reply:
        if str(p.kind) in PERF_KINDS:
            return self._perf(src, p)
        handler = getattr(self, "_" + str(p.kind).replace("-", "_"))
        reply: Reply = handler(src, p)
        return reply

    # --- connections -------------------------------------------------------------------
    def _backends(self, target: str, port: int | None) -> list[PodEndpoint]:
        ctx, probe_ns = self.ctx, SPEC.probe_namespace
        by_ip = [p for p in ctx.all if p.ip == target]
        if by_ip:
            return by_ip
        addresses = ctx.node_addresses()
        by_node_port = target in addresses.values() and port == NODE_PORT
        if by_node_port or target == ctx.services["nodeport"]:
            return [p for p in ctx.all if p.label(SLOT_LABEL) == "a"]
        for name, ip in ctx.services.items():
            if ip == target and name.startswith("svc-"):
                _, i, slot = name.split("-")
                return [ctx.pod(probe_ns, f"probe-{i}-{slot}")]
        if target == ctx.services["dns-svc"]:
            return [p for p in ctx.all if p.label("app") == "dns-backend"]
        return []

    def _tcp(self, src: PodEndpoint, p: Probe) -> Reply:
        if p.target.startswith("kubernetes.default"):
            return False, "connected but no reply", {"connected": True}  # TLS says nothing
        if p.target == self.ctx.services[AFFINITY_SERVICE]:  # ClientIP: one backend per client
            sticky = [q for q in self.ctx.all if q.label(SLOT_LABEL) == "a"]
            return True, None, {"peer": sticky[sum(map(ord, src.ip)) % len(sticky)].name}
        backends = self._backends(p.target, p.port)
        if not backends:
            return False, "timeout", {}
        return True, None, {"peer": backends[next(self._turn) % len(backends)].name}

    _udp = _tcp

    def _icmp(self, src: PodEndpoint, p: Probe) -> Reply:
        size = int(p.params.get("size", 56))
        limit = NODE_MTU - self.overhead - 28
        if p.params.get("df") and size > limit:
            return False, "emsgsize", {"size": size}
        return (
            True,
            None,
            {"size": size, "output": f"{size + 8} bytes from {p.target}: time=0.1 ms"},
        )

    def _sized(self, p: Probe, headers: int) -> Reply:
        """A DF size probe (udp-df, tcp-mss): whole up to the pod MTU, refused over it with
        the path's figure named as the agent names it."""
        size, mtu = int(p.params["size"]), NODE_MTU - self.overhead
        if size + headers <= mtu:
            return True, None, {"size": size, "peer": "somebody"}
        named = {"path_mtu": mtu} if headers == 28 else {"mss_after": mtu - 40}
        return False, "emsgsize", {"size": size, **named}

    def _udp_df(self, src: PodEndpoint, p: Probe) -> Reply:
        return self._sized(p, 28)  # IPv4 20 + UDP 8

    def _tcp_mss(self, src: PodEndpoint, p: Probe) -> Reply:
        return self._sized(p, 40)  # IPv4 20 + TCP 20

    def _transfer(self, src: PodEndpoint, p: Probe) -> Reply:
        n = int(p.params["bytes"])
        return True, None, {"bytes": n, "requested": n, "seconds": 0.2, "mbit_s": n * 40 / 1e6}

    def _perf(self, src: PodEndpoint, p: Probe) -> Reply:
        if p.target == "127.0.0.1" or src.label(ROLE_LABEL) == "host":
            path = "loopback" if p.target == "127.0.0.1" else "host"
        elif any(ip == p.target for ip in self.ctx.services.values()):
            path = "service"
        else:
            backends = self._backends(p.target, p.port)
            if str(p.kind) in {"iperf3", "rr", "crr"} and not backends:
                return False, "timeout", {}
            path = "same-host" if backends and backends[0].node == src.node else "overlay"
        return True, None, self.perf.values(str(p.kind), p.params, path, src.key)

    # --- the endpoint's own view ---------------------------------------------------------
    def _interfaces(self, src: PodEndpoint, p: Probe) -> Reply:
        mtu = NODE_MTU if src.label(ROLE_LABEL) == "host" else NODE_MTU - self.overhead
        return True, None, {"interfaces": {"lo": {"mtu": 65536}, "eth0": {"mtu": mtu}}}

    def _routes(self, src: PodEndpoint, p: Probe) -> Reply:
        default = {"iface": "eth0", "dst": "0.0.0.0", "mask": "0.0.0.0", "gateway": "10.244.0.1"}
        return True, None, {"routes": [default], "has_default": True}

    def _read(self, src: PodEndpoint, p: Probe) -> Reply:
        ns = SPEC.dns_namespace
        if src.name == "dns-custom":
            search = f"{dns_custom_search(ZONE)} {ns}.svc.{ZONE}"
            options = "ndots:2 edns0"
        else:
            search = f"{src.namespace}.svc.{ZONE} svc.{ZONE} {ZONE}"
            options = "ndots:5"
        conf = f"search {search}\nnameserver {SPEC.cluster_dns_ip}\noptions {options}\n"
        return True, None, {"content": conf}

    # --- DNS ----------------------------------------------------------------------------
    def _dns_latency(self, src: PodEndpoint, p: Probe) -> Reply:
        ok, error, _ = self._dns(src, p)
        if not ok:
            return False, error or "timeout", {"samples_ms": [], "failed": p.params["samples"]}
        return True, None, series_values(p)

    def records(self, name: str, qtype: str) -> list[dict[str, Any]] | None:
        """The records of a fully qualified name (None: NXDOMAIN)."""
        ctx, ns = self.ctx, SPEC.dns_namespace
        name = name.rstrip(".").lower()
        zone = f"{ns}.svc.{ZONE}"
        backends = [p for p in ctx.all if p.label("app") == "dns-backend"]
        names: dict[str, dict[str, list[str]]] = {
            f"dns-svc.{zone}": {"A": [ctx.services["dns-svc"]]},
            f"dns-headless.{zone}": {"A": [b.ip for b in backends]},
            f"dns-external.{zone}": {"CNAME": [f"{DNS_EXTERNAL_NAME}."]},
            f"_http._tcp.dns-svc.{zone}": {"SRV": [f"0 100 80 dns-svc.{zone}."]},
            f"_echo._udp.dns-svc.{zone}": {"SRV": [f"0 100 81 dns-svc.{zone}."]},
            f"_http._tcp.dns-headless.{zone}": {
                "SRV": [
                    f"0 {100 // len(backends)} 8080 {b.name}.dns-headless.{zone}." for b in backends
                ]
            },
            ipaddress.ip_address(ctx.services["dns-svc"]).reverse_pointer: {
                "PTR": [f"dns-svc.{zone}."]
            },
        }
        names[f"kubernetes.default.svc.{ZONE}"] = {"A": ["10.96.0.1"]}
        for b in backends:
            names[f"{b.name}.dns-headless.{zone}"] = {"A": [b.ip]}
        for svc, ip in ctx.services.items():
            if svc.startswith("svc-") or svc == "nodeport":
                names[f"{svc}.{SPEC.probe_namespace}.svc.{ZONE}"] = {"A": [ip]}
        if name not in names:
            return None
        return [{"type": qtype, "value": v, "ttl": 30} for v in names[name].get(qtype, [])]

    @staticmethod
    def _in_cluster(name: str) -> bool:
        """CoreDNS answers the cluster domain and reverse zones itself; any other name it
        forwards to the machine's upstream resolver."""
        name = name.rstrip(".").lower()
        return name.endswith((f".{ZONE}", ".in-addr.arpa", ".ip6.arpa"))

    def _search_list(self, src: PodEndpoint) -> list[str]:
        if src.name == "dns-custom":
            return [dns_custom_search(ZONE), f"{SPEC.dns_namespace}.svc.{ZONE}"]
        return [f"{src.namespace}.svc.{ZONE}", f"svc.{ZONE}", ZONE]

    def _dns(self, src: PodEndpoint, p: Probe) -> Reply:
        qtype = str(p.params.get("qtype", "A"))
        tcp = p.params.get("transport") == "tcp"
        if p.params.get("search"):
            # the search list, then the name as it is (ndots not met), as a stub resolver does
            for candidate in [*(f"{p.target}.{s}" for s in self._search_list(src)), p.target]:
                if tcp and not self._in_cluster(candidate):
                    return UPSTREAM_OVER_TCP
                found = self.records(candidate, qtype)
                if found is not None:
                    return True, None, {"rcode": "NOERROR", "answers": [r["value"] for r in found]}
            return False, "nxdomain", {"rcode": "NXDOMAIN", "answers": []}
        if tcp and not self._in_cluster(p.target):
            return UPSTREAM_OVER_TCP
        found = self.records(p.target, qtype)
        if found is None:
            return False, "nxdomain", {"rcode": "NXDOMAIN", "answers": []}
        return True, None, {"rcode": "NOERROR", "answers": found}


# CoreDNS forwarding a TCP query outside the cluster domain to an upstream that, like the
# resolver of the machine this was first run on, answers UDP only: the lookup times out.
# Checks of cluster DNS must not depend on it.
UPSTREAM_OVER_TCP: Reply = (False, "timeout", {})


def override(ctx: ScriptedContext, fault: Callable[[PodEndpoint, Probe], Reply | None]) -> None:
    """Answer as before, except where `fault` returns a reply of its own."""
    healthy = ctx.answer

    def answer(src: PodEndpoint, p: Probe) -> Reply:
        return fault(src, p) or healthy(src, p)

    ctx.answer = answer


__all__ = ["SERVER_TCP_PORT", "Conformant", "ScriptedContext", "did_not_run", "override"]
