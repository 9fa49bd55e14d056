from __future__ import annotations

from netconform.report.netpol_view import failed_steps
from netconform.results import CellValue, Verdict

from .built import REPRODUCE, held_report, k8s, named_port_report


def test_a_failed_case_shows_the_step_that_did_not_hold() -> None:
    case = k8s("k8s.netpol.x", "netpol.case.x", Verdict.FAIL, netpol=named_port_report())
    (view,) = failed_steps(case)
    assert view.step.name == "step 2"
    (table,) = view.tables
    assert table.key == "80/TCP"
    # the difference has the table's shape and marks exactly the differing cells
    assert table.difference == ((False, False), (True, False), (True, False))
    assert [(m.source, m.destination, m.expected, m.observed) for m in table.mismatches] == [
        ("z/a", "x/a", CellValue.DENY, CellValue.ALLOW),
        ("z/b", "x/a", CellValue.DENY, CellValue.ERROR),
    ]
    assert table.mismatches[0].explanation == "ingress: namespace z matches no rule of x/deny"
    assert table.mismatches[1].explanation == ""


def test_a_cell_that_failed_to_run_is_an_error_with_its_command() -> None:
    case = k8s("k8s.netpol.x", "netpol.case.x", Verdict.ERROR, netpol=named_port_report())
    (view,) = failed_steps(case)
    (error,) = view.errors
    assert error.cell == "z/b -> x/a 80/TCP"
    assert "failed to run" in error.reason
    assert error.reproduce == REPRODUCE


def test_an_errored_step_is_shown_even_when_the_rest_held() -> None:
    report = named_port_report(held=True)
    case = k8s("k8s.netpol.x", "netpol.case.x", Verdict.ERROR, netpol=report)
    assert [v.step.name for v in failed_steps(case)] == ["step 2"]


def test_nothing_to_show_for_passes_skips_and_non_netpol_checks() -> None:
    assert failed_steps(k8s("a", "netpol.case.x", netpol=held_report(1.0))) == ()
    assert failed_steps(k8s("a", "netpol.case.x", Verdict.SKIP)) == ()
    assert failed_steps(k8s("a", "netpol.case.x", Verdict.FAIL)) == ()
    # a held report on a failed check (failed elsewhere): no step to show
    assert failed_steps(k8s("a", "netpol.case.x", Verdict.FAIL, netpol=held_report(1.0))) == ()
