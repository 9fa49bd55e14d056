"""Swarm reachability checks against the scripted swarm: each passes on what a conformant
overlay answers, and fails (naming the cell) on one broken path."""

from __future__ import annotations

import pytest

from netconform.platforms.swarm_plan import PEER, PUBLISHED_PORT, ServiceKey
from netconform.probes.model import ProbeKind
from netconform.results import Measure

from .cases import Case, fails, passes, seen, skips
from .fake_swarm import FakeSwarm, answered, failed, lacking, once, when

P1, P2, P3 = "10.10.0.10", "10.10.0.11", "10.10.0.12"  # probe@h1..h3 on the main overlay
VIP = "10.10.0.7"  # the vip service's VIP
BACKENDS = [t.container_id[:12] for t in FakeSwarm().tasks(ServiceKey.VIP)]  # its hostnames
H3 = "192.168.100.13"  # h3's underlay address


def _matrix_cases(scope: str, kind: ProbeKind) -> list[Case]:
    check = f"reachability.{scope}.{kind}"
    cross = scope == "cross-host"
    # one broken path: across hosts probe@h1 -> probe@h3; on one host the peer of h2 -> probe@h2
    broken = (
        when(failed("timeout"), kind=kind, source="probe@h1", target=P3)
        if cross
        else when(failed("refused"), kind=kind, source="ncr1-peer-h2", target=P2)
    )
    cell = "probe@h1->probe@h3 (timeout)" if cross else "ncr1-peer-h2->probe@h2 (refused)"
    return [
        passes(
            check,
            f"pairs over {kind}: all 6 reachable",
            measurements={Measure.PROBES: 6, Measure.ATTEMPTS: 1, Measure.LATENCY_P50_MS: 1.0},
        ),
        fails(
            check,
            "one path broken",
            f"pairs over {kind}: 1 of 6 not reachable: {cell}",
            ctx=lambda: FakeSwarm(broken),
            measurements={Measure.PROBES: 6},
            holds=lambda r, _: sum(seen(v) != "ok" for v in r.observed.values()) == 1,
        ),
        fails(
            check,
            "probe task down on h3",
            "no running probe task on h3",
            ctx=lambda: FakeSwarm(absent=[(ServiceKey.PROBE, "h3")]),
            holds=lambda _, ctx: ctx.batches == [],  # judged before probing anything
        ),
    ]


def _no_peer_on_a_host() -> Case:
    return fails(
        "reachability.same-host.tcp",
        "no peers at all",
        "no endpoint pairs to probe: deployment incomplete",
        ctx=lambda: FakeSwarm(absent=[(PEER, n) for n in ("h1", "h2", "h3")]),
    )


CASES = [
    *(
        c
        for k in (ProbeKind.ICMP, ProbeKind.TCP, ProbeKind.UDP)
        for c in _matrix_cases("cross-host", k)
    ),
    *(
        c
        for k in (ProbeKind.ICMP, ProbeKind.TCP, ProbeKind.UDP)
        for c in _matrix_cases("same-host", k)
    ),
    _no_peer_on_a_host(),
    passes(
        "reachability.cross-host.tcp",
        "pairs over tcp: all 6 reachable",
        script="a path that times out once, then heals",
        ctx=lambda: FakeSwarm(
            once(failed("timeout"), source="probe@h1", target=P3), converge_deadline_s=1.0
        ),
        measurements={Measure.ATTEMPTS: 2},  # polled again after the first round
    ),
    passes(
        "reachability.vip.round-robin",
        f"VIP {VIP}: all 3 backends answered",
        measurements={Measure.PROBES: 30, Measure.BACKENDS: 3, Measure.BACKENDS_ANSWERED: 3},
    ),
    fails(
        "reachability.vip.round-robin",
        "one backend answers every request",
        f"VIP {VIP}: backends never answering: {BACKENDS[1:]}",
        ctx=lambda: FakeSwarm(when(answered(peer=BACKENDS[0]), kind=ProbeKind.TCP, target=VIP)),
        measurements={Measure.PROBES: 30, Measure.BACKENDS: 3, Measure.BACKENDS_ANSWERED: 1},
    ),
    fails(
        "reachability.vip.round-robin",
        "the VIP refuses",
        "backends never answering",
        ctx=lambda: FakeSwarm(when(failed("refused"), target=VIP)),
        measurements={Measure.BACKENDS_ANSWERED: 0},
    ),
    skips(
        "reachability.vip.round-robin",
        "no ipvs",
        "ip_vs: module not found",
        ctx=lacking("ipvs", "ip_vs: module not found"),
    ),
    passes(
        "reachability.ingress.routing-mesh",
        "published port answers on all 3 hosts",
        holds=lambda r, _: len(r.observed) == 9 and set(map(seen, r.observed.values())) == {"ok"},
    ),
    fails(
        "reachability.ingress.routing-mesh",
        "h2 to h3's published port refused",
        f"published port silent: {{'h2->h3:{PUBLISHED_PORT}': 'refused'}}",
        ctx=lambda: FakeSwarm(
            when(failed("refused"), source="host@h2", target=H3, port=PUBLISHED_PORT)
        ),
    ),
    skips(
        "reachability.ingress.routing-mesh",
        "no host access",
        "platform lacks capability 'host-access'",
        ctx=lacking("host-access"),
    ),
    passes(
        "reachability.underlay.vxlan",
        "6 cross-host TCP exchanges seen on the underlay as VXLAN, VNI 4106",
        measurements={Measure.PROBES: 6, Measure.WIRE_PACKETS: {"vxlan": 12, "clear": 0}},
    ),
    fails(
        "reachability.underlay.vxlan",
        "no VXLAN with the network's VNI on the wire",
        "0 VXLAN frames with VNI 4106 on the wire for 6 exchanges (at least 12 expected)",
        ctx=lambda: FakeSwarm(wire=lambda c: {**c, "vxlan": 0}),
        observed={"vxlan": 0},
    ),
    fails(
        "reachability.underlay.vxlan",
        "one frame per exchange: the answers take another path",
        "6 VXLAN frames with VNI 4106 on the wire for 6 exchanges (at least 12 expected)",
        ctx=lambda: FakeSwarm(wire=lambda c: {**c, "vxlan": 6}),
    ),
    fails(
        "reachability.underlay.vxlan",
        "overlay packets in the clear",
        "5 packets from 10.10.0.0/24 on the wire unencapsulated",
        ctx=lambda: FakeSwarm(wire=lambda c: {**c, "clear": 5}),
    ),
    fails(
        "reachability.underlay.vxlan",
        "the traffic itself broken",
        "pairs over tcp: 1 of 6 not reachable",
        ctx=lambda: FakeSwarm(when(failed("timeout"), source="probe@h2", target=P1)),
        # the wire is still reported, though there is nothing to judge it by
        measurements={Measure.WIRE_PACKETS: {"vxlan": 10, "clear": 0}},
    ),
    fails(
        "reachability.underlay.vxlan",
        "probe task down on h1",
        "no running probe task on h1",
        ctx=lambda: FakeSwarm(absent=[(ServiceKey.PROBE, "h1")]),
        holds=lambda _, ctx: ctx.watches == [],
    ),
    skips(
        "reachability.underlay.vxlan",
        "underlay not watchable",
        "nft bridge family missing",
        ctx=lacking("underlay-capture", "nft bridge family missing"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_reachability_check(case: Case) -> None:
    case.run()
