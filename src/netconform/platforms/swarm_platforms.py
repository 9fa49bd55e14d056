"""Platforms `swarm-lab` (our own multi-host lab) and `swarm` (daemons the user has), and the
handle any process attaches to their run with."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from netconform.catalog.scenario import SwarmScenario, load_swarm_scenario
from netconform.core import Capabilities
from netconform.errors import EnvironmentUnfit, InputError, said_not_raised
from netconform.lab import lab as lablib
from netconform.lab import lock as lablock
from netconform.lab import state as labstate
from netconform.lab.config import LabConfig
from netconform.lab.kernel import KernelFeatures
from netconform.platforms import swarm_deploy
from netconform.platforms.swarm import SwarmContext, _clients
from netconform.platforms.swarm_deploy import Node
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


def context_from_handle(handle: SwarmHandle, scenario: SwarmScenario) -> SwarmContext:
    return SwarmContext(
        handle.nodes,
        handle.run_id,
        scenario,
        handle.capabilities,
        handle.info,
        handle.underlay_netns,
    )


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


def no_diagnostics(out: Path) -> list[Path]:
    """Nothing beyond results.json: every Swarm check records its probes' evidence."""
    return []


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
        self._created_lab: labstate.LabState | None = None  # the lab this run made
        self._lock: lablock.LabLock | None = None
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
        # The lab's lock is held for the whole run, from "is it up" to teardown.
        self._lock = lablock.acquire(self.config.name)
        try:
            existing = labstate.load(self.config.name)
            if existing is not None and existing.owner is not None:
                if not existing.owner.is_dead():  # another host's run on a shared state root
                    raise lablock.LabBusy(
                        f"lab {self.config.name!r} belongs to {existing.owner.describe()}"
                    )
                lab = self._up()  # reclaims the dead owner's lab, saying so
            elif existing is not None and existing.phase == "ready" and self.reuse:
                self.progress.step(f"reusing lab {self.config.name}")
                lab = existing
            elif existing is not None:
                raise InputError(
                    f"lab {self.config.name!r} is already up: reuse it with --keep, "
                    f"or remove it with `netconform lab down --name {self.config.name}`"
                )
            else:
                lab = self._up()
            return self._deploy(lab)
        except BaseException:
            with said_not_raised("teardown after the failed deployment"):
                self.teardown()
            raise

    def _up(self) -> labstate.LabState:
        lab = lablib.up(self.config, self.progress, lock=self._lock, owned=True)
        self._created_lab = lab
        return lab

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
            "images": [lab.image],
            "objects": swarm_deploy.object_counts(self.scenario, features.available, len(nodes)),
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

    collect_diagnostics = staticmethod(no_diagnostics)

    def teardown(self) -> None:
        try:
            if self._created_lab is not None and not self.keep:
                self.progress.step("tearing the lab down")
                lablib.down(self.config.name, lock=self._lock)
                return
            if self._nodes:
                _remove_run(self._nodes, self._run_id)
            if self._created_lab is not None:  # --keep: the lab stays until `lab down`
                lablib.hand_over(self._created_lab)
        finally:
            if self._lock is not None:
                self._lock.release()


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
            info["images"] = [self.image]
            info["objects"] = swarm_deploy.object_counts(self.scenario, caps.available, len(nodes))
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

    collect_diagnostics = staticmethod(no_diagnostics)

    def teardown(self) -> None:
        if self._nodes:
            _remove_run(self._nodes, self._run_id)
