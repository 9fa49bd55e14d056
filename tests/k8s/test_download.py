"""Downloads are verified before use: a mismatch is an error and nothing is cached."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from netconform.k8s.download import ChecksumMismatch, fetch_verified

DATA = b"apiVersion: v1\nkind: Namespace\n"
SHA = hashlib.sha256(DATA).hexdigest()


def test_mismatch_is_an_error_and_nothing_is_kept(tmp_path: Path) -> None:
    with pytest.raises(ChecksumMismatch, match="does not match the pinned"):
        fetch_verified("https://x/y.yaml", SHA, lambda url: DATA + b"tampered", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_verified_bytes_are_cached_and_reused(tmp_path: Path) -> None:
    calls: list[str] = []

    def fetch(url: str) -> bytes:
        calls.append(url)
        return DATA

    assert fetch_verified("https://x/y.yaml", SHA, fetch, tmp_path) == DATA
    assert fetch_verified("https://x/y.yaml", SHA, fetch, tmp_path) == DATA
    assert calls == ["https://x/y.yaml"]


def test_a_corrupted_cache_entry_is_refetched(tmp_path: Path) -> None:
    (tmp_path / SHA).write_bytes(b"corrupt")
    assert fetch_verified("https://x/y.yaml", SHA, lambda url: DATA, tmp_path) == DATA
    assert (tmp_path / SHA).read_bytes() == DATA
