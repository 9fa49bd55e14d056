"""The results.json contract (schema netconform/results/v1): values, writer and reader.

Other tools read these files; keep field names stable and add, never rename.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from netconform.errors import InputError

SCHEMA = "netconform/results/v1"

JSONValue = Any  # JSON-serialisable value (dict, list, str, number, bool, None)


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"
    ERROR = "error"


class Area(StrEnum):
    REACHABILITY = "reachability"
    DNS = "dns"
    MTU = "mtu"
    NETPOL = "netpol"
    ISOLATION = "isolation"
    PERF = "perf"


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict and what it observed, so a failure explains itself."""

    id: str
    area: Area
    title: str
    verdict: Verdict
    reason: str
    duration_s: float
    expected: JSONValue = None
    observed: JSONValue = None
    measurements: Mapping[str, JSONValue] = field(default_factory=dict)
    spec: str = ""

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "id": self.id,
            "area": str(self.area),
            "title": self.title,
            "verdict": str(self.verdict),
            "reason": self.reason,
            "duration_s": round(self.duration_s, 3),
            "expected": self.expected,
            "observed": self.observed,
            "measurements": dict(self.measurements),
            "spec": self.spec,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, JSONValue]) -> CheckResult:
        return cls(
            id=str(data["id"]),
            area=Area(data["area"]),
            title=str(data.get("title", "")),
            verdict=Verdict(data["verdict"]),
            reason=str(data.get("reason", "")),
            duration_s=float(data.get("duration_s", 0.0)),
            expected=data.get("expected"),
            observed=data.get("observed"),
            measurements=dict(data.get("measurements") or {}),
            spec=str(data.get("spec", "")),
        )


def summarize(checks: Iterable[CheckResult]) -> dict[str, int]:
    counts = {str(v): 0 for v in Verdict}
    for check in checks:
        counts[str(check.verdict)] += 1
    return counts


@dataclass(frozen=True)
class RunResults:
    """One run: one platform x one catalogue selection."""

    platform: str
    platform_info: Mapping[str, JSONValue]
    started: str
    finished: str | None
    checks: tuple[CheckResult, ...]
    # False while a run is in progress or when it crashed part way: a report shows it as such.
    complete: bool = True

    @property
    def summary(self) -> dict[str, int]:
        return summarize(self.checks)

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "schema": SCHEMA,
            "platform": self.platform,
            "platform_info": dict(self.platform_info),
            "started": self.started,
            "finished": self.finished,
            "complete": self.complete,
            "checks": [c.to_json() for c in self.checks],
            "summary": self.summary,
        }


def write_results(path: Path, run: RunResults) -> None:
    """Write atomically, so a killed run never leaves a truncated results.json behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".results-", dir=path.parent)
    with os.fdopen(fd, "w") as out:
        json.dump(run.to_json(), out, indent=2, sort_keys=False)
        out.write("\n")
    os.chmod(tmp, 0o644)  # mkstemp makes 0600; CI uploads these as another user
    os.replace(tmp, path)


def read_results(path: Path) -> RunResults:
    """Read and validate one results.json; every problem is one InputError naming the file."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: no such results file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON (truncated?): {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: top level must be an object")
    schema = data.get("schema")
    if schema != SCHEMA:
        raise InputError(f"{path}: schema: unsupported {schema!r}, expected {SCHEMA!r}")
    try:
        checks = tuple(CheckResult.from_json(c) for c in data["checks"])
        return RunResults(
            platform=str(data["platform"]),
            platform_info=dict(data.get("platform_info") or {}),
            started=str(data["started"]),
            finished=data.get("finished"),
            checks=checks,
            complete=bool(data.get("complete", data.get("finished") is not None)),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise InputError(f"{path}: checks: malformed entry ({exc})") from None
