"""The policy figures of each run, side by side, once for NetworkPolicy cases and once for
ClusterNetworkPolicy cases (the cluster tier, with or without NetworkPolicies beside it):
how many cases passed, diverged (a legitimate CNI difference recorded as the platform's
profile), failed, errored or were skipped (a platform without the API: not applicable, with
the reason), and how long a policy change took to take effect (p50/p99 over every held
step). Read from results.json's typed values only; every renderer and comparison.json use
these."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from html import escape

from netconform.report import aspects
from netconform.report.compare import Column, Comparison
from netconform.report.key_measurements import took_effect_s
from netconform.report.presentation import markdown_text
from netconform.results import Area, CheckResult, JSONValue, Verdict
from netconform.stats import percentile


@dataclass(frozen=True)
class NetpolSummary:
    """One run's NetworkPolicy cases (the canary is not a case)."""

    label: str
    passed: int
    diverged: int  # passed under a recorded platform profile
    failed: int
    errors: int
    skipped: int
    steps: int  # held steps that changed policies, the latency sample
    p50_s: float | None
    p99_s: float | None
    label_steps: int = 0  # held steps that changed labels
    label_p50_s: float | None = None
    label_max_s: float | None = None

    @property
    def cases(self) -> int:
        return self.passed + self.diverged + self.failed + self.errors + self.skipped

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "cases": self.cases,
            "passed": self.passed,
            "diverged": self.diverged,
            "failed": self.failed,
            "error": self.errors,
            "skipped": self.skipped,
            "took_effect_s": {"steps": self.steps, "p50": self.p50_s, "p99": self.p99_s},
            "label_change_took_effect_s": {
                "steps": self.label_steps,
                "p50": self.label_p50_s,
                "max": self.label_max_s,
            },
        }


@dataclass(frozen=True)
class PolicySection:
    """One kind of policy case: its results area, its title, its comparison.json key."""

    area: Area
    title: str
    json_key: str


NETWORK_POLICY = PolicySection(Area.NETPOL, "NetworkPolicy", "netpol")
CLUSTER_NETWORK_POLICY = PolicySection(
    Area.CLUSTER_NETPOL, "ClusterNetworkPolicy", "cluster_netpol"
)
SECTIONS = (NETWORK_POLICY, CLUSTER_NETWORK_POLICY)


def is_case(check: CheckResult, section: PolicySection = NETWORK_POLICY) -> bool:
    return check.area == section.area and check.aspect != aspects.CANARY


def summarise(column: Column, section: PolicySection = NETWORK_POLICY) -> NetpolSummary:
    cases = [c for c in column.run.checks if is_case(c, section)]

    def n(verdict: Verdict, profile: bool | None = None) -> int:
        return sum(
            c.verdict == verdict and (profile is None or c.profile == profile) for c in cases
        )

    samples = took_effect_s(column, areas=(section.area,))
    relabels = took_effect_s(column, label_change=True, areas=(section.area,))
    return NetpolSummary(
        label=column.label,
        passed=n(Verdict.PASS, profile=False),
        diverged=n(Verdict.PASS, profile=True),
        failed=n(Verdict.FAIL),
        errors=n(Verdict.ERROR),
        skipped=n(Verdict.SKIP),
        steps=len(samples),
        p50_s=round(percentile(samples, 0.5), 3) if samples else None,
        p99_s=round(percentile(samples, 0.99), 3) if samples else None,
        label_steps=len(relabels),
        label_p50_s=round(percentile(relabels, 0.5), 3) if relabels else None,
        label_max_s=round(max(relabels), 3) if relabels else None,
    )


def summaries(
    comparison: Comparison, section: PolicySection = NETWORK_POLICY
) -> list[NetpolSummary]:
    """One per run that has cases of the section."""
    found = [summarise(col, section) for col in comparison.columns]
    return [s for s in found if s.cases]


def summary_json(
    comparison: Comparison, section: PolicySection = NETWORK_POLICY
) -> dict[str, JSONValue]:
    """comparison.json's `netpol` (`cluster_netpol`): per run label, its counts and latency
    percentiles."""
    return {s.label: s.to_json() for s in summaries(comparison, section)}


HEADINGS = (
    "platform",
    "cases",
    "passed",
    "diverged (profile)",
    "failed",
    "error",
    "skipped",
    "took effect p50",
    "p99",
    "held steps",
    "relabel took effect p50",
    "max",
    "held relabel steps",
)


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:g} s"


def _cells(s: NetpolSummary) -> Sequence[str]:
    return (
        s.label,
        str(s.cases),
        str(s.passed),
        str(s.diverged),
        str(s.failed),
        str(s.errors),
        str(s.skipped),
        _seconds(s.p50_s),
        _seconds(s.p99_s),
        str(s.steps),
        _seconds(s.label_p50_s),
        _seconds(s.label_max_s),
        str(s.label_steps),
    )


LATENCY_NOTE = (
    "Took effect: from the API server accepting a step's change to the start of the first "
    "observation that matched the oracle, over every step that held; steps that changed "
    "pod or namespace labels (relabel) apart from those that changed policies."
)


def render_html(comparison: Comparison) -> Iterator[str]:
    for section in SECTIONS:
        yield from _section_html(comparison, section)


def _section_html(comparison: Comparison, section: PolicySection) -> Iterator[str]:
    found = summaries(comparison, section)
    if not found:
        return
    yield f"<h3>{escape(section.title)} cases</h3>"
    head = "".join(f"<th>{escape(h)}</th>" for h in HEADINGS)
    yield f'<table class="netpol-summary"><thead><tr>{head}</tr></thead><tbody>'
    for s in found:
        yield "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in _cells(s)) + "</tr>"
    yield f"</tbody></table><p class=t>{escape(LATENCY_NOTE)}</p>"


def render_markdown(comparison: Comparison) -> Iterator[str]:
    for section in SECTIONS:
        yield from _section_markdown(comparison, section)


def _section_markdown(comparison: Comparison, section: PolicySection) -> Iterator[str]:
    found = summaries(comparison, section)
    if not found:
        return
    yield f"## {section.title} cases"
    yield ""
    yield "| " + " | ".join(HEADINGS) + " |"
    yield "|---" * len(HEADINGS) + "|"
    for s in found:
        yield "| " + " | ".join(markdown_text(c) for c in _cells(s)) + " |"
    yield ""
    yield LATENCY_NOTE
    yield ""
