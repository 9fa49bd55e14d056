"""A self-test directory given to `netconform report` becomes its own section."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netconform.cli import main

SELFTEST = {
    "schema": "netconform/selftest/v1",
    "verdict": "fail",
    "problems": ["fault dns-broken caught by no dns check"],
    "duration_s": 12.0,
    "healthy": {"dns.tasks.ips": "pass"},
    "rounds": [
        {
            "fault": "dns-broken",
            "area": "dns",
            "host": "h1",
            "skipped": "",
            "caught": False,
            "failed": [],
            "missed": ["dns.tasks.ips"],
            "unexpected": [],
        },
        {
            "fault": "lossy-underlay",
            "area": "reachability",
            "host": "h2",
            "skipped": "kernel lacks tc netem",
            "caught": False,
            "failed": [],
            "missed": [],
            "unexpected": [],
        },
    ],
    "uncatchable": {"dns.resolv-conf": "written by dockerd"},
}


def test_selftest_section_in_html_markdown_and_json(
    tmp_path: Path, golden_dirs: list[Path]
) -> None:
    selftest = tmp_path / "selftest"
    selftest.mkdir()
    (selftest / "selftest.json").write_text(json.dumps(SELFTEST))
    out = tmp_path / "out"
    assert (
        main(["report", str(golden_dirs[2]), str(selftest), "--out", str(out), "--no-allure"]) == 0
    )
    html = (out / "comparison.html").read_text()
    assert "kernel lacks tc netem" in html and "fault dns-broken caught by no dns check" in html
    assert "<code>dns.resolv-conf</code>" in html
    assert "| dns-broken | dns | NO |" in (out / "comparison.md").read_text()
    assert json.loads((out / "comparison.json").read_text())["selftests"][0]["verdict"] == "fail"


def test_selftest_of_unknown_schema_is_exit_2(
    tmp_path: Path, golden_dirs: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    selftest = tmp_path / "st"
    selftest.mkdir()
    (selftest / "selftest.json").write_text(json.dumps({"schema": "other/v9"}))
    assert (
        main(
            [
                "report",
                str(golden_dirs[2]),
                str(selftest),
                "--out",
                str(tmp_path / "o"),
                "--no-allure",
            ]
        )
        == 2
    )
    assert "schema" in capsys.readouterr().err
