"""Bad input tried as a new user would: every file-reading command answers a binary file, a
directory where a file belongs, a missing path or an unwritable --out with one line naming
it and exit 2; never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from netconform.cli import main

BINARY = b"\xff\xfe\x00\x81 not text"


@pytest.fixture
def binary(tmp_path: Path) -> Path:
    path = tmp_path / "binary.yaml"
    path.write_bytes(BINARY)
    return path


def one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the CLI; it must exit 2 with exactly one line on stderr, which is returned."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_netpol_expect_on_a_binary_file(binary: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = one_line(["netpol", "expect", str(binary)], capsys)
    assert f"{binary}: cannot read: not UTF-8 text (byte 0xff at offset 0)" in err


def test_netpol_expect_on_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "is a directory, expected a file" in one_line(
        ["netpol", "expect", str(tmp_path)], capsys
    )


@pytest.mark.parametrize("command", ["cases", "show"])
def test_netpol_case_dirs(
    command: str, tmp_path: Path, binary: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["netpol", command, *(["some.case"] if command == "show" else []), "--catalogue"]
    assert "not UTF-8 text" in one_line([*argv, str(binary.parent)], capsys)
    assert "no such directory" in one_line([*argv, str(tmp_path / "missing")], capsys)
    assert "not a directory" in one_line([*argv, str(binary)], capsys)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "holds no *.yaml files" in one_line([*argv, str(empty)], capsys)


@pytest.mark.parametrize("platform", ["swarm-lab", "kind-calico"])
def test_scenario_files(
    platform: str, tmp_path: Path, binary: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = ["run", "--platform", platform, "--out", str(tmp_path / "out"), "--scenario"]
    assert f"{binary}: cannot read: not UTF-8" in one_line([*run, str(binary)], capsys)
    assert "is a directory" in one_line([*run, str(tmp_path)], capsys)
    assert "no such file" in one_line([*run, str(tmp_path / "missing.yaml")], capsys)


def test_report_on_a_binary_results_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "results.json").write_bytes(BINARY)
    err = one_line(["report", str(run_dir), "--out", str(tmp_path / "r"), "--no-allure"], capsys)
    assert f"{run_dir / 'results.json'}:" in err


@pytest.mark.parametrize("where", ["file", "under-file", "proc"])
def test_plan_out_unwritable_names_out(
    where: str, binary: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = {"file": binary, "under-file": binary / "sub", "proc": Path("/proc/netconform")}[where]
    err = one_line(["plan", "--platform", "cluster", "--out", str(out)], capsys)
    assert err.startswith(f"netconform: --out {out}: ") and "Errno" not in err


@pytest.mark.parametrize("command", ["run", "selftest"])
def test_out_that_cannot_be_made_is_refused_before_anything_starts(
    command: str, binary: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def must_not_start(*args: object, **kwargs: object) -> None:
        raise AssertionError("a lab was about to be made")

    monkeypatch.setattr("netconform.selftest.run_selftest", must_not_start)
    monkeypatch.setattr("netconform.platforms.registry.prepare_run", must_not_start)
    argv = [command, *(["--platform", "swarm-lab"] if command == "run" else [])]
    err = one_line([*argv, "--out", str(binary / "sub")], capsys)
    assert err.startswith(f"netconform: --out {binary / 'sub'}: cannot create the directory")


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--platform", "weave"],
        ["checks", "--platform", "weave"],
        ["selftest", "--platform", "weave", "--out", "x"],
    ],
)
def test_unknown_platform(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert "weave" in one_line(argv, capsys)


def test_checks_with_a_binary_netpol_case_file(tmp_path: Path, binary: Path) -> None:
    # The Kubernetes catalogue reads the NetworkPolicy case files when the checks load.
    code = (
        "import sys; from pathlib import Path\n"
        "import netconform.netpol.catalogue as c\n"
        "c.default_catalogue_dir = lambda: Path(sys.argv[1])\n"
        "from netconform.cli import main\n"
        "sys.exit(main(['checks', '--platform', 'kind-calico']))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(binary.parent)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and f"{binary}: cannot read: not UTF-8" in proc.stderr


def test_report_out_unwritable_names_out(
    binary: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = Path(__file__).parent.parent / "report" / "data" / "swarm-lab"
    err = one_line(["report", str(data), "--out", str(binary / "sub")], capsys)
    assert err.startswith(f"netconform: --out {binary / 'sub'}: cannot create the directory")
    assert "Errno" not in err
