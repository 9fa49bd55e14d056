"""Swarm isolation checks against the scripted swarm: isolated overlays, an --internal overlay
and an encrypted one pass as Docker builds them; a breach, a way out, a broken control or
readable VXLAN on the wire fails."""

from __future__ import annotations

import pytest

from netconform.platforms.swarm_plan import ServiceKey
from netconform.probes.model import ProbeKind
from netconform.results import Measure

from .cases import Case, fails, passes, skips
from .fake_swarm import FakeSwarm, answered, failed, lacking, when

OTHER_H1, OTHER_H2 = "10.20.0.40", "10.20.0.41"  # other@h1, other@h2
INTERNAL_H2 = "10.40.0.101"
ENCRYPTED_H3 = "10.50.0.132"
H2, H3 = "192.168.100.12", "192.168.100.13"  # underlay addresses
GOSSIP = 7946


def _without_internal_tasks() -> FakeSwarm:
    return FakeSwarm(absent=[(ServiceKey.INTERNAL, n) for n in ("h1", "h2", "h3")])


CASES = [
    passes(
        "isolation.overlays.cross-network",
        "pairs over tcp: all 18 unreachable (control: reachable within its own overlay)",
        measurements={Measure.PROBES: 18},
        observed={"ncr1-peer-h1->other@h1": "timeout", "probe@h3->other@h1": "timeout"},
    ),
    fails(
        "isolation.overlays.cross-network",
        "a peer reaches the other overlay on its own host",
        "pairs over tcp: 1 of 18 not unreachable: ncr1-peer-h1->other@h1 (connected)",
        ctx=lambda: FakeSwarm(when(answered(peer="x"), source="ncr1-peer-h1", target=OTHER_H1)),
    ),
    fails(
        "isolation.overlays.cross-network",
        "control: the other overlay broken itself",
        "control failed (the other overlay is broken itself): pairs over tcp: 1 of 6 not reachable",
        ctx=lambda: FakeSwarm(when(failed("timeout"), source="other@h1", target=OTHER_H2)),
    ),
    passes(
        "isolation.internal.no-default-route",
        "3 internal tasks: no default route, only eth0",
        observed={"internal@h2": {"default_route": False, "interfaces": ["eth0", "lo"]}},
    ),
    fails(
        "isolation.internal.no-default-route",
        "a default route on one task",
        "internal tasks with egress plumbing: {'internal@h2': {'default_route': True,",
        ctx=lambda: FakeSwarm(
            when(answered(routes=[], has_default=True), kind=ProbeKind.ROUTES, source="internal@h2")
        ),
    ),
    fails(
        "isolation.internal.no-default-route",
        "a gateway interface on one task",
        "'interfaces': ['eth0', 'eth1', 'lo']",
        ctx=lambda: FakeSwarm(
            when(
                answered(interfaces={"eth0": {"mtu": 1450}, "eth1": {"mtu": 1500}, "lo": {}}),
                kind=ProbeKind.INTERFACES,
                source="internal@h3",
            )
        ),
    ),
    fails(
        "isolation.internal.no-default-route",
        "the routes cannot be read",
        "internal tasks with egress plumbing",  # unknown is not "no default route"
        ctx=lambda: FakeSwarm(when(failed("timeout"), kind=ProbeKind.ROUTES)),
        observed={"internal@h1": {"default_route": None, "interfaces": ["eth0", "lo"]}},
    ),
    fails(
        "isolation.internal.no-default-route",
        "no internal task running",
        "no internal task found",
        ctx=_without_internal_tasks,
    ),
    passes(
        "isolation.internal.no-egress",
        "no egress from the internal overlay (control: the normal overlay has egress)",
        observed={f"internal@h1->{H2}:{GOSSIP}": "unreachable"},
        holds=lambda r, _: len(r.observed) == 6,
    ),
    fails(
        "isolation.internal.no-egress",
        "an internal task reaches the underlay",
        f"internal overlay reached the underlay: ['internal@h1->{H2}:{GOSSIP}', "
        f"'internal@h1->{H3}:{GOSSIP}']",
        ctx=lambda: FakeSwarm(when(answered(connected=True), source="internal@h1", port=GOSSIP)),
    ),
    fails(
        "isolation.internal.no-egress",
        "control: the normal overlay has no egress either",
        "control failed: a normal overlay cannot reach the underlay either: [None, 'refused']",
        ctx=lambda: FakeSwarm(when(failed("refused"), source="probe@h1", target=H3, port=GOSSIP)),
    ),
    fails(
        "isolation.internal.no-egress",
        "traffic inside the internal overlay broken",
        "traffic inside the internal overlay broken: pairs over tcp: 1 of 6 not reachable",
        ctx=lambda: FakeSwarm(when(failed("timeout"), source="internal@h1", target=INTERNAL_H2)),
        holds=lambda _, ctx: all(p.port != GOSSIP for _, ps in ctx.batches for p in ps),
    ),
    passes(
        "isolation.encrypted.works",
        "pairs over tcp: all 6 reachable",
        measurements={Measure.PROBES: 6},
        observed={"encrypted@h1->encrypted@h3": "ok"},
    ),
    fails(
        "isolation.encrypted.works",
        "h1 to h3 broken on the encrypted overlay",
        "pairs over tcp: 1 of 6 not reachable: encrypted@h1->encrypted@h3 (timeout)",
        ctx=lambda: FakeSwarm(when(failed("timeout"), source="encrypted@h1", target=ENCRYPTED_H3)),
    ),
    skips(
        "isolation.encrypted.works",
        "no esp",
        "platform lacks capability 'esp'",
        ctx=lacking("esp"),
    ),
    passes(
        "isolation.encrypted.esp-only",
        "6 cross-host TCP exchanges seen on the underlay as ESP only",
        measurements={Measure.WIRE_PACKETS: {"esp": 12, "vxlan": 0, "clear": 0}},
    ),
    fails(
        "isolation.encrypted.esp-only",
        "VXLAN of the encrypted overlay readable on the wire",
        "4 VXLAN frames with VNI 4146 readable on the wire",
        ctx=lambda: FakeSwarm(wire=lambda c: {**c, "vxlan": 4}),
    ),
    fails(
        "isolation.encrypted.esp-only",
        "no ESP on the wire",
        "0 ESP packets on the wire for 6 exchanges (at least 12 expected)",
        ctx=lambda: FakeSwarm(wire=lambda c: {**c, "esp": 0}),
    ),
    skips(
        "isolation.encrypted.esp-only",
        "underlay not watchable",
        "platform lacks capability 'underlay-capture'",
        ctx=lacking("underlay-capture"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_isolation_check(case: Case) -> None:
    case.run()
