"""Check specs, outcomes, the catalogue, and polling until an expectation holds."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from netconform import aspects
from netconform.core import CheckContext
from netconform.errors import InputError
from netconform.polling import Polled as Polled  # noqa: PLC0414 - re-exported for the checks
from netconform.polling import poll as poll  # noqa: PLC0414
from netconform.results import Area, CheckResult, Measure, NetpolReport, Verdict
from netconform.vocab import Capability, Family, Fault

Ctx = TypeVar("Ctx", bound=CheckContext)


@dataclass(frozen=True)
class CheckSpec:
    id: str  # stable dotted id, e.g. dns.tasks.ips
    area: Area
    title: str
    spec: str  # the documentation the expectation comes from
    family: Family
    aspect: str  # the aspects.py key of what it tests, shared by the families that test it
    requires: frozenset[Capability] = frozenset()
    catches: tuple[Fault, ...] = ()  # lab faults that must make it fail
    not_catchable: str = ""  # why no lab fault can reach it, when catches is empty

    def __post_init__(self) -> None:
        # Declarations are data read at import: a name outside the closed sets fails there.
        object.__setattr__(self, "family", Family(self.family))
        object.__setattr__(self, "requires", frozenset(Capability(c) for c in self.requires))
        object.__setattr__(self, "catches", tuple(Fault(f) for f in self.catches))


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    reason: str
    expected: Any = None
    observed: Any = None
    measurements: Mapping[Measure, Any] = field(default_factory=dict)
    profile: bool = False  # a legitimate platform difference recorded, not a verdict
    netpol: NetpolReport | None = None
    # The check's own time when the call's is not it: a NetworkPolicy case run ahead in its
    # lane, whose check only waited for it (None: the call's time is the check's).
    duration_s: float | None = None

    def __post_init__(self) -> None:
        # Measurement names are a closed set: a name no report knows fails here, loudly.
        object.__setattr__(
            self, "measurements", {Measure(k): v for k, v in self.measurements.items()}
        )

    @classmethod
    def passed(cls, reason: str, **kw: Any) -> Outcome:
        return cls(Verdict.PASS, reason, **kw)

    @classmethod
    def failed(cls, reason: str, **kw: Any) -> Outcome:
        return cls(Verdict.FAIL, reason, **kw)

    @classmethod
    def skipped(cls, reason: str, **kw: Any) -> Outcome:
        return cls(Verdict.SKIP, reason, **kw)

    @classmethod
    def errored(cls, reason: str, **kw: Any) -> Outcome:
        """The check could not decide (e.g. a probe did not run): never a pass or a fail."""
        return cls(Verdict.ERROR, reason, **kw)


class ProbeDidNotRun(RuntimeError):
    """Raised where a check's deciding probe did not run: `execute` makes it an error
    verdict, since what the probe would have shown is unknown."""


@dataclass(frozen=True)
class Check(Generic[Ctx]):
    spec: CheckSpec
    run: Callable[[Ctx], Outcome]


class Catalogue:
    def __init__(self) -> None:
        self._checks: dict[str, Check[Any]] = {}

    def register(
        self, spec: CheckSpec
    ) -> Callable[[Callable[[Ctx], Outcome]], Callable[[Ctx], Outcome]]:
        def decorate(fn: Callable[[Ctx], Outcome]) -> Callable[[Ctx], Outcome]:
            if spec.id in self._checks:
                raise ValueError(f"duplicate check id {spec.id}")
            aspects.get(spec.aspect)  # an aspect outside the one table fails at import
            taken = [
                c.spec.id
                for c in self._checks.values()
                if (c.spec.family, c.spec.aspect) == (spec.family, spec.aspect)
            ]
            if taken:  # one check per aspect and family: a comparison cell holds one check
                raise ValueError(f"{spec.id}: aspect {spec.aspect} already tested by {taken[0]}")
            self._checks[spec.id] = Check(spec, fn)
            return fn

        return decorate

    def unregister(self, check_id: str) -> None:
        """Drop a check (a run that replaces the built-in NetworkPolicy cases by its own)."""
        self._checks.pop(check_id, None)

    def for_family(self, family: str) -> list[Check[Any]]:
        return [c for c in self._checks.values() if c.spec.family == family]

    def get(self, check_id: str) -> Check[Any]:
        try:
            return self._checks[check_id]
        except KeyError:
            raise InputError(f"unknown check id {check_id!r}") from None

    def __iter__(self) -> Iterator[Check[Any]]:
        return iter(self._checks.values())


CATALOGUE = Catalogue()


def execute(check: Check[Ctx], ctx: Ctx) -> CheckResult:
    """Run one check; a missing capability is a skip naming it, an exception is an error."""
    spec = check.spec
    start = time.monotonic()
    missing = ctx.capabilities.why_missing(spec.requires)
    if missing is not None:
        outcome = Outcome.skipped(missing)
    else:
        try:
            outcome = check.run(ctx)
        except Exception as exc:  # a check crashing is an error verdict, never a pass
            outcome = Outcome(Verdict.ERROR, f"{type(exc).__name__}: {exc}")
    return CheckResult(
        id=spec.id,
        area=spec.area,
        title=spec.title,
        verdict=outcome.verdict,
        reason=outcome.reason,
        duration_s=time.monotonic() - start if outcome.duration_s is None else outcome.duration_s,
        expected=outcome.expected,
        observed=outcome.observed,
        measurements={str(k): v for k, v in outcome.measurements.items()},
        spec=spec.spec,
        aspect=spec.aspect,
        family=spec.family,
        profile=outcome.profile,
        netpol=outcome.netpol,
    )
