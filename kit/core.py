"""Paths, cache keys, logs and progress shared by every kit component."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

KIT_DIR = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("NETCONFORM_KIT_CACHE", "/var/cache/netconform/kit"))
RUN_DIR = Path(os.environ.get("NETCONFORM_KIT_RUN", "/run/netconform-kit"))
LOGS = CACHE / "logs"
BIN = CACHE / "bin"  # what `up` puts on PATH: kind, kubectl


class BuildFailed(Exception):
    """A component failed; the message is one line naming it and its log."""


def say(message: str) -> None:
    """Progress goes to stderr: stdout carries only the export lines `up` prints."""
    print(f"kit: {message}", file=sys.stderr, flush=True)


def digest(*parts: object) -> str:
    text = json.dumps([str(p) for p in parts])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def files_digest(paths: Iterable[Path]) -> str:
    """Hash of file names, modes and contents (recipe files that go into an image)."""
    h = hashlib.sha256()
    for path in sorted(paths):
        h.update(str(path.relative_to(KIT_DIR)).encode())
        h.update(oct(path.stat().st_mode & 0o777).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def tree(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def go_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        GOMODCACHE=str(CACHE / "go" / "mod"),
        GOCACHE=str(CACHE / "go" / "build"),
        GOFLAGS="-mod=mod -buildvcs=false",
        CGO_ENABLED="0",
    )
    return env


@dataclass(frozen=True)
class Logged:
    """Runs commands with their output appended to one component's log."""

    component: str

    @property
    def log(self) -> Path:
        return LOGS / f"{self.component}.log"

    def start(self) -> None:
        LOGS.mkdir(parents=True, exist_ok=True)
        self.log.write_text(f"# {self.component} {time.strftime('%F %T')}\n")

    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        stdin: bytes | None = None,
        nice: bool = True,
    ) -> None:
        with self.log.open("a") as out:
            out.write(f"$ {' '.join(argv)}\n")
            out.flush()
            full = ["nice", "-n", "10", *argv] if nice else list(argv)
            proc = subprocess.run(
                full,
                cwd=cwd,
                env=dict(env) if env is not None else None,
                input=stdin,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if proc.returncode != 0:
            raise BuildFailed(
                f"component {self.component} failed ({argv[0]} exit {proc.returncode}); "
                f"log: {self.log}"
            )
