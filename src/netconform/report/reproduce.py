"""The commands that re-run a check's failed probes, as the report shows them (copyable).

Checks put each probe they judged into `observed` as a ProbeResult entry carrying
`reproduce`, the exec argv; NetworkPolicy cells that failed to run carry it in
`netpol.steps[].errors[]` (shown by netpol_view). Only probes that did not succeed are
listed, the first few of them: the rest are in comparison.json.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from netconform.probes.executors import AGENT_ELIDED
from netconform.results import CheckResult, JSONValue, Verdict

SHOWN = 5
_MAX_DEPTH = 6
# What a copied command reads in place of the elided agent source: the agent of the
# netconform installed where it is pasted (`python3 -c` takes the source inline).
AGENT_FROM_INSTALL = (
    '"$(cat "$(python3 -c \'import netconform.probes.agent as a; print(a.__file__)\')")"'
)


def shell_command(argv: Sequence[str]) -> str:
    """The argv as a command to paste into a shell, the agent source read from the install."""
    return " ".join(AGENT_FROM_INSTALL if a == AGENT_ELIDED else shlex.quote(a) for a in argv)


@dataclass(frozen=True)
class FailedProbe:
    what: str
    reason: str
    argv: tuple[str, ...]


def _entries(
    value: JSONValue, where: str = "", depth: int = 0
) -> Iterator[tuple[str, Mapping[str, JSONValue]]]:
    """Every mapping carrying a reproduce argv, with the key it sits under (a grid cell's
    label, for instance)."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, Mapping):
        argv = value.get("reproduce")
        if isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv):
            yield where, value
            return
        for key, item in value.items():
            yield from _entries(item, str(key), depth + 1)
    elif isinstance(value, Sequence) and not isinstance(value, str):
        for item in value:
            yield from _entries(item, where, depth + 1)


def failed_probes(check: CheckResult) -> tuple[FailedProbe, ...]:
    """Every probe in `observed` that did not succeed and can be re-run, in order, then the
    NetworkPolicy cells observed wrong; a failed check whose probes all succeeded (judged
    wrong: a connection that should have been stopped) lists those instead."""
    found: list[FailedProbe] = []
    succeeded: list[FailedProbe] = []
    for where, entry in _entries(check.observed):
        named = " ".join(str(entry[k]) for k in ("kind", "target") if entry.get(k))
        argv = tuple(entry["reproduce"])
        if entry.get("ok") is True:
            succeeded.append(FailedProbe(named or where or "probe", "succeeded", argv))
            continue
        reason = entry.get("error") or entry.get("outcome") or ""
        found.append(FailedProbe(named or where or "probe", str(reason), argv))
    for step in check.netpol.steps if check.netpol is not None else ():
        for cell, argv in step.reproduce.items():
            why = step.explanations.get(cell, "observed other than expected")
            found.append(FailedProbe(cell, f"step {step.name}: {why}", argv))
    if not found and check.verdict in (Verdict.FAIL, Verdict.ERROR):
        return tuple(succeeded)
    return tuple(found)
