"""The context the Swarm checks run against, over each node's Docker API (the platforms
that deploy what it finds are in swarm_platforms.py)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from functools import cached_property
from typing import Any

from netconform.catalog.scenario import SwarmScenario
from netconform.core import Capabilities
from netconform.errors import EnvironmentUnfit
from netconform.lab import capture
from netconform.lab.capture import UnderlayWatch
from netconform.platforms import swarm_deploy
from netconform.platforms.swarm_deploy import LABEL, Node
from netconform.platforms.swarm_plan import (
    BRIDGE_NETWORK,
    HOST_NETWORK,
    PEER,
    ROLE_LABEL,
    ContainerRole,
    Endpoint,
    NetworkKey,
    ServiceKey,
    SwarmPlan,
)
from netconform.polling import poll
from netconform.probes.agent import SERVER_TCP_PORT
from netconform.probes.executors import DockerExecExecutor, NetnsExecutor, run_batches
from netconform.probes.model import Probe, ProbeKind, ProbeResult


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

    def plan_checks(self, check_ids: Sequence[str]) -> None:
        """Nothing to start early: every Swarm check runs when pytest reaches it."""

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
            for c in self.clients[node.name].containers.list(filters=flt, ignore_removed=True):
                net = c.attrs["NetworkSettings"]["Networks"].get(main, {})
                found.append(
                    Endpoint(
                        c.name, PEER, node.name, net.get("IPAddress", ""), c.id, NetworkKey.MAIN
                    )
                )
        return found

    def standalone(self, role: ContainerRole) -> list[Endpoint]:
        """The run's standalone containers of one role (swarm_deploy.start_standalone), by
        node and name; a host-network one's address is its node's underlay address."""
        found = []
        networks = {
            ContainerRole.BRIDGE: BRIDGE_NETWORK,
            ContainerRole.HOST: HOST_NETWORK,
        }
        key = networks.get(role, NetworkKey.MAIN)
        for node in self.nodes:
            flt = {"label": [f"{LABEL}={self.run_id}", f"{ROLE_LABEL}={role}"]}
            for c in self.clients[node.name].containers.list(filters=flt, ignore_removed=True):
                if key == HOST_NETWORK:
                    ip = node.address
                else:
                    net = c.attrs["NetworkSettings"]["Networks"].get(self.plan.network_name(key))
                    ip = (net or {}).get("IPAddress", "")
                found.append(Endpoint(c.name, str(role), node.name, ip, c.id, key))
        return sorted(found, key=lambda e: (e.node, e.name))

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
