"""What the report shows of a NetworkPolicy check: the steps that went wrong, read from the
typed `NetpolReport` the check wrote (results.py), never from its text."""

from __future__ import annotations

from dataclasses import dataclass

from netconform.results import CellError, CellValue, CheckResult, NetpolStep, TruthTable, Verdict


@dataclass(frozen=True)
class Mismatch:
    """One cell whose observation differs from the expectation, with the oracle's why."""

    label: str
    source: str
    destination: str
    expected: CellValue
    observed: CellValue
    explanation: str


@dataclass(frozen=True)
class TableView:
    table: TruthTable
    # True where the observation differs from the expectation, in the table's shape
    difference: tuple[tuple[bool, ...], ...]
    mismatches: tuple[Mismatch, ...]

    @property
    def key(self) -> str:
        return f"{self.table.port}/{self.table.protocol}"


@dataclass(frozen=True)
class StepView:
    """A step to show: it did not hold, or some of its probes failed to run."""

    step: NetpolStep
    tables: tuple[TableView, ...]

    @property
    def errors(self) -> tuple[CellError, ...]:
        return self.step.errors


def table_view(table: TruthTable, explanations: dict[str, str]) -> TableView:
    difference = tuple(
        tuple(e != o for e, o in zip(expected, observed, strict=True))
        for expected, observed in zip(table.expected, table.observed, strict=True)
    )
    mismatches = tuple(
        Mismatch(
            label=(label := table.label(src, dst)),
            source=src,
            destination=dst,
            expected=table.expected[i][j],
            observed=table.observed[i][j],
            explanation=explanations.get(label, ""),
        )
        for i, src in enumerate(table.sources)
        for j, dst in enumerate(table.destinations)
        if difference[i][j]
    )
    return TableView(table, difference, mismatches)


def failed_steps(check: CheckResult) -> tuple[StepView, ...]:
    """The steps a failed or errored NetworkPolicy check should show; empty otherwise."""
    if check.netpol is None or check.verdict not in (Verdict.FAIL, Verdict.ERROR):
        return ()
    views: list[StepView] = []
    for step in check.netpol.steps:
        if step.held and not step.errors:
            continue
        explanations = dict(step.explanations)
        views.append(StepView(step, tuple(table_view(t, explanations) for t in step.tables)))
    return tuple(views)


# The report's truth-table signs: allowed, denied, the probe failed to run (never a deny).
CELL_SIGN = {CellValue.ALLOW: ".", CellValue.DENY: "X", CellValue.ERROR: "!"}


def step_text(step: NetpolStep) -> str:
    """Any step as text, held or not: how it ended, then per port its expected and observed
    tables side by side (rows are sources, columns destinations)."""
    how = "held" if step.held else "did not hold"
    under = f" under profile {step.profile}" if step.profile else ""
    lines = [
        f"step {step.name}: {how}{under} after {step.took_effect_s:g} s, "
        f"{step.attempts} observation(s)" + (", a label change" if step.label_change else "")
    ]
    for table in step.tables:
        width = max(len(s) for s in table.sources)
        cells = max(8, 2 * len(table.destinations) - 1)  # a row: one sign and a space per cell
        lines.append(f"  {table.port}/{table.protocol}  columns: {', '.join(table.destinations)}")
        lines.append(f"  {'':<{width}}  {'expected':<{cells}}  observed")
        for src, want, seen in zip(table.sources, table.expected, table.observed, strict=True):
            row_want = " ".join(CELL_SIGN[v] for v in want)
            row_seen = " ".join(CELL_SIGN[v] for v in seen)
            mark = "" if want == seen else "   <- differs"
            lines.append(f"  {src:<{width}}  {row_want:<{cells}}  {row_seen}{mark}")
    return "\n".join(lines)
