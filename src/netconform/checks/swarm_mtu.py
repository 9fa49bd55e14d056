"""MTU on Swarm overlays: the container MTU against libnetwork's rule, DF pings across hosts
at the limit (pass) and one byte over (fails locally with EMSGSIZE), on the default, the
MTU-option and the encrypted overlay; and a bulk TCP transfer across every host pair."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from netconform.catalog.scenario import SwarmScenario
from netconform.checks.base import CATALOGUE, CheckSpec, Outcome, ProbeDidNotRun
from netconform.checks.grid import Cell, Expect, Grid, not_run
from netconform.checks.swarm_common import DOCS, cross_host, cross_host_pairs, run_grid, spec
from netconform.checks.swarm_context import SwarmCheckContext
from netconform.platforms.swarm_plan import Endpoint, NetworkKey, ServiceKey
from netconform.probes.agent import SERVER_TCP_PORT
from netconform.probes.model import Connectivity, ProbeKind
from netconform.results import Area, Measure, Verdict
from netconform.vocab import Capability, Fault

MTU_CODE = (
    "https://github.com/moby/moby/blob/v20.10.24/vendor/github.com/docker/libnetwork/"
    "drivers/overlay/encryption.go#L658 (maxMTU: (opt or 1500) - 50 VXLAN, - 26 ESP)"
)
VXLAN_OVERHEAD = 50
ESP_OVERHEAD = 26
ICMP_HEADER = 28  # IPv4 20 + ICMP 8: DF payload = MTU - 28


def expected_overlay_mtu(option: int | None, encrypted: bool) -> int:
    """libnetwork's rule: the option (or 1500) is the *underlay* packet size."""
    mtu = (option or 1500) - VXLAN_OVERHEAD
    if encrypted:
        mtu -= ESP_OVERHEAD
        mtu -= mtu % 4
    return mtu


@dataclass(frozen=True)
class MtuVariant:
    """One overlay the MTU checks run on: its check id part, the global service whose tasks
    sit on it, and how it was created."""

    name: str  # check id part: mtu.interface.<name>, mtu.pmtu.<name>.*
    service: ServiceKey
    with_mtu_option: bool = False  # created with the scenario's networks.mtu_option
    encrypted: bool = False
    requires: frozenset[Capability] = frozenset()  # what the overlay needs

    def option(self, scenario: SwarmScenario) -> int | None:
        """The MTU option the overlay was created with, None for Docker's default."""
        return scenario.networks.mtu_option if self.with_mtu_option else None

    def expected_mtu(self, scenario: SwarmScenario) -> int:
        return expected_overlay_mtu(self.option(scenario), self.encrypted)

    @property
    def aspect_part(self) -> str:
        """The default overlay tests the family-neutral aspect; the others their own."""
        return "" if self.name == "default" else f".{self.name}"


MTU_VARIANTS = (
    MtuVariant("default", ServiceKey.PROBE),
    MtuVariant("option", ServiceKey.MTU, with_mtu_option=True),
    MtuVariant(
        "encrypted", ServiceKey.ENCRYPTED, encrypted=True, requires=frozenset({Capability.ESP})
    ),
)


def _interface_mtu(ctx: SwarmCheckContext, endpoint: Endpoint) -> int | None:
    result = ctx.run(endpoint, [ctx.probe(ProbeKind.INTERFACES, "")])[0]
    if not result.ran:
        raise ProbeDidNotRun(f"interfaces of {endpoint.name}: {result.error}")
    if not result.ok:
        return None
    return int(result.values["interfaces"]["eth0"]["mtu"])


def _mtu_or_rule(ctx: SwarmCheckContext, variant: MtuVariant, endpoint: Endpoint) -> int:
    """The endpoint's eth0 MTU, or the rule's when it cannot be read."""
    return _interface_mtu(ctx, endpoint) or variant.expected_mtu(ctx.scenario)


def interface_follows_rule(ctx: SwarmCheckContext, variant: MtuVariant) -> Outcome:
    option = variant.option(ctx.scenario)
    want = variant.expected_mtu(ctx.scenario)
    seen = {t.name: _interface_mtu(ctx, t) for t in ctx.tasks(variant.service)}
    follows = all(v == want for v in seen.values())
    evidence: dict[str, Any] = {
        "expected": want,
        "observed": seen,
        "measurements": {
            Measure.MTU_OPTION: option,
            Measure.EFFECTIVE_MTU: want if follows else sorted({v for v in seen.values() if v}),
            Measure.HOST_MTU: ctx.platform_info().get("underlay_mtu"),
        },
    }
    if follows:
        return Outcome.passed(
            f"eth0 MTU {want} on all {len(seen)} tasks (option {option})", **evidence
        )
    return Outcome.failed(f"eth0 MTU differs from the rule's {want}: {seen}", **evidence)


def _df_pings(ctx: SwarmCheckContext, tasks: list[Endpoint], size: int, mtu: int) -> Grid[Endpoint]:
    """A DF ping of `size` from every task to every task on another host."""
    cells = [
        Cell(a, ctx.probe(ProbeKind.ICMP, b.ip, size=size, df=True), f"{a.name}->{b.ip}")
        for a, b in cross_host(tasks)
    ]
    return Grid(f"DF payload {size} (MTU {mtu}) across hosts", cells, failing="PMTU blackhole?")


def df_at_limit(ctx: SwarmCheckContext, variant: MtuVariant) -> Outcome:
    tasks = ctx.tasks(variant.service)
    mtu = _mtu_or_rule(ctx, variant, tasks[0])
    size = mtu - ICMP_HEADER
    outcome = run_grid(ctx, _df_pings(ctx, tasks, size, mtu))
    crossed = outcome.verdict == Verdict.PASS
    return _measured(
        outcome, {Measure.LARGEST_DF_PAYLOAD: size if crossed else None, Measure.INTERFACE_MTU: mtu}
    )


def _measured(outcome: Outcome, more: Mapping[Measure, Any]) -> Outcome:
    return replace(outcome, measurements={**outcome.measurements, **more})


def df_over_limit(ctx: SwarmCheckContext, variant: MtuVariant) -> Outcome:
    tasks = ctx.tasks(variant.service)
    src = tasks[0]
    dst = next(t for t in tasks if t.node != src.node)
    mtu = _mtu_or_rule(ctx, variant, src)
    size = mtu - ICMP_HEADER + 1
    result = ctx.run(src, [ctx.probe(ProbeKind.ICMP, dst.ip, size=size, df=True)])[0]
    observed = {
        "ok": result.ok,
        "error": result.error,
        "local_mtu": result.values.get("local_mtu"),
    }
    unrun = not_run({f"{src.name}->{dst.ip}": result}, f"DF ping of {size}")
    if unrun is not None:
        return unrun
    if result.outcome == Connectivity.EMSGSIZE:
        return Outcome.passed(
            f"payload {size} refused locally: message too long (mtu {mtu})",
            observed=observed,
            measurements={Measure.INTERFACE_MTU: mtu},
        )
    if result.ok:
        return Outcome.failed(
            f"payload {size} over MTU {mtu} was sent with DF set", observed=observed
        )
    return Outcome.failed(
        f"payload {size} failed silently ({result.error}), not with EMSGSIZE", observed=observed
    )


MtuCheck = Callable[[SwarmCheckContext, MtuVariant], Outcome]


def _variant_specs(variant: MtuVariant) -> list[tuple[CheckSpec, MtuCheck]]:
    v = variant.name
    return [
        (
            spec(
                f"mtu.interface.{v}",
                Area.MTU,
                "mtu.interface.overlay-rule" if v == "default" else f"mtu.interface.{v}",
                f"Container MTU follows the overlay rule ({v} network)",
                MTU_CODE,
                requires=variant.requires,
                not_catchable="the MTU is set by dockerd at attach; lab faults change the "
                "underlay, which the rule ignores by design",
            ),
            interface_follows_rule,
        ),
        (
            spec(
                f"mtu.pmtu.{v}.df-at-limit",
                Area.MTU,
                f"mtu.pmtu{variant.aspect_part}.df-at-limit",
                f"Cross-host DF ping at exactly the interface MTU passes ({v})",
                MTU_CODE,
                requires=variant.requires,
                catches=(Fault.MTU_MISMATCH,),
            ),
            df_at_limit,
        ),
        (
            spec(
                f"mtu.pmtu.{v}.df-over-limit",
                Area.MTU,
                f"mtu.pmtu{variant.aspect_part}.df-over-limit",
                f"DF ping one byte over the MTU fails locally with an error ({v})",
                MTU_CODE,
                requires=variant.requires,
                not_catchable="decided by the sender's own interface MTU",
            ),
            df_over_limit,
        ),
    ]


def _bind(check: MtuCheck, variant: MtuVariant) -> Callable[[SwarmCheckContext], Outcome]:
    return lambda ctx: check(ctx, variant)


for _variant in MTU_VARIANTS:
    for _spec, _check in _variant_specs(_variant):
        CATALOGUE.register(_spec)(_bind(_check, _variant))


COMPLETED = Expect("completed", lambda r: r.ok)


def _transfers(ctx: SwarmCheckContext, pairs: Sequence[tuple[Endpoint, str]], what: str) -> Outcome:
    """One transfer of the scenario's size over each (source, target address), all at once
    and once: a stalled transfer has used its whole timeout already."""
    size = ctx.scenario.mtu.transfer_bytes
    timeout = max(10.0, ctx.scenario.probe_timeout_s * 5)
    cells = [
        Cell(
            src,
            ctx.probe(ProbeKind.TRANSFER, dst, port=SERVER_TCP_PORT, bytes=size, timeout_s=timeout),
            f"{src.name}->{dst}",
            COMPLETED,
        )
        for src, dst in pairs
    ]
    grid = Grid(f"{size}-byte transfers across {what}", cells, failing="stalled or reset")
    polled = grid.poll(ctx, deadline_s=0)
    done = [r for r in polled.value.values() if r.ok]
    rates = [float(r.values["mbit_s"]) for r in done if r.values.get("mbit_s")]
    return _measured(
        grid.judge(polled),
        {Measure.TRANSFER_BYTES: size, Measure.THROUGHPUT_MBIT_S: min(rates) if rates else None},
    )


@CATALOGUE.register(
    spec(
        "mtu.transfer.cross-host",
        Area.MTU,
        "mtu.transfer.cross-host",
        "A 4 MiB TCP transfer completes across every host pair",
        DOCS,
        catches=(Fault.VXLAN_BLOCKED, Fault.MTU_MISMATCH),
    )
)
def bulk_transfer(ctx: SwarmCheckContext) -> Outcome:
    return _transfers(ctx, [(a, b.ip) for a, b in cross_host_pairs(ctx)], "host pairs")


@CATALOGUE.register(
    spec(
        "mtu.transfer.vip",
        Area.MTU,
        "mtu.transfer.service",
        "A 4 MiB TCP transfer through the service VIP completes from every host",
        DOCS,
        requires=frozenset({Capability.IPVS}),
        catches=(Fault.VXLAN_BLOCKED, Fault.MTU_MISMATCH),
    )
)
def vip_transfer(ctx: SwarmCheckContext) -> Outcome:
    """The same transfer through the VIP: IPVS picks a backend, usually on another host."""
    vip = str(ctx.vip(ServiceKey.VIP, NetworkKey.MAIN))
    sources = [(task, vip) for task in ctx.tasks(ServiceKey.PROBE)]
    return _transfers(ctx, sources, f"hosts through VIP {vip}")
