"""`netconform lab up | down | status`: N hosts as namespaces on one underlay bridge, one
dockerd each, joined into a Swarm, the probe image loaded everywhere."""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import ipaddress
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from netconform.errors import EnvironmentUnfit, InputError
from netconform.lab import addressing, cgroups, daemons, image, kernel, netns, setup, state
from netconform.lab.config import LabConfig
from netconform.lab.state import HostRecord, LabState
from netconform.progress import NoProgress, Progress
from netconform.vocab import Capability

MNT_DETACH = 2


def docker_client(host: HostRecord) -> Any:
    import docker

    return docker.DockerClient(base_url=host.docker_socket, timeout=60)


def up(config: LabConfig, progress: Progress | None = None) -> LabState:
    progress = progress or NoProgress()
    config.validate()
    setup.prepare_host()
    setup.check_host()
    if state.load(config.name) is not None:
        raise InputError(
            f"lab {config.name!r} is already up (netconform lab down --name {config.name})"
        )
    taken = addressing.machine_routes()
    subnet = addressing.pick_free(addressing.UNDERLAY_CANDIDATES, taken, "underlay")
    pool = addressing.pick_free(addressing.POOL_CANDIDATES, [*taken, subnet], "address pool")
    directory = state.lab_dir(config.name)
    prefix = f"nc-{config.name}"
    lab = LabState(
        name=config.name,
        dir=str(directory),
        underlay_netns=f"{prefix}-ul",
        subnet=str(subnet),
        gateway=addressing.gateway_address(subnet),
        underlay_mtu=config.underlay_mtu,
        address_pool=str(pool),
        cgroup=f"netconform-{config.name}",
        hosts=tuple(
            HostRecord(
                name=f"h{i}",
                netns=f"{prefix}-h{i}",
                address=addressing.host_address(subnet, i),
                dir=str(directory / f"h{i}"),
            )
            for i in range(1, config.hosts + 1)
        ),
        image=image.ImageRecipe(suite=image.host_suite()).tag,
    )
    # Recorded before anything exists: from here on, `lab down` can reclaim a partial lab.
    state.save(lab)
    try:
        return _build(lab, progress)
    except BaseException:
        progress.step("lab up failed: removing what was made")
        down(config.name)
        raise


def _build(lab: LabState, progress: Progress) -> LabState:
    recipe = image.ImageRecipe(suite=image.host_suite())
    progress.step("detecting kernel features")
    features = kernel.detect()
    lab = replace(lab, kernel_features=features.to_json())
    state.save(lab)
    if Capability.VXLAN not in features.available:
        why = features.missing[Capability.VXLAN]
        raise EnvironmentUnfit(f"the swarm overlay needs VXLAN: {why}")
    with ThreadPoolExecutor(max_workers=1) as builder:
        if not recipe.tarball.exists():
            progress.step(f"building probe image {recipe.tag} (once, cached)")
        tarball = builder.submit(image.ensure_built, recipe)
        progress.step(
            f"creating {len(lab.hosts)} hosts on underlay {lab.subnet} mtu {lab.underlay_mtu}"
        )
        _make_network(lab)
        progress.step("starting containerd and dockerd on every host")
        lab = _start_daemons(lab)
        tarball.result()
    progress.step("forming the swarm and loading the probe image")
    with ThreadPoolExecutor(max_workers=len(lab.hosts)) as pool:
        loads = [pool.submit(_load_image, h, recipe) for h in lab.hosts]
        _form_swarm(lab)
        for load in loads:
            load.result()
    lab = replace(lab, phase="ready")
    state.save(lab)
    progress.step("lab ready")
    return lab


def _make_network(lab: LabState) -> None:
    cgroups.create(lab.cgroup)
    subnet = ipaddress.IPv4Network(lab.subnet)
    for name in lab.all_netns:
        netns.create(name)
    netns.make_underlay(lab.underlay_netns, lab.gateway, subnet.prefixlen, lab.underlay_mtu)
    for host in lab.hosts:
        netns.plug_host(
            lab.underlay_netns,
            host.netns,
            host.name,
            host.address,
            subnet.prefixlen,
            lab.underlay_mtu,
        )


def _start_host(lab: LabState, host: HostRecord) -> HostRecord:
    directory = Path(host.dir)
    directory.mkdir(parents=True, exist_ok=True)
    containerd = daemons.start_containerd(host.netns, directory, lab.cgroup)
    host = replace(host, containerd_pid=containerd)
    dockerd = daemons.start_dockerd(host.netns, directory, lab.cgroup, lab.gateway)
    return replace(host, dockerd_pid=dockerd)


def _start_daemons(lab: LabState) -> LabState:
    with ThreadPoolExecutor(max_workers=len(lab.hosts)) as pool:
        started = list(pool.map(lambda h: _start_host(lab, h), lab.hosts))
    for host in started:
        lab = lab.with_host(host)
    lab = replace(lab, hosts=tuple(sorted(lab.hosts, key=lambda h: int(h.name[1:]))))
    state.save(lab)
    return lab


def _load_image(host: HostRecord, recipe: image.ImageRecipe) -> None:
    client = docker_client(host)
    try:
        image.ensure_loaded(client, recipe)
    finally:
        client.close()


def _form_swarm(lab: LabState) -> None:
    manager, *workers = lab.hosts
    client = docker_client(manager)
    try:
        client.swarm.init(
            advertise_addr=manager.address,
            listen_addr=f"{manager.address}:2377",
            default_addr_pool=[lab.address_pool],
            subnet_size=24,
        )
        token = client.swarm.attrs["JoinTokens"]["Worker"]
    finally:
        client.close()
    for worker in workers:
        wc = docker_client(worker)
        try:
            wc.swarm.join(
                remote_addrs=[f"{manager.address}:2377"],
                join_token=token,
                advertise_addr=worker.address,
                listen_addr=f"{worker.address}:2377",
            )
        finally:
            wc.close()


@dataclass(frozen=True)
class DownReport:
    name: str
    killed: int
    unmounted: int
    namespaces: tuple[str, ...]


def _mounts_under(directory: str) -> list[str]:
    found = []
    with open("/proc/self/mountinfo") as info:
        for line in info:
            mount_point = line.split()[4].replace("\\040", " ")
            if mount_point == directory or mount_point.startswith(directory + "/"):
                found.append(mount_point)
    return found


def _unmount_all(directory: str) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    count = 0
    for _ in range(5):  # detach can reveal mounts stacked underneath
        mounts = _mounts_under(directory)
        if not mounts:
            break
        for mount_point in sorted(mounts, key=lambda m: -m.count("/")):
            if libc.umount2(mount_point.encode(), MNT_DETACH) == 0:
                count += 1
    return count


# containerd-shim v2 puts its socket here, named by a hash, whatever containerd's --state.
SHIM_SOCKET_DIR = Path("/run/containerd/s")


def _shim_sockets(pids: set[int], lab_dir: str) -> list[Path]:
    """The socket of every shim serving this lab: sha256 of address/namespace/id, as
    containerd's shim.SocketAddress computes it."""
    found = []
    for pid in pids:
        try:
            args = [a.decode() for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]
        except OSError:
            continue
        if not args or not args[0].endswith("containerd-shim-runc-v2") or "-address" not in args:
            continue
        try:
            address, namespace, shim_id = (
                args[args.index(f) + 1] for f in ("-address", "-namespace", "-id")
            )
        except (ValueError, IndexError):
            continue
        if address.startswith(lab_dir):
            digest = hashlib.sha256(os.path.join(address, namespace, shim_id).encode()).hexdigest()
            found.append(SHIM_SOCKET_DIR / digest)
    return found


def down(name: str, progress: Progress | None = None) -> DownReport | None:
    """Remove every namespace, process, mount, cgroup and directory the lab recorded."""
    progress = progress or NoProgress()
    lab = state.load(name)
    if lab is None:
        return None
    progress.step(f"stopping every process of lab {name}")
    sockets = _shim_sockets(cgroups.pids(lab.cgroup), lab.dir)
    killed = cgroups.kill_all(lab.cgroup) if cgroups.exists(lab.cgroup) else 0
    for socket_file in sockets:  # a killed shim cannot remove its own socket
        socket_file.unlink(missing_ok=True)
    unmounted = _unmount_all(lab.dir)
    present = tuple(n for n in lab.all_netns if netns.exists(n))
    netns.remove_all(present)
    cgroups.remove(lab.cgroup)
    shutil.rmtree(lab.dir, ignore_errors=True)
    # Fixed paths the daemons create whatever their roots; removed only when empty, so a
    # system docker or containerd using them is never touched.
    for directory in (
        state.state_root(),
        SHIM_SOCKET_DIR,
        SHIM_SOCKET_DIR.parent,
        Path("/run/docker/plugins"),
        Path("/run/docker"),
    ):
        with contextlib.suppress(OSError):
            directory.rmdir()
    progress.step(f"lab {name} removed")
    return DownReport(name=name, killed=killed, unmounted=unmounted, namespaces=present)


def status(name: str) -> dict[str, Any] | None:
    lab = state.load(name)
    if lab is None:
        return None
    hosts = []
    for host in lab.hosts:
        alive = host.dockerd_pid is not None and Path(f"/proc/{host.dockerd_pid}").exists()
        hosts.append(
            {
                "name": host.name,
                "address": host.address,
                "netns": host.netns,
                "docker_host": host.docker_socket,
                "dockerd_running": alive,
            }
        )
    return {
        "name": lab.name,
        "phase": lab.phase,
        "underlay": {"subnet": lab.subnet, "mtu": lab.underlay_mtu, "netns": lab.underlay_netns},
        "address_pool": lab.address_pool,
        "image": lab.image,
        "hosts": hosts,
        "kernel_features": lab.kernel_features,
        "faults": list(lab.faults),
    }
