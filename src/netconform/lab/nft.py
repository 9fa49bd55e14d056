"""Run an nft script inside a network namespace (faults and underlay counters use it)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable

from netconform.errors import EnvironmentUnfit


def run(netns_path: str, script: str, *, json_output: bool = False) -> str:
    """`nft [-j] SCRIPT` in the namespace at `netns_path`; its stdout, or exit 3 naming why."""
    argv = ["nsenter", f"--net={netns_path}", "nft", *(["-j"] if json_output else []), script]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    if proc.returncode != 0:
        raise EnvironmentUnfit(f"nft failed in {netns_path}: {proc.stderr.strip()}")
    return proc.stdout


def bridge_forward_table(table: str, rules: Iterable[str]) -> str:
    """A script making a bridge-family table whose `wire` chain sees every forwarded frame
    (the underlay switch), with one rule per statement in `rules`."""
    script = [
        f"add table bridge {table}",
        f"add chain bridge {table} wire {{ type filter hook forward priority 0; }}",
        *(f"add rule bridge {table} wire {rule}" for rule in rules),
    ]
    return "; ".join(script)
