"""Faults injected into a running lab, the way real networks break, to prove checks fail.

Each fault is recorded in the lab state *before* it is applied, with what is needed to undo
it, so `lab fault clear` and `lab down` remove it even after a crash.
"""

from __future__ import annotations

import contextlib
import subprocess
from dataclasses import replace
from typing import Any

from netconform.errors import EnvironmentUnfit, InputError
from netconform.lab import capture, netns, nft, state
from netconform.lab.state import HostRecord, LabState
from netconform.results import Area
from netconform.vocab import Capability, Fault

# kind -> (area whose checks must catch it, what it models)
FAULT_KINDS: dict[Fault, tuple[Area, str]] = {
    Fault.MTU_MISMATCH: (Area.MTU, "one host's underlay link MTU below what the overlay assumes"),
    Fault.VXLAN_BLOCKED: (Area.REACHABILITY, "UDP 4789 dropped on one host"),
    Fault.DNS_BROKEN: (Area.DNS, "the embedded resolver unreachable in one host's containers"),
    Fault.ISOLATION_BREACH: (Area.ISOLATION, "a container bridged into a second overlay"),
    Fault.LOSSY_UNDERLAY: (Area.REACHABILITY, "packet loss and delay on one host's underlay link"),
    Fault.HOST_LOSS: (Area.REACHABILITY, "one host's underlay link down"),
}
NFT_TABLE = "netconform_fault"
LABEL = "io.netconform.run"


def _lab(name: str) -> LabState:
    lab = state.load(name)
    if lab is None or lab.phase != "ready":
        raise InputError(f"lab {name!r} is not up (netconform lab up --name {name})")
    return lab


def _host(lab: LabState, index: int) -> HostRecord:
    try:
        return lab.host(f"h{index}")
    except KeyError:
        raise InputError(f"--host {index}: lab {lab.name} has hosts 1..{len(lab.hosts)}") from None


def _containers(host: HostRecord) -> list[Any]:
    import docker

    client = docker.DockerClient(base_url=host.docker_socket, timeout=30)
    try:
        # ignore_removed: a task container may go between the listing and its inspect
        return list(client.containers.list(filters={"label": LABEL}, ignore_removed=True))
    finally:
        client.close()


def add(name: str, kind: str, host_index: int, mtu: int | None = None) -> dict[str, Any]:
    """Apply one fault; returns its record (also saved in the lab state)."""
    if kind not in FAULT_KINDS:
        raise InputError(f"unknown fault {kind!r}: choose one of {', '.join(FAULT_KINDS)}")
    kind = Fault(kind)
    lab = _lab(name)
    host = _host(lab, host_index)
    record: dict[str, Any] = {"kind": kind, "host": host.name}
    features = lab.kernel_features
    if kind == Fault.LOSSY_UNDERLAY and Capability.NETEM not in features.get("available", []):
        why = features.get("missing", {}).get(Capability.NETEM, "kernel lacks tc netem")
        raise EnvironmentUnfit(f"fault lossy-underlay unavailable: {why}")
    if kind == Fault.MTU_MISMATCH:
        record["restore_mtu"] = netns.link_mtu(lab.underlay_netns, f"{host.name}-port")
        record["mtu"] = mtu or lab.underlay_mtu - 120
    if kind == Fault.DNS_BROKEN:
        record["containers"] = [c.id for c in _containers(host)]
    if kind == Fault.ISOLATION_BREACH:
        record.update(_breach_plan(lab, host))
    state.save(replace(lab, faults=(*lab.faults, record)))  # recorded before applied
    _apply(lab, host, record)
    return record


def _breach_plan(lab: LabState, host: HostRecord) -> dict[str, Any]:
    import docker

    client = docker.DockerClient(base_url=lab.hosts[0].docker_socket, timeout=30)
    try:
        others = [
            n.name
            for n in client.networks.list(filters={"label": LABEL})
            if n.name.endswith("-other")
        ]
    finally:
        client.close()
    peers = [c.name for c in _containers(host) if "-peer-" in c.name]
    if not others or not peers:
        raise InputError("fault isolation-breach needs a deployed run (netconform run --keep)")
    return {"network": others[0], "container": peers[0]}


def _apply(lab: LabState, host: HostRecord, record: dict[str, Any]) -> None:
    kind = record["kind"]
    ns_path = f"/run/netns/{host.netns}"
    if kind == Fault.MTU_MISMATCH:
        # The switch side of the host's link: frames bigger than this are dropped in both
        # directions with no ICMP (an L2 hop), and the host itself learns nothing: the
        # classic PMTU blackhole, where handshakes work and bulk transfers stall.
        port, mtu = f"{host.name}-port", int(record["mtu"])
        netns.set_link_mtu(lab.underlay_netns, port, mtu)
        # Linux forwards GSO super-packets past a smaller MTU (is_skb_forwardable lets any GSO
        # skb through), so bulk TCP in VXLAN could slip by what a real switch drops; a length
        # match drops those too, whatever the sender's offloads. Only VXLAN: the fault is on
        # the overlay's data path, and Swarm's own TCP control plane keeping its GSO pass is
        # what lets the lab heal when the fault is cleared.
        oversize_vxlan = f"udp dport {capture.VXLAN_PORT} meta length > {mtu}"
        rules = [f'{side} "{port}" {oversize_vxlan} drop' for side in ("oifname", "iifname")]
        nft.run(
            f"/run/netns/{lab.underlay_netns}",
            nft.bridge_forward_table(_switch_table(host), rules),
        )
    elif kind == Fault.VXLAN_BLOCKED:
        nft.run(
            ns_path,
            f"add table inet {NFT_TABLE}; add chain inet {NFT_TABLE} in "
            "{ type filter hook input priority 0; }; "
            f"add rule inet {NFT_TABLE} in udp dport 4789 drop",
        )
    elif kind == Fault.DNS_BROKEN:
        for pid in _container_pids(host, record["containers"]):
            nft.run(
                f"/proc/{pid}/ns/net",
                f"add table ip {NFT_TABLE}; add chain ip {NFT_TABLE} "
                "out { type filter hook output priority 0; }; "
                f"add rule ip {NFT_TABLE} out ip daddr 127.0.0.11 drop",
            )
    elif kind == Fault.ISOLATION_BREACH:
        _docker(host).networks.get(record["network"]).connect(record["container"])
    elif kind == Fault.LOSSY_UNDERLAY:
        subprocess.run(
            [
                "nsenter",
                f"--net={ns_path}",
                "tc",
                "qdisc",
                "add",
                "dev",
                "eth0",
                "root",
                "netem",
                "loss",
                "20%",
                "delay",
                "50ms",
            ],
            check=True,
        )
    elif kind == Fault.HOST_LOSS:
        netns.set_link_state(host.netns, "eth0", up=False)


def _switch_table(host: HostRecord) -> str:
    """The underlay switch's table for one host's port (faults on two hosts never share)."""
    return f"{NFT_TABLE}_{host.name}"


def _docker(host: HostRecord) -> Any:
    import docker

    return docker.DockerClient(base_url=host.docker_socket, timeout=30)


def _container_pids(host: HostRecord, ids: list[str]) -> list[int]:
    client = _docker(host)
    try:
        pids = []
        for cid in ids:
            with contextlib.suppress(Exception):  # a container may be gone: nothing to undo
                pid = int(client.containers.get(cid).attrs["State"]["Pid"])
                if pid:
                    pids.append(pid)
        return pids
    finally:
        client.close()


def _undo(lab: LabState, record: dict[str, Any]) -> None:
    host = lab.host(record["host"])
    if not netns.exists(host.netns):
        return
    kind = record["kind"]
    ns_path = f"/run/netns/{host.netns}"
    if kind == Fault.MTU_MISMATCH:
        netns.set_link_mtu(lab.underlay_netns, f"{host.name}-port", int(record["restore_mtu"]))
        switch = f"/run/netns/{lab.underlay_netns}"
        with contextlib.suppress(EnvironmentUnfit):
            nft.run(switch, f"delete table bridge {_switch_table(host)}")
    elif kind == Fault.VXLAN_BLOCKED:
        with contextlib.suppress(EnvironmentUnfit):
            nft.run(ns_path, f"delete table inet {NFT_TABLE}")
    elif kind == Fault.DNS_BROKEN:
        for pid in _container_pids(host, record["containers"]):
            with contextlib.suppress(EnvironmentUnfit):
                nft.run(f"/proc/{pid}/ns/net", f"delete table ip {NFT_TABLE}")
    elif kind == Fault.ISOLATION_BREACH:
        with contextlib.suppress(Exception):
            _docker(host).networks.get(record["network"]).disconnect(record["container"])
    elif kind == Fault.LOSSY_UNDERLAY:
        subprocess.run(
            ["nsenter", f"--net={ns_path}", "tc", "qdisc", "del", "dev", "eth0", "root"],
            capture_output=True,
            check=False,
        )
    elif kind == Fault.HOST_LOSS:
        netns.set_link_state(host.netns, "eth0", up=True)


def clear(name: str) -> list[dict[str, Any]]:
    """Undo every recorded fault, newest first; the record goes only once undone."""
    lab = state.load(name)
    if lab is None:
        return []
    cleared = []
    for record in reversed(lab.faults):
        _undo(lab, record)
        cleared.append(record)
        lab = replace(lab, faults=lab.faults[:-1])
        state.save(lab)
    return cleared


def listed(name: str) -> list[dict[str, Any]]:
    lab = state.load(name)
    return list(lab.faults) if lab is not None else []
