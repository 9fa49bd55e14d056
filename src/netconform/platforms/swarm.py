"""Platforms `swarm-lab` (our own multi-host lab) and `swarm` (daemons the user has), and the
context the Swarm checks run against."""

from __future__ import annotations

import contextlib
import ipaddress
import sys
import uuid
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

from netconform.catalog.scenario import SwarmScenario, load_swarm_scenario
from netconform.core import Capabilities
from netconform.errors import EnvironmentUnfit, InputError, said_not_raised
from netconform.lab import capture
from netconform.lab import lab as lablib
from netconform.lab import state as labstate
from netconform.lab.capture import UnderlayWatch
from netconform.lab.config import LabConfig
from netconform.lab.kernel import KernelFeatures
from netconform.platforms import swarm_deploy
from netconform.platforms.swarm_deploy import LABEL, Node
from netconform.platforms.swarm_plan import PEER, Endpoint, NetworkKey, ServiceKey, SwarmPlan
from netconform.polling import poll
from netconform.probes.agent import SERVER_TCP_PORT
from netconform.probes.executors import DockerExecExecutor, NetnsExecutor, run_batches
from netconform.probes.model import Probe, ProbeKind, ProbeResult
from netconform.progress import NoProgress, Progress
from netconform.settings import Settings
from netconform.vocab import Capability, Family


@dataclass(frozen=True)
class SwarmHandle:
    """How any process attaches to a deployed Swarm run."""

    platform: str
    nodes: tuple[Node, ...]
    run_id: str
    image: str
    capabilities: Capabilities
    info: Mapping[str, Any] = field(default_factory=dict)
    underlay_netns: str | None = None  # swarm-lab: the switch's namespace

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "nodes": [asdict(n) for n in self.nodes],
            "run_id": self.run_id,
            "image": self.image,
            "capabilities": self.capabilities.to_json(),
            "info": dict(self.info),
            "underlay_netns": self.underlay_netns,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SwarmHandle:
        return cls(
            platform=data["platform"],
            nodes=tuple(Node(**n) for n in data["nodes"]),
            run_id=data["run_id"],
            image=data["image"],
            capabilities=Capabilities.from_json(data["capabilities"]),
            info=dict(data.get("info", {})),
            underlay_netns=data.get("underlay_netns"),
        )


def _task_name(service: str, slot: int | None, node: Node | None) -> str:
    """probe@h1 for a global task, vip.2@h3 for a replicated one."""
    where = node.name if node else "?"
    return f"{service}.{slot}@{where}" if slot else f"{service}@{where}"


def _clients(nodes: Sequence[Node]) -> dict[str, Any]:
    import docker

    return {n.name: docker.DockerClient(base_url=n.docker_host, timeout=120) for n in nodes}


VXLAN_ID_OPTION = "com.docker.network.driver.overlay.vxlanid_list"


class SwarmContext:
    """The real `checks.swarm_context.SwarmCheckContext`: endpoints, batch probing and
    service operations through each node's Docker API. The clients open on first use, so
    building a context costs nothing and does no I/O."""

    family = "swarm"

    def __init__(
        self,
        nodes: Sequence[Node],
        run_id: str,
        scenario: SwarmScenario,
        capabilities: Capabilities,
        info: Mapping[str, Any],
        underlay_netns: str | None = None,
    ) -> None:
        self.nodes = tuple(nodes)
        self.underlay_netns = underlay_netns  # only when the harness owns the underlay
        self.run_id = run_id
        self.plan = SwarmPlan(run_id)
        self.scenario = scenario
        self._capabilities = capabilities
        self._info = dict(info)

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    def platform_info(self) -> dict[str, Any]:
        return dict(self._info)

    @cached_property
    def clients(self) -> dict[str, Any]:
        """One Docker client per node name."""
        return _clients(self.nodes)

    @cached_property
    def _node_by_id(self) -> dict[str, Node]:
        return {self.clients[n.name].info()["Swarm"]["NodeID"]: n for n in self.nodes}

    @property
    def manager(self) -> Any:
        return self.clients[self.nodes[0].name]

    def close(self) -> None:
        opened = self.__dict__.pop("clients", {})  # never open clients just to close them
        for client in opened.values():
            with contextlib.suppress(Exception):
                client.close()

    # --- discovery -------------------------------------------------------------------
    def network_id(self, key: str) -> str:
        return str(self.manager.networks.get(self.plan.network_name(key)).id)

    def overlay(self, key: str) -> tuple[int, str]:
        """The VXLAN network id and the subnet of one of the run's overlays."""
        attrs = self.manager.networks.get(self.plan.network_name(key)).attrs
        vni = int(str(attrs["Options"][VXLAN_ID_OPTION]).split(",")[0])
        return vni, str(attrs["IPAM"]["Config"][0]["Subnet"])

    def watch_underlay(self, rules: Mapping[str, str]) -> AbstractContextManager[UnderlayWatch]:
        """Named packet counters on the underlay switch (capability underlay-capture)."""
        if self.underlay_netns is None:
            raise RuntimeError("the underlay of this platform cannot be watched")
        return capture.watch_underlay(self.underlay_netns, rules)

    def service(self, key: str) -> Any:
        return self.manager.services.get(self.plan.service_name(key))

    def tasks(self, key: str, network: str | None = None) -> list[Endpoint]:
        """Running tasks of a service with their address on `network` (default: its own)."""
        svc = self.service(key)
        net_name = self.plan.network_name(network) if network else None
        found = []
        for task in svc.tasks(filters={"desired-state": "running"}):
            status = task.get("Status", {})
            if status.get("State") != "running":
                continue
            node = self._node_by_id.get(task.get("NodeID", ""))
            container = status.get("ContainerStatus", {}).get("ContainerID", "")
            for att in task.get("NetworksAttachments", []):
                name = att["Network"]["Spec"]["Name"]
                if net_name is not None and name != net_name:
                    continue
                for addr in att.get("Addresses", []):
                    found.append(
                        Endpoint(
                            name=_task_name(key, task.get("Slot"), node),
                            service=key,
                            node=node.name if node else "?",
                            ip=addr.split("/")[0],
                            container_id=container,
                            network=self.plan.network_key(name),
                        )
                    )
        return sorted(found, key=lambda e: (e.node, e.name))

    def peers(self) -> list[Endpoint]:
        """The standalone containers, one per node, on the main overlay."""
        found = []
        main = self.plan.network_name(NetworkKey.MAIN)
        for node in self.nodes:
            flt = {"label": f"{LABEL}={self.run_id}", "name": self.plan.peer_name(node.name)}
            for c in self.clients[node.name].containers.list(filters=flt):
                net = c.attrs["NetworkSettings"]["Networks"].get(main, {})
                found.append(
                    Endpoint(
                        c.name, PEER, node.name, net.get("IPAddress", ""), c.id, NetworkKey.MAIN
                    )
                )
        return found

    def vip(self, key: str, network: str) -> str | None:
        svc = self.service(key)
        net_id = self.network_id(network)
        for vip in svc.attrs.get("Endpoint", {}).get("VirtualIPs", []):
            if vip.get("NetworkID") == net_id:
                return str(vip["Addr"]).split("/")[0]
        return None

    # --- probing -----------------------------------------------------------------------
    def executor(self, endpoint: Endpoint) -> DockerExecExecutor:
        container = self.clients[endpoint.node].containers.get(endpoint.container_id)
        node = next(n for n in self.nodes if n.name == endpoint.node)
        return DockerExecExecutor(container, node.docker_host)  # reproduce names the daemon

    def host_executor(self, node: str) -> NetnsExecutor | None:
        for n in self.nodes:
            if n.name == node and n.netns:
                return NetnsExecutor(n.netns)
        return None

    def run(self, source: Endpoint, probes: Sequence[Probe]) -> list[ProbeResult]:
        return self.executor(source).run_batch(probes)

    def run_many(
        self, batches: Mapping[Endpoint, Sequence[Probe]]
    ) -> dict[Endpoint, list[ProbeResult]]:
        """One exec per source endpoint, all sources at once."""
        return run_batches(batches, self.executor, max_workers=32)

    def probe(self, kind: ProbeKind, target: str, **kw: Any) -> Probe:
        """A probe with the scenario's timeout; ids are unique within any batch."""
        port = kw.pop("port", None)
        timeout = kw.pop("timeout_s", self.scenario.probe_timeout_s)
        return Probe(
            f"{kind}-{target}-{port}-{uuid.uuid4().hex[:6]}", kind, target, port, timeout, kw
        )

    # --- operations --------------------------------------------------------------------
    def scale(self, key: str, replicas: int) -> None:
        self.service(key).scale(replicas)

    def wait_ready(self, deadline_s: float = 120) -> None:
        """Until every planned task runs and answers on its port."""
        expected = {
            p.key: (len(self.nodes) if p.mode == "global" else p.replicas)
            for p in swarm_deploy.plan_services(self.scenario, self._capabilities.available)
        }
        for plan in swarm_deploy.plan_services(self.scenario, self._capabilities.available):
            if plan.mode == "replicated":  # a check that scales may have been interrupted
                svc = self.service(plan.key)
                if svc.attrs["Spec"]["Mode"]["Replicated"]["Replicas"] != plan.replicas:
                    svc.scale(plan.replicas)

        def running() -> tuple[dict[str, int], bool]:
            counts = {k: len(self.tasks(k)) for k in expected}
            ready = counts == expected and len(self.peers()) == len(self.nodes)
            return counts, ready and self._answering()

        polled = poll(running, lambda seen: seen[1], deadline_s, 1.0)
        if not polled.held:
            raise EnvironmentUnfit(
                f"probe services not ready after {deadline_s:.0f}s: running {polled.value[0]}, "
                f"expected {expected}"
            )

    def _answering(self) -> bool:
        """Every main-network endpoint's server answers itself (agent + server alive)."""
        endpoints = [*self.tasks(ServiceKey.PROBE), *self.peers()]
        batches = {e: [self.probe(ProbeKind.TCP, e.ip, port=SERVER_TCP_PORT)] for e in endpoints}
        return all(r.ok for res in self.run_many(batches).values() for r in res)


def _remove_run(nodes: Sequence[Node], run_id: str) -> None:
    clients = _clients(nodes)
    try:
        pinned = swarm_deploy.remove(clients, nodes, run_id)
    finally:
        for client in clients.values():
            client.close()
    if pinned:  # Docker's bug, not a failure of the run: say it, and what clears it
        sys.stderr.write(
            f"netconform: left {', '.join(pinned)}: Docker keeps a phantom attachment task "
            "on it (moby/moby#31066); leaving the swarm (or `netconform lab down`) clears it\n"
        )


def _swarm_info(ctx_clients: Mapping[str, Any], nodes: Sequence[Node]) -> dict[str, Any]:
    first = ctx_clients[nodes[0].name].info()
    return {
        "engine": first.get("ServerVersion"),
        "kernel": first.get("KernelVersion"),
        "os": first.get("OperatingSystem"),
        "nodes": [{"name": n.name, "address": n.address} for n in nodes],
    }


class SwarmLabPlatform:
    """Our own lab: N namespaces, one dockerd each, a real VXLAN overlay between them.

    `keep`: leave the lab up after the run. `reuse`: run on a lab that is already up
    (default: with --keep only; the self-test always reuses one)."""

    name = "swarm-lab"
    family = Family.SWARM

    def __init__(
        self,
        scenario: SwarmScenario | None = None,
        keep: bool = False,
        lab: LabConfig | None = None,
        progress: Progress | None = None,
        reuse: bool | None = None,
    ) -> None:
        self.scenario = scenario or load_swarm_scenario()
        self.keep = keep
        self.reuse = keep if reuse is None else reuse
        self.config = lab or LabConfig()
        self.progress = progress or NoProgress()
        self._created_lab = False
        self._run_id = uuid.uuid4().hex[:6]
        self._nodes: list[Node] = []

    def prepare_host(self) -> None:
        from netconform.lab import setup

        setup.prepare_host()

    def preflight(self) -> None:
        self.config.validate()
        from netconform.lab import setup

        setup.check_host()

    def provision(self) -> SwarmHandle:
        existing = labstate.load(self.config.name)
        if existing is not None and existing.phase == "ready" and self.reuse:
            self.progress.step(f"reusing lab {self.config.name}")
            lab = existing
        elif existing is not None:
            raise InputError(
                f"lab {self.config.name!r} is already up: reuse it with --keep, "
                f"or remove it with `netconform lab down --name {self.config.name}`"
            )
        else:
            lab = lablib.up(self.config, self.progress)
            self._created_lab = True
        try:
            return self._deploy(lab)
        except BaseException:
            with said_not_raised("teardown after the failed deployment"):
                self.teardown()
            raise

    def _deploy(self, lab: labstate.LabState) -> SwarmHandle:
        nodes = [Node(h.name, h.docker_socket, h.address, h.netns) for h in lab.hosts]
        self._nodes = nodes
        features = KernelFeatures.from_json(lab.kernel_features)
        info = {
            "lab": lab.name,
            "underlay_mtu": lab.underlay_mtu,
            "underlay_subnet": lab.subnet,
            "kernel_features": features.to_json(),
            "image": lab.image,
        }
        # probes from each host's own namespace
        caps = {Capability(c) for c in features.available} | {Capability.HOST_ACCESS}
        missing = {Capability(c): why for c, why in features.missing.items()}
        if Capability.NFT_BRIDGE in caps:
            caps |= {Capability.UNDERLAY_CAPTURE}  # the lab's switch is ours to watch
        else:
            missing[Capability.UNDERLAY_CAPTURE] = features.missing[Capability.NFT_BRIDGE]
        self.progress.step(f"deploying probe services (run {self._run_id})")
        clients = _clients(nodes)
        try:
            info.update(_swarm_info(clients, nodes))
            swarm_deploy.deploy(
                clients, nodes, lab.image, self._run_id, self.scenario, features.available
            )
        finally:
            for c in clients.values():
                c.close()
        handle = SwarmHandle(
            self.name,
            tuple(nodes),
            self._run_id,
            lab.image,
            Capabilities(frozenset(caps), missing),
            info,
            lab.underlay_netns,
        )
        ctx = context_from_handle(handle, self.scenario)
        try:
            self.progress.step("waiting for every probe task to run and answer")
            ctx.wait_ready()
        finally:
            ctx.close()
        return handle

    def teardown(self) -> None:
        if self._created_lab and not self.keep:
            self.progress.step("tearing the lab down")
            lablib.down(self.config.name)
            return
        if self._nodes:
            _remove_run(self._nodes, self._run_id)


SWARM_DEFAULT_CAPS = (Capability.VXLAN, Capability.IPVS, Capability.ESP)


class SwarmPlatform:
    """Daemons the user already has: NETCONFORM_DOCKER_HOSTS=unix:///..,tcp://..,
    one per node, the first a manager; NETCONFORM_PROBE_IMAGE present on every node.
    Only what this run labels is ever removed."""

    name = "swarm"
    family = Family.SWARM

    def __init__(
        self,
        scenario: SwarmScenario | None = None,
        settings: Settings | None = None,
        progress: Progress | None = None,
    ) -> None:
        settings = settings or Settings.from_env()
        self.scenario = scenario or load_swarm_scenario()
        self.image = settings.probe_image
        self.hosts = list(settings.docker_hosts)
        self.declared = settings.swarm_capabilities  # None: the user declared nothing
        self.progress = progress or NoProgress()
        self._run_id = uuid.uuid4().hex[:6]
        self._nodes: list[Node] = []

    def prepare_host(self) -> None:
        """Nothing: the daemons are the user's."""

    def preflight(self) -> None:
        if len(self.hosts) < 2:
            raise EnvironmentUnfit(
                "platform swarm needs NETCONFORM_DOCKER_HOSTS with 2+ daemon URLs, one per node"
            )
        if not self.image:
            raise EnvironmentUnfit(
                "platform swarm needs NETCONFORM_PROBE_IMAGE: an image with python3, "
                "python3-dnspython and iputils ping present on every node"
            )

    def capabilities(self) -> Capabilities:
        """The harness cannot look into the kernels of someone else's nodes: it assumes what
        a normal Swarm host has, and the user declares less when their kernels lack it."""
        declared = SWARM_DEFAULT_CAPS if self.declared is None else self.declared
        shown = ",".join(declared)
        caps = {Capability(c) for c in declared if c in set(Capability)}
        missing = {
            c: f"{c} not declared in NETCONFORM_SWARM_CAPABILITIES={shown}"
            for c in SWARM_DEFAULT_CAPS
            if c not in caps
        }
        missing[Capability.UNDERLAY_CAPTURE] = (
            "platform swarm: the wire between the user's nodes is not the harness's to watch "
            "(swarm-lab watches its own underlay switch)"
        )
        return Capabilities(frozenset(caps), missing)

    def provision(self) -> SwarmHandle:
        import docker

        nodes = []
        for i, url in enumerate(self.hosts, start=1):
            try:
                client = docker.DockerClient(base_url=url, timeout=30)
                swarm = client.info()["Swarm"]
                client.close()
            except docker.errors.DockerException as exc:
                raise EnvironmentUnfit(f"cannot reach docker at {url}: {exc}") from None
            if swarm.get("LocalNodeState") != "active":
                raise EnvironmentUnfit(f"docker at {url} is not part of an active swarm")
            nodes.append(Node(f"node{i}", url, swarm.get("NodeAddr", ""), None, swarm["NodeID"]))
        self._nodes = nodes
        caps = self.capabilities()
        clients = _clients(nodes)
        try:
            info = _swarm_info(clients, nodes)
            swarm_deploy.deploy(
                clients, nodes, self.image, self._run_id, self.scenario, caps.available
            )
        except BaseException:
            with said_not_raised("removing the partly deployed run"):
                swarm_deploy.remove(clients, nodes, self._run_id)
            raise
        finally:
            for c in clients.values():
                c.close()
        handle = SwarmHandle(self.name, tuple(nodes), self._run_id, self.image, caps, info)
        ctx = context_from_handle(handle, self.scenario)
        try:
            ctx.wait_ready()
        except BaseException:
            with said_not_raised("teardown after the failed deployment"):
                self.teardown()
            raise
        finally:
            ctx.close()
        return handle

    def teardown(self) -> None:
        if self._nodes:
            _remove_run(self._nodes, self._run_id)


def context_from_handle(handle: SwarmHandle, scenario: SwarmScenario) -> SwarmContext:
    return SwarmContext(
        handle.nodes,
        handle.run_id,
        scenario,
        handle.capabilities,
        handle.info,
        handle.underlay_netns,
    )


def in_subnet(ip: str, subnet: str) -> bool:
    return ipaddress.IPv4Address(ip) in ipaddress.IPv4Network(subnet, strict=False)
