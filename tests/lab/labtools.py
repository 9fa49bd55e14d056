"""Helpers of the lab integration tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from netconform.lab import nft, state


def netconform(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "netconform.cli", *args], capture_output=True,
                          text=True, timeout=timeout, check=False)  # fmt: skip


def assert_no_residue(name: str) -> None:
    """Nothing of lab `name` is left: namespaces, processes, mounts, cgroups, directories."""
    netns = [n for n in os.listdir("/run/netns")] if os.path.isdir("/run/netns") else []
    assert not [n for n in netns if n.startswith(f"nc-{name}-")]
    directory = state.lab_dir(name)
    assert not directory.exists()
    mounts = Path("/proc/self/mountinfo").read_text()
    assert str(directory) not in mounts
    cgroup = f"netconform-{name}"
    assert not any((Path("/sys/fs/cgroup") / h / cgroup).exists()
                   for h in ["", *os.listdir("/sys/fs/cgroup")])  # fmt: skip
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            assert str(directory).encode() not in cmdline, f"process {pid} of lab {name} alive"


def nft_tables(name: str) -> list[str]:
    """The nftables tables in lab `name`'s underlay namespace (`family name` each)."""
    lab = state.load(name)
    assert lab is not None
    listing = nft.run(f"/run/netns/{lab.underlay_netns}", "list tables")
    return [line.removeprefix("table ").strip() for line in listing.splitlines()]
