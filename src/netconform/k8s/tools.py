"""The executables a Kubernetes platform drives, always taken from PATH (never downloaded),
behind an injectable runner so lifecycles are tested with fakes."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from netconform.errors import EnvironmentUnfit

# What to tell a user who lacks a tool: one line, where to get it.
HOW_TO_GET = {
    "docker": "install Docker Engine and start the daemon (https://docs.docker.com/engine/install/)",
    "kind": "install kind v0.32+ (https://kind.sigs.k8s.io/docs/user/quick-start/#installation)",
    "kubectl": "install kubectl (https://kubernetes.io/docs/tasks/tools/)",
    "helm": "install helm v3+ (https://helm.sh/docs/intro/install/)",
}


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def tail(self) -> str:
        text = (self.stderr or self.stdout).strip().splitlines()
        return text[-1] if text else f"exit {self.returncode}"


class Runner(Protocol):
    def run(
        self, argv: Sequence[str], *, timeout_s: float | None = None, stdin: str | None = None
    ) -> Completed: ...


class SubprocessRunner:
    """Runs commands for real; the environment is the caller's, plus `env` overrides."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self._env = {**os.environ, **(env or {})}

    def run(
        self, argv: Sequence[str], *, timeout_s: float | None = None, stdin: str | None = None
    ) -> Completed:
        try:
            proc = subprocess.run(
                list(argv),
                input=stdin,
                capture_output=True,
                text=True,
                timeout=timeout_s,
                env=self._env,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout if isinstance(exc.stdout, str) else ""
            return Completed(tuple(argv), 124, out, f"timed out after {timeout_s}s")
        except FileNotFoundError:
            return Completed(tuple(argv), 127, "", f"{argv[0]}: not found on PATH")
        return Completed(tuple(argv), proc.returncode, proc.stdout, proc.stderr)


def missing_tools(names: Sequence[str], path: str | None = None) -> list[str]:
    return [n for n in names if shutil.which(n, path=path) is None]


def require_tools(names: Sequence[str], platform: str, path: str | None = None) -> None:
    """EnvironmentUnfit (exit 3) naming every missing executable and how to get it."""
    absent = missing_tools(names, path)
    if absent:
        hints = "; ".join(f"{n}: {HOW_TO_GET[n]}" for n in absent)
        raise EnvironmentUnfit(
            f"platform {platform} needs {', '.join(absent)} on PATH (not found). {hints}"
        )


def require_docker_daemon(runner: Runner, platform: str) -> None:
    result = runner.run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout_s=20)
    if result.returncode != 0:
        raise EnvironmentUnfit(
            f"platform {platform} needs a running Docker daemon: `docker info` failed "
            f"({result.tail()}); start dockerd or set DOCKER_HOST"
        )
