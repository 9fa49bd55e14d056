"""The perf area and the DNS options on the real lab: iperf3, request/response and
connection rate measured on the overlay against the host network between the same hosts
(and a plain bridge as a reference), the DNS options honoured by a real dockerd and answered
by the run's own upstream; then nothing is left."""

from __future__ import annotations

import json
from pathlib import Path

from labtools import assert_no_residue, netconform

from netconform.lab import state
from netconform.platforms.swarm_plan import DNS_ANSWER
from netconform.results import Measure

THROUGHPUT = (
    "perf.tcp.cross-host",
    "perf.tcp.cross-host.streams",
    "perf.tcp.same-host",
    "perf.udp.cross-host",
    "perf.bridge.same-host",  # the reference row, against the first host's loopback
)


def test_perf_and_dns_options_measure_on_the_real_lab(tmp_path: Path, lab_name: str) -> None:
    out = tmp_path / "run"
    proc = netconform(
        "run", "--platform", "swarm-lab", "--lab-name", lab_name, "--out", str(out),
        "-k", "perf or options",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    data = json.loads((out / "results.json").read_text())
    by_id = {c["id"]: c for c in data["checks"]}
    info = data["platform_info"]
    assert info["provision_s"] > 0 and info["images"] and info["objects"]["containers"] >= 10
    for check_id in THROUGHPUT:
        m = by_id[check_id]["measurements"]
        assert by_id[check_id]["verdict"] == "pass", by_id[check_id]["reason"]
        assert m[Measure.SAMPLES] == 3 and len(m[Measure.MBIT_S_SAMPLES]) == 3
        assert m[Measure.MBIT_S] > 0 and m[Measure.BASELINE_MBIT_S] > 0
        assert 0 < m[Measure.RATIO_TO_BASELINE] < 5
        assert m[Measure.SPREAD_PCT] >= 0
        # the endpoints' cgroup counters are readable on this lab (v1 or v2)
        assert m[Measure.CPU_S_PER_GB] is not None and m[Measure.CPU_S_PER_GB] > 0
    assert by_id["perf.tcp.cross-host.streams"]["measurements"][Measure.STREAMS] == 4
    udp = by_id["perf.udp.cross-host"]["measurements"]
    assert 0 <= udp[Measure.UDP_LOSS_PCT] <= 100
    rr = by_id["perf.rr.cross-host"]["measurements"]
    assert by_id["perf.rr.cross-host"]["verdict"] == "pass"
    assert 0 < rr[Measure.RR_P50_MS] <= rr[Measure.RR_P90_MS] <= rr[Measure.RR_P99_MS]
    assert rr[Measure.SAMPLES] == 3000 and rr[Measure.BASELINE] == "host network"
    crr = by_id["perf.crr.cross-host"]["measurements"]
    assert crr[Measure.CONNECTIONS_PER_S] > 0 and crr[Measure.BASELINE_CONNECTIONS_PER_S] > 0
    assert by_id["perf.bridge.same-host"]["measurements"][Measure.BASELINE] == "host loopback"
    assert by_id["perf.tcp.vip"]["verdict"] in ("pass", "skip")  # skip: a kernel without IPVS
    search = by_id["dns.options.search-upstream"]
    assert search["verdict"] == "pass", search["reason"]
    configured = [v for k, v in search["observed"].items() if "dns" in k]
    assert len(configured) == 2 and all(v["answers"] == [DNS_ANSWER] for v in configured)
    assert by_id["dns.options.resolv-conf"]["verdict"] == "pass"
    assert state.load(lab_name) is None
    assert_no_residue(lab_name)
