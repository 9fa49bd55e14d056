"""The report's golden fixtures (tests/report/data) are what the real checks produce: every
check id and measurement name in them is one the catalogue defines, and regenerating them
(tests/report/data/regenerate.py) changes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from netconform import aspects
from netconform.checks.base import CATALOGUE
from netconform.platforms.registry import load_checks
from netconform.results import CellValue, Measure, RunResults, Verdict, read_results
from netconform.vocab import Family

DATA = Path(__file__).resolve().parents[1] / "report" / "data"
PLATFORMS = ("swarm-lab", "kind-calico", "kind-cilium", "kind-flannel")


@pytest.fixture(scope="module")
def runs() -> dict[str, RunResults]:
    load_checks(Family.SWARM)
    load_checks(Family.KUBERNETES)
    return {p: read_results(DATA / p / "results.json") for p in PLATFORMS}


def test_fixtures_hold_only_ids_and_measurement_names_the_catalogue_defines(
    runs: dict[str, RunResults],
) -> None:
    known = {str(m) for m in Measure}
    for platform, run in runs.items():
        for result in run.checks:
            spec = CATALOGUE.get(result.id).spec  # an unknown id raises
            assert (result.aspect, result.family, result.area) == (
                spec.aspect,
                spec.family,
                spec.area,
            ), (platform, result.id)
            assert result.aspect in aspects.table()
            assert set(result.measurements) <= known, (platform, result.id)


def test_fixtures_show_what_a_report_must_render(runs: dict[str, RunResults]) -> None:
    every = [r for run in runs.values() for r in run.checks]
    verdicts = {r.verdict for r in every}
    assert verdicts == set(Verdict)
    assert any(r.profile for r in every)
    steps = [s for r in every if r.netpol for s in r.netpol.steps]
    assert any(s.difference() and s.explanations for s in steps)  # a divergence, explained
    errors = [e for s in steps for e in s.errors]
    assert errors and all(e.reproduce for e in errors)
    assert any(
        v == CellValue.ERROR for s in steps for t in s.tables for row in t.observed for v in row
    )
    assert not runs["kind-cilium"].complete
    shared = {r.aspect for r in runs["swarm-lab"].checks} & {
        r.aspect for r in runs["kind-calico"].checks
    }
    assert len(shared) >= 25


def test_regenerating_the_fixtures_changes_nothing() -> None:
    script = DATA / "regenerate.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_netpol_step_records_its_observed_matrix_held_or_not(
    runs: dict[str, RunResults],
) -> None:
    """A pass is evidence too: every step that ran carries the matrix it observed, with
    whether it held, under which profile, and when it took effect."""
    steps = [
        (result.id, step)
        for run in runs.values()
        for result in run.checks
        if result.netpol is not None
        for step in result.netpol.steps
    ]
    held = [(i, s) for i, s in steps if s.held]
    assert len(held) >= 5 and len(steps) > len(held)
    for check_id, step in steps:
        assert step.tables, f"{check_id} step {step.name!r}: no observed matrix"
        for table in step.tables:
            assert len(table.observed) == len(table.sources) > 0, check_id
            if step.held and not step.profile:
                assert not table.difference(), (check_id, step.name)


def test_every_failed_or_errored_check_in_both_families_carries_a_reproduce_command(
    runs: dict[str, RunResults],
) -> None:
    from netconform.report.reproduce import failed_probes

    judged = 0
    for platform, run in runs.items():
        for result in run.checks:
            if result.verdict in (Verdict.FAIL, Verdict.ERROR):
                judged += 1
                probes = failed_probes(result)
                assert probes, f"{platform} {result.id}: no command reproduces it"
                assert all(p.argv[0] in ("docker", "kubectl", "nsenter") for p in probes)
    families = {run.checks[0].family for run in runs.values()}
    assert judged >= 8 and families == {Family.SWARM, Family.KUBERNETES}
