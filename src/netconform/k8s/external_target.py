"""Addresses outside the cluster for the Kubernetes checks of traffic leaving it (issue 25
item 2): pod to the world over TCP/UDP/ICMP, the source address the world sees, egress
NetworkPolicy by ipBlock, and an outside client reaching a NodePort.

On kind the harness starts two containers of the probe image on the `kind` Docker network,
beside the nodes but outside the cluster, each running probes/peer_echo.py (it answers
every client with the address it saw): `world` (target A) and `metadata` (target B, standing
in for the seed's excepted 169.254.169.254/32). They carry the run's owner as a label, so a
killed run's targets are removed by the next run (k8s/leftovers.py), and go at teardown. On
`cluster` the user gives one address (--external-target HOST:TCPPORT[:UDPPORT]).

The platform records them in platform_info[`external_targets`]; checks read them back with
`ExternalTargets.of`, strictly: an unknown key or a wrong type is an error naming the field.
The module also renders the few objects those checks probe with (egress clients, a backend
behind two NodePort Services, Local and Cluster), applied by the kind platform after the
run's workloads."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

from netconform.errors import InputError
from netconform.k8s.install import Step, Workdir, apply_and_wait_steps
from netconform.k8s.manifests import Manifest
from netconform.k8s.tools import Runner
from netconform.k8s.workloads import (
    CONTROL_PLANE_TOLERATION,
    ENDPOINT_LABEL,
    MANAGED_BY,
    NODE_INDEX_LABEL,
    ROLE_LABEL,
    RUN_LABEL,
    WorkloadSpec,
)
from netconform.owner import ProcessOwner
from netconform.probes.agent import SERVER_TCP_PORT, SERVER_UDP_PORT
from netconform.probes.executors import agent_command, reproducer, run_batches
from netconform.probes.model import Probe, ProbeResult, parse_agent_output

INFO_KEY = "external_targets"
# Why a platform that starts targets has none (its checks say it, as an error).
INFO_UNAVAILABLE = "external_targets_unavailable"
TARGET_LABEL = "netconform.io/external-target"  # on each target container: its role
OWNER_LABEL = "netconform.io/owner"  # host/pid/start of the run's process (owner.py)
KIND_NETWORK = "kind"
OPTION = "--external-target"


class Role(StrEnum):
    WORLD = "world"  # target A: any address outside the cluster
    METADATA = "metadata"  # target B: stands in for 169.254.169.254/32, excepted by policy


@dataclass(frozen=True)
class ExternalTarget:
    role: Role
    address: str  # IPv4, as pods address it
    tcp_port: int
    udp_port: int | None = None  # None: the target serves TCP only
    container: str | None = None  # a container the harness runs (and may exec in); None: not ours
    docker_host: str = ""  # the daemon running `container` ("" : the default one)

    def to_json(self) -> dict[str, Any]:
        return {
            "role": str(self.role),
            "address": self.address,
            "tcp_port": self.tcp_port,
            "udp_port": self.udp_port,
            "container": self.container,
            "docker_host": self.docker_host,
        }

    @classmethod
    def from_json(cls, data: Any, where: str) -> ExternalTarget:
        """Strict: every field present with its type, nothing else; ValueError naming the
        field otherwise."""
        if not isinstance(data, Mapping):
            raise ValueError(f"{where}: expected an object, got {type(data).__name__}")
        fields = set(cls.__dataclass_fields__)
        unknown, missing = set(data) - fields, fields - set(data)
        if unknown or missing:
            raise ValueError(
                f"{where}: unknown fields {sorted(unknown)}, missing fields {sorted(missing)}"
            )
        try:
            role = Role(data["role"])
        except ValueError:
            raise ValueError(f"{where}.role: {data['role']!r} is not one of {list(Role)}") from None
        return cls(
            role=role,
            address=_ipv4(data["address"], f"{where}.address"),
            tcp_port=_port(data["tcp_port"], f"{where}.tcp_port"),
            udp_port=None
            if data["udp_port"] is None
            else _port(data["udp_port"], f"{where}.udp_port"),
            container=_optional_str(data["container"], f"{where}.container"),
            docker_host=_str(data["docker_host"], f"{where}.docker_host"),
        )

    def describe(self) -> str:
        udp = f", udp/{self.udp_port}" if self.udp_port else ""
        return f"external target {self.role} {self.address} (tcp/{self.tcp_port}{udp})"


def _ipv4(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{where}: expected an IPv4 address, got {value!r}")
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise ValueError(f"{where}: expected an IPv4 address, got {value!r}") from None


def _port(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ValueError(f"{where}: expected a port 1-65535, got {value!r}")
    return value


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{where}: expected a string, got {value!r}")
    return value


def _optional_str(value: Any, where: str) -> str | None:
    return None if value is None else _str(value, where)


@dataclass(frozen=True)
class ExternalTargets:
    """The run's targets, or why it has none."""

    targets: tuple[ExternalTarget, ...] = ()
    unavailable: str | None = None  # the platform tried to start them and could not

    @classmethod
    def of(cls, info: Mapping[str, Any]) -> ExternalTargets:
        raw = info.get(INFO_KEY, [])
        if not isinstance(raw, list):
            raise ValueError(f"platform_info.{INFO_KEY}: expected a list, got {raw!r}")
        targets = tuple(
            ExternalTarget.from_json(t, f"platform_info.{INFO_KEY}[{i}]") for i, t in enumerate(raw)
        )
        roles = [t.role for t in targets]
        if len(set(roles)) != len(roles):
            raise ValueError(f"platform_info.{INFO_KEY}: a role appears twice: {roles}")
        why = info.get(INFO_UNAVAILABLE)
        return cls(targets, None if why is None else _str(why, f"platform_info.{INFO_UNAVAILABLE}"))

    def get(self, role: Role) -> ExternalTarget | None:
        return next((t for t in self.targets if t.role == role), None)

    def why_missing(self, role: Role) -> str:
        """Why a check needing `role` cannot run (for its skip or error reason)."""
        if self.unavailable:
            return f"the external targets were not started: {self.unavailable}"
        if role == Role.WORLD:
            return (
                "no external target: kind starts one; on platform cluster give "
                f"{OPTION} HOST:TCPPORT[:UDPPORT] (a server outside the cluster running "
                "netconform/probes/peer_echo.py)"
            )
        return (
            "no second external target standing in for the metadata address: kind starts "
            f"one; platform cluster has only the {OPTION} address"
        )

    def to_json(self) -> list[dict[str, Any]]:
        return [t.to_json() for t in self.targets]


OPTION_FORMAT = re.compile(r"^(?P<host>[0-9.]+):(?P<tcp>\d{1,5})(?::(?P<udp>\d{1,5}))?$")


def parse_option(text: str, source: str = OPTION) -> ExternalTarget:
    """`HOST:TCPPORT[:UDPPORT]` (HOST an IPv4 address) as the world target; InputError
    (exit 2, one line naming `source`) otherwise."""
    found = OPTION_FORMAT.match(text.strip())
    bad = InputError(
        f"{source} {text!r}: expected IPV4:TCPPORT[:UDPPORT], e.g. 192.0.2.10:8080:8081 "
        "(ports 1-65535)"
    )
    if found is None:
        raise bad
    try:
        address = _ipv4(found["host"], source)
        tcp = _port(int(found["tcp"]), source)
        udp = None if found["udp"] is None else _port(int(found["udp"]), source)
    except ValueError:
        raise bad from None
    return ExternalTarget(Role.WORLD, address, tcp, udp)


# --- what a target answers --------------------------------------------------------------
SEEN = re.compile(r"^(?P<name>\S+) saw (?P<address>\S+)$")


def seen_address(result: ProbeResult) -> str | None:
    """The source address a peer_echo server reports it saw (the probe's `peer` value);
    None when the probe failed or the server does not say (not peer_echo)."""
    if not result.ok:
        return None
    found = SEEN.match(str(result.values.get("peer", "")).strip())
    return found["address"] if found else None


def peer_echo_source() -> str:
    return resources.files("netconform.probes").joinpath("peer_echo.py").read_text()


def peer_echo_command(tcp_port: int, udp_port: int, name: str) -> list[str]:
    return ["python3", "-c", peer_echo_source(), str(tcp_port), str(udp_port), name]


# --- the containers on kind -------------------------------------------------------------
def container_name(run_id: str, role: Role) -> str:
    return f"nc-{run_id}-external-{role}"


def docker(docker_host: str, *args: str) -> tuple[str, ...]:
    return ("docker", *(("-H", docker_host) if docker_host else ()), *args)


class TargetsUnavailable(RuntimeError):
    """A target could not be started or its address read: the run goes on, and the checks
    that need it say this reason."""


def run_argv(
    run_id: str, role: Role, image: str, owner: ProcessOwner, docker_host: str = ""
) -> tuple[str, ...]:
    labels = {
        MANAGED_BY: "netconform",
        RUN_LABEL: run_id,
        OWNER_LABEL: owner.encode(),
        TARGET_LABEL: str(role),
    }
    return docker(
        docker_host,
        "run",
        "--detach",
        "--name",
        container_name(run_id, role),
        "--network",
        KIND_NETWORK,
        *(a for k, v in labels.items() for a in ("--label", f"{k}={v}")),
        image,
        *peer_echo_command(SERVER_TCP_PORT, SERVER_UDP_PORT, str(role)),
    )


def network_address(inspected: str, network: str = KIND_NETWORK) -> str | None:
    """The IPv4 address `docker inspect -f '{{json .NetworkSettings.Networks}}'` shows on
    `network`; None when it shows none."""
    try:
        networks = json.loads(inspected or "null")
        address = (networks or {}).get(network, {}).get("IPAddress") or ""
        return str(ipaddress.IPv4Address(address))
    except (ValueError, AttributeError, TypeError):
        return None


def start(
    runner: Runner, run_id: str, image: str, owner: ProcessOwner, docker_host: str = ""
) -> tuple[ExternalTarget, ...]:
    """Both targets started and their addresses read; TargetsUnavailable names what failed
    (the caller removes whatever was started, by name)."""
    targets = []
    for role in Role:
        name = container_name(run_id, role)
        started = runner.run(run_argv(run_id, role, image, owner, docker_host), timeout_s=120)
        if started.returncode != 0:
            raise TargetsUnavailable(f"`docker run` of {name} failed: {started.tail()}")
        fmt = "{{json .NetworkSettings.Networks}}"
        shown = runner.run(docker(docker_host, "inspect", "-f", fmt, name), timeout_s=60)
        address = network_address(shown.stdout) if shown.returncode == 0 else None
        if address is None:
            raise TargetsUnavailable(
                f"{name} has no IPv4 address on the {KIND_NETWORK} network "
                f"(docker inspect: {shown.stdout.strip()[:120] or shown.tail()})"
            )
        targets.append(
            ExternalTarget(role, address, SERVER_TCP_PORT, SERVER_UDP_PORT, name, docker_host)
        )
    return tuple(targets)


def remove_argv(run_id: str, docker_host: str = "") -> tuple[str, ...]:
    return docker(docker_host, "rm", "--force", *(container_name(run_id, r) for r in Role))


# --- the objects the checks probe with ---------------------------------------------------
EGRESS_ROLE = "external-egress"  # clients an egress policy selects (no other check uses them)
BACKEND_ROLE = "external-backend"  # peer_echo behind the NodePort Services
BACKEND_POD = "ext-backend"
LOCAL_SERVICE = "ext-local"  # NodePort, externalTrafficPolicy: Local
CLUSTER_SERVICE = "ext-cluster"  # NodePort, externalTrafficPolicy: Cluster
EGRESS_POLICY = "ext-egress-except-metadata"
IDLE = ["python3", "-c", "import time\nwhile True: time.sleep(3600)"]


def egress_pod_name(node_index: int) -> str:
    return f"egress-{node_index}"


def backend_node_index(nodes: Sequence[str]) -> int:
    """A worker (index 1) where there is one, so a Cluster NodePort is reached through the
    other nodes."""
    return 1 if len(nodes) > 1 else 0


def _pod(spec: WorkloadSpec, name: str, role: str, index: int, command: list[str]) -> Manifest:
    container: dict[str, Any] = {
        "name": "agent",
        "image": spec.image,
        "imagePullPolicy": spec.image_pull_policy,
        "command": command,
    }
    if role == BACKEND_ROLE:
        container["ports"] = [
            {"containerPort": SERVER_TCP_PORT, "protocol": "TCP", "name": "tcp"},
            {"containerPort": SERVER_UDP_PORT, "protocol": "UDP", "name": "udp"},
        ]
        container["readinessProbe"] = {
            "tcpSocket": {"port": SERVER_TCP_PORT},
            "periodSeconds": 2,
            "timeoutSeconds": 1,
        }
    labels = spec.labels(**{ROLE_LABEL: role, ENDPOINT_LABEL: name, NODE_INDEX_LABEL: str(index)})
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": spec.probe_namespace, "labels": labels},
        "spec": {
            "nodeSelector": {"kubernetes.io/hostname": spec.nodes[index]},
            "tolerations": [CONTROL_PLANE_TOLERATION],
            "terminationGracePeriodSeconds": 1,
            "containers": [container],
        },
    }


def _nodeport(spec: WorkloadSpec, name: str, policy: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": spec.probe_namespace, "labels": spec.labels()},
        "spec": {
            "type": "NodePort",
            "externalTrafficPolicy": policy,
            "selector": {ENDPOINT_LABEL: BACKEND_POD},
            "ports": [
                {"name": "tcp", "port": SERVER_TCP_PORT, "targetPort": SERVER_TCP_PORT},
                {
                    "name": "udp",
                    "port": SERVER_UDP_PORT,
                    "targetPort": SERVER_UDP_PORT,
                    "protocol": "UDP",
                },
            ],
        },
    }


def objects(spec: WorkloadSpec) -> list[Manifest]:
    """An egress client per node, the peer_echo backend on a worker, and its NodePort
    Services with externalTrafficPolicy Local and Cluster, in the run's probe namespace."""
    found = [_pod(spec, egress_pod_name(i), EGRESS_ROLE, i, IDLE) for i in range(len(spec.nodes))]
    command = peer_echo_command(SERVER_TCP_PORT, SERVER_UDP_PORT, BACKEND_POD)
    found.append(_pod(spec, BACKEND_POD, BACKEND_ROLE, backend_node_index(spec.nodes), command))
    found.append(_nodeport(spec, LOCAL_SERVICE, "Local"))
    found.append(_nodeport(spec, CLUSTER_SERVICE, "Cluster"))
    return found


def objects_file(work: Workdir) -> Path:
    return work.root / "external.yaml"


def deploy_steps(work: Workdir, run_id: str) -> list[Step]:
    """Apply the rendered objects (objects_file) and wait for their pods."""
    return apply_and_wait_steps(
        work,
        objects_file(work),
        f"{RUN_LABEL}={run_id},{ROLE_LABEL} in ({EGRESS_ROLE},{BACKEND_ROLE})",
        "create the external checks' clients, backend and NodePort Services",
        "wait for the external checks' pods Ready",
    )


# --- probing from a target (an outside client) -------------------------------------------
class DockerCliExecutor:
    """The probe agent run in a target container by `docker exec` (the CLI, under the
    recorded daemon), one exec per batch."""

    def __init__(self, runner: Runner, container: str, docker_host: str = "") -> None:
        self._runner = runner
        self._prefix = docker(docker_host, "exec", container)
        self._reproduce = reproducer(self._prefix)

    def run_batch(self, probes: Sequence[Probe]) -> list[ProbeResult]:
        if not probes:
            return []
        deadline = max(p.budget_s for p in probes) + 30
        done = self._runner.run((*self._prefix, *agent_command(probes)), timeout_s=deadline)
        stderr = done.stderr if done.stdout or done.returncode == 0 else done.tail()
        return parse_agent_output(probes, done.stdout, stderr, self._reproduce)


@dataclass(frozen=True)
class TargetProber:
    """Runs a grid whose sources are target containers (checks.grid's Prober, E = str)."""

    runner: Runner
    targets: Mapping[str, ExternalTarget]  # container name -> target

    def run_many(self, batches: Mapping[str, Sequence[Probe]]) -> dict[str, list[ProbeResult]]:
        def executor(name: str) -> DockerCliExecutor:
            return DockerCliExecutor(self.runner, name, self.targets[name].docker_host)

        return run_batches(batches, executor)
