"""The Allure 3 report (Node, from npm) over every run: one environment per platform.

Allure is optional: without Node and npm the comparison files are still written and this
module says so in one line. The npm package is installed into a local prefix on first use.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from netconform.errors import InputError
from netconform.inputs import load_json, read_text
from netconform.report.compare import Column, Comparison
from netconform.results import CheckResult, Verdict

ALLURE_PACKAGE = "allure@3.18.0"
ALLURE_RESULTS = "allure-results"
HISTORY_FILE = "history.jsonl"
PLATFORM_LABEL = "platform"

_STATUS = {
    Verdict.PASS: "passed",
    Verdict.FAIL: "failed",
    Verdict.SKIP: "skipped",
    Verdict.ERROR: "broken",
}


@dataclass(frozen=True)
class Category:
    """An Allure defect category; `pattern` is searched, case-insensitively, in the reason."""

    name: str
    statuses: tuple[str, ...]
    pattern: str | None = None

    def to_js(self) -> str:
        fields = [f"name: {json.dumps(self.name)}", f"matchedStatuses: {json.dumps(self.statuses)}"]
        if self.pattern is not None:
            fields.append(f'messageRegex: new RegExp({json.dumps(self.pattern)}, "i")')
        return "{ " + ", ".join(fields) + " }"


# Allure files a result under the first category that matches, so specific ones come first.
CATEGORIES: tuple[Category, ...] = (
    Category("Run stopped early", ("broken",), r"run (crashed|interrupted)"),
    Category(
        "Provisioning failed",
        ("broken", "failed"),
        r"provision|preflight|cluster create|platform up",
    ),
    Category(
        "NetworkPolicy not enforced",
        ("failed",),
        r"not enforced|no enforcement|enforces nothing",
    ),
    Category(
        "PMTU blackhole", ("failed", "broken"), r"pmtu|black ?hole|frag(mentation)?[ -]needed"
    ),
    Category("DNS timeout", ("failed", "broken"), r"(dns|resolv|lookup)[\s\S]*time(d)? ?out"),
    Category("Other failures", ("failed",)),
    Category("Harness errors", ("broken",)),
)


class CommandRunner:
    """Runs a command and returns it finished; injectable so units need no Node."""

    def __call__(
        self, argv: Sequence[str], cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(argv),
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "NO_COLOR": "1", "CI": os.environ.get("CI", "true")},
        )


Runner = Callable[[Sequence[str], Path | None], subprocess.CompletedProcess[str]]


@dataclass(frozen=True)
class AllureOutcome:
    generated: bool
    message: str
    report_dir: Path | None = None
    history_file: Path | None = None


def default_prefix() -> Path:
    override = os.environ.get("NETCONFORM_ALLURE_PREFIX")
    if override:
        return Path(override)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "netconform" / ALLURE_PACKAGE.replace("@", "-")


# Allure 3 refuses an environment id over 64 characters (and the whole report with it)
ENVIRONMENT_ID_MAX = 64


def environment_id(platform: str) -> str:
    """The platform as an Allure environment id: its letters, digits, `_` and `-`; a long name
    is cut and keeps a hash of the whole, so two long names never share an id."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "-", platform).strip("-") or "platform"
    if len(cleaned) <= ENVIRONMENT_ID_MAX:
        return cleaned
    digest = hashlib.sha256(platform.encode()).hexdigest()[:10]
    return f"{cleaned[: ENVIRONMENT_ID_MAX - len(digest) - 1]}-{digest}"


def generate_allure_report(
    comparison: Comparison,
    out_dir: Path,
    history_dir: Path | None = None,
    *,
    prefix: Path | None = None,
    runner: Runner | None = None,
    which: Callable[[str], str | None] = shutil.which,
) -> AllureOutcome:
    node, npm = which("node"), which("npm")
    if node is None or npm is None:
        return AllureOutcome(False, "allure: skipped, Node.js and npm are not on PATH")
    run = runner or CommandRunner()
    prefix = prefix or default_prefix()
    allure = prefix / "node_modules" / ".bin" / "allure"
    if not allure.exists():
        prefix.mkdir(parents=True, exist_ok=True)
        done = run(
            [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", ALLURE_PACKAGE],
            None,
        )
        if done.returncode != 0 or not allure.exists():
            return AllureOutcome(False, f"allure: npm install failed: {_last_line(done)}")
    # Allure runs with cwd=out_dir and resolves relative paths from there: pass absolute ones
    out_dir = out_dir.resolve()
    staging = out_dir / ALLURE_RESULTS
    shutil.rmtree(staging, ignore_errors=True)
    result_dirs = stage_results(comparison, staging)
    history_file = out_dir / "history" / HISTORY_FILE
    restore_history(history_dir, history_file)
    config = staging / "allurerc.mjs"
    report_dir = out_dir / "allure-report"
    config.write_text(allure_config(comparison, report_dir, history_file))
    done = run(
        [
            str(allure),
            "generate",
            *map(str, result_dirs),
            "--config",
            str(config),
            "--output",
            str(report_dir),
        ],
        out_dir,
    )
    if done.returncode != 0 or not (report_dir / "index.html").exists():
        return AllureOutcome(False, f"allure: generate failed: {_last_line(done)}")
    return AllureOutcome(True, f"allure: {report_dir / 'index.html'}", report_dir, history_file)


def _last_line(done: subprocess.CompletedProcess[str]) -> str:
    """The line that says what went wrong, not the last frame of a stack trace."""
    lines = [ln.strip() for ln in (done.stderr or done.stdout or "").splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower() and not ln.startswith("at ")]
    chosen = errors or [ln for ln in lines if not ln.startswith("at ")] or lines
    return chosen[-1] if chosen else f"exit {done.returncode}"


def checked_history(history: Path) -> Path | None:
    """The previous report's history.jsonl that `--history` names (a directory holding it, or
    the file), every line a JSON object; None for a directory with none yet (the first
    night). Checked before anything is written: Allure itself skips garbage silently."""
    if not history.exists():
        raise InputError(f"--history {history}: no such directory")
    path = history / HISTORY_FILE if history.is_dir() else history
    if history.is_dir() and not os.path.lexists(path):
        return None
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if line.strip() and not isinstance(load_json(line, f"{path}:{number}"), dict):
            raise InputError(f"{path}:{number}: a history entry must be a JSON object")
    return path


def restore_history(history_dir: Path | None, history_file: Path) -> None:
    """Carry the previous report's history.jsonl forward; Allure appends this run to it."""
    history_file.parent.mkdir(parents=True, exist_ok=True)
    if history_dir is None:
        return
    previous = history_dir / HISTORY_FILE if history_dir.is_dir() else history_dir
    if previous.is_file() and previous.resolve() != history_file.resolve():
        shutil.copyfile(previous, history_file)


def allure_config(comparison: Comparison, report_dir: Path, history_file: Path) -> str:
    platforms = sorted({col.run.platform for col in comparison.columns})
    environments = ",\n".join(
        f"    {json.dumps(environment_id(p))}: {{ name: {json.dumps(p)}, matcher: platform("
        f"{json.dumps(p)}) }}"
        for p in platforms
    )
    return (
        # A plain object, not defineConfig(): this file lives outside the npm prefix.
        f"const platform = (value) => ({{ labels }}) =>\n"
        f"  labels.some((l) => l.name === {json.dumps(PLATFORM_LABEL)} && l.value === value);\n"
        "export default {\n"
        '  name: "netconform: overlay network conformance",\n'
        f"  output: {json.dumps(str(report_dir))},\n"
        f"  historyPath: {json.dumps(str(history_file))},\n"
        f"  environments: {{\n{environments}\n  }},\n"
        "  categories: [\n" + "".join(f"    {c.to_js()},\n" for c in CATEGORIES) + "  ],\n"
        "  plugins: { awesome: { options: { singleFile: true, reportName: "
        '"netconform" } } },\n'
        "};\n"
    )


def stage_results(comparison: Comparison, staging: Path) -> list[Path]:
    """One allure-results directory per run, each result labelled with its platform."""
    dirs: list[Path] = []
    for index, col in enumerate(comparison.columns):
        dest = staging / f"{index:02d}-{environment_id(col.label)}"
        dest.mkdir(parents=True)
        source = _run_allure_results(col)
        if source is not None:
            _copy_labelled(source, dest, col.run.platform)
        else:
            _synthesize(col, dest)
        if col.incomplete:
            _write_crash_result(col, dest)
        dirs.append(dest)
    return dirs


def _run_allure_results(col: Column) -> Path | None:
    run_dir = col.source if col.source.is_dir() else col.source.parent
    results = run_dir / ALLURE_RESULTS
    return results if any(results.glob("*-result.json")) else None


def _copy_labelled(source: Path, dest: Path, platform: str) -> None:
    for path in source.iterdir():
        if not path.is_file():
            continue
        if path.name.endswith("-result.json"):
            data = json.loads(path.read_text())
            labels = [lab for lab in data.get("labels", []) if lab.get("name") != PLATFORM_LABEL]
            data["labels"] = [*labels, {"name": PLATFORM_LABEL, "value": platform}]
            (dest / path.name).write_text(json.dumps(data))
        else:
            shutil.copyfile(path, dest / path.name)


def _millis(text: str | None) -> int:
    if not text:
        return 0
    try:
        return int(datetime.fromisoformat(text).timestamp() * 1000)
    except ValueError:
        return 0


def _synthesize(col: Column, dest: Path) -> None:
    """Results from results.json alone, for runs that carry no allure-results directory."""
    start = _millis(col.run.started)
    for check in col.run.checks:
        stop = start + int(check.duration_s * 1000)
        _write_result(dest, col.run.platform, check, start, stop)
        start = stop


def _write_result(
    dest: Path, platform: str, check: CheckResult, start: int, stop: int, *, suite: str = ""
) -> None:
    ident = f"{check.id}|platform={platform}"
    result_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"netconform:{ident}:{start}"))
    attachments = []
    evidence = (check.expected, check.observed, check.netpol)
    if check.measurements or any(e is not None for e in evidence):
        name = f"{result_id}-attachment.json"
        body = {
            "measurements": dict(check.measurements),
            "expected": check.expected,
            "observed": check.observed,
            "netpol": check.netpol.to_json() if check.netpol is not None else None,
        }
        (dest / name).write_text(json.dumps(body, indent=2))
        attachments.append({"name": "measurements", "source": name, "type": "application/json"})
    result = {
        "uuid": result_id,
        "historyId": hashlib.md5(ident.encode()).hexdigest(),
        "testCaseId": hashlib.md5(check.id.encode()).hexdigest(),
        "fullName": check.id,
        "name": check.title or check.id,
        "status": _STATUS[check.verdict],
        "statusDetails": {"message": check.reason},
        "stage": "finished",
        "start": start,
        "stop": stop,
        "labels": [
            {"name": PLATFORM_LABEL, "value": platform},
            {"name": "parentSuite", "value": suite or str(check.area)},
            {"name": "feature", "value": str(check.area)},
            # the family-neutral aspect: Behaviors lines platforms' checks of it up
            {"name": "story", "value": check.aspect},
            {"name": "framework", "value": "netconform"},
        ],
        "parameters": [{"name": PLATFORM_LABEL, "value": platform}],
        "attachments": attachments,
        "steps": [],
    }
    (dest / f"{result_id}-result.json").write_text(json.dumps(result))


def _write_crash_result(col: Column, dest: Path) -> None:
    """A run that stopped early (crashed, interrupted) shows up in Allure as one broken
    result, not as a silently short run."""
    check = CheckResult.from_json(
        {
            "id": "run.completed",
            "area": "reachability",
            "title": f"{col.run.platform} run completed",
            "verdict": "error",
            "reason": f"run {col.ending}: started {col.run.started}, never finished; "
            f"{len(col.run.checks)} checks recorded",
            "duration_s": 0,
        }
    )
    start = _millis(col.run.started)
    _write_result(dest, col.run.platform, check, start, start, suite="run")
