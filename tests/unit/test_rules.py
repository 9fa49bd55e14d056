"""Decisions: the Swarm MTU rule, polling, addressing, capabilities."""

from __future__ import annotations

import ipaddress

import pytest
from test_deadline_loops import FakeClock  # one fake clock for the polling tests

from netconform.checks.base import poll
from netconform.checks.swarm_mtu import expected_overlay_mtu
from netconform.core import Capabilities
from netconform.errors import EnvironmentUnfit
from netconform.lab import addressing


@pytest.mark.parametrize(
    ("option", "encrypted", "mtu"),
    [(None, False, 1450), (None, True, 1424), (1450, False, 1400), (1450, True, 1372),
     (9000, False, 8950), (9000, True, 8924), (1400, False, 1350)],
)  # fmt: skip
def test_overlay_mtu_rule_matches_libnetwork(option: int | None, encrypted: bool, mtu: int) -> None:
    assert expected_overlay_mtu(option, encrypted) == mtu


def test_poll_stops_as_soon_as_the_expectation_holds() -> None:
    clock = FakeClock()
    values = iter([1, 2, 3, 4])
    polled = poll(lambda: next(values), lambda v: v == 3, 10, 1, clock, clock.sleep)
    assert (polled.value, polled.held, polled.attempts, polled.elapsed_s) == (3, True, 3, 2.0)


def test_poll_gives_up_at_the_deadline_keeping_the_last_observation() -> None:
    clock = FakeClock()
    polled = poll(lambda: clock.now, lambda v: False, 3, 1, clock, clock.sleep)
    assert not polled.held
    # the last observation is made at the deadline, never after it
    assert (polled.value, polled.attempts) == (3.0, 4)
    assert polled.elapsed_s <= 3


def test_pick_free_skips_routed_ranges() -> None:
    taken = [ipaddress.IPv4Network("192.168.213.0/24"), ipaddress.IPv4Network("192.168.0.0/23")]
    net = addressing.pick_free(addressing.UNDERLAY_CANDIDATES, taken, "underlay")
    assert net == ipaddress.IPv4Network("192.168.214.0/24")
    assert addressing.host_address(net, 1) == "192.168.214.11"
    assert addressing.gateway_address(net) == "192.168.214.1"


def test_pick_free_says_what_when_everything_is_taken() -> None:
    with pytest.raises(EnvironmentUnfit, match="underlay"):
        addressing.pick_free(["10.0.0.0/24"], [ipaddress.IPv4Network("10.0.0.0/8")], "underlay")


def test_capabilities_name_every_missing_one() -> None:
    caps = Capabilities(frozenset({"vxlan"}), {"esp": "kernel lacks ESP"})
    assert caps.why_missing(frozenset({"vxlan"})) is None
    why = caps.why_missing(frozenset({"esp", "ipvs"}))
    assert why == "kernel lacks ESP; platform lacks capability 'ipvs'"
