"""Detect the kernel features the checks depend on, by trying them in a scratch namespace.

Trying beats reading /proc/config.gz: a module may be loadable, or a built-in may be
disabled at run time. Each feature maps to a reason a skipped check can quote.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from pyroute2 import NetNS

from netconform.lab import capture, netns, nft
from netconform.vocab import Capability

IPPROTO_SCTP = 132


@dataclass(frozen=True)
class KernelFeatures:
    available: frozenset[Capability]
    missing: dict[Capability, str]  # feature -> why it is missing

    def to_json(self) -> dict[str, object]:
        return {"available": sorted(self.available), "missing": dict(sorted(self.missing.items()))}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> KernelFeatures:
        available = data.get("available", [])
        missing = data.get("missing", {})
        assert isinstance(available, list)
        assert isinstance(missing, dict)
        return cls(
            frozenset(Capability(a) for a in available),
            {Capability(k): str(v) for k, v in missing.items()},
        )


def _run_in(ns: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["nsenter", f"--net=/run/netns/{ns}", *argv],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )


def _modprobe(module: str) -> None:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(["modprobe", "-q", module], capture_output=True, timeout=10, check=False)


def _vxlan(ns: str) -> str | None:
    try:
        with NetNS(ns) as scratch:
            scratch.link("add", ifname="vxprobe", kind="vxlan", vxlan_id=42, vxlan_port=4789)
    except Exception as exc:  # the netlink error text is the reason
        return f"cannot create a VXLAN device: {exc}"
    return None


def _ipvs(ns: str) -> str | None:
    _modprobe("ip_vs")
    if os.path.exists("/proc/net/ip_vs"):
        return None
    return "kernel lacks IPVS (CONFIG_IP_VS): no /proc/net/ip_vs after modprobe ip_vs"


def _esp(ns: str) -> str | None:
    _modprobe("esp4")
    proc = _run_in(
        ns,
        "ip",
        "xfrm",
        "state",
        "add",
        "src",
        "10.0.0.1",
        "dst",
        "10.0.0.2",
        "proto",
        "esp",
        "spi",
        "0x100",
        "mode",
        "transport",
        "aead",
        "rfc4106(gcm(aes))",
        "0x" + "11" * 20,
        "128",
    )
    if proc.returncode == 0:
        return None
    return f"kernel lacks ESP/IPsec (CONFIG_INET_ESP): {proc.stderr.strip() or proc.returncode}"


def _sctp(ns: str) -> str | None:
    _modprobe("sctp")
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_SCTP).close()
    except OSError as exc:
        return f"kernel lacks SCTP (CONFIG_IP_SCTP): {exc.strerror}"
    return None


def _netem(ns: str) -> str | None:
    _modprobe("sch_netem")
    proc = _run_in(ns, "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms")
    if proc.returncode == 0:
        return None
    return f"kernel lacks tc netem (CONFIG_NET_SCH_NETEM): {proc.stderr.strip()}"


def _nftables(ns: str) -> str | None:
    proc = _run_in(ns, "nft", "add", "table", "inet", "ncprobe")
    if proc.returncode == 0:
        return None
    return f"nftables unavailable: {proc.stderr.strip() or 'nft failed'}"


def _nft_bridge(ns: str) -> str | None:
    """The underlay watch: a bridge-family table matching raw transport-header bits."""
    script = nft.bridge_forward_table("ncprobe", [f"{capture.vxlan_vni(42)} counter"])
    proc = _run_in(ns, "nft", script)
    if proc.returncode == 0:
        return None
    why = proc.stderr.strip() or "nft failed"
    return f"nftables bridge family unavailable (CONFIG_NF_TABLES_BRIDGE): {why}"


PROBES: dict[Capability, Callable[[str], str | None]] = {
    Capability.VXLAN: _vxlan,
    Capability.IPVS: _ipvs,
    Capability.ESP: _esp,
    Capability.SCTP: _sctp,
    Capability.NETEM: _netem,
    Capability.NFTABLES: _nftables,
    Capability.NFT_BRIDGE: _nft_bridge,
}


def detect() -> KernelFeatures:
    scratch = f"nc-probe-{uuid.uuid4().hex[:8]}"
    available: set[Capability] = set()
    missing: dict[Capability, str] = {}
    netns.create(scratch)
    try:
        for feature, probe in PROBES.items():
            try:
                why = probe(scratch)
            except (OSError, subprocess.SubprocessError) as exc:
                why = f"{feature} probe failed: {exc}"
            if why is None:
                available.add(feature)
            else:
                missing[feature] = why
    finally:
        netns.remove(scratch)
    return KernelFeatures(frozenset(available), missing)
