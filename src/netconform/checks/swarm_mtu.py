"""MTU on Swarm overlays: the container MTU against libnetwork's rule, DF pings across hosts
at the limit (pass) and one byte over (fails locally with EMSGSIZE), on the default, the
MTU-option and the encrypted overlay; and a bulk TCP transfer across every host pair."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from netconform.catalog.scenario import SwarmScenario
from netconform.checks.base import CATALOGUE, CheckSpec, Outcome, ProbeDidNotRun, poll
from netconform.checks.swarm_common import (
    DOCS,
    cross_host,
    cross_host_pairs,
    not_run,
    spec,
)
from netconform.checks.swarm_context import SwarmCheckContext
from netconform.platforms.swarm_plan import Endpoint, NetworkKey, ServiceKey
from netconform.probes.agent import SERVER_TCP_PORT
from netconform.probes.model import Connectivity, Probe, ProbeKind, ProbeResult
from netconform.results import Area, Measure
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


def _df_batches(
    ctx: SwarmCheckContext, tasks: list[Endpoint], size: int
) -> dict[Endpoint, list[Probe]]:
    """A DF ping of `size` from every task to every task on another host."""
    pairs = cross_host(tasks)
    return {
        a: [ctx.probe(ProbeKind.ICMP, b.ip, size=size, df=True) for a2, b in pairs if a2 == a]
        for a in {p[0] for p in pairs}
    }


def _by_pair(results: Mapping[Endpoint, list[ProbeResult]]) -> dict[str, Any]:
    return {f"{s.name}->{r.target}": r.evidence() for s, rs in results.items() for r in rs}


def df_at_limit(ctx: SwarmCheckContext, variant: MtuVariant) -> Outcome:
    tasks = ctx.tasks(variant.service)
    mtu = _mtu_or_rule(ctx, variant, tasks[0])
    size = mtu - ICMP_HEADER
    batches = _df_batches(ctx, tasks, size)
    polled = poll(
        lambda: ctx.run_many(batches),
        lambda res: all(r.ok for rs in res.values() for r in rs),
        ctx.scenario.converge_deadline_s,
    )
    observed = _by_pair(polled.value)
    measurements = {
        Measure.LARGEST_DF_PAYLOAD: size if polled.held else None,
        Measure.INTERFACE_MTU: mtu,
        Measure.PROBES: len(observed),
    }
    every = [r for rs in polled.value.values() for r in rs]
    unrun = not_run(every, f"DF pings of {size}", observed=observed, measurements=measurements)
    if unrun is not None:
        return unrun
    if polled.held:
        return Outcome.passed(
            f"DF payload {size} (MTU {mtu}) crosses every host pair",
            observed=observed,
            measurements=measurements,
        )
    return Outcome.failed(
        f"DF payload {size} lost between hosts (PMTU blackhole?)",
        observed=observed,
        measurements=measurements,
    )


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
    unrun = not_run([result], f"DF ping of {size}")
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


def _transfer_batches(ctx: SwarmCheckContext) -> dict[Endpoint, list[Probe]]:
    """One transfer of the scenario's size from every probe task to each on another host."""
    size = ctx.scenario.mtu.transfer_bytes
    timeout = max(10.0, ctx.scenario.probe_timeout_s * 5)
    batches: dict[Endpoint, list[Probe]] = {}
    for a, b in cross_host_pairs(ctx):
        batches.setdefault(a, []).append(
            ctx.probe(ProbeKind.TRANSFER, b.ip, port=SERVER_TCP_PORT, bytes=size, timeout_s=timeout)
        )
    return batches


def _transfer_seen(r: ProbeResult) -> str:
    if r.ok:
        return f"{r.values.get('mbit_s')} Mbit/s"
    return f"{r.error} after {r.values.get('bytes', 0)} bytes"


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
    results = [(s, r) for s, rs in ctx.run_many(_transfer_batches(ctx)).items() for r in rs]
    return _judge_transfers(ctx, results, "host pairs")


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
    size = ctx.scenario.mtu.transfer_bytes
    timeout = max(10.0, ctx.scenario.probe_timeout_s * 5)
    batches = {
        task: [
            ctx.probe(ProbeKind.TRANSFER, vip, port=SERVER_TCP_PORT, bytes=size, timeout_s=timeout)
        ]
        for task in ctx.tasks(ServiceKey.PROBE)
    }
    results = [(s, r) for s, rs in ctx.run_many(batches).items() for r in rs]
    return _judge_transfers(ctx, results, f"hosts through VIP {vip}")


def _judge_transfers(
    ctx: SwarmCheckContext, results: list[tuple[Endpoint, ProbeResult]], what: str
) -> Outcome:
    size = ctx.scenario.mtu.transfer_bytes
    observed = {f"{s.name}->{r.target}": _transfer_seen(r) for s, r in results}
    rates = [float(r.values["mbit_s"]) for _, r in results if r.ok and r.values.get("mbit_s")]
    measurements = {
        Measure.TRANSFER_BYTES: size,
        Measure.PROBES: len(observed),
        Measure.THROUGHPUT_MBIT_S: min(rates) if rates else None,
    }
    unrun = not_run([r for _, r in results], "transfers", measurements=measurements)
    if unrun is not None:
        return unrun
    if all(r.ok for _, r in results):
        return Outcome.passed(
            f"{size} bytes crossed all {len(observed)} {what}",
            observed=observed,
            measurements=measurements,
        )
    return Outcome.failed(
        "bulk transfer stalled or reset", observed=observed, measurements=measurements
    )
