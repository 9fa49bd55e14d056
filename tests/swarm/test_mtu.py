"""Swarm MTU checks against the scripted swarm, on each overlay variant: the MTUs libnetwork
gives (1450 default, 1350 with the option 1400, 1424 encrypted) pass; a wrong MTU, a PMTU
blackhole, a DF ping sent or lost over the limit, and a stalled transfer fail."""

from __future__ import annotations

import pytest

from netconform.checks.swarm_mtu import MTU_VARIANTS, MtuVariant
from netconform.probes.model import ProbeKind
from netconform.results import Measure

from .cases import Case, fails, passes, skips
from .fake_swarm import FakeSwarm, answered, failed, lacking, when

# variant -> (its eth0 MTU on the swarm lab, the MTU option the overlay was created with)
MTU = {"default": (1450, None), "option": (1350, 1400), "encrypted": (1424, None)}
P3 = "10.10.0.12"  # probe@h3


def _variant_cases(variant: MtuVariant) -> list[Case]:
    v = variant.name
    mtu, option = MTU[v]
    service = str(variant.service)
    _, second, third = (t.ip for t in FakeSwarm().tasks(service))
    cases = [
        passes(
            f"mtu.interface.{v}",
            f"eth0 MTU {mtu} on all 3 tasks (option {option})",
            measurements={
                Measure.EFFECTIVE_MTU: mtu,
                Measure.MTU_OPTION: option,
                Measure.HOST_MTU: 1500,
            },
        ),
        fails(
            f"mtu.interface.{v}",
            "one task got the underlay's MTU",
            f"eth0 MTU differs from the rule's {mtu}",
            ctx=lambda: FakeSwarm(
                when(
                    answered(interfaces={"eth0": {"mtu": 1500}}),
                    kind=ProbeKind.INTERFACES,
                    source=f"{service}@h2",
                )
            ),
            measurements={Measure.EFFECTIVE_MTU: sorted({mtu, 1500})},
            observed={f"{service}@h2": 1500, f"{service}@h1": mtu},
        ),
        fails(
            f"mtu.interface.{v}",
            "eth0 unreadable on one task",
            f"eth0 MTU differs from the rule's {mtu}",
            ctx=lambda: FakeSwarm(
                when(failed("timeout"), kind=ProbeKind.INTERFACES, source=f"{service}@h3")
            ),
            observed={f"{service}@h3": None},
        ),
        passes(
            f"mtu.pmtu.{v}.df-at-limit",
            f"DF payload {mtu - 28} (MTU {mtu}) across hosts: all 6 reachable",
            measurements={
                Measure.LARGEST_DF_PAYLOAD: mtu - 28,
                Measure.INTERFACE_MTU: mtu,
                Measure.PROBES: 6,
            },
        ),
        passes(
            f"mtu.pmtu.{v}.df-at-limit",
            f"DF payload {mtu - 28} (MTU {mtu})",
            script="eth0 unreadable: the rule's MTU is used",
            ctx=lambda: FakeSwarm(when(failed("timeout"), kind=ProbeKind.INTERFACES)),
            measurements={Measure.INTERFACE_MTU: mtu},
        ),
        fails(
            f"mtu.pmtu.{v}.df-at-limit",
            "full-size DF pings to h3 vanish (PMTU blackhole)",
            f"DF payload {mtu - 28} (MTU {mtu}) across hosts: 2 of 6 not reachable",
            "(timeout); PMTU blackhole?",
            ctx=lambda: FakeSwarm(when(failed("timeout"), kind=ProbeKind.ICMP, target=third)),
            measurements={
                Measure.LARGEST_DF_PAYLOAD: None,
                Measure.INTERFACE_MTU: mtu,
                Measure.PROBES: 6,
            },
            observed={f"{service}@h1->{third}": "timeout", f"{service}@h1->{second}": "ok"},
        ),
        passes(
            f"mtu.pmtu.{v}.df-over-limit",
            f"payload {mtu - 27} refused locally: message too long (mtu {mtu})",
            measurements={Measure.INTERFACE_MTU: mtu},
            observed={"ok": False, "error": "emsgsize", "local_mtu": mtu},
        ),
        fails(
            f"mtu.pmtu.{v}.df-over-limit",
            "a DF ping over the MTU is sent",
            f"payload {mtu - 27} over MTU {mtu} was sent with DF set",
            ctx=lambda: FakeSwarm(when(answered(size=mtu - 27), kind=ProbeKind.ICMP, df=True)),
        ),
        fails(
            f"mtu.pmtu.{v}.df-over-limit",
            "a DF ping over the MTU is lost silently",
            f"payload {mtu - 27} failed silently (timeout), not with EMSGSIZE",
            ctx=lambda: FakeSwarm(when(failed("timeout"), kind=ProbeKind.ICMP, df=True)),
        ),
    ]
    ids = (f"mtu.interface.{v}", f"mtu.pmtu.{v}.df-at-limit", f"mtu.pmtu.{v}.df-over-limit")
    for capability in variant.requires:  # the encrypted overlay needs esp
        reason = f"{capability}: not in this kernel"
        cases += [
            skips(i, f"no {capability}", reason, ctx=lacking(capability, reason)) for i in ids
        ]
    return cases


CASES = [
    *(c for variant in MTU_VARIANTS for c in _variant_cases(variant)),
    passes(
        "mtu.transfer.cross-host",
        "4194304-byte transfers across host pairs: all 6 completed",
        measurements={
            Measure.TRANSFER_BYTES: 4194304,
            Measure.PROBES: 6,
            Measure.THROUGHPUT_MBIT_S: 838.86,
        },
        observed={f"probe@h1->{P3}": "ok"},
        # one exec per source, each transfer with the longer transfer timeout
        holds=lambda _, ctx: (
            all(
                p.kind == ProbeKind.TRANSFER
                and p.timeout_s == 10.0
                and p.params["bytes"] == 4194304
                for _, probes in ctx.batches
                for p in probes
            )
            and len(ctx.batches) == 3
        ),
    ),
    fails(
        "mtu.transfer.cross-host",
        "one transfer stalls after 64 KiB",
        f"4194304-byte transfers across host pairs: 1 of 6 not completed: probe@h2->{P3} "
        "(short transfer); stalled or reset",
        ctx=lambda: FakeSwarm(
            when(failed("short transfer", bytes=65536), source="probe@h2", target=P3)
        ),
        observed={f"probe@h2->{P3}": "short transfer"},
        measurements={Measure.THROUGHPUT_MBIT_S: 838.86},
        # how far it got, and the command that re-runs it
        holds=lambda result, _: (
            result.observed[f"probe@h2->{P3}"]["bytes"] == 65536
            and bool(result.observed[f"probe@h2->{P3}"]["reproduce"])
        ),
    ),
    fails(
        "mtu.transfer.cross-host",
        "every transfer reset",
        "4194304-byte transfers across host pairs: 6 of 6 not completed",
        ctx=lambda: FakeSwarm(when(failed("refused"), kind=ProbeKind.TRANSFER)),
        measurements={Measure.THROUGHPUT_MBIT_S: None},
    ),
]


VIP = "10.10.0.7"  # the vip service's VIP
CASES += [
    passes(
        "mtu.transfer.vip",
        f"4194304-byte transfers across hosts through VIP {VIP}: all 3 completed",
        measurements={Measure.TRANSFER_BYTES: 4194304, Measure.PROBES: 3},
        holds=lambda _, ctx: all(
            p.kind == ProbeKind.TRANSFER and p.target == VIP for _, ps in ctx.batches for p in ps
        ),
    ),
    fails(
        "mtu.transfer.vip",
        "the transfer from h2 through the VIP stalls",
        f"4194304-byte transfers across hosts through VIP {VIP}: 1 of 3 not completed",
        ctx=lambda: FakeSwarm(
            when(failed("short transfer", bytes=65536), source="probe@h2", target=VIP)
        ),
        observed={f"probe@h2->{VIP}": "short transfer"},
    ),
    skips(
        "mtu.transfer.vip",
        "no ipvs",
        "ip_vs: module not found",
        ctx=lacking("ipvs", "ip_vs: module not found"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_mtu_check(case: Case) -> None:
    case.run()
