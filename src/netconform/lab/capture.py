"""Count what crosses the lab's underlay switch, to prove how overlay traffic is carried.

An nftables table in the bridge family hooks the underlay bridge's forward path, which sees
every frame between two hosts exactly as it is on the wire; each rule is a named counter.
A table per watch (unique name), so checks running side by side never share counters.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator, Mapping

from netconform.lab import nft

VXLAN_PORT = 4789
# Offset of the 24-bit VNI from the start of the UDP header: 8 (UDP) + 4 (VXLAN flags) bytes
VNI_BIT_OFFSET = 96


def vxlan_vni(vni: int) -> str:
    """Match VXLAN frames of one network (RFC 7348 §5: the VNI is bits 32-55 of the header)."""
    return f"udp dport {VXLAN_PORT} @th,{VNI_BIT_OFFSET},24 {vni}"


def esp() -> str:
    return "ip protocol esp"


def unencapsulated(subnet: str) -> str:
    """An overlay address in the outer IP header: overlay traffic on the wire in the clear."""
    return f"ip saddr {subnet}"


class UnderlayWatch:
    """Named counters on the underlay bridge; read them while the table exists."""

    def __init__(self, netns_name: str, rules: Mapping[str, str]) -> None:
        self._netns_path = f"/run/netns/{netns_name}"
        self._rules = dict(rules)
        self._table = f"netconform_watch_{uuid.uuid4().hex[:8]}"

    def install(self) -> None:
        rules = (f'{match} counter comment "{name}"' for name, match in self._rules.items())
        nft.run(self._netns_path, nft.bridge_forward_table(self._table, rules))

    def read(self) -> dict[str, int]:
        """Packets counted so far, per rule name."""
        listing = nft.run(self._netns_path, f"list table bridge {self._table}", json_output=True)
        raw = json.loads(listing)
        packets: dict[str, int] = {}
        for item in raw.get("nftables", []):
            rule = item.get("rule")
            if not rule or rule.get("comment") not in self._rules:
                continue
            for expr in rule.get("expr", []):
                if "counter" in expr:
                    packets[rule["comment"]] = int(expr["counter"]["packets"])
        return packets

    def remove(self) -> None:
        with contextlib.suppress(Exception):  # gone with the namespace if the lab went first
            nft.run(self._netns_path, f"delete table bridge {self._table}")


@contextlib.contextmanager
def watch_underlay(netns_name: str, rules: Mapping[str, str]) -> Iterator[UnderlayWatch]:
    watch = UnderlayWatch(netns_name, rules)
    watch.install()
    try:
        yield watch
    finally:
        watch.remove()
