"""The oracle reproduces every upstream e2e truth table, transcribed independently."""

from __future__ import annotations

import pytest

from netconform.netpol.catalogue import Case, load_catalogue, select

from .upstream_expectations import EXPECTATIONS, Reachability

UPSTREAM = {c.id: c for c in select(load_catalogue(), ["upstream-e2e"])}


def test_every_upstream_spec_has_a_case() -> None:
    assert len(UPSTREAM) == 48
    assert sum(1 for c in UPSTREAM if c.startswith("upstream.tcp.")) == 42


def test_every_probed_table_has_a_transcribed_expectation() -> None:
    probed = {
        (case.id, i, f"{port}/{protocol}")
        for case in UPSTREAM.values()
        for i, step in enumerate(case.steps)
        for port, protocol in step.probes
    }
    assert probed == set(EXPECTATIONS)


def _oracle_table(case: Case, step_index: int, probe: str) -> dict[tuple[str, str], bool]:
    step = case.resolve().steps[step_index]
    return {
        (v.probe.source, v.probe.destination): v.allowed
        for v in step.expected()
        if f"{v.probe.port}/{v.probe.protocol}" == probe
    }


@pytest.mark.parametrize(("case_id", "step_index", "probe"), sorted(EXPECTATIONS), ids=str)
def test_oracle_matches_upstream_table(case_id: str, step_index: int, probe: str) -> None:
    case = UPSTREAM[case_id]
    expected = EXPECTATIONS[(case_id, step_index, probe)](Reachability(case.pods)).cells
    # Upstream ignores loopback cells; the oracle reproduces them anyway, so compare all.
    assert _oracle_table(case, step_index, probe) == expected
