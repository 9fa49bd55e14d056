"""The kit points netconform at the pinned CNI files: shared/cni beside the repository when
it is there (and keeps a copy in its cache), else that copy, so a clone elsewhere (a CI
checkout under /tmp) still runs kind offline; with neither, no export at all."""

from __future__ import annotations

from pathlib import Path

import pytest
from kit import cli


@pytest.fixture
def layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    kit_dir = tmp_path / "clone" / "kit"
    kit_dir.mkdir(parents=True)
    copy = tmp_path / "cache" / "cni"
    copy.parent.mkdir()
    monkeypatch.setattr(cli, "KIT_DIR", kit_dir)
    monkeypatch.setattr(cli, "PINNED_CNI", copy)
    return tmp_path / "shared" / "cni", copy


def _write_shared(shared: Path, manifest: bytes) -> None:
    (shared / "flannel").mkdir(parents=True)
    (shared / "README.md").write_text("facts\n")
    (shared / "flannel" / "kube-flannel.yml").write_bytes(manifest)


def test_shared_beside_the_repository_is_read_in_place_and_copied(
    layout: tuple[Path, Path],
) -> None:
    shared, copy = layout
    _write_shared(shared, b"kind: DaemonSet\n")
    assert cli.pinned_cni_files() == shared
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
    assert any(line.endswith(f"NETCONFORM_ARTIFACTS={copy}") for line in _exports())


def test_neither_shared_nor_a_copy_exports_nothing(layout: tuple[Path, Path]) -> None:
    assert cli.pinned_cni_files() is None
    assert not any("NETCONFORM_ARTIFACTS" in line for line in _exports())


def _exports() -> list[str]:
    return [line for line in cli.exports() if "NETCONFORM_ARTIFACTS" in line]
