"""Cilium for the kit: the agent and operator-generic images the v1.20.0 chart runs, built
from the github.com/cilium/cilium module and Debian packages, helm to install the chart, and
the chart itself packaged from the same module tree.

No Envoy (a Bazel build, not buildable offline): netconform installs the chart with the L7
proxy off when the kit has no cilium-envoy image, and says so as a missing capability."""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kit import pins
from kit.components import CNI_PLUGINS, Image, Tools
from kit.core import CACHE, KIT_DIR, Logged, digest, files_digest, tree
from kit.gobuild import GoBinaries, downloaded, module_replaces
from kit.rootfs import Rootfs

MODULE = "github.com/cilium/cilium"
_VERSION = pins.CILIUM.lstrip("v")
# What the upstream Makefile stamps (VERSION, then the commit and its date), as ciliumVersion.
_LDFLAGS = f"-s -w -X '{MODULE}/pkg/version.ciliumVersion={_VERSION} {pins.CILIUM_BUILD}'"

# Two of Cilium's dependencies are refused by the module proxy: gobgp at a pseudo-version
# between v4.6.0 and v4.7.0 (its successor v4.7.0 takes its place) and mcs-api/controllers,
# of which Cilium reads one constant (a stand-in of ours, kit/stubs, takes its place).
MCS_CONTROLLERS = "sigs.k8s.io/mcs-api/controllers"
MCS_CONTROLLERS_STUB = KIT_DIR / "stubs" / "mcs-api-controllers"
_OVERRIDES = {
    "github.com/osrg/gobgp/v4": "github.com/osrg/gobgp/v4 v4.7.0",
    MCS_CONTROLLERS: str(MCS_CONTROLLERS_STUB),
}


def _replaces() -> Mapping[str, str]:
    return {**module_replaces(MODULE, pins.CILIUM)(), **_OVERRIDES}


# by content, never by where the checkout is: a fresh clone must find the same cache
_STUBS_KEY = (
    files_digest(tree(MCS_CONTROLLERS_STUB)),
    sorted((module, target.replace(str(KIT_DIR), "kit")) for module, target in _OVERRIDES.items()),
)

AGENT_BINARIES = GoBinaries(
    "cilium",
    MODULE,
    pins.CILIUM,
    {
        "cilium-agent": f"{MODULE}/daemon",
        "cilium-dbg": f"{MODULE}/cilium-dbg",
        "cilium-health": f"{MODULE}/cilium-health",
        "cilium-health-responder": f"{MODULE}/cilium-health/responder",
        "cilium-cni": f"{MODULE}/plugins/cilium-cni",
        "cilium-mount": f"{MODULE}/tools/mount",
        "cilium-sysctlfix": f"{MODULE}/tools/sysctlfix",
    },
    ldflags=_LDFLAGS,
    tags="osusergo",
    replaces=_replaces,
    key_extra=_STUBS_KEY,
)
OPERATOR_BINARY = GoBinaries(
    "cilium-operator",
    MODULE,
    pins.CILIUM,
    {"cilium-operator-generic": f"{MODULE}/operator"},
    ldflags=_LDFLAGS,
    tags="osusergo,ipam_provider_operator",  # the generic (non-cloud) IPAM flavour
    replaces=_replaces,
    key_extra=_STUBS_KEY,
)
HELM = GoBinaries("helm", "helm.sh/helm/v3", pins.HELM, {"helm": "helm.sh/helm/v3/cmd/helm"})
GO_TARGETS = (AGENT_BINARIES, OPERATOR_BINARY, HELM)
HELM_TOOL = Tools("helm-tool", lambda: {"helm": HELM.path("helm")})

# The agent compiles its datapath at start: clang and llc at runtime, plus the tools its init
# containers and the agent call (iptables, ipset, ip/tc, nsenter, mount, bash).
AGENT_ROOTFS = Rootfs(
    "cilium",
    (
        f"clang-{pins.LLVM}", f"llvm-{pins.LLVM}", "iptables", "ipset", "iproute2", "kmod",
        "util-linux", "mount", "bash", "coreutils", "findutils", "grep", "ca-certificates",
        "procps",
    ),
)  # fmt: skip

AGENT_IMAGE = f"quay.io/cilium/cilium:{pins.CILIUM}"
OPERATOR_IMAGE = f"quay.io/cilium/operator-generic:{pins.CILIUM}"
SCRIPTS = KIT_DIR / "cilium" / "files"
# The datapath sources the agent compiles, as upstream's install-bpf copies them.
_BPF_SKIPPED = ("tests/", "complexity-tests/", "custom/", "Makefile", ".gitignore")


def _module_dir() -> Path:
    return Path(downloaded(MODULE, pins.CILIUM)["Dir"])


def _agent_files() -> Mapping[str, Path | bytes]:
    files: dict[str, Path | bytes] = {}
    for binary in AGENT_BINARIES.packages:
        if binary != "cilium-cni":
            files[f"/usr/bin/{binary}"] = AGENT_BINARIES.path(binary)
    files["/opt/cni/bin/cilium-cni"] = AGENT_BINARIES.path("cilium-cni")
    files["/cni/loopback"] = CNI_PLUGINS.path("loopback")  # for nodes that have none
    for script in tree(SCRIPTS):
        files[f"/{script.name}"] = script
    bpf = _module_dir() / "bpf"
    for path in tree(bpf):
        rel = str(path.relative_to(bpf))
        if not rel.startswith(_BPF_SKIPPED):
            files[f"/var/lib/cilium/bpf/{rel}"] = path
    return files


AGENT = Image(
    "cilium",
    AGENT_IMAGE,
    AGENT_ROOTFS,
    _agent_files,
    (AGENT_BINARIES.key, CNI_PLUGINS.key, files_digest(tree(SCRIPTS))),
    ('ENV INITSYSTEM="SYSTEMD"', 'CMD ["/usr/bin/cilium-dbg"]', "WORKDIR /home/cilium"),
    symlinks={
        "/usr/bin/cilium": "cilium-dbg",  # the older name probes and docs still call
        "/usr/local/bin/clang": f"/usr/bin/clang-{pins.LLVM}",
        "/usr/local/bin/llc": f"/usr/bin/llc-{pins.LLVM}",
    },
)


OPERATOR = Image(
    "cilium-operator",
    OPERATOR_IMAGE,
    None,
    lambda: {"/usr/bin/cilium-operator-generic": OPERATOR_BINARY.path("cilium-operator-generic")},
    (OPERATOR_BINARY.key,),
)


@dataclass(frozen=True)
class Chart:
    """The chart, packaged from the module's install/kubernetes/cilium as `helm package`
    would (a gzipped tar of cilium/...). It is the source tree's chart: image digests empty,
    useDigest false, unlike the published one (see shared/cni/README.md)."""

    name: str = "cilium-chart"

    @property
    def key(self) -> str:
        return digest(MODULE, pins.CILIUM, "chart-v1")

    @property
    def archive(self) -> Path:
        return CACHE / "artifacts" / self.key / f"cilium-{_VERSION}.tgz"

    def built(self) -> bool:
        return self.archive.exists()

    def build(self) -> None:
        logged = Logged(self.name)
        logged.start()
        source = _module_dir() / "install" / "kubernetes" / "cilium"
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as out:
            for path in sorted(tree(source)):
                info = out.gettarinfo(str(path), arcname="cilium/" + str(path.relative_to(source)))
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                info.mode = 0o644
                info.mtime = 0  # the same bytes on every machine
                with path.open("rb") as data:
                    out.addfile(info, data)
        self.archive.parent.mkdir(parents=True, exist_ok=True)
        partial = self.archive.with_suffix(".partial")
        partial.write_bytes(gzip.compress(buffer.getvalue(), mtime=0))
        partial.rename(self.archive)


CHART = Chart()
