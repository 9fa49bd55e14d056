"""Fixtures for the Kubernetes platform tests: the pinned upstream files in ../shared/cni
(read in place, never copied), rendered plans, and fake kind/kubectl/helm/docker."""

from __future__ import annotations

import io
import os
import stat
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

import netconform.checks.k8s_catalogue  # noqa: F401 - registers the Kubernetes checks
from netconform.k8s import plan, profiles
from netconform.k8s.download import verify

REPO = Path(__file__).resolve().parents[2]
# beside the repository, else where the kit's exports point (its copy, for a clone elsewhere)
_CANDIDATES = [REPO.parent / "shared" / "cni"]
if os.environ.get("NETCONFORM_ARTIFACTS"):  # unset is not "." (the repository's own README)
    _CANDIDATES.append(Path(os.environ["NETCONFORM_ARTIFACTS"]))
SHARED_CNI = next((p for p in _CANDIDATES if (p / "README.md").is_file()), _CANDIDATES[0])


@pytest.fixture(scope="session")
def shared_cni() -> Path:
    if not (SHARED_CNI / "README.md").is_file():
        pytest.skip(f"the pinned upstream CNI files are not at {SHARED_CNI} (shared/ absent)")
    return SHARED_CNI


def _tgz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def fake_plugins_archive(names: tuple[str, ...] = ("bridge", "host-local", "ptp")) -> bytes:
    return _tgz({f"./{name}": f"#!/bin/sh\necho fake {name}\n".encode() for name in names})


def stand_in_chart(shared_cni: Path) -> bytes:
    """A chart .tgz holding only the pinned chart's own values.yaml (from shared/cni)."""
    return _tgz({"cilium/values.yaml": (shared_cni / "cilium/v1.20.0/values.yaml").read_bytes()})


KIT_MODULES = Path("/var/cache/netconform/kit/go/mod")  # the offline kit's Go module cache
STAND_IN_CRD = b"apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"


@pytest.fixture(scope="session")
def offline_artifacts(shared_cni: Path) -> Callable[[str], plan.Artifacts]:
    """Artifacts for a CNI: the real pinned files from shared/cni (sha256-verified); the two
    binaries shared/ does not hold (CNI plugins tgz, Cilium chart tgz) as stand-ins."""

    def for_cni(cni: str) -> plan.Artifacts:
        profile = profiles.load_profile(cni)
        real = plan.directory_source(shared_cni, plan.reference_copies(profile))
        from_modules = {a.url: a.go_module_file for a in profile.artifacts if a.go_module_file}

        def read(url: str, sha256: str) -> bytes:
            if url.endswith(".tgz") and "cni-plugins" in url:
                return fake_plugins_archive()
            if url.endswith(".tgz"):
                return stand_in_chart(shared_cni)
            if url in from_modules:  # the kit's module copy, or a stand-in CRD
                local = KIT_MODULES / from_modules[url]
                return local.read_bytes() if local.is_file() else STAND_IN_CRD
            data = real(url, sha256)
            return verify(data, sha256, url)

        return read

    return for_cni


TOOLS = ("kind", "kubectl", "helm", "docker")


@pytest.fixture
def fake_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A bin dir holding only the fakes, first on PATH; returns the state dir."""
    bin_dir, state = tmp_path / "bin", tmp_path / "state"
    bin_dir.mkdir()
    state.mkdir()
    source = (Path(__file__).parent / "fake_tool.py").read_text()
    for tool in TOOLS:
        path = bin_dir / tool
        path.write_text(f"#!{sys.executable}\n{source}")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_STATE", str(state))
    monkeypatch.delenv("FAKE_FAIL", raising=False)
    return state
