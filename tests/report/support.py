"""Shared helpers of the report tests."""

from __future__ import annotations

import os
from pathlib import Path

# The golden fixtures: results.json files written by the real checks (data/regenerate.py).
DATA = Path(__file__).parent / "data"
# Argument order is column order in the report.
GOLDEN_RUNS = ("swarm-lab", "kind-flannel", "kind-calico", "kind-cilium")


def cache_dir() -> Path:
    """Where tools installed by the tests (actionlint, Allure) are kept between runs."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "netconform"


def chromium_argv(binary: str, profile: Path) -> list[str]:
    return [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
    ]
