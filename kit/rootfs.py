"""Debian root filesystems made with mmdebstrap from the host's own apt sources (no mirror is
named), cached as tarballs by the hash of their package list."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kit.core import CACHE, Logged, digest
from kit.pins import SUITE

# Documentation and locales are never read inside these images.
_SLIM = tuple(f"--dpkgopt=path-exclude=/usr/share/{d}/*" for d in ("doc", "man", "locale", "info"))


@dataclass(frozen=True)
class Rootfs:
    name: str
    packages: tuple[str, ...]
    variant: str = "minbase"

    @property
    def key(self) -> str:
        return digest(SUITE, self.variant, sorted(self.packages))

    @property
    def tarball(self) -> Path:
        return CACHE / "rootfs" / f"{self.name}-{self.key}.tar"

    def built(self) -> bool:
        return self.tarball.exists()

    def build(self) -> None:
        logged = Logged(f"rootfs-{self.name}")
        logged.start()
        self.tarball.parent.mkdir(parents=True, exist_ok=True)
        partial = self.tarball.with_suffix(".partial.tar")  # mmdebstrap picks format by suffix
        partial.unlink(missing_ok=True)
        logged.run(
            [
                "mmdebstrap",
                f"--variant={self.variant}",
                f"--include={','.join(self.packages)}",
                *_SLIM,
                SUITE,
                str(partial),
            ]
        )
        partial.rename(self.tarball)
