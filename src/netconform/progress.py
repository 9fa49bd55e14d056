"""Progress lines for a person waiting minutes; quiet and plain when not on a terminal."""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO


class Progress(Protocol):
    def step(self, message: str) -> None: ...


class NoProgress:
    def step(self, message: str) -> None:
        pass


class StreamProgress:
    """Timestamped steps on stderr. On a terminal every step shows; otherwise only when
    asked (verbose), so CI logs stay plain."""

    def __init__(self, stream: TextIO | None = None, verbose: bool | None = None) -> None:
        self._stream = stream or sys.stderr
        self._verbose = self._stream.isatty() if verbose is None else verbose
        self._t0 = time.monotonic()

    def step(self, message: str) -> None:
        if self._verbose:
            elapsed = time.monotonic() - self._t0
            self._stream.write(f"[{elapsed:6.1f}s] {message}\n")
            self._stream.flush()
