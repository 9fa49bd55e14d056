from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from netconform.report.allure_report import (
    ALLURE_PACKAGE,
    CATEGORIES,
    ENVIRONMENT_ID_MAX,
    environment_id,
    generate_allure_report,
    stage_results,
)
from netconform.report.compare import Comparison, load_runs, merge_runs

from .support import cache_dir


@pytest.fixture
def comparison(golden_dirs: list[Path]) -> Comparison:
    return merge_runs(load_runs(golden_dirs))


class FakeRunner:
    """Records commands; `allure generate` just creates the index so the flow completes."""

    def __init__(self, prefix: Path) -> None:
        self.prefix = prefix
        self.calls: list[list[str]] = []

    def __call__(
        self, argv: Sequence[str], cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(argv))
        if "install" in argv:
            binary = self.prefix / "node_modules" / ".bin" / "allure"
            binary.parent.mkdir(parents=True)
            binary.touch()
        if "generate" in argv:
            out = Path(argv[argv.index("--output") + 1])
            out.mkdir(parents=True)
            (out / "index.html").write_text("<html></html>")
        return subprocess.CompletedProcess(list(argv), 0, "", "")


def _which(name: str) -> str | None:
    return f"/usr/bin/{name}"


def test_installs_once_then_generates(tmp_path: Path, comparison: Comparison) -> None:
    runner = FakeRunner(tmp_path / "prefix")
    outcome = generate_allure_report(
        comparison, tmp_path / "out", prefix=tmp_path / "prefix", runner=runner, which=_which
    )
    assert outcome.generated
    assert runner.calls[0][:2] == ["/usr/bin/npm", "install"]
    assert runner.calls[0][-1] == ALLURE_PACKAGE
    generate = runner.calls[1]
    assert generate[1] == "generate"
    assert len([a for a in generate if "/allure-results/" in a and "allurerc" not in a]) == 4
    runner.calls.clear()
    generate_allure_report(
        comparison, tmp_path / "out2", prefix=tmp_path / "prefix", runner=runner, which=_which
    )
    assert [c[1] for c in runner.calls] == ["generate"]  # no second install


def test_a_relative_out_dir_reaches_allure_as_absolute_paths(
    tmp_path: Path, comparison: Comparison, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `netconform report ... --out reports/comparison` as the README runs it; Allure runs in
    # the out dir, where a relative path would point at reports/comparison/reports/...
    monkeypatch.chdir(tmp_path)
    runner = FakeRunner(tmp_path / "prefix")
    outcome = generate_allure_report(
        comparison, Path("reports/cmp"), prefix=tmp_path / "prefix", runner=runner, which=_which
    )
    assert outcome.generated
    generate = runner.calls[-1]
    paths = [a for a in generate[2:] if not a.startswith("--")]
    assert paths and all(Path(a).is_absolute() for a in paths), generate
    assert outcome.report_dir == tmp_path / "reports" / "cmp" / "allure-report"


def test_config_has_one_environment_per_platform_and_categories(
    tmp_path: Path, comparison: Comparison
) -> None:
    runner = FakeRunner(tmp_path / "prefix")
    generate_allure_report(
        comparison, tmp_path / "out", prefix=tmp_path / "prefix", runner=runner, which=_which
    )
    config = (tmp_path / "out" / "allure-results" / "allurerc.mjs").read_text()
    for platform in ("swarm-lab", "kind-flannel", "kind-calico", "kind-cilium"):
        assert f'"{platform}": {{ name: "{platform}", matcher: platform("{platform}") }}' in config
    for category in CATEGORIES:
        assert json.dumps(category.name) in config
    assert 'historyPath: "' + str(tmp_path / "out" / "history" / "history.jsonl") in config


def test_history_is_carried_forward(tmp_path: Path, comparison: Comparison) -> None:
    previous = tmp_path / "published" / "history"
    previous.mkdir(parents=True)
    (previous / "history.jsonl").write_text('{"uuid": "night-1"}\n')
    outcome = generate_allure_report(
        comparison,
        tmp_path / "out",
        previous,
        prefix=tmp_path / "prefix",
        runner=FakeRunner(tmp_path / "prefix"),
        which=_which,
    )
    assert outcome.history_file is not None
    assert outcome.history_file.read_text() == '{"uuid": "night-1"}\n'


def test_staged_results_are_labelled_and_crash_is_visible(
    tmp_path: Path, comparison: Comparison
) -> None:
    dirs = stage_results(comparison, tmp_path / "staging")
    assert len(dirs) == 4
    results = [json.loads(p.read_text()) for p in dirs[3].glob("*-result.json")]
    assert len(results) == len(comparison.columns[3].run.checks) + 1
    assert all({"name": "platform", "value": "kind-cilium"} in r["labels"] for r in results)
    crash = next(r for r in results if r["fullName"] == "run.completed")
    assert crash["status"] == "broken"
    assert crash["statusDetails"]["message"].startswith("run crashed")
    # identity is stable across nights so the history lines up
    swarm = {r["fullName"]: r["historyId"] for r in map(json.loads, _texts(dirs[0]))}
    again = stage_results(comparison, tmp_path / "staging2")
    assert swarm == {r["fullName"]: r["historyId"] for r in map(json.loads, _texts(again[0]))}


def _texts(directory: Path) -> list[str]:
    return [p.read_text() for p in directory.glob("*-result.json")]


def test_existing_allure_results_are_copied_and_relabelled(
    tmp_path: Path, sample_dirs: list[Path]
) -> None:
    run_dir = tmp_path / "swarm-run"
    (run_dir / "allure-results").mkdir(parents=True)
    shutil.copy(sample_dirs[0] / "results.json", run_dir / "results.json")
    written = {
        "uuid": "1",
        "name": "t",
        "status": "passed",
        "labels": [{"name": "platform", "value": "wrong"}, {"name": "suite", "value": "dns"}],
    }
    (run_dir / "allure-results" / "1-result.json").write_text(json.dumps(written))
    (run_dir / "allure-results" / "a-attachment.txt").write_text("probe log")
    (staged,) = stage_results(merge_runs(load_runs([run_dir])), tmp_path / "staging")
    result = json.loads((staged / "1-result.json").read_text())
    assert result["labels"] == [
        {"name": "suite", "value": "dns"},
        {"name": "platform", "value": "swarm-lab"},
    ]
    assert (staged / "a-attachment.txt").read_text() == "probe log"


def test_npm_failure_is_one_line(tmp_path: Path, comparison: Comparison) -> None:
    def failing(argv: Sequence[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(
            list(argv), 1, "", "npm ERR! network\nnpm ERR! code E404\n"
        )

    outcome = generate_allure_report(
        comparison, tmp_path / "out", prefix=tmp_path / "p", runner=failing, which=_which
    )
    assert not outcome.generated
    assert outcome.message == "allure: npm install failed: npm ERR! code E404"


def _embedded_files(index_html: str) -> dict[str, bytes]:
    """The single-file Allure report embeds its data files as base64."""
    return {
        m.group(1): base64.b64decode(m.group(2))
        for m in re.finditer(r'd\("([^"]+)","([A-Za-z0-9+/=]*)"\)', index_html)
    }


@pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None, reason="needs Node.js and npm"
)
def test_real_allure_report(tmp_path: Path, comparison: Comparison) -> None:
    prefix = cache_dir() / ALLURE_PACKAGE.replace("@", "-")
    first = generate_allure_report(comparison, tmp_path / "night1", prefix=prefix)
    assert first.generated, first.message
    assert first.report_dir is not None
    files = _embedded_files((first.report_dir / "index.html").read_text())
    environments = {
        k.split("/")[1] for k in files if k.count("/") == 2 and k.startswith("widgets/")
    }
    assert {"swarm-lab", "kind-flannel", "kind-calico", "kind-cilium"} <= environments
    categories = json.loads(files["widgets/categories.json"])
    names = {
        n["name"]: n["statistic"] for n in categories["nodes"].values() if n["type"] == "category"
    }
    assert names["PMTU blackhole"]["failed"] == 1  # swarm-lab's df-at-limit
    assert names["Run stopped early"]["broken"] == 1  # kind-cilium
    assert names["Harness errors"]["broken"] == 1  # cilium's case whose probes did not run
    assert first.history_file is not None
    second = generate_allure_report(
        comparison, tmp_path / "night2", first.history_file.parent, prefix=prefix
    )
    assert second.generated, second.message
    assert second.history_file is not None
    assert len(second.history_file.read_text().splitlines()) == 2


def test_a_long_platform_name_becomes_an_environment_id_allure_accepts() -> None:
    """Allure 3 refuses the whole report for an environment id over 64 characters."""
    long_a, long_b = "kind-" + "a" * 95, "kind-" + "a" * 94 + "b"
    ids = {environment_id(long_a), environment_id(long_b)}
    assert len(ids) == 2 and all(len(i) <= ENVIRONMENT_ID_MAX for i in ids)
    assert all(i.startswith("kind-aaa") for i in ids)
    assert environment_id("kind-cilium") == "kind-cilium"  # short names unchanged
    assert environment_id("<b>x</b>") == "b-x-b"
