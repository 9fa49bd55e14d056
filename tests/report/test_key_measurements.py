from __future__ import annotations

from pathlib import Path

from netconform.report.compare import merge_runs
from netconform.report.key_measurements import DIRECT, ENFORCEMENT_SOURCE, key_measurement_rows
from netconform.results import Measure, Verdict
from netconform.stats import percentile

from .built import CANARY, NAMED_PORT, held_report, k8s, run, sample_runs

PATH = Path("runs")


def test_key_measurements_read_measure_constants() -> None:
    assert {k.measure for k in DIRECT} <= set(Measure)
    rows = key_measurement_rows(merge_runs([(PATH, r) for r in sample_runs()]))
    by_label = {r.label: r for r in rows}
    assert len(rows) == len(by_label)
    assert by_label["Run time"].values == (360.0, 660.0, 780.0, None)
    assert by_label["Effective MTU"].source == "mtu.pmtu.df-at-limit"
    assert by_label["Effective MTU"].values == (1450, 1450, 1480, None)
    assert by_label["DNS latency p99"].values == (2.9, 4.8, 4.8, 4.8)
    assert by_label["DNS latency p50"].values == (0.4, None, None, None)
    # iperf3's figure (perf), not the MTU area's transfer
    assert by_label["TCP throughput, 1 stream"].values == (940.0, None, None, None)
    assert by_label["TCP throughput, 1 stream"].source == "perf.tcp.cross-host.1-stream"
    # calico: the canary's step (1.8 s) and the named-port case's held step 1 (1.2 s); its
    # step 2 never held, so its 30 s deadline is no latency; flannel enforces nothing
    assert by_label["Policy enforcement latency p50"].values == (None, None, 1.2, None)
    assert by_label["Policy enforcement latency p99"].values == (None, None, 1.8, None)
    assert by_label["Policy enforcement latency p99"].source == ENFORCEMENT_SOURCE


def test_enforcement_percentiles_over_every_held_step() -> None:
    steps = [0.5, 0.7, 0.9, 1.1, 1.3, 1.5, 1.7, 1.9, 2.1, 9.0]
    cases = [
        k8s("k8s.netpol.canary", CANARY, netpol=held_report(*steps[:4])),
        k8s("k8s.netpol.case", NAMED_PORT, netpol=held_report(*steps[4:])),
    ]
    rows = {r.label: r for r in key_measurement_rows(merge_runs([(PATH, run("k", cases))]))}
    assert rows["Policy enforcement latency p50"].values == (1.3,)
    assert rows["Policy enforcement latency p99"].values == (9.0,)


def test_a_value_comes_from_the_aspect_most_platforms_carry() -> None:
    p50 = Measure.DNS_P50_MS
    one = run("a", [k8s("k8s.a", "dns.service.a", measurements={p50: 1})])
    two = run(
        "b",
        [
            k8s("k8s.a", "dns.service.a", measurements={p50: 2}),
            k8s("k8s.b", "dns.latency", measurements={p50: 3}),
        ],
    )
    three = run("c", [k8s("k8s.b", "dns.latency", measurements={p50: 4})])
    rows = key_measurement_rows(merge_runs([(PATH, one), (PATH, two), (PATH, three)]))
    (row,) = [r for r in rows if r.label == "DNS latency p50"]
    # both aspects carry it twice: the first in report order (dns.latency) wins where it is
    # there, the other fills in where it is not
    assert row.values == (1, 3, 4)
    assert row.source == "dns.service.a, dns.latency"


def test_the_effective_mtu_is_the_default_networks_not_one_made_with_another_mtu() -> None:
    """A Swarm run measures the default overlay (1450) and a network created with the MTU
    option (1350, first in report order): the platform's effective MTU is the default
    network's interface, else what a DF probe found on it."""
    mtu = Measure.EFFECTIVE_MTU
    swarm = run(
        "swarm-lab",
        [
            k8s("mtu.interface.option", "mtu.interface.option", measurements={mtu: 1350}),
            k8s("mtu.interface.default", "mtu.interface.overlay-rule", measurements={mtu: 1450}),
        ],
    )
    kube = run(
        "kind", [k8s("k8s.mtu.pmtu.df-at-limit", "mtu.pmtu.df-at-limit", measurements={mtu: 1480})]
    )
    rows = key_measurement_rows(merge_runs([(PATH, swarm), (PATH, kube)]))
    (row,) = [r for r in rows if r.label == "Effective MTU"]
    assert row.values == (1450, 1480)
    assert row.source == "mtu.interface.overlay-rule, mtu.pmtu.df-at-limit"


def test_no_enforcement_rows_without_netpol_steps() -> None:
    plain = run("swarm-lab", [k8s("k8s.a", CANARY, Verdict.SKIP)])
    labels = [r.label for r in key_measurement_rows(merge_runs([(PATH, plain)]))]
    assert labels == ["Run time"]


def test_percentile_nearest_rank() -> None:
    assert percentile([3.0], 0.99) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 0.99) == 4.0
