"""One run end to end on the fake platform (tests/unit/fake_platform.py): the options and
the scenario are parsed once, the platform is built, prepared and preflighted once, and
provisioned and torn down once; xdist workers attach with the handle the controller made."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def _run(
    argv: list[str], tmp_path: Path, signal: str = ""
) -> tuple[subprocess.CompletedProcess[str], list[Any]]:
    """`signal`: FAKE_SIGNAL, the phase at which the run sends itself a signal."""
    log = tmp_path / "calls.jsonl"
    env = {
        **os.environ,
        "FAKE_PLATFORM_LOG": str(log),
        "FAKE_SIGNAL": signal,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.run(
        [sys.executable, *argv], capture_output=True, text=True, env=env, check=False, timeout=300
    )
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return proc, calls


def _results(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "results.json").read_text())
    return data


def _lifecycle(calls: list[Any]) -> list[str]:
    return [c["event"] for c in calls if c["event"] != "attach"]


@pytest.mark.parametrize("workers", [None, "2"])
def test_pytest_with_the_plugin(workers: str | None, tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = ["-m", "pytest", str(REPO / "conformance"), "-p", "fake_platform", "-p",
            "no:cacheprovider", "--platform", "fake", "--netconform-out", str(out),
            "--keep", *(["-n", workers] if workers else [])]  # fmt: skip
    proc, calls = _run(argv, tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert _lifecycle(calls) == ["build", "prepare_host", "preflight", "provision", "teardown"]
    assert calls[0]["keep"] is True and calls[0]["probe_timeout_s"] == 2.0
    attached = [c for c in calls if c["event"] == "attach"]
    assert attached and all(c["token"] == "t0k3n" for c in attached)
    controller = calls[0]["pid"]
    if workers:  # every attach in a worker, from the handle's JSON
        assert all(c["pid"] != controller for c in attached)
    else:
        assert [c["pid"] for c in attached] == [controller]
    results = _results(out)
    assert results["complete"] is True and results["platform_info"]["engine"] == "fake"
    assert (results["status"], results["phase"], results["not_run"]) == ("complete", None, [])
    verdicts = {c["id"]: (c["verdict"], c["reason"]) for c in results["checks"]}
    assert verdicts == {
        "reachability.fake.token": ("pass", "attached with t0k3n"),
        "reachability.fake.interrupt": ("pass", "no signal asked for"),
        "dns.fake.esp": ("skip", "no ESP here"),
    }


@pytest.mark.parametrize("workers", [None, "2"])
def test_the_cli_hands_its_prepared_run_to_the_plugin(workers: str | None, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = (
        "import sys, fake_platform\nfrom netconform.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    )
    argv = ["-c", code, "run", "--platform", "fake", "--out", str(out), "--keep",
            *(["-n", workers] if workers else []), "-p", "fake_platform"]  # fmt: skip
    proc, calls = _run(argv, tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    # built and preflighted once, by the CLI, before pytest; the plugin provisions it
    assert _lifecycle(calls) == ["build", "prepare_host", "preflight", "provision", "teardown"]
    assert calls[0]["keep"] is True
    lifecycle_pids = {c["pid"] for c in calls if c["event"] != "attach"}
    attach_pids = {c["pid"] for c in calls if c["event"] == "attach"}
    assert len(lifecycle_pids) == 1 and attach_pids
    assert (attach_pids & lifecycle_pids) == (set() if workers else lifecycle_pids)
    assert (out / "junit.xml").is_file() and (out / "allure-results").is_dir()
    assert _results(out)["complete"] is True


_CLI = "import sys, fake_platform\nfrom netconform.cli import main\nsys.exit(main(sys.argv[1:]))\n"


@pytest.mark.parametrize(("sent", "code"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_signal_during_the_checks_ends_the_run_interrupted(
    sent: str, code: int, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    argv = ["-c", _CLI, "run", "--platform", "fake", "--out", str(out), "-p", "fake_platform"]
    proc, calls = _run(argv, tmp_path, signal=f"check:{sent}")
    assert proc.returncode == code, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert {"event": "signal", "phase": "check", "signal": sent} in _without_pid(calls)
    assert "signal not delivered" not in _lifecycle(calls)
    assert _lifecycle(calls)[-1] == "teardown"
    results = _results(out)
    assert (results["status"], results["phase"], results["complete"]) == (
        "interrupted", "checks", False,
    )  # fmt: skip
    # dns.fake.esp ran first; the interrupted check and the one after it never finished
    assert [c["id"] for c in results["checks"]] == ["dns.fake.esp"]
    assert results["not_run"] == ["reachability.fake.interrupt", "reachability.fake.token"]
    assert not (out / "results.checks.jsonl").exists()


@pytest.mark.parametrize(("sent", "code"), [("SIGINT", 130), ("SIGTERM", 143)])
@pytest.mark.parametrize("through", ["cli", "pytest"])
def test_a_signal_while_provisioning_still_writes_results(
    sent: str, code: int, through: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    argv = (
        ["-c", _CLI, "run", "--platform", "fake", "--out", str(out), "-p", "fake_platform"]
        if through == "cli"
        else ["-m", "pytest", str(REPO / "conformance"), "-p", "fake_platform", "-p",
              "no:cacheprovider", "--platform", "fake", "--netconform-out", str(out)]
    )  # fmt: skip
    proc, calls = _run(argv, tmp_path, signal=f"provision:{sent}")
    assert proc.returncode == code, proc.stdout[-2000:] + proc.stderr[-2000:]
    # the platform removed what it made; no check was attached
    assert _lifecycle(calls)[-3:] == ["provision", "signal", "teardown"]
    assert not [c for c in calls if c["event"] == "attach"]
    results = _results(out)
    assert (results["status"], results["phase"], results["complete"]) == (
        "interrupted", "provisioning", False,
    )  # fmt: skip
    assert results["checks"] == [] and results["not_run"] == []
    assert results["platform"] == "fake" and results["finished"] is not None


def _without_pid(calls: list[Any]) -> list[Any]:
    return [{k: v for k, v in c.items() if k != "pid"} for c in calls]


@pytest.mark.parametrize(
    ("keyword", "said"),
    [
        ("nothing-is-named-so", "-k 'nothing-is-named-so': no check of fake matches"),
        ("dns and not dns", "-k 'dns and not dns': no check of fake matches"),
        ("dns or (", "-k 'dns or (': Wrong expression passed to '-k'"),
    ],
)
def test_a_selection_of_no_check_is_refused_before_anything_is_provisioned(
    keyword: str, said: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    argv = ["-c", _CLI, "run", "--platform", "fake", "--out", str(out), "-k", keyword,
            "-p", "fake_platform"]  # fmt: skip
    proc, calls = _run(argv, tmp_path)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    (line,) = proc.stderr.splitlines()  # one line
    assert line.startswith(f"netconform: {said}")
    assert "provision" not in _lifecycle(calls)


def test_a_selection_that_keeps_a_check_runs_it_alone(tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = ["-c", _CLI, "run", "--platform", "fake", "--out", str(out), "-k", "esp",
            "-p", "fake_platform"]  # fmt: skip
    proc, calls = _run(argv, tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert [c["id"] for c in _results(out)["checks"]] == ["dns.fake.esp"]
    assert _lifecycle(calls).count("provision") == 1
