"""Swarm perf checks against the scripted swarm (tests/swarm/perf_plane.py): the figures,
spreads and ratios to the host network come out as the plane's rates say; a server that
cannot be reached fails (could not measure), an agent that crashed is an error, and the
scenario's opt-in thresholds fail a path under them."""

from __future__ import annotations

import pytest

from netconform.catalog.scenario import PerfParams, load_swarm_scenario
from netconform.platforms.swarm_plan import ContainerRole
from netconform.probes.model import ProbeKind
from netconform.results import Measure

from .cases import Case, fails, passes, skips
from .fake_swarm import NOT_RUN, FakeSwarm, failed, lacking, when

REFUSED = failed("iperf3: unable to connect to server: Connection refused", "refused")


def _with(**perf: object) -> FakeSwarm:
    scenario = load_swarm_scenario().model_copy(update={"perf": PerfParams(**perf)})
    return FakeSwarm(scenario=scenario)


def _refused(kind: ProbeKind, source: str) -> FakeSwarm:
    return FakeSwarm(when(REFUSED, kind=kind, source=source))


CASES = [
    passes(
        "perf.tcp.cross-host",
        "overlay 9450 Mbit/s (best of 3, spread 10%)",  # the best sample: 1.05 x the plane's rate
        "host network 14490 Mbit/s; ratio 0.652",
        measurements={
            Measure.MBIT_S: 9450.0,
            Measure.MBIT_S_SAMPLES: [8550.0, 9000.0, 9450.0],  # the client's 3 samples
            Measure.SPREAD_PCT: 10.0,
            Measure.BASELINE_MBIT_S: 14490.0,
            Measure.RATIO_TO_BASELINE: 0.652,
            Measure.STREAMS: 1,
            Measure.SAMPLES: 3,
            # client 3 x 0.4 s + server 1.5 s over 3.375 GB
            Measure.CPU_S_PER_GB: 0.8,
            Measure.BASELINE: "host network",
        },
        holds=lambda result, ctx: (
            [s.name for s, _ in ctx.batches if _[0].kind == "iperf3"]
            == ["probe@h1", "ncr1-host-h1"] * 3
        ),  # alternating, one probe per exec
    ),
    fails(
        "perf.tcp.cross-host",
        "the overlay's iperf3 server refuses",
        "could not measure: iperf3 to 10.10.0.11",
        ctx=lambda: _refused(ProbeKind.IPERF3, "probe@h1"),
    ),
    fails(
        "perf.tcp.cross-host",
        "under the scenario's opt-in ratio",
        "under the scenario's 0.9",
        ctx=lambda: _with(min_throughput_ratio=0.9),
        measurements={Measure.RATIO_TO_BASELINE: 0.652},
    ),
    passes(
        "perf.tcp.cross-host.streams",
        "overlay 10395 Mbit/s",
        measurements={Measure.STREAMS: 4, Measure.MBIT_S: 10395.0, Measure.RETRANSMITS: 12},
        holds=lambda result, ctx: (
            {
                p.params.get("iperf3_servers")
                for _, batch in ctx.batches
                for p in batch
                if p.kind == ProbeKind.PERF_SERVER
            }
            == {4}
        ),  # a server of its own for each stream's client (iperf3 3.12 is single-threaded)
    ),
    fails(
        "perf.tcp.cross-host.streams",
        "the host network's server refuses",
        "could not measure",
        ctx=lambda: _refused(ProbeKind.IPERF3, "ncr1-host-h1"),
    ),
    passes(
        "perf.tcp.same-host",
        "overlay 12390 Mbit/s",
        "host loopback 18480 Mbit/s",
        measurements={Measure.BASELINE: "host loopback", Measure.RATIO_TO_BASELINE: 0.67},
    ),
    fails(
        "perf.tcp.same-host",
        "no peer container on the first host",
        "could not measure: no peer container on h1",
        ctx=lambda: FakeSwarm(absent=[("peer", "h1")]),
    ),
    passes(
        "perf.udp.cross-host",
        "loss 2.5% at 500 Mbit/s offered",
        measurements={
            Measure.UDP_LOSS_PCT: 2.5,
            Measure.UDP_OFFERED_MBIT_S: 500,
            Measure.MBIT_S: 487.5,
            Measure.RATIO_TO_BASELINE: 1.0,
        },
    ),
    fails(
        "perf.udp.cross-host",
        "no host-network container on the second host",
        "could not measure: no host container on h2",
        ctx=lambda: FakeSwarm(absent=[(str(ContainerRole.HOST), "h2")]),
    ),
    passes(
        "perf.rr.cross-host",
        "overlay p50",
        "(p50: the best of 3 samples; p99 over 3000 exchanges)",
        measurements={
            Measure.SAMPLES: 3000,
            # the best round's p50 (the plane's 1.5 x RR_MS at its fastest, 0.95), the
            # figures the ratio is taken from: p50 over baseline p50 is the ratio
            Measure.RR_P50_MS: 0.0741,
            Measure.BASELINE_RR_P50_MS: 0.0584,
            Measure.RATIO_TO_BASELINE: 1.268,
            Measure.RATIO_SPREAD_PCT: 0.0,
        },
    ),
    fails(
        "perf.rr.cross-host",
        "over the scenario's opt-in latency ratio",
        "over the scenario's 1.2",
        ctx=lambda: _with(max_latency_ratio=1.2),
    ),
    passes(
        "perf.crr.cross-host",
        "overlay 1785 connections/s (best of 3); host network 1942.5/s; ratio 0.919",
        measurements={Measure.CONNECTIONS_PER_S: 1785.0, Measure.SPREAD_PCT: 10.0},
    ),
    fails(
        "perf.crr.cross-host",
        "the echo server refuses",
        "could not measure: crr",
        ctx=lambda: _refused(ProbeKind.CRR, "probe@h1"),
    ),
    passes(
        "perf.tcp.vip",
        "service VIP 9030 Mbit/s",
        "host network 14490 Mbit/s; ratio 0.623",
        measurements={Measure.MBIT_S: 9030.0, Measure.BASELINE: "host network"},
    ),
    fails(
        "perf.tcp.vip",
        "the perf service has no task",
        "could not measure: the perf service has no running task",
        ctx=lambda: FakeSwarm(absent=[("perf", "h1")]),
    ),
    skips("perf.tcp.vip", "no IPVS", "ipvs", ctx=lacking("ipvs")),
    passes(
        "perf.bridge.same-host",
        "bridge 14490 Mbit/s",
        "host loopback 18480 Mbit/s; ratio 0.784",
        measurements={Measure.MBIT_S: 14490.0, Measure.BASELINE: "host loopback"},
        holds=lambda result, ctx: (
            [s.name for s, _ in ctx.batches if _[0].kind == "iperf3"]
            == ["ncr1-bridge-h1", "ncr1-host-h1"] * 3
        ),  # the bridge's node's loopback, alternately
    ),
    fails(
        "perf.bridge.same-host",
        "the bridge pair is gone",
        "could not measure: the bridge pair is not running",
        ctx=lambda: FakeSwarm(absent=[(str(ContainerRole.BRIDGE), "h1")]),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_perf_check(case: Case) -> None:
    case.run()


@pytest.mark.parametrize(
    "check_id", sorted({c.check_id for c in CASES if c.check_id != "perf.tcp.vip"})
)
def test_an_agent_that_crashed_is_an_error_with_its_reproduce_argv(check_id: str) -> None:
    from .fake_swarm import run_check

    result = run_check(
        check_id,
        FakeSwarm(
            lambda src, p: NOT_RUN if p.kind == "iperf3" or p.kind in ("rr", "crr") else None
        ),
    )
    assert result.verdict == "error", result.reason
    assert "did not run" in result.reason
    assert result.observed["reproduce"][:3] == ["docker", "-H", "unix:///h1"]
