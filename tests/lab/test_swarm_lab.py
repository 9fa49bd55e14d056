"""The README's main job for real: lab up, checks across hosts, results, teardown."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from labtools import assert_no_residue, netconform, nft_tables

from netconform.catalog.scenario import load_swarm_scenario
from netconform.checks.base import CATALOGUE, execute
from netconform.lab import capture, faults, lab, state
from netconform.lab.config import LabConfig
from netconform.platforms.registry import load_checks
from netconform.platforms.swarm_platforms import SwarmLabPlatform, context_from_handle
from netconform.probes.model import ProbeKind
from netconform.results import SCHEMA, Measure


def _results(out: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((out / "results.json").read_text())


def _verdicts(out: Path) -> dict[str, str]:
    return {c["id"]: c["verdict"] for c in _results(out)["checks"]}


def test_full_run_passes_records_and_leaves_nothing(tmp_path: Path, lab_name: str) -> None:
    out = tmp_path / "run"
    proc = netconform("run", "--platform", "swarm-lab", "--lab-name", lab_name, "--out", str(out))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    data = _results(out)
    assert data["schema"] == SCHEMA and data["complete"] is True
    assert data["summary"]["fail"] == 0 and data["summary"]["error"] == 0
    assert data["summary"]["pass"] >= 20
    verdicts = _verdicts(out)
    for must_pass in (
        "reachability.cross-host.tcp",
        "reachability.cross-host.udp",
        "reachability.cross-host.icmp",
        "dns.tasks.ips",
        "dns.tasks.follows-scale",
        "mtu.pmtu.default.df-at-limit",
        "mtu.pmtu.default.df-over-limit",
        "mtu.transfer.cross-host",
        "isolation.overlays.cross-network",
        "reachability.underlay.vxlan",
    ):
        assert verdicts[must_pass] == "pass", must_pass
    features = data["platform_info"]["kernel_features"]
    for check in data["checks"]:
        if check["verdict"] == "skip":
            # every skip quotes the missing kernel feature, detected on this machine
            assert any(why in check["reason"] for why in features["missing"].values()), check
    by_id = {c["id"]: c for c in data["checks"]}
    assert by_id["mtu.interface.default"]["measurements"][Measure.EFFECTIVE_MTU] == 1450
    latency = by_id["dns.latency"]["measurements"]
    assert latency[Measure.DNS_P99_MS] > 0
    # dig, in the probe image, answered the same series in the same container
    assert latency[Measure.DIG_SAMPLES] == latency[Measure.SAMPLES]
    wire = by_id["reachability.underlay.vxlan"]["measurements"]
    packets = wire[Measure.WIRE_PACKETS]
    assert packets["vxlan"] >= 2 * wire[Measure.PROBES] and packets["clear"] == 0
    # Allure: every result carries the non-excluded platform parameter
    allure = [json.loads(p.read_text()) for p in (out / "allure-results").glob("*-result.json")]
    # + one skip for each area with no Swarm checks: netpol and cluster-netpol
    empty = {r["name"] for r in allure if r["status"] == "skipped" and "checks for" in str(r)}
    assert len(allure) == len(data["checks"]) + 2, sorted(empty)
    for result in allure:
        params = {p["name"]: p for p in result.get("parameters", [])}
        assert (
            params["platform"]["value"] == "'swarm-lab'"
            or params["platform"]["value"] == "swarm-lab"
        )
        assert not params["platform"].get("excluded", False)
    assert (out / "allure-results" / "environment.properties").read_text().startswith("platform=")
    assert (out / "junit.xml").exists()
    assert state.load(lab_name) is None  # torn down by the run itself
    assert_no_residue(lab_name)
    # the comparison report on these real results, beside a hand-written Kubernetes run
    calico = Path(__file__).parents[1] / "report" / "data" / "kind-calico"
    report = netconform(
        "report", str(out), str(calico), "--out", str(tmp_path / "cmp"), "--no-allure"
    )
    assert report.returncode == 0, report.stderr
    merged = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert "swarm-lab" in json.dumps(merged)
    html = (tmp_path / "cmp" / "comparison.html").read_text()
    assert "mtu.pmtu.default.df-at-limit" in html and "kind-calico" in html


def test_blocked_vxlan_on_one_host_fails_exactly_its_pairs(lab_name: str) -> None:
    """A check that cannot fail is a defect: break the data path to h2 and watch."""
    scenario = load_swarm_scenario().model_copy(update={"converge_deadline_s": 4.0})
    platform = SwarmLabPlatform(scenario, lab=LabConfig(name=lab_name))
    ctx = context_from_handle(platform.provision(), scenario)
    try:
        # the underlay watch tells networks apart by VNI: main traffic never counts as other's
        (main_vni, main_subnet), (other_vni, _) = ctx.overlay("main"), ctx.overlay("other")
        assert main_vni != other_vni
        rules = {
            "main": capture.vxlan_vni(main_vni),
            "other": capture.vxlan_vni(other_vni),
            "clear": capture.unencapsulated(main_subnet),
        }
        tasks = ctx.tasks("probe")
        far = [t for t in tasks if t.node != tasks[0].node]
        with ctx.watch_underlay(rules) as watch:
            answers = ctx.run(tasks[0], [ctx.probe(ProbeKind.ICMP, t.ip) for t in far])
            wire = watch.read()
        assert all(a.ok for a in answers), answers
        assert wire["main"] >= 2 * len(far) and wire["other"] == 0 and wire["clear"] == 0, wire
        assert not [t for t in nft_tables(lab_name) if "watch" in t]  # the watch cleans up

        load_checks("swarm")
        ids = [f"reachability.cross-host.{k}" for k in ("tcp", "udp", "icmp")]
        healthy = [execute(CATALOGUE.get(i), ctx) for i in ids]
        assert [r.verdict for r in healthy] == ["pass"] * 3
        faults.add(lab_name, "vxlan-blocked", 2)
        broken = [execute(CATALOGUE.get(i), ctx) for i in ids]
        faults.clear(lab_name)
        for result in broken:
            assert result.verdict == "fail", result
            # a drop of VXLAN into h2 breaks every exchange with h2, and only those
            for pair, seen in result.observed.items():
                assert (not seen["ok"]) == ("@h2" in pair), (pair, seen)
        healed = execute(CATALOGUE.get(ids[0]), ctx)
        assert healed.verdict == "pass", healed.reason
    finally:
        ctx.close()
        platform.teardown()


def test_second_underlay_mtu_keeps_the_overlay_rule(tmp_path: Path, lab_name: str) -> None:
    """The overlay MTU follows the network option (default 1500) - 50, not the underlay."""
    out = tmp_path / "mtu"
    proc = netconform(
        "run",
        "--platform",
        "swarm-lab",
        "--lab-name",
        lab_name,
        "--hosts",
        "2",
        "--underlay-mtu",
        "1400",
        "-k",
        "mtu",
        "-n",
        "2",  # pytest-xdist: the controller owns the lab, the workers attach
        "--out",
        str(out),
    )
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    data = _results(out)
    assert data["platform_info"]["underlay_mtu"] == 1400
    by_id = {c["id"]: c for c in data["checks"]}
    assert by_id["mtu.interface.default"]["verdict"] == "pass"
    assert by_id["mtu.interface.default"]["measurements"][Measure.EFFECTIVE_MTU] == 1450
    assert by_id["mtu.interface.option"]["measurements"][Measure.EFFECTIVE_MTU] == 1350
    assert by_id["mtu.pmtu.default.df-over-limit"]["verdict"] == "pass"


def test_sigkill_mid_run_then_lab_down_leaves_nothing(tmp_path: Path, lab_name: str) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "netconform.cli",
            "run",
            "--platform",
            "swarm-lab",
            "--lab-name",
            lab_name,
            "--hosts",
            "2",
            "--out",
            str(tmp_path / "k"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:  # kill once the swarm runs services
            st = state.load(lab_name)
            if st is not None and st.phase == "ready":
                time.sleep(3)
                break
            assert proc.poll() is None, "run ended before the lab was up"
            time.sleep(0.2)
        assert state.load(lab_name) is not None
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    # daemons survive their parent's SIGKILL (own session): only recorded state finds them
    st = state.load(lab_name)
    assert st is not None and any(Path(f"/proc/{h.dockerd_pid}").exists() for h in st.hosts)
    down = netconform("lab", "down", "--name", lab_name)
    assert down.returncode == 0, down.stderr
    assert "processes stopped" in down.stdout
    assert_no_residue(lab_name)


def test_lab_up_twice_refuses_with_exit_2(lab_name: str) -> None:
    first = netconform("lab", "up", "--name", lab_name, "--hosts", "2")
    assert first.returncode == 0, first.stderr
    second = netconform("lab", "up", "--name", lab_name, "--hosts", "2")
    assert second.returncode == 2
    assert "already up" in second.stderr and second.stderr.count("\n") == 1
    status = netconform("lab", "status", "--name", lab_name)
    info = json.loads(status.stdout)
    assert info["phase"] == "ready" and all(h["dockerd_running"] for h in info["hosts"])


def test_platform_swarm_runs_on_daemons_it_did_not_create(tmp_path: Path, lab_name: str) -> None:
    """`swarm` targets existing daemons (here: a lab's), removes only what it labelled."""
    lab_state = lab.up(lab.LabConfig(name=lab_name, hosts=2))
    hosts = ",".join(h.docker_socket for h in lab_state.hosts)
    out = tmp_path / "swarm"
    env = {
        "NETCONFORM_DOCKER_HOSTS": hosts,
        "NETCONFORM_PROBE_IMAGE": lab_state.image,
        "NETCONFORM_SWARM_CAPABILITIES": "vxlan",
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "netconform.cli",
            "run",
            "--platform",
            "swarm",
            "--out",
            str(out),
            "-k",
            "cross-host or dns.tasks or internal",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **env},
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    verdicts = _verdicts(out)
    assert verdicts["reachability.cross-host.tcp"] == "pass"
    assert verdicts["dns.tasks.ips"] == "pass"
    assert _results(out)["platform"] == "swarm"
    # the daemons stay up, and nothing of the run is left on them
    import docker

    for host in lab_state.hosts:
        client = docker.DockerClient(base_url=host.docker_socket)
        try:
            assert client.ping()
            assert not client.containers.list(all=True, filters={"label": "io.netconform.run"})
            assert not client.networks.list(filters={"label": "io.netconform.run"})
        finally:
            client.close()
