"""Preflight of the machine for the lab; installs Debian packages when missing and allowed."""

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


def ensure_host_ready(install: bool = True) -> None:
    if os.geteuid() != 0:
        raise EnvironmentUnfit(
            "the swarm lab needs root (network namespaces, dockerd): run as root"
        )
    missing = missing_packages()
    if not missing:
        return
    names = sorted(set(missing.values()))
    if not install or shutil.which("apt-get") is None:
        raise EnvironmentUnfit(f"missing {', '.join(sorted(missing))}: install {' '.join(names)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *names]):
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        if proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-1:] or [""]
            raise EnvironmentUnfit(f"cannot install {' '.join(names)} with apt-get: {tail[0]}")
    still = missing_packages()
    if still:
        raise EnvironmentUnfit(f"still missing after apt-get: {', '.join(sorted(still))}")
