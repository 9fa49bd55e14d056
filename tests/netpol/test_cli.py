"""`netpol expect|cases|show`, mounted the way the lead's CLI mounts them."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from netconform.errors import InputError
from netconform.netpol.cli import add_netpol_subcommands, main

MODEL = {
    "namespaces": {"x": {"labels": {"team": "a"}}, "y": {}},
    "pods": [
        {
            "namespace": "x",
            "name": "a",
            "labels": {"pod": "a"},
            "ip": "10.1.0.1",
            "ports": [{"name": "serve-80-tcp", "port": 80, "protocol": "TCP"}],
        },
        {
            "namespace": "y",
            "name": "b",
            "labels": {"pod": "b"},
            "ip": "10.1.0.2",
            "ports": [{"name": "serve-80-tcp", "port": 80, "protocol": "TCP"}],
        },
    ],
}
DENY_Y = {"metadata": {"name": "deny", "namespace": "y"}, "spec": {"podSelector": {}}}


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="netconform")
    sub = parser.add_subparsers(dest="cmd", required=True)
    netpol = sub.add_parser("netpol")
    add_netpol_subcommands(netpol.add_subparsers(dest="netpol_cmd", required=True))
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


def write(tmp_path: Path, doc: object, name: str = "in.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc) if name.endswith(".yaml") else json.dumps(doc))
    return path


def test_expect_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, {"model": MODEL, "policies": [DENY_Y]}, "in.json")
    assert run(["netpol", "expect", str(path), "--format", "json"]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    cell = next(r for r in results if r["from"] == "x/a" and r["to"] == "y/b")
    assert cell["allowed"] is False
    assert cell["port"] == 80
    assert cell["protocol"] == "TCP"
    assert cell["ingress"]["isolated_by"] == ["y/deny"]
    assert cell["egress"]["allowed"] is True
    assert len(results) == 4


def test_expect_probes_and_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    probes = [{"from": "x/a", "to": "y/b", "port": 80}, {"from": "y/b", "to": "x/a", "port": 81}]
    path = write(tmp_path, {"model": MODEL, "policies": [DENY_Y], "probes": probes})
    assert run(["netpol", "expect", str(path), "--format", "table"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "80/TCP"
    assert out[2].split() == ["x/a", "X"]
    assert "81/TCP" in out


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        (
            {
                "model": MODEL,
                "policies": [
                    {
                        "metadata": {"name": "p", "namespace": "y"},
                        "spec": {"ingress": [{"ports": [{"port": "web", "endPort": 90}]}]},
                    }
                ],
            },
            "policies[0] (NetworkPolicy y/p) spec.ingress[0].ports[0].endPort: may not be",
        ),
        (
            {
                "model": MODEL,
                "policies": [{"metadata": {"name": "p", "namespace": "q"}, "spec": {}}],
            },
            "policies[0] (NetworkPolicy q/p) metadata.namespace",
        ),
        ({"model": MODEL, "probes": [{"from": "x/a", "to": "y/zz", "port": 80}]}, "probes[0].to"),
        (
            {"model": {**MODEL, "pods": [{"namespace": "x", "name": "a", "ports": [{"port": 0}]}]}},
            "model.pods[0].ports[0].port",
        ),
        (
            {"model": MODEL, "profile": {"ipblock_matches_pods": "yes"}},
            "profile.ipblock_matches_pods",
        ),
        ({"policies": []}, "model: required"),
    ],
)
def test_bad_input_is_one_line_naming_file_object_and_field(
    tmp_path: Path, doc: object, fragment: str
) -> None:
    path = write(tmp_path, doc)
    with pytest.raises(InputError) as info:
        run(["netpol", "expect", str(path)])
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert fragment in message
    assert "\n" not in message


def test_unreadable_and_unparsable_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        run(["netpol", "expect", str(tmp_path / "missing.yaml")])
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(InputError, match="not valid YAML"):
        run(["netpol", "expect", str(bad)])


def test_cases_lists_and_filters_by_tag(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["netpol", "cases", "--tag", "upstream-e2e", "--tag", "sctp"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert all(line.startswith("upstream.sctp.") for line in lines)


def test_show_renders_each_step(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["netpol", "show", "upstream.tcp.updated-policy"]) == 0
    out = capsys.readouterr().out
    assert "step 1: allow all ingress in x" in out
    assert "step 2: update to deny all" in out
    assert out.count("81/TCP") == 2


def test_show_unknown_case() -> None:
    with pytest.raises(InputError, match="no such case"):
        run(["netpol", "show", "no.such.case"])


def test_module_entry_point_exit_codes(tmp_path: Path) -> None:
    good = write(tmp_path, {"model": MODEL})
    ok = subprocess.run(
        [sys.executable, "-m", "netconform.netpol.cli", "expect", str(good)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0
    assert json.loads(ok.stdout)["results"]
    bad = write(tmp_path, {"model": MODEL, "policies": [{"spec": {}}]}, "bad.yaml")
    fail = subprocess.run(
        [sys.executable, "-m", "netconform.netpol.cli", "expect", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert fail.returncode == 2
    assert fail.stderr.count("\n") == 1
    assert "Traceback" not in fail.stderr
    assert "metadata.name" in fail.stderr


def test_observed_prints_every_step_of_a_case_from_a_run_held_or_not(
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = Path(__file__).resolve().parents[1] / "report" / "data" / "kind-calico"
    assert main(["observed", str(data), "upstream.tcp.default-deny-ingress"]) == 0
    out = capsys.readouterr().out
    assert "pass" in out and "step deny ingress in x: held after" in out
    assert "x/a  X X . .   X X . ." in out  # expected and observed, side by side
    assert main(["observed", str(data), "no-such-case"]) == 2


def test_a_matrix_too_large_to_compute_is_refused_unless_the_flows_are_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ports = [{"port": 80, "protocol": "TCP"}, {"port": 81, "protocol": "TCP"}]
    pods = [{"namespace": "x", "name": f"p{i}", "ports": ports} for i in range(1001)]
    model = {"namespaces": {"x": {}}, "pods": pods}
    path = write(tmp_path, {"model": model, "policies": []}, "big.json")
    with pytest.raises(InputError, match=r"model: 1001 pods serving 2002 ports make 2,004,002"):
        run(["netpol", "expect", str(path)])
    probes = [{"from": "x/p0", "to": "x/p1000", "port": 81, "protocol": "TCP"}]
    listed = write(tmp_path, {"model": model, "policies": [], "probes": probes}, "flows.json")
    assert run(["netpol", "expect", str(listed), "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["results"]) == 1
