"""Pick lab address ranges that do not clash with the machine's own routes."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from netconform.errors import EnvironmentUnfit

# Candidates are tried in order; the first that overlaps no route of the machine wins.
UNDERLAY_CANDIDATES = tuple(f"192.168.{n}.0/24" for n in range(213, 254))
POOL_CANDIDATES = tuple(f"10.{n}.0.0/16" for n in range(213, 254))


def machine_routes() -> list[ipaddress.IPv4Network]:
    from pyroute2 import IPRoute

    nets: list[ipaddress.IPv4Network] = []
    with IPRoute() as ipr:
        for route in ipr.get_routes(family=2):
            dst = route.get_attr("RTA_DST")
            if dst is None:
                continue  # the default route overlaps everything; it is not a clash
            nets.append(ipaddress.IPv4Network(f"{dst}/{route['dst_len']}", strict=False))
    return nets


def pick_free(
    candidates: Iterable[str],
    taken: Iterable[ipaddress.IPv4Network],
    what: str,
) -> ipaddress.IPv4Network:
    taken = list(taken)
    for text in candidates:
        net = ipaddress.IPv4Network(text)
        if not any(net.overlaps(t) for t in taken):
            return net
    raise EnvironmentUnfit(f"no free private range for the lab {what}: all candidates are routed")


def host_address(subnet: ipaddress.IPv4Network, index: int) -> str:
    """Host N (1-based) gets .10+N; .1 is the underlay gateway."""
    return str(subnet.network_address + 10 + index)


def gateway_address(subnet: ipaddress.IPv4Network) -> str:
    return str(subnet.network_address + 1)
