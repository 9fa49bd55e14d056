from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from netconform.report import allure_report
from netconform.report.cli import main


def test_writes_the_three_files(tmp_path: Path, golden_dirs: list[Path]) -> None:
    out = tmp_path / "out"
    assert main([*map(str, golden_dirs), "--out", str(out), "--no-allure"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "comparison.html",
        "comparison.json",
        "comparison.md",
    ]
    merged = json.loads((out / "comparison.json").read_text())
    assert [c["label"] for c in merged["platforms"]] == [d.name for d in golden_dirs]
    assert merged["schema"] == "netconform/comparison/v2"
    assert all("aspect" in row for row in merged["rows"])


def test_without_node_says_so_in_one_line(
    tmp_path: Path,
    sample_dirs: list[Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    out = tmp_path / "out"
    assert main([str(sample_dirs[0]), "--out", str(out)]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("allure")]
    assert lines == ["allure: skipped, Node.js and npm are not on PATH"]
    assert (out / "comparison.html").exists()
    assert (out / "comparison.md").exists()
    assert (out / "comparison.json").exists()
    assert not (out / "allure-report").exists()
    assert allure_report.ALLURE_PACKAGE.startswith("allure@3.")


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netconform.report.cli", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_missing_run_dir_exit_2_one_line(tmp_path: Path, sample_dirs: list[Path]) -> None:
    missing = tmp_path / "no-such-run"
    done = _run_cli(str(sample_dirs[0]), str(missing), "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"netconform report: {missing}: no such run directory"]
    assert not (tmp_path / "out").exists()  # nothing half written


def test_unknown_schema_exit_2_names_file(tmp_path: Path, sample_dirs: list[Path]) -> None:
    run_dir = sample_dirs[0]
    data = json.loads((run_dir / "results.json").read_text())
    data["schema"] = "netconform/results/v9"
    (run_dir / "results.json").write_text(json.dumps(data))
    done = _run_cli(str(run_dir), "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert str(run_dir / "results.json") in line
    assert "netconform/results/v9" in line


def test_truncated_file_exit_2_names_file(tmp_path: Path, sample_dirs: list[Path]) -> None:
    run_dir = sample_dirs[2]
    text = (run_dir / "results.json").read_text()
    (run_dir / "results.json").write_text(text[: len(text) // 2])
    done = _run_cli(str(run_dir), "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"netconform report: {run_dir / 'results.json'}: not valid JSON")


def test_crashed_run_reported_not_dropped(tmp_path: Path, golden_dirs: list[Path]) -> None:
    out = tmp_path / "out"
    done = _run_cli(str(golden_dirs[3]), str(golden_dirs[0]), "--out", str(out), "--no-allure")
    assert done.returncode == 0, done.stderr
    assert "runs that stopped early, shown as such: kind-cilium (crashed" in done.stdout
    assert "**kind-cilium crashed**" in (out / "comparison.md").read_text()


def test_a_platform_this_machine_cannot_host_is_a_column_with_the_reason(
    tmp_path: Path, golden_dirs: list[Path]
) -> None:
    # the real run: kind-calico with no kind on PATH is exit 3, and its results say why
    blocked = tmp_path / "kind-calico"
    run = subprocess.run(
        [sys.executable, "-m", "netconform.cli", "run", "--platform", "kind-calico",
         "--out", str(blocked)],
        capture_output=True, text=True, check=False, timeout=120,
        env={"PATH": "/usr/bin:/bin", "NETCONFORM_OFFLINE": "1"},
    )  # fmt: skip
    assert run.returncode == 3, run.stderr
    out = tmp_path / "out"
    done = _run_cli(str(golden_dirs[0]), str(blocked), "--out", str(out), "--no-allure")
    assert done.returncode == 0, done.stderr
    assert "platforms not provisioned, shown with the reason: kind-calico" in done.stdout
    markdown = (out / "comparison.md").read_text()
    assert "**kind-calico could not be provisioned**: platform kind-calico needs kind" in markdown
    html = (out / "comparison.html").read_text()
    assert "kind-calico could not be provisioned" in html and "not provisioned</span>" in html
    columns = json.loads((out / "comparison.json").read_text())["platforms"]
    assert "needs kind" in columns[1]["provisioning_error"]
    assert columns[0]["provisioning_error"] is None


def test_usage_error_is_exit_2(tmp_path: Path) -> None:
    done = _run_cli("--out", str(tmp_path))
    assert done.returncode == 2
    assert "RUN_DIR" in done.stderr


# Real swarm-lab results are rendered in tests/lab/test_swarm_lab.py, which produces them.
