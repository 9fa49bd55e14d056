"""`netconform lab up | down | status`: N hosts as namespaces on one underlay bridge, one
dockerd each, joined into a Swarm, the probe image loaded everywhere."""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import ipaddress
import os
import shutil
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from netconform.errors import EnvironmentUnfit, InputError
from netconform.interrupts import shielded
from netconform.lab import addressing, cgroups, daemons, image, kernel, netns, setup, state
from netconform.lab import lock as lablock
from netconform.lab.config import LabConfig
from netconform.lab.state import HostRecord, LabState
from netconform.owner import ProcessOwner
from netconform.progress import NoProgress, Progress
from netconform.vocab import Capability

MNT_DETACH = 2


def docker_client(host: HostRecord) -> Any:
    import docker

    return docker.DockerClient(base_url=host.docker_socket, timeout=60)


def _say(line: str) -> None:
    """A line the user sees whether or not progress is shown (a lab reclaimed)."""
    sys.stderr.write(f"netconform: {line}\n")
    sys.stderr.flush()


def _nothing() -> None:
    pass


def up(
    config: LabConfig,
    progress: Progress | None = None,
    *,
    lock: lablock.LabLock | None = None,
    owned: bool = False,
    before_first_write: Callable[[], None] = _nothing,
) -> LabState:
    """Make the lab, holding its lock (the caller's, or one taken for this call) from the "is
    it up" check on. `owned`: the lab stays the calling process's until teardown (a
    `swarm-lab` run); otherwise it is handed over once ready and stays until `lab down`.
    `before_first_write` runs between the check and the first state write (a test hook)."""
    progress = progress or NoProgress()
    config.validate()
    setup.prepare_host()
    setup.check_host()
    with lablock.held(config.name, lock) as holding:
        existing = state.load(config.name)
        owner = existing.owner if existing is not None else None
        if owner is not None and owner.is_dead():
            _say(f"lab {config.name!r}: its owner {owner.describe()} is dead; reclaiming the lab")
            _down_locked(config.name, progress)
        elif existing is not None:
            raise InputError(
                f"lab {config.name!r} is already up (netconform lab down --name {config.name})"
            )
        before_first_write()
        lab = _planned(config)
        # Recorded before anything exists: from here on, `lab down` can reclaim a partial lab.
        state.save(lab)
        try:
            lab = _build(lab, progress)
        except BaseException:
            progress.step("lab up failed: removing what was made")
            with shielded("removing the half-made lab"):
                down(config.name, lock=holding)
            raise
        if not owned:
            lab = replace(lab, owner=None)
            state.save(lab)
        return lab


def hand_over(lab: LabState) -> LabState:
    """The lab outlives its owner (`--keep`): it stays until `lab down`."""
    lab = replace(lab, owner=None)
    state.save(lab)
    return lab


def _planned(config: LabConfig) -> LabState:
    taken = addressing.machine_routes()
    subnet = addressing.pick_free(addressing.UNDERLAY_CANDIDATES, taken, "underlay")
    pool = addressing.pick_free(addressing.POOL_CANDIDATES, [*taken, subnet], "address pool")
    directory = state.lab_dir(config.name)
    prefix = state.netns_prefix(config.name)
    return LabState(
        name=config.name,
        dir=str(directory),
        underlay_netns=f"{prefix}-ul",
        subnet=str(subnet),
        gateway=addressing.gateway_address(subnet),
        underlay_mtu=config.underlay_mtu,
        address_pool=str(pool),
        cgroup=state.cgroup_name(config.name),
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
        owner=_this_process(),
    )


def _this_process() -> ProcessOwner:
    """The lab's owner: this process, with the start time a later run checks it by."""
    owner = ProcessOwner.current()
    if owner.start_time is None:
        raise EnvironmentUnfit(f"/proc/{owner.pid}/stat: cannot read this process's start time")
    return owner


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
DAEMON_FIXED_DIRS = (
    SHIM_SOCKET_DIR,
    SHIM_SOCKET_DIR.parent,
    Path("/run/docker/plugins"),
    Path("/run/docker"),
)


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


def _lab_netns(name: str) -> tuple[str, ...]:
    """Every namespace on the system named as the lab's (names are letters and digits, so
    `nc-ab-` never matches lab `abc`'s namespaces)."""
    if not netns.NETNS_DIR.is_dir():
        return ()
    prefix = state.netns_prefix(name) + "-"
    return tuple(sorted(p.name for p in netns.NETNS_DIR.iterdir() if p.name.startswith(prefix)))


def down(
    name: str, progress: Progress | None = None, *, lock: lablock.LabLock | None = None
) -> DownReport | None:
    """Remove every namespace, process, mount, cgroup and directory of the lab, found from its
    name alone (the state is validated, never trusted for what to remove): a lab whose state
    is corrupt is reclaimed all the same. A lab whose owner is alive is never touched."""
    progress = progress or NoProgress()
    LabConfig(name=name).validate()
    with lablock.held(name, lock) as holding:
        try:
            lab = state.load(name)
        except state.StateCorrupt as exc:  # a StateNotConfined is refused: nothing is touched
            _say(f"{exc}; reclaiming lab {name!r} from what is on the system")
            lab = None
        owner = lab.owner if lab is not None else None
        # With the caller's lock, the owner is the caller (or proved dead by it).
        if lock is None and owner is not None and not owner.is_dead():
            raise lablock.LabBusy(f"lab {name!r} belongs to {owner.describe()}, which is alive")
        report = _down_locked(name, progress)
        holding.remove_file()
        return report


def _down_locked(name: str, progress: Progress) -> DownReport | None:
    directory = str(state.lab_dir(name))
    cgroup = state.cgroup_name(name)
    present = _lab_netns(name)
    if not (
        Path(directory).exists() or present or cgroups.exists(cgroup) or _mounts_under(directory)
    ):
        return None
    progress.step(f"stopping every process of lab {name}")
    sockets = _shim_sockets(cgroups.pids(cgroup), directory)
    killed = cgroups.kill_all(cgroup) if cgroups.exists(cgroup) else 0
    for socket_file in sockets:  # a killed shim cannot remove its own socket
        socket_file.unlink(missing_ok=True)
    unmounted = _unmount_all(directory)
    netns.remove_all(present)
    cgroups.remove(cgroup)
    shutil.rmtree(directory, ignore_errors=True)
    # Fixed paths the daemons create whatever their roots; removed only when empty, so a
    # system docker or containerd using them is never touched.
    for fixed in DAEMON_FIXED_DIRS:
        with contextlib.suppress(OSError):
            fixed.rmdir()
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
