"""Network namespaces, the underlay bridge and the host veths, through pyroute2 (netlink)."""

from __future__ import annotations

import contextlib
from pathlib import Path

from pyroute2 import NetNS, netns

NETNS_DIR = Path("/run/netns")
BRIDGE = "br0"


def exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def create(name: str) -> None:
    netns.create(name)
    with NetNS(name) as ns:
        ns.link("set", index=ns.link_lookup(ifname="lo")[0], state="up")


def remove(name: str) -> None:
    if exists(name):
        netns.remove(name)


def make_underlay(name: str, gateway: str, prefixlen: int, mtu: int) -> None:
    """The switch every host plugs into, in its own namespace (not the root one, whose
    FORWARD policy and br_netfilter would interfere)."""
    with NetNS(name) as ns:
        ns.link("add", ifname=BRIDGE, kind="bridge")
        idx = ns.link_lookup(ifname=BRIDGE)[0]
        ns.link("set", index=idx, mtu=mtu, state="up")
        ns.addr("add", index=idx, address=gateway, prefixlen=prefixlen)


def plug_host(
    underlay: str, host_ns: str, host: str, address: str, prefixlen: int, mtu: int
) -> None:
    """A veth from the underlay bridge to the host namespace, where it is eth0.

    No default route on purpose: every lab address is on-link, and a packet addressed
    outside the lab cannot even be sent."""
    port = f"{host}-port"
    with NetNS(underlay) as ul:
        ul.link("add", ifname=port, kind="veth", peer={"ifname": "eth0", "net_ns_fd": host_ns})
        idx = ul.link_lookup(ifname=port)[0]
        ul.link("set", index=idx, master=ul.link_lookup(ifname=BRIDGE)[0], mtu=mtu, state="up")
    with NetNS(host_ns) as ns:
        idx = ns.link_lookup(ifname="eth0")[0]
        ns.link("set", index=idx, mtu=mtu, state="up")
        ns.addr("add", index=idx, address=address, prefixlen=prefixlen)


def link_mtu(ns_name: str, ifname: str) -> int:
    with NetNS(ns_name) as ns:
        links = ns.get_links(ifname=ifname)
        return int(links[0].get("mtu"))


def set_link_mtu(ns_name: str, ifname: str, mtu: int) -> None:
    with NetNS(ns_name) as ns:
        ns.link("set", index=ns.link_lookup(ifname=ifname)[0], mtu=mtu)


def set_link_state(ns_name: str, ifname: str, up: bool) -> None:
    with NetNS(ns_name) as ns:
        ns.link("set", index=ns.link_lookup(ifname=ifname)[0], state="up" if up else "down")


def remove_all(names: list[str] | tuple[str, ...]) -> None:
    for name in names:
        with contextlib.suppress(FileNotFoundError, OSError):
            remove(name)
