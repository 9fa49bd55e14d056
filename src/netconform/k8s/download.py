"""Downloads of pinned artifacts: cached by sha256, verified before anything uses them.
A mismatch is an error and the bytes are thrown away, never applied."""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path

from netconform.errors import EnvironmentUnfit, NetconformError
from netconform.settings import Settings

Fetch = Callable[[str], bytes]


class ChecksumMismatch(NetconformError):
    """Downloaded bytes differ from the pinned sha256 (exit 2: the pin or the source is wrong)."""


def fetch_url(url: str, timeout_s: float = 120) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            data: bytes = response.read()
            return data
    except OSError as exc:
        raise EnvironmentUnfit(f"cannot download {url}: {exc}") from None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verify(data: bytes, sha256: str, source: str) -> bytes:
    actual = sha256_hex(data)
    if actual != sha256:
        raise ChecksumMismatch(
            f"{source}: sha256 {actual} does not match the pinned {sha256}; not used"
        )
    return data


def cache_dir() -> Path:
    return Settings.from_env().cache_home / "netconform" / "artifacts"


def fetch_verified(
    url: str, sha256: str, fetch: Fetch = fetch_url, cache: Path | None = None
) -> bytes:
    """The artifact's bytes, from the content-addressed cache or downloaded and verified.
    A cached file is verified again: a corrupted cache is refetched, never trusted."""
    cache = cache or cache_dir()
    cached = cache / sha256
    if cached.exists():
        data = cached.read_bytes()
        if sha256_hex(data) == sha256:
            return data
        cached.unlink()
    data = verify(fetch(url), sha256, url)
    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache, prefix=".partial-")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, cached)
    return data
