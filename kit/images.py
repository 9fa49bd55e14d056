"""Images imported into the kit's dockerd from tar streams (a Debian rootfs, binaries on
top), never pulled or built from a Dockerfile; each recorded with the cache key it was made
from, so `up` rebuilds only what changed."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kit.core import CACHE, BuildFailed, Logged
from kit.dockerd import docker_env

STATE = CACHE / "state"


@dataclass(frozen=True)
class Layer:
    """Files to put into an image: path in the image -> host file (mode kept) or bytes."""

    files: Mapping[str, Path | bytes] = field(default_factory=dict)
    dirs: tuple[str, ...] = ()
    symlinks: Mapping[str, str] = field(default_factory=dict)  # path -> target


def write_layer(out: tarfile.TarFile, layer: Layer) -> None:
    for path in layer.dirs:
        info = tarfile.TarInfo(path.lstrip("/"))
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        out.addfile(info)
    for path, source in sorted(layer.files.items()):
        name = path.lstrip("/")
        if isinstance(source, Path):
            info = out.gettarinfo(str(source), arcname=name)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            with source.open("rb") as data:
                out.addfile(info, data)
        else:
            info = tarfile.TarInfo(name)
            info.size = len(source)
            info.mode = 0o644
            out.addfile(info, io.BytesIO(source))
    for path, target in sorted(layer.symlinks.items()):
        info = tarfile.TarInfo(path.lstrip("/"))
        info.type = tarfile.SYMTYPE
        info.linkname = target
        out.addfile(info)


def _members(base: Path, replaced: set[str]) -> Iterator[tuple[tarfile.TarInfo, tarfile.TarFile]]:
    with tarfile.open(base) as src:
        for member in src:
            if member.name.removeprefix("./").rstrip("/") not in replaced:
                yield member, src


def image_tar(base: Path | None, layer: Layer, out_path: Path) -> None:
    """A rootfs tarball: the base rootfs (if any) with the layer's files on top."""
    replaced = {p.lstrip("/") for p in (*layer.files, *layer.symlinks, *layer.dirs)}
    with tarfile.open(out_path, "w") as out:
        if base is not None:
            for member, src in _members(base, replaced):
                data = src.extractfile(member) if member.isreg() else None
                out.addfile(member, data)
        write_layer(out, layer)


@dataclass(frozen=True)
class Recorded:
    """What the kit last imported under a tag: the key and the image id."""

    tag: str

    @property
    def file(self) -> Path:
        return STATE / (self.tag.replace("/", "_").replace(":", "@") + ".json")

    def current(self, key: str) -> bool:
        try:
            saved = json.loads(self.file.read_text())
        except (OSError, ValueError):
            return False
        return saved.get("key") == key and image_id(self.tag) == saved.get("id")

    def record(self, key: str) -> None:
        STATE.mkdir(parents=True, exist_ok=True)
        self.file.write_text(json.dumps({"key": key, "id": image_id(self.tag)}) + "\n")


def image_id(tag: str) -> str | None:
    proc = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", tag],
        env=docker_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() if proc.returncode == 0 else None


def docker_import(
    logged: Logged, base: Path | None, layer: Layer, tag: str, changes: Sequence[str]
) -> None:
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        rootfs = Path(tmp) / "rootfs.tar"
        image_tar(base, layer, rootfs)
        argv = ["docker", "import"]
        for change in changes:
            argv += ["--change", change]
        logged.run([*argv, str(rootfs), tag], env=docker_env())
    if image_id(tag) is None:
        raise BuildFailed(f"component {logged.component}: {tag} missing after import")


def docker_save(logged: Logged, tags: Sequence[str], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial")
    logged.run(["docker", "save", "-o", str(partial), *tags], env=docker_env())
    partial.rename(out)
