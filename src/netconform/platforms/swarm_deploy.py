"""What a Swarm run deploys: overlays and probe services, all labelled with the run id so
they can be found by workers (attach) and removed (also after a crash)."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import docker.errors

from netconform.catalog.scenario import SwarmScenario
from netconform.errors import EnvironmentUnfit
from netconform.platforms.swarm_plan import (
    BRIDGE_NETWORK,
    DNS_ANSWER,
    DNS_DOMAIN,
    DNS_OPTIONS,
    PROBE_ALIAS,
    PUBLISHED_PORT,
    ROLE_LABEL,
    ContainerRole,
    SwarmPlan,
    network_name,
    service_name,
)
from netconform.polling import Clock, Sleep, poll
from netconform.probes.agent import SERVER_TCP_PORT, SERVER_UDP_PORT
from netconform.probes.executors import dns_upstream_command, serve_command
from netconform.vocab import Capability

LABEL = "io.netconform.run"
IDLE = ["sleep", "infinity"]


@dataclass(frozen=True)
class Node:
    """One Swarm node as the harness reaches it."""

    name: str  # h1, h2, ... (lab) or node-1... (existing daemons)
    docker_host: str
    address: str  # underlay / advertise address
    netns: str | None = None  # lab only: the host's namespace, for probes from the host
    node_id: str = ""


@dataclass(frozen=True)
class NetworkPlan:
    key: str  # main, other, mtu, internal, encrypted
    options: Mapping[str, str]
    internal: bool = False
    requires: Capability | None = None  # needed to create it


@dataclass(frozen=True)
class ServicePlan:
    key: str
    network: str  # NetworkPlan.key
    mode: str  # global | replicated
    replicas: int = 0
    endpoint_mode: str = "vip"
    aliases: tuple[str, ...] = ()
    publish: bool = False
    dns_options: bool = False  # given the lab's upstream, DNS_DOMAIN and DNS_OPTIONS


def plan_networks(
    scenario: SwarmScenario, capabilities: frozenset[Capability]
) -> list[NetworkPlan]:
    plans = [
        NetworkPlan("main", {}),
        NetworkPlan("other", {}),
        NetworkPlan("mtu", {"com.docker.network.driver.mtu": str(scenario.networks.mtu_option)}),
        NetworkPlan("internal", {}, internal=True),
        NetworkPlan("encrypted", {"encrypted": ""}, requires=Capability.ESP),
    ]
    return [p for p in plans if p.requires is None or p.requires in capabilities]


def plan_services(
    scenario: SwarmScenario, capabilities: frozenset[Capability]
) -> list[ServicePlan]:
    plans = [
        ServicePlan("probe", "main", "global", aliases=(PROBE_ALIAS,)),
        ServicePlan("other", "other", "global"),
        ServicePlan("mtu", "mtu", "global"),
        ServicePlan("internal", "internal", "global"),
        ServicePlan(
            "vip",
            "main",
            "replicated",
            replicas=scenario.vip.replicas,
            publish=Capability.IPVS in capabilities,
        ),
        ServicePlan("dnsrr", "main", "replicated", replicas=2, endpoint_mode="dnsrr"),
        ServicePlan("scale", "main", "replicated", replicas=scenario.scale.high),
        ServicePlan("perf", "main", "replicated", replicas=1),
        ServicePlan("dnsopts", "main", "replicated", replicas=1, dns_options=True),
    ]
    if Capability.ESP in capabilities:
        plans.append(ServicePlan("encrypted", "encrypted", "global"))
    return plans


def object_counts(
    scenario: SwarmScenario, capabilities: frozenset[Capability], nodes: int
) -> dict[str, int]:
    """What `deploy` creates, by kind (the comparison's complexity figure)."""
    standalone = nodes * 2 + 2 + 2  # peers and host-network ones; the bridge pair; DNS
    return {
        "networks": len(plan_networks(scenario, capabilities)) + 1,  # + the plain bridge
        "services": len(plan_services(scenario, capabilities)),
        "containers": standalone,
    }


@contextlib.contextmanager
def _refusal_is_exit_3(doing: str) -> Iterator[None]:
    """A refusal of the Docker API becomes one line and exit 3."""
    try:
        yield
    except docker.errors.APIError as exc:
        raise EnvironmentUnfit(f"{doing} failed: {exc.explanation}") from exc


@_refusal_is_exit_3("deploying the probe services")
def deploy(
    clients: Mapping[str, Any],
    nodes: Sequence[Node],
    image: str,
    run_id: str,
    scenario: SwarmScenario,
    capabilities: frozenset[Capability],
) -> None:
    """Create networks, services and one standalone peer container per node."""
    import docker.types

    manager = clients[nodes[0].name]
    labels = {LABEL: run_id}
    for net in plan_networks(scenario, capabilities):
        manager.networks.create(
            network_name(run_id, net.key),
            driver="overlay",
            attachable=True,
            internal=net.internal,
            options=dict(net.options),
            labels=labels,
            scope="swarm",
        )
    serve = serve_command(SERVER_TCP_PORT, SERVER_UDP_PORT)
    # Standalone containers on attachable overlays: same-host peers and container-name DNS.
    # Attached before the services exist, while the manager is idle: an attachment that times
    # out can leave a phantom task that pins the network for good (moby/moby#31066).
    main = network_name(run_id, "main")
    for node in nodes:
        _start_peer(
            clients[node.name], image, serve, SwarmPlan(run_id).peer_name(node.name), main, labels
        )
    upstream = start_standalone(clients, nodes, image, run_id, serve)
    for svc in plan_services(scenario, capabilities):
        mode = (
            docker.types.ServiceMode("global")
            if svc.mode == "global"
            else docker.types.ServiceMode("replicated", replicas=svc.replicas)
        )
        endpoint = docker.types.EndpointSpec(
            mode=svc.endpoint_mode,
            ports={PUBLISHED_PORT: SERVER_TCP_PORT} if svc.publish else None,
        )
        manager.services.create(
            image,
            command=serve,
            name=service_name(run_id, svc.key),
            mode=mode,
            endpoint_spec=endpoint,
            networks=[
                docker.types.NetworkAttachmentConfig(
                    network_name(run_id, svc.network), aliases=list(svc.aliases)
                )
            ],
            labels=labels,
            container_labels=labels,
            stop_grace_period=1_000_000_000,
            **(_dns_config(upstream) if svc.dns_options else {}),
        )


def _dns_config(upstream: str) -> dict[str, Any]:
    import docker.types

    config = docker.types.DNSConfig([upstream], [DNS_DOMAIN], list(DNS_OPTIONS))
    return {"dns_config": config}


def start_standalone(
    clients: Mapping[str, Any], nodes: Sequence[Node], image: str, run_id: str, serve: list[str]
) -> str:
    """The containers beside the services: a host-network one per node (the perf baseline),
    a pair on a plain bridge network on the first node (a reference row), the DNS upstream
    the lab serves itself and a container given it with --dns, --dns-search, --dns-option.
    Returns the upstream's address on the main overlay."""
    plan = SwarmPlan(run_id)
    first = clients[nodes[0].name]

    def labels(role: ContainerRole) -> dict[str, str]:
        return {LABEL: run_id, ROLE_LABEL: str(role)}

    for node in nodes:
        clients[node.name].containers.run(
            image,
            command=IDLE,  # perf probes start their own servers (agent.probe_perf_server)
            name=plan.container_name(ContainerRole.HOST, node.name),
            network_mode="host",
            labels=labels(ContainerRole.HOST),
            detach=True,
        )
    bridge = plan.network_name(BRIDGE_NETWORK)
    first.networks.create(bridge, driver="bridge", labels={LABEL: run_id})
    for index in (0, 1):
        first.containers.run(
            image,
            name=plan.container_name(ContainerRole.BRIDGE, nodes[0].name, index),
            command=IDLE,
            network=bridge,
            labels=labels(ContainerRole.BRIDGE),
            detach=True,
        )
    main = plan.network_name("main")
    upstream_name = plan.container_name(ContainerRole.DNS_UPSTREAM, nodes[0].name)
    _start_peer(
        first,
        image,
        dns_upstream_command(DNS_DOMAIN, DNS_ANSWER),
        upstream_name,
        main,
        labels(ContainerRole.DNS_UPSTREAM),
    )
    attrs = first.containers.get(upstream_name).attrs
    upstream = str(attrs["NetworkSettings"]["Networks"][main]["IPAddress"])
    last = nodes[-1]
    _start_peer(
        clients[last.name],
        image,
        serve,
        plan.container_name(ContainerRole.DNS_OPTIONS, last.name),
        main,
        labels(ContainerRole.DNS_OPTIONS),
        dns=[upstream],
        dns_search=[DNS_DOMAIN],
        dns_opt=list(DNS_OPTIONS),
    )
    return upstream


def _start_peer(
    client: Any,
    image: str,
    command: list[str],
    name: str,
    network: str,
    labels: Mapping[str, str],
    deadline_s: float = 90,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
    **run_options: Any,
) -> None:
    """Start one standalone container on an overlay, retrying what a busy swarm answers
    while the worker waits for the manager: the overlay not known yet (NotFound), or the
    attachment timing out ("attaching to network failed")."""

    def attempt() -> docker.errors.APIError | None:
        try:
            client.containers.run(
                image,
                command=command,
                name=name,
                network=network,
                labels=dict(labels),
                detach=True,
                **run_options,
            )
        except docker.errors.APIError as exc:
            if _worth_retrying(exc):
                with contextlib.suppress(docker.errors.APIError):
                    client.containers.get(name).remove(force=True)  # created but not started
            return exc
        return None

    polled = poll(
        attempt, lambda exc: exc is None or not _worth_retrying(exc), deadline_s, 1.0, clock, sleep
    )
    if polled.value is not None:
        raise polled.value


def _worth_retrying(exc: docker.errors.APIError) -> bool:
    return isinstance(exc, docker.errors.NotFound) or "attaching to network" in str(exc)


def remove(
    clients: Mapping[str, Any],
    nodes: Sequence[Node],
    run_id: str,
    deadline_s: float = 120,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
) -> list[str]:
    """Remove everything labelled with the run id, on every node; never anything else.

    Returns the networks Docker itself will not let go: pinned only by a phantom attachment
    task whose container is gone (moby/moby#31066), which nothing but leaving the swarm
    clears. Any other network left after the deadline is an error."""
    flt = {"label": f"{LABEL}={run_id}"}
    manager = clients[nodes[0].name]
    for service in manager.services.list(filters=flt):
        with contextlib.suppress(Exception):
            service.remove()
    for node in nodes:
        for container in clients[node.name].containers.list(
            all=True, filters=flt, ignore_removed=True
        ):
            with contextlib.suppress(Exception):
                container.remove(force=True)
    # A network goes once every node has let go of its tasks: slow with a broken data path.
    suspects: dict[str, tuple[str, float]] = {}  # network -> (phantom task, first seen)

    def remove_networks() -> tuple[list[str], set[str]]:
        """One round: the networks still there (tried once more) and the pinned ones."""
        now = clock()
        pinned = {n for n, (_, seen) in suspects.items() if now - seen >= PHANTOM_GRACE_S}
        left = [n for n in manager.networks.list(filters=flt) if n.name not in pinned]
        for net in left:
            try:
                net.remove()
            except docker.errors.APIError as exc:
                task = _phantom_task(clients, manager, str(exc))
                if task is None:
                    suspects.pop(net.name, None)
                elif suspects.get(net.name, ("", 0.0))[0] != task:
                    suspects[net.name] = (task, now)
            except docker.errors.DockerException:  # gone meanwhile, or a busy manager: retry
                pass
        return [n.name for n in left], pinned

    polled = poll(remove_networks, lambda seen: not seen[0], deadline_s, 0.5, clock, sleep)
    if not polled.held:
        raise EnvironmentUnfit(f"could not remove networks of run {run_id}")
    return sorted(polled.value[1])


# A removed container's attachment task is released by the manager a moment later; one that
# still pins the network after this long is a phantom.
PHANTOM_GRACE_S = 15.0


def _phantom_task(clients: Mapping[str, Any], manager: Any, error: str) -> str | None:
    """The id of the attachment task named in `error` when its container exists nowhere."""
    match = re.search(r"in use by task (\w+)", error)
    if match is None:
        return None
    try:
        task = manager.api.inspect_task(match.group(1))
    except docker.errors.APIError:
        return None
    attachment = task.get("Spec", {}).get("NetworkAttachmentSpec")
    if not attachment or task.get("ServiceID"):
        return None  # a service's task: it goes with the service, so wait
    container_id = attachment.get("ContainerID", "")
    for client in clients.values():
        with contextlib.suppress(docker.errors.NotFound):
            client.containers.get(container_id)
            return None  # still there: a real attachment, wait for it to go
    return str(task["ID"])
