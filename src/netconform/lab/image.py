"""The probe image: built offline from Debian packages with mmdebstrap (the host's own apt
sources, no mirror named anywhere), cached on disk by the hash of its recipe, imported into
every lab daemon. Rebuilt only when the recipe changes."""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netconform.errors import EnvironmentUnfit
from netconform.lab.state import cache_root

REPOSITORY = "netconform/probe"


@dataclass(frozen=True)
class ImageRecipe:
    suite: str
    # python3 + dnspython run the probe agent; iputils ping does DF pings (-M do); dig
    # (dnsutils) cross-checks the agent's DNS latency; iproute2 shows routes; iperf3 and
    # netcat are for people debugging inside a probe container.
    packages: tuple[str, ...] = (
        "python3",
        "python3-dnspython",
        "dnsutils",
        "iputils-ping",
        "iproute2",
        "iperf3",
        "netcat-openbsd",
        "procps",
    )
    variant: str = "essential"  # no apt inside: smaller image, faster import into each daemon

    @property
    def digest(self) -> str:
        text = json.dumps([self.suite, self.variant, sorted(self.packages)])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def tag(self) -> str:
        return f"{REPOSITORY}:{self.digest}"

    @property
    def tarball(self) -> Path:
        return cache_root() / "images" / f"probe-{self.digest}.tar"


def host_suite() -> str:
    """The machine's own release codename: its apt sources serve that suite."""
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("VERSION_CODENAME="):
            return line.split("=", 1)[1].strip().strip('"')
    raise EnvironmentUnfit("/etc/os-release has no VERSION_CODENAME: cannot pick a suite")


def ensure_built(recipe: ImageRecipe) -> Path:
    """Build the rootfs tarball unless the cache already holds it (atomic: .partial, rename)."""
    target = recipe.tarball
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial.tar")  # mmdebstrap picks the format by suffix
    argv = [
        "mmdebstrap",
        f"--variant={recipe.variant}",
        f"--include={','.join(recipe.packages)}",
        *(f"--dpkgopt=path-exclude=/usr/share/{d}/*" for d in ("doc", "man", "locale", "info")),
        recipe.suite,
        str(partial),
    ]
    log = target.with_suffix(".log")
    with log.open("w") as out:
        proc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        partial.unlink(missing_ok=True)
        tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-2:])
        raise EnvironmentUnfit(f"probe image build failed (mmdebstrap, log {log}): {tail}")
    partial.rename(target)
    return target


def ensure_loaded(client: Any, recipe: ImageRecipe) -> None:
    """Import the rootfs into one daemon unless it already has this exact recipe."""
    import docker.errors

    try:
        client.images.get(recipe.tag)
        return
    except docker.errors.ImageNotFound:
        pass
    repository, tag = recipe.tag.split(":")
    with recipe.tarball.open("rb") as rootfs:
        client.api.import_image(
            src=rootfs,
            repository=repository,
            tag=tag,
            changes=['CMD ["sleep", "infinity"]'],
        )
