"""The GitHub workflows: actionlint, plus the structure the nightly report depends on."""

from __future__ import annotations

import configparser
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import Linter

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
PLATFORM_ENVS = [
    "swarm",
    "flannel",
    "calico",
    "calico-manifest",
    "calico-bgp",
    "calico-bpf",
    "cilium",
    "cilium-cnp",
]
# tox environments that are tools, not platforms, and so are not in the nightly matrix
HELPER_ENVS = {"lint", "type", "types", "mypy", "test", "tests", "unit", "report", "docs", "format"}


def _load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    assert isinstance(data, dict)
    # YAML 1.1 reads the key `on` as True
    data["on"] = data.pop(True, data.get("on"))
    return data


def _steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    steps = job["steps"]
    assert isinstance(steps, list)
    return steps


def _uses(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in _steps(job) if str(s.get("uses", "")).startswith(action + "@")]


def _run_text(job: dict[str, Any]) -> str:
    return "\n".join(str(s.get("run", "")) for s in _steps(job))


def test_actionlint_accepts_both_workflows(actionlint: Linter) -> None:
    done = actionlint([WORKFLOWS / "ci.yml", WORKFLOWS / "nightly.yml"])
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_rejects_a_broken_workflow(actionlint: Linter, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ matrix.nope }}\n"
    )
    done = actionlint([broken])
    assert done.returncode != 0
    assert "nope" in done.stdout


def test_ci_lints_and_tests_on_push_and_pull_request() -> None:
    ci = _load("ci.yml")
    assert {"push", "pull_request"} <= set(ci["on"])
    text = "\n".join(_run_text(job) for job in ci["jobs"].values())
    for command in ("ruff check", "ruff format --check", "mypy", "pytest"):
        assert command in text


def test_nightly_triggers_and_matrix() -> None:
    nightly = _load("nightly.yml")
    assert set(nightly["on"]) == {"schedule", "workflow_dispatch"}
    assert re.fullmatch(r"[\d*/,-]+( [\d*/,-]+){4}", nightly["on"]["schedule"][0]["cron"])
    job = nightly["jobs"]["conformance"]
    assert job["strategy"]["fail-fast"] is False
    assert job["strategy"]["matrix"]["env"] == PLATFORM_ENVS
    runs = [s for s in _steps(job) if "tox -e" in str(s.get("run", ""))]
    assert runs, "no step runs tox"
    assert any("${{ matrix.env }}" in str(s["run"]) for s in runs)
    swarm = [s for s in runs if "sudo" in str(s["run"])]
    assert swarm
    assert all(s.get("if") == "matrix.env == 'swarm'" for s in swarm)
    chown = [s for s in _steps(job) if "chown" in str(s.get("run", ""))]
    assert chown, "the swarm results are root-owned: hand them back before uploading"
    assert str(chown[0]["if"]).startswith("always()")
    (upload,) = _uses(job, "actions/upload-artifact")
    assert upload["if"] == "always()"  # results are kept even when checks fail
    assert upload["with"]["path"].rstrip("/") == "reports/${{ matrix.env }}"
    assert "${{ matrix.env }}" in upload["with"]["name"]


def test_nightly_report_and_pages() -> None:
    jobs = _load("nightly.yml")["jobs"]
    report = jobs["report"]
    assert report["needs"] == "conformance"
    assert "cancelled()" in report["if"]  # runs after failed platforms too
    (download,) = _uses(report, "actions/download-artifact")
    assert download["with"]["pattern"] == "results-*"
    text = _run_text(report)
    assert "history/history.jsonl" in text  # restored from the published site
    assert re.search(r"netconform report .* --out site --history history", text)
    assert 'cat site/comparison.md >> "$GITHUB_STEP_SUMMARY"' in text
    assert _uses(report, "actions/upload-pages-artifact")[0]["with"]["path"] == "site"
    publish = jobs["publish"]
    assert publish["needs"] == "report"
    assert publish["permissions"] == {"pages": "write", "id-token": "write"}
    assert publish["environment"]["name"] == "github-pages"
    assert _uses(publish, "actions/deploy-pages")


def _tox_envs() -> set[str] | None:
    ini, toml = ROOT / "tox.ini", ROOT / "tox.toml"
    if ini.exists():
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(ini)
        listed = parser.get("tox", "env_list", fallback="") or parser.get(
            "tox", "envlist", fallback=""
        )
        envs = {e for e in re.split(r"[\s,]+", listed) if e}
        envs |= {s.split(":", 1)[1] for s in parser.sections() if s.startswith("testenv:")}
        return envs
    if toml.exists():
        data = tomllib.loads(toml.read_text())
        return set(data.get("env_list", [])) | set(data.get("env", {}))
    return None


def test_nightly_matrix_equals_tox_platform_envs() -> None:
    envs = _tox_envs()
    if envs is None:
        pytest.skip("no tox.ini or tox.toml yet (the lead writes it)")
    matrix = _load("nightly.yml")["jobs"]["conformance"]["strategy"]["matrix"]["env"]
    assert set(matrix) <= envs, f"matrix names tox envs that do not exist: {set(matrix) - envs}"
    platforms = {e for e in envs if e not in HELPER_ENVS and not re.fullmatch(r"py\d*", e)}
    assert platforms == set(matrix)
