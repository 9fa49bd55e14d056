"""The machine the lab runs on: `check_host` says what it lacks (preflight), `prepare_host`
installs the missing Debian packages (its own step, before preflight)."""

from __future__ import annotations

import os
import shutil
import subprocess

from netconform.errors import EnvironmentUnfit

# binary -> Debian package that provides it
PACKAGES = {
    "dockerd": "docker.io",
    "containerd": "containerd",
    "runc": "runc",
    "mmdebstrap": "mmdebstrap",
    "nsenter": "util-linux",
    "ip": "iproute2",
    "nft": "nftables",
    "tc": "iproute2",
    "iptables": "iptables",
}


def missing_packages() -> dict[str, str]:
    return {b: p for b, p in PACKAGES.items() if shutil.which(b) is None}


def check_host() -> None:
    """Root, and every binary the lab runs; EnvironmentUnfit naming what is missing and the
    packages to install. Changes nothing."""
    if os.geteuid() != 0:
        raise EnvironmentUnfit(
            "the swarm lab needs root (network namespaces, dockerd): run as root"
        )
    missing = missing_packages()
    if missing:
        names = " ".join(sorted(set(missing.values())))
        raise EnvironmentUnfit(f"missing {', '.join(sorted(missing))}: install {names}")


def prepare_host() -> None:
    """Install the Debian packages the lab needs and lacks, with apt-get, when this is a
    root shell on a machine that has apt-get; otherwise leave it to check_host to say."""
    missing = missing_packages()
    if not missing or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return
    names = sorted(set(missing.values()))
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *names]):
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        if proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-1:] or [""]
            raise EnvironmentUnfit(f"cannot install {' '.join(names)} with apt-get: {tail[0]}")
