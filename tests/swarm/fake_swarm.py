"""A scripted Swarm for the Swarm check unit tests: three nodes, the services, overlays and
standalone peers a run deploys, and a data plane answering each probe as a conformant
overlay does (isolation between overlays, libnetwork's MTUs, embedded DNS, VIP round robin,
VXLAN or ESP on the wire).

A test breaks one thing: `override` answers chosen probes (per source endpoint and probe kind
and target; None leaves the healthy answer), `wire` rewrites the underlay counters, and the
topology (`services`, `peers`, capabilities, scenario) can be edited before the check runs.
Nothing here needs Docker, netlink or root."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.dns_series import series_values

from netconform.catalog.scenario import SwarmScenario, load_swarm_scenario
from netconform.checks.base import CATALOGUE, execute
from netconform.core import Capabilities
from netconform.lab import capture
from netconform.platforms.swarm_plan import (
    BRIDGE_NETWORK,
    DNS_ANSWER,
    DNS_DOMAIN,
    DNS_OPTIONS,
    HOST_NETWORK,
    PEER,
    PROBE_ALIAS,
    PUBLISHED_PORT,
    ContainerRole,
    Endpoint,
    NetworkKey,
    ServiceKey,
    SwarmPlan,
)
from netconform.probes.executors import reproducer
from netconform.probes.model import Connectivity, Probe, ProbeKind, ProbeResult
from netconform.results import CheckResult

from .perf_plane import PERF_KINDS, PerfPlane

NODES = ("h1", "h2", "h3")
GOSSIP_PORT = 7946
HOST = "host"  # Endpoint.service of a probe source in a node's own namespace
ALL_CAPABILITIES = frozenset({"vxlan", "ipvs", "esp", "host-access", "underlay-capture"})


@dataclass(frozen=True)
class FakeNode:
    name: str
    address: str


@dataclass(frozen=True)
class Overlay:
    key: NetworkKey
    number: int  # 10.<number>.0.0/24, VNI 4096 + number
    mtu: int  # what libnetwork gives its containers (measured on the swarm lab)
    internal: bool = False
    encrypted: bool = False

    @property
    def subnet(self) -> str:
        return f"10.{self.number}.0.0/24"

    @property
    def vni(self) -> int:
        return 4096 + self.number

    def address(self, host: int) -> str:
        return f"10.{self.number}.0.{host}"


OVERLAYS = {
    o.key: o
    for o in (
        Overlay(NetworkKey.MAIN, 10, 1450),
        Overlay(NetworkKey.OTHER, 20, 1450),
        Overlay(NetworkKey.MTU, 30, 1350),  # the scenario's mtu_option 1400 - 50
        Overlay(NetworkKey.INTERNAL, 40, 1450, internal=True),
        Overlay(NetworkKey.ENCRYPTED, 50, 1424, encrypted=True),
    )
}


@dataclass(frozen=True)
class Answer:
    """What the agent reports for one probe."""

    ok: bool
    error: str | None = None
    values: Mapping[str, Any] = field(default_factory=dict)
    latency_ms: float | None = 1.0
    outcome: Connectivity | None = None  # None: the success of the probe's kind

    def outcome_of(self, probe: Probe) -> Connectivity:
        """As the agent classifies it: a success is CONNECTED for a path, ANSWERED for a
        question (DNS, read, interfaces, routes)."""
        if self.outcome is not None:
            return self.outcome
        return Connectivity.CONNECTED if probe.kind in PATH_KINDS else Connectivity.ANSWERED


PATH_KINDS = {ProbeKind.TCP, ProbeKind.UDP, ProbeKind.ICMP, ProbeKind.TRANSFER}


def answered(latency_ms: float | None = 1.0, **values: Any) -> Answer:
    return Answer(True, None, values, latency_ms)


def failed(error: str, outcome: Connectivity | None = None, **values: Any) -> Answer:
    """A probe that ran and failed: `outcome` defaults to the one the error names (timeout,
    refused, unreachable, emsgsize), else ERROR."""
    known = {str(c) for c in Connectivity}
    if outcome is None:
        outcome = Connectivity(error) if error in known else Connectivity.ERROR
    return Answer(False, error, values, 1.0, outcome)


# The agent crashed: no answer at all.
NOT_RUN = Answer(False, "no result: agent printed no result", {}, None, Connectivity.FAILED)

Override = Callable[[Endpoint, Probe], Answer | None]


def when(
    answer: Answer,
    *,
    kind: ProbeKind | None = None,
    source: str | None = None,
    target: str | None = None,
    port: int | None = None,
    **params: Any,
) -> Override:
    """Answer `answer` to the probes matching every given field (source: endpoint name,
    params: e.g. transport="tcp", qtype="AAAA", df=True); other probes are left alone."""

    def override(src: Endpoint, probe: Probe) -> Answer | None:
        matches = (
            (kind is None or probe.kind == kind)
            and (source is None or src.name == source)
            and (target is None or probe.target == target)
            and (port is None or probe.port == port)
            and all(probe.params.get(k) == v for k, v in params.items())
        )
        return answer if matches else None

    return override


def once(answer: Answer, **match: Any) -> Override:
    """Like `when`, for the first matching probe only (a path that heals)."""
    matching = when(answer, **match)
    used = False

    def override(src: Endpoint, probe: Probe) -> Answer | None:
        nonlocal used
        if used or matching(src, probe) is None:
            return None
        used = True
        return answer

    return override


def combine(*overrides: Override) -> Override:
    """The first override with an answer wins."""

    def override(src: Endpoint, probe: Probe) -> Answer | None:
        return next((a for o in overrides if (a := o(src, probe)) is not None), None)

    return override


def a_records(*ips: str) -> Answer:
    answers = [{"type": "A", "value": ip, "ttl": 600} for ip in ips]
    return answered(rcode="NOERROR", answers=answers, truncated=False)


def nxdomain() -> Answer:
    """A negative answer is still an answer."""
    return failed("nxdomain", Connectivity.ANSWERED, rcode="NXDOMAIN", answers=[])


def servfail() -> Answer:
    return failed("servfail", Connectivity.ANSWERED, rcode="SERVFAIL", answers=[])


@dataclass(frozen=True)
class Service:
    key: ServiceKey
    network: NetworkKey
    replicas: int | None = None  # None: global, one task per node
    vip: bool = True  # endpoint mode vip (False: dnsrr)


SERVICES = (
    Service(ServiceKey.PROBE, NetworkKey.MAIN),
    Service(ServiceKey.OTHER, NetworkKey.OTHER),
    Service(ServiceKey.MTU, NetworkKey.MTU),
    Service(ServiceKey.INTERNAL, NetworkKey.INTERNAL),
    Service(ServiceKey.ENCRYPTED, NetworkKey.ENCRYPTED),
    Service(ServiceKey.VIP, NetworkKey.MAIN, replicas=3),
    Service(ServiceKey.DNSRR, NetworkKey.MAIN, replicas=2, vip=False),
    Service(ServiceKey.SCALE, NetworkKey.MAIN, replicas=3),
    Service(ServiceKey.PERF, NetworkKey.MAIN, replicas=1),
    Service(ServiceKey.DNS_OPTIONS, NetworkKey.MAIN, replicas=1),
)
LOOPBACK = "127.0.0.1"
BRIDGE_SUBNET = "172.18.0."


class FakeWatch:
    """Underlay counters: every exchange seen while the watch lasts puts two frames (request
    and answer) on the wire, VXLAN with the overlay's VNI, or ESP on the encrypted one."""

    def __init__(self, rules: Mapping[str, str], wire: Callable[[dict[str, int]], dict[str, int]]):
        self.rules = dict(rules)
        self.exchanges: list[Overlay] = []
        self._wire = wire

    def read(self) -> dict[str, int]:
        counts = dict.fromkeys(self.rules, 0)
        for overlay in self.exchanges:
            carried = capture.esp() if overlay.encrypted else capture.vxlan_vni(overlay.vni)
            for name, match in self.rules.items():
                counts[name] += 2 if match == carried else 0
        return self._wire(counts)


class FakeExecutor:
    """Probes from a node's own namespace."""

    def __init__(self, ctx: FakeSwarm, source: Endpoint) -> None:
        self._ctx = ctx
        self._source = source

    def run_batch(self, probes: Sequence[Probe]) -> list[ProbeResult]:
        return self._ctx.run(self._source, probes)


class FakeSwarm:
    """A `SwarmCheckContext` over a scripted swarm."""

    def __init__(
        self,
        override: Override | None = None,
        *,
        capabilities: frozenset[str] = ALL_CAPABILITIES,
        missing: Mapping[str, str] | None = None,
        scenario: SwarmScenario | None = None,
        wire: Callable[[dict[str, int]], dict[str, int]] = lambda counts: counts,
        info: Mapping[str, Any] | None = None,
        absent: Iterable[tuple[str, str]] = (),
        converge_deadline_s: float = 0.01,
    ) -> None:
        self.override = override
        self.absent = set(absent)  # (service key or "peer", node): not running
        self.wire = wire
        # by default every expectation is met or missed on the first observation: no waits
        self.scenario = scenario or load_swarm_scenario().model_copy(
            update={"converge_deadline_s": converge_deadline_s}
        )
        self._capabilities = Capabilities(capabilities, dict(missing or {}))
        self._info = dict(info or {"underlay_mtu": 1500})
        self.plan = SwarmPlan("r1")
        self.nodes = [FakeNode(n, f"192.168.100.{11 + i}") for i, n in enumerate(NODES)]
        self.services = {s.key: s for s in SERVICES}
        self.replicas = {s.key: s.replicas for s in SERVICES if s.replicas is not None}
        self.vips = {  # each on its service's own overlay
            s.key: OVERLAYS[s.network].address(2 + i if i < 8 else 230 + i - 8)
            for i, s in enumerate(SERVICES)
            if s.vip
        }
        self.peer_endpoints = [
            Endpoint(self.plan.peer_name(n), PEER, n, OVERLAYS[NetworkKey.MAIN].address(250 + i),
                     f"peer{i}".ljust(64, "0"), NetworkKey.MAIN)
            for i, n in enumerate(NODES)
        ]  # fmt: skip
        self.scaled: list[tuple[str, int]] = []
        self.batches: list[tuple[Endpoint, list[Probe]]] = []  # every exec, in order
        self.watches: list[FakeWatch] = []
        self._active_watch: FakeWatch | None = None
        self._round_robin = itertools.count()
        self._ids = itertools.count()
        self.perf = PerfPlane()
        self.standalone_endpoints = self._standalone()

    def _standalone(self) -> dict[ContainerRole, list[Endpoint]]:
        def container(role: ContainerRole, node: str, index: int, ip: str, net: str) -> Endpoint:
            name = self.plan.container_name(role, node, index)
            return Endpoint(name, str(role), node, ip, f"{role}{node}{index}".ljust(64, "0"), net)

        return {
            ContainerRole.HOST: [
                container(ContainerRole.HOST, n.name, 0, n.address, HOST_NETWORK)
                for n in self.nodes
            ],
            ContainerRole.BRIDGE: [
                container(
                    ContainerRole.BRIDGE, NODES[0], i, f"{BRIDGE_SUBNET}{2 + i}", BRIDGE_NETWORK
                )
                for i in (0, 1)
            ],
            ContainerRole.DNS_UPSTREAM: [
                container(
                    ContainerRole.DNS_UPSTREAM,
                    NODES[0],
                    0,
                    OVERLAYS[NetworkKey.MAIN].address(240),
                    NetworkKey.MAIN,
                )
            ],
            ContainerRole.DNS_OPTIONS: [
                container(
                    ContainerRole.DNS_OPTIONS,
                    NODES[-1],
                    0,
                    OVERLAYS[NetworkKey.MAIN].address(241),
                    NetworkKey.MAIN,
                )
            ],
        }

    def standalone(self, role: ContainerRole) -> list[Endpoint]:
        return [
            e for e in self.standalone_endpoints[role] if (str(role), e.node) not in self.absent
        ]

    # --- CheckContext --------------------------------------------------------------------
    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    def platform_info(self) -> dict[str, Any]:
        return dict(self._info)

    # --- topology --------------------------------------------------------------------------
    def _tasks_of(self, key: ServiceKey) -> list[Endpoint]:
        service = self.services[key]
        overlay = OVERLAYS[service.network]
        index = list(self.services).index(key)
        # disjoint addresses per service (the perf and DNS-options ones below the peers)
        base = 10 + 30 * index if index < 8 else 200 + 10 * (index - 8)
        if service.replicas is None:
            slots: list[tuple[int | None, str]] = [(None, n) for n in NODES]
        else:
            slots = [(s, NODES[(s - 1) % len(NODES)]) for s in range(1, self.replicas[key] + 1)]
        tasks = []
        for i, (slot, node) in enumerate(slots):
            if (key, node) in self.absent:
                continue
            name = f"{key}.{slot}@{node}" if slot else f"{key}@{node}"
            container = f"{key}{slot or node}".ljust(64, "0")
            tasks.append(
                Endpoint(name, key, node, overlay.address(base + i), container, service.network)
            )
        return sorted(tasks, key=lambda e: (e.node, e.name))

    def tasks(self, key: str, network: str | None = None) -> list[Endpoint]:
        service = self.services.get(ServiceKey(key))
        if service is None or (network is not None and network != service.network):
            return []
        return self._tasks_of(service.key)

    def task(self, key: str, node: str) -> Endpoint:
        """The (first) task of a service on a node, for scripts."""
        return next(t for t in self.tasks(key) if t.node == node)

    def peers(self) -> list[Endpoint]:
        return [p for p in self.peer_endpoints if (PEER, p.node) not in self.absent]

    def vip(self, key: str, network: str) -> str | None:
        service = self.services.get(ServiceKey(key))
        if service is None or network != service.network:
            return None
        return self.vips.get(service.key)

    def overlay(self, key: str) -> tuple[int, str]:
        overlay = OVERLAYS[NetworkKey(key)]
        return overlay.vni, overlay.subnet

    def scale(self, key: str, replicas: int) -> None:
        self.scaled.append((key, replicas))
        self.replicas[ServiceKey(key)] = replicas

    def host(self, node: str) -> Endpoint:
        address = next(n.address for n in self.nodes if n.name == node)
        return Endpoint(f"{HOST}@{node}", HOST, node, address, "", "underlay")

    def host_executor(self, node: str) -> FakeExecutor | None:
        if "host-access" not in self._capabilities.available:
            return None
        return FakeExecutor(self, self.host(node))

    @contextlib.contextmanager
    def watch_underlay(self, rules: Mapping[str, str]) -> Iterator[FakeWatch]:
        watch = FakeWatch(rules, self.wire)
        self.watches.append(watch)
        self._active_watch = watch
        try:
            yield watch
        finally:
            self._active_watch = None

    # --- probing ---------------------------------------------------------------------------
    def probe(self, kind: ProbeKind, target: str, **kw: Any) -> Probe:
        port = kw.pop("port", None)
        timeout = kw.pop("timeout_s", self.scenario.probe_timeout_s)
        return Probe(f"{kind}-{target}-{port}-{next(self._ids)}", kind, target, port, timeout, kw)

    def run(self, source: Endpoint, probes: Sequence[Probe]) -> list[ProbeResult]:
        self.batches.append((source, list(probes)))
        return [self._result(source, p, self.answer(source, p)) for p in probes]

    def run_many(
        self, batches: Mapping[Endpoint, Sequence[Probe]]
    ) -> dict[Endpoint, list[ProbeResult]]:
        return {src: self.run(src, probes) for src, probes in batches.items()}

    @staticmethod
    def _result(source: Endpoint, probe: Probe, answer: Answer) -> ProbeResult:
        """The one place a scripted answer becomes a ProbeResult."""
        if source.service == HOST:
            prefix = ["nsenter", f"--net=/run/netns/{source.node}"]
        else:
            prefix = ["docker", "-H", f"unix:///{source.node}", "exec", source.name]
        return ProbeResult(
            probe.id,
            str(probe.kind),
            probe.target,
            answer.ok,
            answer.error,
            answer.latency_ms,
            dict(answer.values),
            outcome=answer.outcome_of(probe),
            reproduce=reproducer(prefix)(probe),
        )

    def answer(self, source: Endpoint, probe: Probe) -> Answer:
        """The scripted answer if the test gives one, else a healthy swarm's."""
        if self.override is not None:
            scripted = self.override(source, probe)
            if scripted is not None:
                return scripted
        return self.healthy(source, probe)

    # --- a conformant data plane -------------------------------------------------------------
    def endpoint_at(self, ip: str) -> Endpoint | None:
        everyone = [*self.peers(), *(t for k in self.services for t in self._tasks_of(k))]
        return next((e for e in everyone if e.ip == ip), None)

    def healthy(self, source: Endpoint, probe: Probe) -> Answer:
        kind = probe.kind
        if kind in PERF_KINDS:
            return self._perf(source, probe)
        if kind == ProbeKind.READ and self._dns_configured(source):
            return self._read_configured(probe.target)
        if kind == ProbeKind.DNS and self._dns_configured(source) and probe.params.get("search"):
            return self._resolve_configured(probe)
        if kind == ProbeKind.DNS:
            return self._resolve(source, probe)
        if kind == ProbeKind.DNS_LATENCY:
            resolved = self._resolve(source, probe)
            return answered(**series_values(probe)) if resolved.ok else failed("timeout")
        if kind == ProbeKind.READ:
            return self._read(probe.target)
        if kind == ProbeKind.INTERFACES:
            return self._interfaces(source)
        if kind == ProbeKind.ROUTES:
            internal = OVERLAYS.get(NetworkKey(source.network)) if source.service != HOST else None
            return answered(routes=[], has_default=not (internal and internal.internal))
        if probe.target in {n.address for n in self.nodes}:
            return self._to_node(source, probe)
        if probe.target in self.vips.values():
            return self._to_vip(source, probe)
        return self._to_endpoint(source, probe)

    def _to_endpoint(self, source: Endpoint, probe: Probe) -> Answer:
        dst = self.endpoint_at(probe.target)
        overlay = OVERLAYS.get(NetworkKey(source.network)) if source.service != HOST else None
        if overlay is not None and probe.kind == ProbeKind.ICMP and probe.params.get("df"):
            size = int(probe.params.get("size", 56))
            if size + 28 > overlay.mtu:  # refused by the sender's own interface
                return failed("emsgsize", size=size, df=True, local_mtu=overlay.mtu)
        if dst is None or overlay is None or dst.network != source.network:
            return failed("timeout")  # another overlay: nothing routes there
        if self._active_watch is not None and dst.node != source.node:
            self._active_watch.exchanges.append(overlay)
        return self._served(probe, dst.container_id)

    def _served(self, probe: Probe, container_id: str) -> Answer:
        if probe.kind == ProbeKind.TRANSFER:
            size = int(probe.params["bytes"])
            return answered(bytes=size, requested=size, seconds=0.04, mbit_s=838.86)
        if probe.kind == ProbeKind.ICMP:
            return answered(size=int(probe.params.get("size", 56)), df=bool(probe.params.get("df")))
        return answered(peer=container_id[:12])

    def _to_vip(self, source: Endpoint, probe: Probe) -> Answer:
        key = next(k for k, ip in self.vips.items() if ip == probe.target)
        if source.network != self.services[key].network:
            return failed("timeout")
        backends = self._tasks_of(key)
        return self._served(probe, backends[next(self._round_robin) % len(backends)].container_id)

    def _to_node(self, source: Endpoint, probe: Probe) -> Answer:
        on = OVERLAYS.get(NetworkKey(source.network)) if source.service != HOST else None
        if on is not None and on.internal:
            return failed("unreachable")  # no gateway out of an --internal overlay
        if probe.port == GOSSIP_PORT:
            return answered(connected=True)
        if probe.port == PUBLISHED_PORT:  # the routing mesh: any node, to a vip backend
            backends = self._tasks_of(ServiceKey.VIP)
            return answered(
                peer=backends[next(self._round_robin) % len(backends)].container_id[:12]
            )
        return failed("refused")

    def _names(self, network: str) -> dict[str, list[str]]:
        """What the embedded DNS answers on one overlay: service names, tasks.<service>,
        the probe service's alias, and the peers' container names."""
        names: dict[str, list[str]] = {}
        for key, service in self.services.items():
            if service.network != network:
                continue
            ips = sorted(t.ip for t in self._tasks_of(key))
            vip = self.vips.get(key)
            names[self.plan.service_name(key)] = [vip] if vip else ips
            names[f"tasks.{self.plan.service_name(key)}"] = ips
            if key == ServiceKey.PROBE:
                names[PROBE_ALIAS] = [vip] if vip else ips
                names[f"tasks.{PROBE_ALIAS}"] = ips
        if network == NetworkKey.MAIN:
            names.update({p.name: [p.ip] for p in self.peers()})
        return names

    def _resolve(self, source: Endpoint, probe: Probe) -> Answer:
        ips = self._names(source.network).get(probe.target)
        if ips is None:
            return nxdomain()
        if probe.params.get("qtype", "A") == "AAAA":
            return a_records()  # NOERROR, no answer: the overlays are v4-only
        return a_records(*ips)

    # --- DNS options and perf ------------------------------------------------------------
    @staticmethod
    def _dns_configured(source: Endpoint) -> bool:
        return source.service in {ServiceKey.DNS_OPTIONS, ContainerRole.DNS_OPTIONS}

    def _read_configured(self, path: str) -> Answer:
        if path != "/etc/resolv.conf":
            return self._read(path)
        upstream = self.standalone_endpoints[ContainerRole.DNS_UPSTREAM][0].ip
        return answered(
            content=f"# Generated by Docker Engine.\nnameserver 127.0.0.11\nsearch {DNS_DOMAIN}\n"
            f"options {' '.join(DNS_OPTIONS)}\n\n# Based on host file: '/etc/resolv.conf' "
            f"(internal resolver)\n# ExtServers: [{upstream}]\n"
        )

    def _resolve_configured(self, probe: Probe) -> Answer:
        """The embedded DNS: its own names first, then the search domain at the upstream."""
        if "." not in probe.target:
            qname = f"{probe.target}.{DNS_DOMAIN}."
            return answered(rcode="NOERROR", answers=[DNS_ANSWER], qname=qname, server="127.0.0.11")
        return nxdomain()

    def _perf_path(self, source: Endpoint, probe: Probe) -> str:
        if probe.target == LOOPBACK:
            return "loopback"
        if source.service == ContainerRole.HOST:
            return "host"
        if source.service == ContainerRole.BRIDGE:
            return "bridge"
        if probe.target in self.vips.values():
            return "service"
        dst = self.endpoint_at(probe.target)
        return "same-host" if dst is not None and dst.node == source.node else "overlay"

    def _perf(self, source: Endpoint, probe: Probe) -> Answer:
        if probe.kind in {ProbeKind.IPERF3, ProbeKind.RR, ProbeKind.CRR}:
            reachable = (
                probe.target == LOOPBACK
                or (
                    source.service == ContainerRole.HOST
                    and probe.target in {n.address for n in self.nodes}
                )
                or (
                    source.service == ContainerRole.BRIDGE
                    and probe.target.startswith(BRIDGE_SUBNET)
                )
                or probe.target in self.vips.values()
                or self.endpoint_at(probe.target) is not None
            )
            if not reachable:
                return failed(
                    "iperf3: unable to connect to server: Connection timed out",
                    Connectivity.TIMEOUT,
                )
        path = self._perf_path(source, probe)
        return answered(**self.perf.values(str(probe.kind), probe.params, path, source.name))

    @staticmethod
    def _read(path: str) -> Answer:
        if path == "/etc/resolv.conf":
            return answered(content="search lab\nnameserver 127.0.0.11\noptions ndots:0\n")
        return failed(f"error: [Errno 2] No such file or directory: '{path}'")

    @staticmethod
    def _interfaces(source: Endpoint) -> Answer:
        overlay = OVERLAYS[NetworkKey(source.network)]
        interfaces = {"eth0": {"mtu": overlay.mtu}, "lo": {"mtu": 65536}}
        if not overlay.internal:
            interfaces["eth1"] = {"mtu": 1500}  # docker_gwbridge: the way out
        return answered(interfaces=interfaces)


def lacking(capability: str, reason: str = "") -> Callable[[], FakeSwarm]:
    """A healthy swarm without one capability (and the reason the platform gives, if any)."""
    missing = {capability: reason} if reason else {}
    return lambda: FakeSwarm(capabilities=ALL_CAPABILITIES - {capability}, missing=missing)


def run_check(check_id: str, ctx: FakeSwarm) -> CheckResult:
    """The check as the plugin runs it: capabilities first, an exception is an error."""
    return execute(CATALOGUE.get(check_id), ctx)
