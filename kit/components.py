"""The kit's bill of materials: what is built from which Go module or Debian packages, and
how the images are put together. Every component has a cache key over its pins, recipe files
and inputs; `up` builds a component only when no output with its key exists."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kit import pins
from kit.core import BIN, CACHE, KIT_DIR, BuildFailed, Logged, digest, files_digest, tree
from kit.dockerd import docker_env
from kit.gobuild import GoBinaries, kubernetes_ldflags, staging_replaces
from kit.images import Layer, Recorded, docker_import, docker_save
from kit.rootfs import Rootfs

K8S_BINARIES = (
    "kubeadm",
    "kubelet",
    "kubectl",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kube-proxy",
)
CNI_PACKAGES = {
    "bridge": "main/bridge",
    "host-local": "ipam/host-local",
    "loopback": "main/loopback",
    "ptp": "main/ptp",
    "portmap": "meta/portmap",
    "tuning": "meta/tuning",
    "bandwidth": "meta/bandwidth",
}
CNI_MODULE = "github.com/containernetworking/plugins"

KIND_CLI = GoBinaries("kind", "sigs.k8s.io/kind", pins.KIND, {"kind": "sigs.k8s.io/kind"})
KUBERNETES = GoBinaries(
    "kubernetes",
    "k8s.io/kubernetes",
    pins.KUBERNETES,
    {b: f"k8s.io/kubernetes/cmd/{b}" for b in K8S_BINARIES},
    ldflags=kubernetes_ldflags(pins.KUBERNETES, "1970-01-01T00:00:00Z"),
    replaces=staging_replaces(
        "k8s.io/kubernetes", pins.KUBERNETES, "v0." + pins.KUBERNETES.split(".", 1)[1]
    ),
)
ETCD = GoBinaries(
    "etcd", "go.etcd.io/etcd/server/v3", pins.ETCD, {"etcd": "go.etcd.io/etcd/server/v3"}
)
COREDNS = GoBinaries(
    "coredns", "github.com/coredns/coredns", pins.COREDNS, {"coredns": "github.com/coredns/coredns"}
)
CRICTL = GoBinaries(
    "crictl",
    "sigs.k8s.io/cri-tools",
    pins.CRI_TOOLS,
    {"crictl": "sigs.k8s.io/cri-tools/cmd/crictl"},
)
CNI_PLUGINS = GoBinaries(
    "cni-plugins",
    CNI_MODULE,
    pins.CNI_PLUGINS,
    {name: f"{CNI_MODULE}/plugins/{pkg}" for name, pkg in CNI_PACKAGES.items()},
)
# flanneld imports every backend; the module proxy refuses the Tencent VPC SDK its
# tencent-vpc backend needs, so a stand-in of ours (kit/stubs) takes its place.
TENCENT_VPC = "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc"
TENCENT_VPC_STUB = KIT_DIR / "stubs" / "tencentcloud-vpc"
FLANNELD = GoBinaries(
    "flanneld",
    "github.com/flannel-io/flannel",
    pins.FLANNEL,
    # install-conf: the manifest's install-cni init container copies the CNI conflist with it
    {
        "flanneld": "github.com/flannel-io/flannel",
        "install-conf": "github.com/flannel-io/flannel/cmd/install_conf",
    },
    # cgo, as upstream builds it: the udp backend's proxy is C
    ldflags="-s -w -extldflags=-static "
    f"-X github.com/flannel-io/flannel/pkg/version.Version={pins.FLANNEL}",
    cgo=True,
    replaces=lambda: {TENCENT_VPC: str(TENCENT_VPC_STUB)},
    key_extra=(files_digest(tree(TENCENT_VPC_STUB)),),
)
FLANNEL_CNI = GoBinaries(
    "flannel-cni",
    CNI_MODULE,
    pins.FLANNEL_CNI_MODULE,
    {"flannel": f"{CNI_MODULE}/plugins/meta/flannel"},
)
GO_TARGETS = (KIND_CLI, KUBERNETES, ETCD, COREDNS, CRICTL, CNI_PLUGINS, FLANNELD, FLANNEL_CNI)

# The node: systemd as PID 1, Debian's containerd 1.6 and runc (Kubernetes 1.36 still runs on
# containerd 1.x, with the kubelet's cgroupDriver set to match), the tools the kubelet,
# kubeadm, kube-proxy, CNI plugins and kind's own node commands call.
NODE_ROOTFS = Rootfs(
    "node",
    (
        "systemd", "systemd-sysv", "dbus", "containerd", "runc", "iproute2", "iptables",
        "nftables", "conntrack", "ipset", "ebtables", "ethtool", "socat", "kmod", "procps",
        "util-linux", "mount", "ca-certificates", "libseccomp2", "bash", "coreutils",
    ),
)  # fmt: skip
# kube-proxy and the Flannel images: iptables/nftables and their helpers, nothing else.
NET_ROOTFS = Rootfs(
    "net", ("iptables", "nftables", "iproute2", "conntrack", "kmod", "ca-certificates")
)


def k8s_image(name: str, tag: str) -> str:
    return f"{pins.REGISTRY_K8S}/{name}:{tag}"


PAUSE_IMAGE = k8s_image("pause", pins.PAUSE)
ETCD_IMAGE = k8s_image("etcd", pins.ETCD.lstrip("v") + "-0")
COREDNS_IMAGE = k8s_image("coredns/coredns", pins.COREDNS)
FLANNEL_IMAGE = f"ghcr.io/flannel-io/flannel:{pins.FLANNEL}"
FLANNEL_CNI_IMAGE = f"ghcr.io/flannel-io/flannel-cni-plugin:{pins.FLANNEL_CNI_IMAGE_TAG}"

_PATH_ENV = "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin"
# A static binary needs no userland, but a few files make it a well-behaved container.
_SCRATCH = Layer(
    files={"/etc/passwd": b"root:x:0:0:root:/root:/sbin/nologin\n", "/etc/group": b"root:x:0:\n"},
    dirs=("/tmp", "/etc/ssl/certs"),
)


@dataclass(frozen=True)
class Image:
    """An image imported into the kit's dockerd: a rootfs (or none) plus files."""

    name: str
    tag: str
    base: Rootfs | None
    files: Callable[[], Mapping[str, Path | bytes]]
    inputs: tuple[str, ...]  # keys of what goes in
    changes: tuple[str, ...] = ()
    symlinks: Mapping[str, str] = field(default_factory=dict)  # path -> target

    @property
    def key(self) -> str:
        base = self.base.key if self.base else "scratch"
        links = (sorted(self.symlinks.items()),) if self.symlinks else ()
        return digest(self.tag, base, self.inputs, self.changes, *links)

    def built(self) -> bool:
        return Recorded(self.tag).current(self.key)

    def build(self) -> None:
        logged = Logged(f"image-{self.name}")
        logged.start()
        base = self.base.tarball if self.base else None
        if base is None:
            files = {**_SCRATCH.files, **self.files()}
            layer = Layer(files=files, dirs=_SCRATCH.dirs, symlinks=self.symlinks)
        else:
            layer = Layer(files=self.files(), symlinks=self.symlinks)
        docker_import(logged, base, layer, self.tag, (*self.changes, _PATH_ENV))
        Recorded(self.tag).record(self.key)


def _bin(target: GoBinaries, binary: str, at: str) -> Callable[[], Mapping[str, Path | bytes]]:
    return lambda: {at: target.path(binary)}


def _control_plane(binary: str) -> Image:
    return Image(
        binary,
        k8s_image(binary, pins.KUBERNETES),
        NET_ROOTFS if binary == "kube-proxy" else None,
        _bin(KUBERNETES, binary, f"/usr/local/bin/{binary}"),
        (KUBERNETES.key,),
    )


@dataclass(frozen=True)
class PauseBinary:
    """pause, compiled from the kit's own pause.c with the host's gcc, static."""

    name: str = "pause"

    @property
    def source(self) -> Path:
        return KIT_DIR / "pause.c"

    @property
    def key(self) -> str:
        return files_digest([self.source])

    @property
    def path(self) -> Path:
        return CACHE / "out" / f"pause-{self.key}" / "pause"

    def built(self) -> bool:
        return self.path.exists()

    def build(self) -> None:
        logged = Logged("pause")
        logged.start()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".partial")
        logged.run(["gcc", "-O2", "-static", "-o", str(partial), str(self.source)])
        partial.rename(self.path)


PAUSE_BINARY = PauseBinary()

CONTROL_PLANE_IMAGES = (
    *(_control_plane(b) for b in ("kube-apiserver", "kube-controller-manager", "kube-scheduler")),
    _control_plane("kube-proxy"),
    Image("etcd", ETCD_IMAGE, None, _bin(ETCD, "etcd", "/usr/local/bin/etcd"), (ETCD.key,)),
    Image(
        "coredns",
        COREDNS_IMAGE,
        None,
        _bin(COREDNS, "coredns", "/coredns"),
        (COREDNS.key,),
        ('ENTRYPOINT ["/coredns"]',),
    ),
    Image(
        "pause",
        PAUSE_IMAGE,
        None,
        lambda: {"/pause": PAUSE_BINARY.path},
        (PAUSE_BINARY.key,),
        ('ENTRYPOINT ["/pause"]',),
    ),
)

FLANNEL_IMAGES = (
    Image(
        "flannel",
        FLANNEL_IMAGE,
        NET_ROOTFS,
        lambda: {
            "/opt/bin/flanneld": FLANNELD.path("flanneld"),
            "/opt/bin/install-conf": FLANNELD.path("install-conf"),
        },
        (FLANNELD.key,),
        ('ENTRYPOINT ["/opt/bin/flanneld"]',),
    ),
    Image(
        "flannel-cni-plugin",
        FLANNEL_CNI_IMAGE,
        NET_ROOTFS,
        _bin(FLANNEL_CNI, "flannel", "/flannel"),
        (FLANNEL_CNI.key,),
    ),
)

NODE_FILES = KIT_DIR / "node" / "files"


def _node_files() -> dict[str, Path | bytes]:
    files: dict[str, Path | bytes] = {}
    for path in tree(NODE_FILES):
        at = "/" + str(path.relative_to(NODE_FILES))
        if at == "/etc/containerd/config.toml":
            files[at] = path.read_bytes().replace(b"@PAUSE_IMAGE@", PAUSE_IMAGE.encode())
        else:
            files[at] = path
    for binary in ("kubeadm", "kubelet", "kubectl"):
        files[f"/usr/bin/{binary}"] = KUBERNETES.path(binary)
    files["/usr/local/bin/crictl"] = CRICTL.path("crictl")
    for plugin in CNI_PACKAGES:
        files[f"/opt/cni/bin/{plugin}"] = CNI_PLUGINS.path(plugin)
    files["/kind/version"] = pins.KUBERNETES.encode() + b"\n"
    files["/kind/preload/images.tar"] = PRELOAD.archive
    return files


@dataclass(frozen=True)
class Preload:
    """The control-plane images as one docker-save archive, imported into the node's
    containerd when the node image is made (kubeadm init finds them there, pulls nothing)."""

    images: tuple[Image, ...]
    name: str = "preload"

    @property
    def key(self) -> str:
        return digest(*(i.key for i in self.images))

    @property
    def archive(self) -> Path:
        return CACHE / "preload" / f"control-plane-{self.key}.tar"

    def built(self) -> bool:
        return self.archive.exists()

    def build(self) -> None:
        logged = Logged("preload")
        logged.start()
        docker_save(logged, [i.tag for i in self.images], self.archive)


PRELOAD = Preload(CONTROL_PLANE_IMAGES)

NODE_CHANGES = (
    'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]',
    "ENV container=docker",
    # (no STOPSIGNAL: docker commit cannot set it; kind removes nodes with rm -f anyway)
    # netconform copies no CNI plugin onto nodes whose image lists it here
    f"LABEL io.netconform.node.cni-plugins={','.join(CNI_PACKAGES)}",
    f"LABEL io.netconform.node.kubernetes={pins.KUBERNETES}",
)


@dataclass(frozen=True)
class NodeImage:
    """The kind node image: the node rootfs, our units and configs, the Kubernetes binaries
    and CNI plugins, and the control-plane images preloaded into containerd's k8s.io
    namespace (imported by running containerd once in a throwaway container)."""

    tag: str = pins.NODE_IMAGE
    name: str = "node"

    @property
    def key(self) -> str:
        return digest(
            NODE_ROOTFS.key,
            KUBERNETES.key,
            CRICTL.key,
            CNI_PLUGINS.key,
            PRELOAD.key,
            files_digest(tree(NODE_FILES)),
            NODE_CHANGES,
        )

    def built(self) -> bool:
        return Recorded(self.tag).current(self.key)

    def build(self) -> None:
        logged = Logged("image-node")
        logged.start()
        stage = f"netconform.local/kind-node-stage:{self.key}"
        docker_import(logged, NODE_ROOTFS.tarball, Layer(files=_node_files()), stage, ())
        container = f"netconform-kit-node-stage-{self.key}"
        env = docker_env()
        subprocess.run(["docker", "rm", "-f", container], env=env, capture_output=True, check=False)
        logged.run(
            ["docker", "run", "-d", "--privileged", "--name", container, "--entrypoint",
             "containerd", stage],
            env=env,
        )  # fmt: skip
        try:
            self._wait_containerd(logged, container)
            logged.run(
                ["docker", "exec", container, "ctr", "--namespace=k8s.io", "images", "import",
                 "--all-platforms", "--no-unpack", "--digests", "/kind/preload/images.tar"],
                env=env,
            )  # fmt: skip
            logged.run(["docker", "exec", container, "rm", "-rf", "/kind/preload"], env=env)
            logged.run(["docker", "stop", "-t", "10", container], env=env)
            commit = ["docker", "commit"]
            for change in NODE_CHANGES:
                commit += ["--change", change]
            logged.run([*commit, container, self.tag], env=env)
        finally:
            subprocess.run(
                ["docker", "rm", "-f", container], env=env, capture_output=True, check=False
            )
            subprocess.run(["docker", "rmi", stage], env=env, capture_output=True, check=False)
        Recorded(self.tag).record(self.key)

    @staticmethod
    def _wait_containerd(logged: Logged, container: str) -> None:
        env = docker_env()
        for _ in range(60):
            probe = ["docker", "exec", container, "ctr", "version"]
            if subprocess.run(probe, env=env, capture_output=True, check=False).returncode == 0:
                return
            time.sleep(0.5)
        raise BuildFailed(
            f"component {logged.component}: containerd did not start; log: {logged.log}"
        )


NODE_IMAGE = NodeImage()


@dataclass(frozen=True)
class Tools:
    """Binaries on the PATH `up` exports (kind and kubectl; helm with Cilium)."""

    name: str
    sources: Callable[[], Mapping[str, Path]]  # binary name -> built file

    def built(self) -> bool:
        return all(
            (BIN / b).exists() and (BIN / b).read_bytes() == src.read_bytes()
            for b, src in self.sources().items()
        )

    def build(self) -> None:
        BIN.mkdir(parents=True, exist_ok=True)
        for binary, source in self.sources().items():
            tmp = BIN / f".{binary}.tmp"
            shutil.copyfile(source, tmp)
            tmp.chmod(0o755)
            tmp.replace(BIN / binary)


TOOLS = Tools(
    "tools", lambda: {"kind": KIND_CLI.path("kind"), "kubectl": KUBERNETES.path("kubectl")}
)
