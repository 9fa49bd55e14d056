"""`bash .ci/kit up|down|status`: build what is missing, start the kit's dockerd, print the
export lines that point netconform at it; stop and remove what `up` started; say what is
built, cached and running."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from kit import calico, cilium, dockerd, gobuild, pins
from kit import components as c
from kit.core import BIN, CACHE, KIT_DIR, RUN_DIR, BuildFailed, say


class Component(Protocol):
    name: str

    def built(self) -> bool: ...

    def build(self) -> None: ...


# Lanes run side by side: the Go builds are CPU bound, mmdebstrap mostly waits on apt.
# The core (kind, the node image, Flannel) comes first; Cilium after it, so a kit whose
# Cilium part is missing still serves kind-flannel (`up --no-build` says which CNIs it has).
CILIUM: tuple[Component, ...] = (
    *cilium.GO_TARGETS, cilium.CHART, cilium.HELM_TOOL, cilium.AGENT_ROOTFS, cilium.AGENT,
    cilium.OPERATOR,
)  # fmt: skip
GO_LANE: tuple[Component, ...] = (
    *c.GO_TARGETS, c.PAUSE_BINARY, c.TOOLS, *cilium.GO_TARGETS, cilium.CHART, cilium.HELM_TOOL,
)  # fmt: skip
ROOTFS_LANE: tuple[Component, ...] = (c.NODE_ROOTFS, c.NET_ROOTFS, cilium.AGENT_ROOTFS)
IMAGE_LANE: tuple[Component, ...] = (
    *c.CONTROL_PLANE_IMAGES,
    c.PRELOAD,
    c.NODE_IMAGE,
    *c.FLANNEL_IMAGES,
    cilium.AGENT,
    cilium.OPERATOR,
)
ALL: tuple[Component, ...] = (*GO_LANE, *ROOTFS_LANE, *IMAGE_LANE)
# The CNI profiles beyond Flannel (which is in the core) and what each needs from the kit.
CNI_PARTS: dict[str, tuple[Component, ...]] = {
    "calico": (calico.OPERATOR,),
    "calico-manifest": (calico.MANIFEST,),
    "calico-bgp": (calico.MANIFEST,),
    "calico-bpf": (calico.OPERATOR,),
    "cilium": CILIUM,
    "cilium-cnp": CILIUM,
}
TIMINGS = CACHE / "state" / "timings.json"
CNP_CRD = "policy.networking.k8s.io_clusternetworkpolicies.yaml"  # kind-cilium-cnp applies it
PINNED_CNI = CACHE / "cni"  # a copy of shared/cni, refreshed by each `up` that sees it


def _label(component: Component) -> str:
    name = component.name
    return name if not hasattr(component, "tag") else f"{name} ({component.tag})"  # type: ignore[attr-defined]


def _record(name: str, seconds: float) -> None:
    """The first build of a component on this machine (cold) and the latest one."""
    TIMINGS.parent.mkdir(parents=True, exist_ok=True)
    try:
        timings = json.loads(TIMINGS.read_text())
    except (OSError, ValueError):
        timings = {}
    entry = timings.get(name)
    first = entry.get("first_s") if isinstance(entry, dict) else None
    timings[name] = {"first_s": first or round(seconds, 1), "last_s": round(seconds, 1)}
    TIMINGS.write_text(json.dumps(timings, indent=2, sort_keys=True) + "\n")


def build_lane(lane: Sequence[Component]) -> None:
    for component in lane:
        if component.built():
            continue
        say(f"building {_label(component)} (log: {CACHE / 'logs'})")
        start = time.monotonic()
        component.build()
        took = time.monotonic() - start
        _record(_label(component), took)  # images share names with their binaries
        say(f"built {component.name} in {took:.0f} s")


def built_cnis() -> list[str]:
    """The CNI profiles whose every image and file the kit has (images: in the running
    daemon)."""
    cnis = ["flannel"] + [cni for cni, part in CNI_PARTS.items() if not _missing(part)]
    if not module_tree_files()[CNP_CRD].is_file():  # its CRD comes from a module, not a build
        cnis = [c for c in cnis if c != "cilium-cnp"]
    return cnis


def download_module_files() -> None:
    """The Go modules whose files (not builds) the kit hands out: downloaded when absent,
    through the module proxy like every module the kit uses; a failure only leaves them out."""
    crd = module_tree_files()[CNP_CRD]
    if crd.is_file():
        return
    try:
        gobuild.downloaded("sigs.k8s.io/network-policy-api", pins.NETWORK_POLICY_API)
    except BuildFailed as exc:
        say(f"cilium-cnp: its ClusterNetworkPolicy CRD is not available ({exc})")


def say_missing_calico() -> None:
    """Calico's images are the user's to provide: one line naming what is not there."""
    missing = calico.OPERATOR.missing()
    if missing:
        say(
            f"calico: {len(missing)} image(s) not in the kit's dockerd ({', '.join(missing)}); "
            "kind-calico* runs once they are loaded (`docker load` with DOCKER_HOST set as below)"
        )


def exports() -> list[str]:
    cnis = built_cnis()
    lines = [
        f"export DOCKER_HOST={dockerd.DOCKER_HOST}",
        f'export PATH="{BIN}:$PATH"',
        f"export NETCONFORM_KIND_NODE_IMAGE={pins.NODE_IMAGE}",
        "export NETCONFORM_OFFLINE=1",
        f"export NETCONFORM_KIT_CNIS={','.join(cnis)}",
    ]
    if "cilium" in cnis:  # the chart packaged from the module, in place of the published one
        lines.append(f"export NETCONFORM_CILIUM_CHART={cilium.CHART.archive}")
    # The pinned CNI manifests, for machines that cannot download them (verified by sha256).
    if (pinned := pinned_cni_files()) is not None:
        lines.append(f"export NETCONFORM_ARTIFACTS={pinned}")
    return lines


def module_tree_files() -> dict[str, Path]:
    """Pinned CNI files the kit already has in the Go modules it builds from, under the
    name of their pinned URL (netconform verifies each against the profile's sha256)."""
    modules = CACHE / "go" / "mod"
    flannel = modules / f"github.com/flannel-io/flannel@{pins.FLANNEL}"
    crds = modules / f"sigs.k8s.io/network-policy-api@{pins.NETWORK_POLICY_API}" / "config" / "crd"
    return {
        "kube-flannel.yml": flannel / "Documentation" / "kube-flannel.yml",
        CNP_CRD: crds / "standard" / CNP_CRD,
    }


def pinned_cni_files() -> Path | None:
    """The kit's directory of pinned CNI files: a copy of shared/cni when it is beside the
    repository (refreshed by each `up` that sees it), plus the manifests of the modules the
    kit builds from, so a clone alone (no shared/) runs kind-flannel offline; None when it
    holds nothing."""
    shared = KIT_DIR.parent.parent / "shared" / "cni"
    staging = PINNED_CNI.with_name(PINNED_CNI.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    if (shared / "README.md").is_file():
        shutil.copytree(shared, staging)
    elif PINNED_CNI.is_dir():
        shutil.copytree(PINNED_CNI, staging)
    else:
        staging.mkdir(parents=True)
    for name, source in module_tree_files().items():
        if source.is_file():
            shutil.copyfile(source, staging / name)
    shutil.rmtree(PINNED_CNI, ignore_errors=True)
    staging.rename(PINNED_CNI)
    return PINNED_CNI if any(PINNED_CNI.iterdir()) else None


class NotBuilt(Exception):
    """`up --no-build` found components missing from the cache."""


def _missing(lane: Sequence[Component]) -> list[str]:
    return [c.name for c in lane if not c.built()]


def _not_built(missing: Sequence[str]) -> NotBuilt:
    return NotBuilt(
        f"not built: {', '.join(missing)} (`bash .ci/kit up` builds them; "
        "about 15 min cold on 2 cores)"
    )


def _core(*lanes: Sequence[Component]) -> list[Component]:
    optional = {id(part) for parts in CNI_PARTS.values() for part in parts}
    return [part for lane in lanes for part in lane if id(part) not in optional]


def up(build: bool = True) -> None:
    """Build what is missing (unless build is False: then exit 3 naming it), start the
    dockerd, print the exports."""
    start = time.monotonic()
    if build:
        with ThreadPoolExecutor(max_workers=2) as pool:
            lanes = [pool.submit(build_lane, GO_LANE), pool.submit(build_lane, ROOTFS_LANE)]
            for lane in lanes:
                lane.result()
    elif missing := _missing(_core(GO_LANE, ROOTFS_LANE)):
        raise _not_built(missing)
    was_running = dockerd.pid() is not None
    dockerd.start()
    if build:
        build_lane(IMAGE_LANE)
        # rebuilt images leave their predecessors untagged: only the kit's daemon, its own
        _kit_docker("image", "prune", "-f")
    elif missing := _missing(_core(IMAGE_LANE)):  # images are looked up in the running daemon
        if not was_running:
            dockerd.stop()
        raise _not_built(missing)
    download_module_files()
    say(f"up in {time.monotonic() - start:.1f} s")
    say_missing_calico()
    print("\n".join(exports()))


def _kit_docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], env=dockerd.docker_env(), capture_output=True, text=True, check=False
    )


def down() -> None:
    if dockerd.pid() is None:
        say("dockerd not running: nothing to stop")
        return
    clusters = set(
        _kit_docker(
            "ps", "-a", "--filter", "label=io.x-k8s.kind.cluster",
            "--format", '{{.Label "io.x-k8s.kind.cluster"}}',
        ).stdout.split()
    )  # fmt: skip
    for cluster in sorted(clusters):
        say(f"deleting kind cluster {cluster}")
        subprocess.run(
            [str(BIN / "kind"), "delete", "cluster", "--name", cluster],
            env=dockerd.docker_env(),
            capture_output=True,
            check=False,
        )
    containers = _kit_docker("ps", "-aq").stdout.split()
    if containers:
        _kit_docker("rm", "-f", *containers)
    _kit_docker("network", "prune", "-f")
    dockerd.stop()
    leftover_mounts = [
        line.split()[4]
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if line.split()[4].startswith(str(RUN_DIR))
    ]
    for mount in sorted(leftover_mounts, reverse=True):
        subprocess.run(["umount", "-l", mount], capture_output=True, check=False)
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    say("down: images stay cached in " + str(dockerd.DATA_ROOT))


def status() -> None:
    running = dockerd.pid()
    for component in ALL:
        if component in IMAGE_LANE and running is None:
            state = "?"  # images are looked up in the daemon, which is stopped
        else:
            state = "built" if component.built() else "missing"
        print(f"{state:8} {_label(component)}")
    daemon = f"running, pid {running}" if running else "stopped"
    print(f"dockerd  {daemon} ({dockerd.DOCKER_HOST})")
    if running:
        missing = set(calico.OPERATOR.missing())
        for image in calico.OPERATOR.images:  # not built here: provided, or not
            print(f"{'missing' if image in missing else 'loaded':8} {image}")
        label = "label=io.x-k8s.kind.cluster"
        nodes = _kit_docker("ps", "--filter", label, "--format", "{{.Names}}")
        print("kind nodes: " + (", ".join(nodes.stdout.split()) or "none"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kit", description=__doc__)
    parser.add_argument("command", choices=("up", "down", "status", "env"))
    parser.add_argument(
        "--no-build", action="store_true", help="up: start only what is cached; exit 3 if not"
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            up(build=not args.no_build)
        elif args.command == "down":
            down()
        elif args.command == "env":
            print("\n".join(exports()))
        else:
            status()
    except BuildFailed as exc:
        print(f"kit: {exc}", file=sys.stderr)
        return 1
    except NotBuilt as exc:
        print(f"kit: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("kit: interrupted", file=sys.stderr)
        return 130
    return 0
