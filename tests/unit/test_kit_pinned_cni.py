"""The kit points netconform at its directory of pinned CNI files: a copy of shared/cni when
that is beside the repository, plus the manifests of the Go modules the kit builds from, so a
clone alone (no shared/, e.g. a user's) still runs kind-flannel offline; with neither, no
export at all."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from kit import cli
from tests.k8s.conftest import SHARED_CNI

from netconform.k8s import plan, profiles


@pytest.fixture
def layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    kit_dir = tmp_path / "clone" / "kit"
    kit_dir.mkdir(parents=True)
    copy = tmp_path / "cache" / "cni"
    copy.parent.mkdir()
    monkeypatch.setattr(cli, "KIT_DIR", kit_dir)
    monkeypatch.setattr(cli, "PINNED_CNI", copy)
    monkeypatch.setattr(cli, "CACHE", tmp_path / "cache")
    return tmp_path / "shared" / "cni", copy


def _write_shared(shared: Path, manifest: bytes) -> None:
    (shared / "flannel").mkdir(parents=True)
    (shared / "README.md").write_text("facts\n")
    (shared / "flannel" / "kube-flannel.yml").write_bytes(manifest)


def _module_tree_manifest(data: bytes) -> Path:
    path = cli.module_tree_files()["kube-flannel.yml"]
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    return path


def test_shared_beside_the_repository_is_copied_and_served(layout: tuple[Path, Path]) -> None:
    shared, copy = layout
    _write_shared(shared, b"kind: DaemonSet\n")
    assert cli.pinned_cni_files() == copy
    assert (copy / "flannel" / "kube-flannel.yml").read_bytes() == b"kind: DaemonSet\n"
    assert not copy.with_name("cni.new").exists()


def test_the_copy_follows_shared_and_serves_a_clone_without_it(
    layout: tuple[Path, Path],
) -> None:
    shared, copy = layout
    copy.mkdir()
    (copy / "README.md").write_text("old\n")
    (copy / "stale.yaml").write_text("gone upstream\n")
    _write_shared(shared, b"v2\n")
    cli.pinned_cni_files()
    assert not (copy / "stale.yaml").exists()  # a refresh, not a merge
    for path in sorted(shared.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    assert cli.pinned_cni_files() == copy
    assert (copy / "flannel" / "kube-flannel.yml").read_bytes() == b"v2\n"
    assert any(line.endswith(f"NETCONFORM_ARTIFACTS={copy}") for line in _exports())


def test_a_clone_alone_gets_flannels_manifest_from_the_module_tree(
    layout: tuple[Path, Path],
) -> None:
    """No shared/ anywhere: the manifest in flannel's module (the bytes the pin names) is
    served, and netconform's own lookup finds and verifies it by the URL's file name."""
    _, copy = layout
    if not (SHARED_CNI / "README.md").is_file():
        pytest.skip(f"the pinned upstream CNI files are not at {SHARED_CNI} (shared/ absent)")
    _module_tree_manifest((SHARED_CNI / "flannel" / "kube-flannel-v0.28.9.yml").read_bytes())
    assert cli.pinned_cni_files() == copy
    profile = profiles.load_profile("flannel")
    art = profile.artifact("kube-flannel")
    read = plan.directory_source(copy, plan.reference_copies(profile))
    assert hashlib.sha256(read(art.url, art.sha256)).hexdigest() == art.sha256


def test_a_module_tree_file_that_differs_from_the_pin_is_refused_at_use(
    layout: tuple[Path, Path],
) -> None:
    _, copy = layout
    _module_tree_manifest(b"kind: DaemonSet # edited\n")
    cli.pinned_cni_files()
    art = profiles.load_profile("flannel").artifact("kube-flannel")
    read = plan.directory_source(copy, {})
    with pytest.raises(Exception, match="sha256"):
        read(art.url, art.sha256)


def test_neither_shared_nor_a_module_tree_exports_nothing(layout: tuple[Path, Path]) -> None:
    assert cli.pinned_cni_files() is None
    assert not any("NETCONFORM_ARTIFACTS" in line for line in _exports())


def _exports() -> list[str]:
    return [line for line in cli.exports() if "NETCONFORM_ARTIFACTS" in line]
