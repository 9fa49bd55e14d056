"""The shape every CNI installer has: which pinned files it uses, the images it runs, what
it renders (patched manifests or chart values) and the ordered install and wait steps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from netconform.k8s import manifests
from netconform.k8s.images import manifest_images
from netconform.k8s.install import Step, Workdir
from netconform.k8s.kindhost import Artifacts, KindHost
from netconform.k8s.profiles import CniProfile


@dataclass(frozen=True)
class CniRender:
    """What an installer renders from: the profile, the cluster it goes into, where the
    files go, the verified pinned files and what the machine has."""

    profile: CniProfile
    pod_cidr: str
    cluster: str
    work: Workdir
    artifacts: Artifacts
    include_binaries: bool  # charts and archives too, not only the text files
    host: KindHost


@dataclass(frozen=True)
class RenderedCni:
    files: tuple[Path, ...]
    images: tuple[str, ...]  # every image the CNI runs, read from what was rendered
    # what the render decided that the report shows (e.g. capabilities a chart lost)
    facts: Mapping[str, Any] = field(default_factory=dict)


class CniInstaller(Protocol):
    """One install method of a CNI (k8s/cnis/__init__.py lists them by InstallMethod)."""

    @property
    def tools(self) -> tuple[str, ...]:
        """Executables it needs beside docker, kind and kubectl."""
        ...

    def images(self, profile: CniProfile, artifacts: Artifacts) -> list[str]:
        """Every image the CNI runs (loaded into the nodes when local)."""
        ...

    def render(self, job: CniRender) -> RenderedCni: ...

    def install_steps(
        self, profile: CniProfile, work: Workdir, skipped_rollouts: Sequence[str]
    ) -> list[Step]:
        """Install and readiness waits, in upstream's order; `skipped_rollouts`: parts
        installed without their optional image, not waited for."""
        ...


def write_file(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data)
    return path


def pinned(profile: CniProfile, artifacts: Artifacts, name: str) -> bytes:
    """The profile's artifact `name`, verified against its sha256."""
    art = profile.artifact(name)
    return artifacts(art.url, art.sha256)


def pinned_docs(profile: CniProfile, artifacts: Artifacts, name: str) -> list[manifests.Manifest]:
    return manifests.load_all(pinned(profile, artifacts, name))


def images_in(profile: CniProfile, docs: Sequence[manifests.Manifest]) -> list[str]:
    """The images the manifests run, then those the profile declares (rendered by an
    operator or a chart, named in no manifest)."""
    images = manifest_images(docs)
    return images + [i for i in profile.preload_images if i not in images]


def images_of(profile: CniProfile, artifacts: Artifacts, name: str) -> list[str]:
    """The images the pinned manifest `name` runs, and the profile's."""
    return images_in(profile, pinned_docs(profile, artifacts, name))


class OneManifest:
    """A CNI installed from one pinned manifest, patched: subclasses name the artifact and
    the file it is written as, patch it, and give the install steps."""

    artifact: str
    file: str
    tools: tuple[str, ...] = ()

    def images(self, profile: CniProfile, artifacts: Artifacts) -> list[str]:
        return images_of(profile, artifacts, self.artifact)

    def patched(self, docs: list[manifests.Manifest], job: CniRender) -> list[manifests.Manifest]:
        raise NotImplementedError

    def render(self, job: CniRender) -> RenderedCni:
        pinned_manifest = pinned_docs(job.profile, job.artifacts, self.artifact)
        docs = self.patched(pinned_manifest, job)
        written = write_file(job.work.cni / self.file, manifests.dump_all(docs))
        return RenderedCni((written,), tuple(images_in(job.profile, pinned_manifest)))
