"""Go binaries built from modules of the Go module proxy, through a small generated wrapper
module (required where the target's go.mod has replace or exclude directives, which
`go install pkg@version` refuses; used for every target so all builds look the same)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kit.core import CACHE, BuildFailed, Logged, digest, go_env

GoReplaces = Callable[[], Mapping[str, str]]


def _go_version() -> str:
    proc = subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True, check=False)
    return proc.stdout.strip()


@dataclass(frozen=True)
class GoBinaries:
    """One module at one version, the main packages to build from it and what to name them."""

    name: str
    module: str
    version: str
    packages: Mapping[str, str]  # output binary name -> package path
    ldflags: str = "-s -w"
    extra_requires: Mapping[str, str] = field(default_factory=dict)
    replaces: GoReplaces | None = None  # computed once the module's go.mod is downloaded
    tags: str = ""
    key_extra: tuple[object, ...] = ()  # e.g. the digest of a local stand-in module
    cgo: bool = False  # static, with the host's gcc and glibc

    @property
    def key(self) -> str:
        return digest(
            self.module,
            self.version,
            sorted(self.packages.items()),
            self.ldflags,
            sorted(self.extra_requires.items()),
            self.tags,
            self.replaces is not None,
            self.key_extra,
            self.cgo,
            _go_version(),
        )

    @property
    def out(self) -> Path:
        return CACHE / "out" / f"{self.name}-{self.key}"

    def path(self, binary: str) -> Path:
        return self.out / binary

    def built(self) -> bool:
        return (self.out / ".done").exists()

    def build(self) -> None:
        logged = Logged(self.name)
        logged.start()
        env = go_env()
        if self.cgo:
            env["CGO_ENABLED"] = "1"
        work = CACHE / "src" / f"{self.name}-{self.key}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        requires = {self.module: self.version, **self.extra_requires}
        lines = ["module netconform.local/kit/" + self.name, "", "go 1.26", "", "require ("]
        lines += [f"\t{mod} {ver}" for mod, ver in requires.items()]
        lines.append(")")
        if self.replaces is not None:
            logged.run(["go", "mod", "download", f"{self.module}@{self.version}"], env=env)
            lines += ["", "replace ("]
            lines += [f"\t{old} => {new}" for old, new in sorted(self.replaces().items())]
            lines.append(")")
        (work / "go.mod").write_text("\n".join(lines) + "\n")
        imports = "\n".join(f'\t_ "{pkg}"' for pkg in sorted(set(self.packages.values())))
        (work / "tools.go").write_text(
            f"//go:build tools\n\npackage tools\n\nimport (\n{imports}\n)\n"
        )
        # -e: a dependency's tests may import modules the proxy refuses; the build needs
        # only what the binaries import, and fails clearly if that is missing.
        logged.run(["go", "mod", "tidy", "-e"], cwd=work, env=env)
        tmp = self.out.with_name(self.out.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for binary, package in self.packages.items():
            argv = ["go", "build", "-trimpath", "-ldflags", self.ldflags, "-o", str(tmp / binary)]
            if self.tags:
                argv += ["-tags", self.tags]
            logged.run([*argv, package], cwd=work, env=env)
        (tmp / ".done").write_text(json.dumps(sorted(self.packages)) + "\n")
        shutil.rmtree(self.out, ignore_errors=True)
        tmp.rename(self.out)


def downloaded(module: str, version: str) -> dict[str, str]:
    """`go mod download -json` of one module version (Dir: its unpacked tree, GoMod)."""
    proc = subprocess.run(
        ["go", "mod", "download", "-json", f"{module}@{version}"],
        capture_output=True,
        text=True,
        env=go_env(),
        check=False,
    )
    if proc.returncode != 0:
        raise BuildFailed(f"go mod download {module}@{version}: {proc.stderr.strip()}")
    info: dict[str, str] = json.loads(proc.stdout)
    return info


def _downloaded_gomod(module: str, version: str) -> str:
    return Path(downloaded(module, version)["GoMod"]).read_text()


def staging_replaces(module: str, version: str, staging_version: str) -> GoReplaces:
    """k8s.io/kubernetes maps every staging module to ./staging/...: route each to its
    published version instead (the list comes from that tag's own go.mod)."""

    def compute() -> Mapping[str, str]:
        gomod = _downloaded_gomod(module, version)
        staged = re.findall(r"^\s*(k8s\.io/[\w.-]+)\s+=>\s+\./staging/", gomod, re.MULTILINE)
        return {mod: f"{mod} {staging_version}" for mod in staged}

    return compute


_REPLACE = re.compile(r"^\s*(?:replace\s+)?(\S+)(?:\s+\S+)?\s+=>\s+(\S+)(?:\s+(\S+))?\s*$")


def replace_directives(gomod: str) -> dict[str, str]:
    """A go.mod's replace directives to other modules (forks, pinned versions): old module ->
    "new [version]". Replaces to local paths are left out: they cannot apply outside the
    module's own tree."""
    replaces: dict[str, str] = {}
    in_block = False
    for raw in gomod.splitlines():
        line = raw.split("//", 1)[0].rstrip()
        if line.strip() == "replace (":
            in_block = True
            continue
        if in_block and line.strip() == ")":
            in_block = False
            continue
        if not (in_block or line.startswith("replace ")):
            continue
        match = _REPLACE.match(line)
        if match is None or match.group(2).startswith((".", "/")):
            continue
        old, new, new_version = match.groups()
        replaces[old] = f"{new} {new_version}" if new_version else new
    return replaces


def module_replaces(module: str, version: str) -> GoReplaces:
    """The module's own replace directives, which a wrapper module must repeat."""
    return lambda: replace_directives(_downloaded_gomod(module, version))


def kubernetes_ldflags(version: str, build_date: str) -> str:
    major, minor = version.lstrip("v").split(".")[:2]
    flags = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {pkg}.gitVersion={version}",
            f"-X {pkg}.gitMajor={major}",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitTreeState=clean",
            f"-X {pkg}.buildDate={build_date}",
        ]
    return " ".join(flags)
