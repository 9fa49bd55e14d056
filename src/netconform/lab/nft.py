"""Run an nft script inside a network namespace (faults and underlay counters use it)."""

from __future__ import annotations

import subprocess

from netconform.errors import EnvironmentUnfit


def run(netns_path: str, script: str, *, json_output: bool = False) -> str:
    """`nft [-j] SCRIPT` in the namespace at `netns_path`; its stdout, or exit 3 naming why."""
    argv = ["nsenter", f"--net={netns_path}", "nft", *(["-j"] if json_output else []), script]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    if proc.returncode != 0:
        raise EnvironmentUnfit(f"nft failed in {netns_path}: {proc.stderr.strip()}")
    return proc.stdout
