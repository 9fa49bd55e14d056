"""Bad input is one line naming the file and field, with exit 2; never a traceback."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from netconform import inputs
from netconform.catalog.scenario import (
    KubernetesScenario,
    SwarmScenario,
    load_kubernetes_scenario,
    load_swarm_scenario,
)
from netconform.cli import main
from netconform.errors import EnvironmentUnfit, InputError, said_not_raised
from netconform.inputs import read_text
from netconform.results import Area, CheckResult, RunResults, Verdict, read_results, write_results


def _scenario(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


def test_default_scenario_loads() -> None:
    scenario = load_swarm_scenario()
    assert scenario.mtu.transfer_bytes == 4 * 1024 * 1024


def test_the_shipped_scenarios_spell_out_the_code_defaults() -> None:
    assert load_kubernetes_scenario() == KubernetesScenario()
    assert load_swarm_scenario() == SwarmScenario()


def test_kubernetes_scenario_sets_the_check_parameters(tmp_path: Path) -> None:
    path = _scenario(
        tmp_path,
        "schema: netconform/scenario/v1\nfamily: kubernetes\nnetpol_deadline_s: 45\n"
        "mtu: {transfer_bytes: 1048576}\n",
    )
    params = load_kubernetes_scenario(path)
    assert (params.netpol_deadline_s, params.transfer_bytes) == (45, 1048576)
    assert params.probe_timeout_s == KubernetesScenario().probe_timeout_s


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("schema: netconform/scenario/v1\nfamily: swarm\ndns: {latency_samples: many}\n",
         "dns.latency_samples"),
        ("schema: netconform/scenario/v1\nfamily: swarm\nnetworks: {mtu_optoin: 1400}\n",
         "networks.mtu_optoin"),
        ("schema: netconform/scenario/v9\nfamily: swarm\n", "schema"),
        ("schema: netconform/scenario/v1\nfamily: swarm\nmtu: [unclosed\n", "line"),
        ("schema: netconform/scenario/v1\nfamily: kubernetes\nnetpol_deadline_s: 0\n",
         "netpol_deadline_s"),
        ("schema: netconform/scenario/v1\nfamily: kubernetes\nvip: {replicas: 3}\n", "vip"),
        ("schema: netconform/scenario/v1\nfamily: swarm\n", "family"),
        ("family: kubernetes\nprobe_timeout_s: 1\n", "schema"),  # defaulted in code only
        ("schema: netconform/scenario/v1\n", "family"),
    ],
)  # fmt: skip
def test_malformed_scenario_names_file_and_field(tmp_path: Path, text: str, field: str) -> None:
    path = _scenario(tmp_path, text)
    load = (
        load_kubernetes_scenario
        if "kubernetes" in text or field == "family"
        else load_swarm_scenario
    )
    with pytest.raises(InputError) as err:
        load(path)
    message = str(err.value)
    assert message.startswith(f"{path}: {field}")
    assert "\n" not in message


@pytest.mark.parametrize(("platform", "family"), [("swarm-lab", "swarm"),
                                                 ("kind-calico", "kubernetes")])  # fmt: skip
def test_cli_malformed_scenario_exits_2_with_one_line(
    tmp_path: Path, platform: str, family: str
) -> None:
    # before anything is provisioned or even looked for (no kind here: that would be exit 3)
    path = _scenario(
        tmp_path, f"schema: netconform/scenario/v1\nfamily: {family}\nprobe_timeout_s: -1\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "netconform.cli", "run", "--platform", platform,
         "--scenario", str(path), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "probe_timeout_s" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_unknown_platform_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--platform", "weave"]) == 2
    err = capsys.readouterr().err
    assert "unknown platform 'weave'" in err and "swarm-lab" in err


def test_cli_lab_up_not_root_exits_3(monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert main(["lab", "up", "--name", "nonroot"]) == 3
    assert "needs root" in capsys.readouterr().err


def test_cli_lab_up_bad_values_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lab", "up", "--name", "bad", "--underlay-mtu", "100"]) == 2
    assert "--underlay-mtu 100" in capsys.readouterr().err


def test_results_roundtrip_and_truncated_file(tmp_path: Path) -> None:
    check = CheckResult("dns.x", Area.DNS, "t", Verdict.FAIL, "why", 1.5, 1, 2, {"m": 3}, "spec")
    run = RunResults("swarm-lab", {"k": 1}, "2026-01-01T00:00:00+00:00", None, (check,), False)
    path = tmp_path / "results.json"
    write_results(path, run)
    back = read_results(path)
    assert back == run
    assert json.loads(path.read_text())["summary"] == {"pass": 0, "fail": 1, "skip": 0, "error": 0}
    path.write_text(path.read_text()[:40])
    with pytest.raises(InputError, match="not valid JSON"):
        read_results(path)


def test_unreachable_daemons_exit_3_and_say_so_in_results(tmp_path: Path) -> None:
    out = tmp_path / "run"
    env = {
        "NETCONFORM_DOCKER_HOSTS": f"unix://{tmp_path}/no1.sock,unix://{tmp_path}/no2.sock",
        "NETCONFORM_PROBE_IMAGE": "probe:1",
        "PATH": "/usr/bin:/bin",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "netconform.cli", "run", "--platform", "swarm", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "cannot reach docker at unix://" in proc.stdout + proc.stderr
    data = json.loads((out / "results.json").read_text())
    assert data["complete"] is False and data["finished"] is None
    assert "cannot reach docker" in data["platform_info"]["provisioning_error"]


def test_platform_swarm_without_hosts_is_exit_3(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NETCONFORM_DOCKER_HOSTS", raising=False)
    assert main(["run", "--platform", "swarm"]) == 3
    assert "NETCONFORM_DOCKER_HOSTS" in capsys.readouterr().err


def test_cleanup_on_a_failure_path_never_masks_the_first_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def teardown() -> None:
        raise EnvironmentUnfit("could not remove networks of run abc")

    def provision() -> None:
        try:
            raise InputError("the real cause")
        except InputError:
            with said_not_raised("teardown after the failed deployment"):
                teardown()
            raise

    with pytest.raises(InputError, match="the real cause"):
        provision()
    assert capsys.readouterr().err == (
        "netconform: teardown after the failed deployment: could not remove networks of run abc\n"
    )


def test_a_fifo_or_a_device_is_refused_at_once_not_read_forever(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero")):
        with pytest.raises(InputError, match="not a regular file"):
            read_text(path)


@pytest.mark.parametrize(
    ("payload", "said"),
    [
        ('{"a": NaN}', "NaN is not JSON"),
        ('{"a": -Infinity}', "-Infinity is not JSON"),
        ('{"a": ' + "9" * 5000 + "}", "an integer of 5000 digits"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"a": ', "not valid JSON"),
    ],
)
def test_report_refuses_what_json_is_not_in_one_line(
    tmp_path: Path, payload: str, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.json").write_text(payload)
    assert main(["report", str(run), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert said in err and str(run / "results.json") in err and "\n" not in err
    assert not (tmp_path / "out" / "comparison.json").exists()


def test_a_measurement_that_is_not_a_number_is_written_as_null(tmp_path: Path) -> None:
    """json.dumps writes float('nan') as NaN, which no JSON reader takes: the run writes null
    and the report reads its own results.json back."""
    measured = {"ratio_to_baseline": float("nan"), "mbit_s": float("inf"), "ok": 1.5}
    check = CheckResult(
        "perf.x", Area.PERF, "t", Verdict.PASS, "measured", 1.0, None, None, measured
    )
    path = tmp_path / "results.json"
    write_results(path, RunResults("swarm-lab", {}, "t0", "t1", (check,), complete=True))
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    back = read_results(path).checks[0].measurements
    assert back == {"ratio_to_baseline": None, "mbit_s": None, "ok": 1.5}


def _alias_bomb(levels: int) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (_alias_bomb(12), "over 2000000 values once its aliases are expanded"),
        ("a: " + "[" * 150 + "]" * 150, "nest"),  # libyaml's own limit or ours
        ("- " * 150 + "x", "nested deeper than 100 levels"),  # block style: ours
        ("port: 123456789012345678901234567890", "an integer of 30 digits (at most 20)"),
    ],
)
def test_yaml_past_its_bounds_is_refused_before_anything_is_built(text: str, said: str) -> None:
    with pytest.raises(yaml.YAMLError, match=re.escape(said)):
        inputs.load_yaml(text)


def test_yaml_within_its_bounds_loads_as_yaml_does() -> None:
    text = _alias_bomb(4) + 'quoted: "123456789012345678901234567890"\nport: 8_080\n'
    assert inputs.load_yaml(text) == yaml.safe_load(text)
    assert inputs.load_yaml_all("a: 1\n---\nb: [2]\n") == [{"a": 1}, {"b": [2]}]


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (
            ["--platform", "kind-flannel", "--hosts", "5"],
            "--hosts 5: not an option of kind-flannel",
        ),
        (["--platform", "kind-cilium", "--underlay-mtu", "9000"], "--underlay-mtu 9000: not an"),
        (["--platform", "cluster", "--lab-name", "x"], "--lab-name x: not an option of cluster"),
        (["--platform", "swarm-lab", "--offline"], "--offline: not an option of swarm-lab"),
        (["--platform", "cluster", "--node-image", "i"], "--node-image i: not an option of cl"),
        (["--platform", "swarm", "--external-target", "192.0.2.1:80"], "--external-target 192"),
    ],
)
def test_an_option_of_another_platform_is_refused_not_ignored(
    argv: list[str], said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", *argv, "--out", str(tmp_path / "out")]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"netconform: {said}")
    assert not (tmp_path / "out").exists()
