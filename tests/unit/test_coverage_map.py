"""The coverage map cannot rot: every check it names exists, docs/coverage.md is rendered from
docs/coverage.yaml, README's coverage line carries the YAML's counts, and a malformed map is
one InputError naming the field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from netconform import coverage
from netconform.checks.base import CATALOGUE
from netconform.coverage import Source, Status
from netconform.errors import InputError
from netconform.platforms import registry
from netconform.vocab import Family

README = coverage.REPO / "README.md"


@pytest.fixture(scope="module")
def cmap() -> coverage.CoverageMap:
    return coverage.load()


@pytest.fixture(scope="module")
def raw() -> Any:
    return yaml.safe_load(coverage.DATA.read_text(encoding="utf-8"))


def test_every_named_check_is_in_the_catalogue(cmap: coverage.CoverageMap) -> None:
    for family in Family:
        registry.load_checks(family)
    known = {c.spec.id for c in CATALOGUE}
    assert cmap.check_ids(), "the map names no checks at all"
    assert coverage.unknown_checks(cmap, known) == []


def test_unknown_checks_are_reported(cmap: coverage.CoverageMap) -> None:
    # The detector itself: a catalogue without one named check yields that check.
    some = sorted(cmap.check_ids())[0]
    missing = coverage.unknown_checks(cmap, cmap.check_ids() - {some})
    assert missing and {c for _, c in missing} == {some}


def test_document_is_rendered_from_the_yaml(cmap: coverage.CoverageMap) -> None:
    assert coverage.DOCUMENT.read_text(encoding="utf-8") == coverage.render(cmap), (
        "docs/coverage.md is stale: run .venv/bin/python -m netconform.coverage"
    )


def test_document_counts_equal_the_yaml(cmap: coverage.CoverageMap) -> None:
    text = coverage.DOCUMENT.read_text(encoding="utf-8")
    for info in cmap.sources:
        counts = cmap.counts(info.key)
        row = f"| {info.key} | {info.count} | " + " | ".join(str(counts[s]) for s in Status)
        assert row in text
        assert sum(counts.values()) == info.count == len(cmap.rows_of(info.key))


def test_readme_line_carries_the_counts(cmap: coverage.CoverageMap) -> None:
    lines = [ln for ln in README.read_text(encoding="utf-8").splitlines() if "coverage.md" in ln]
    if not lines:
        pytest.skip(f"README has no coverage line yet; it is: {coverage.readme_line(cmap)}")
    assert coverage.readme_line(cmap) in lines


def test_readme_line_numbers(cmap: coverage.CoverageMap) -> None:
    line = coverage.readme_line(cmap)
    k8s = cmap.counts(Source.K8S_CONFORMANCE)
    assert f"{len(cmap.rows_of(Source.K8S_CONFORMANCE))} upstream" in line
    assert f"{k8s[Status.MISSING]} missing" in line


def test_check_mode_detects_a_stale_document(tmp_path: Path) -> None:
    out = tmp_path / "coverage.md"
    out.write_text("stale\n", encoding="utf-8")
    assert coverage.main(["--out", str(out), "--check"]) == 1
    assert coverage.main(["--out", str(out)]) == 0
    assert coverage.main(["--out", str(out), "--check"]) == 0


def _bad(raw: Any, tmp_path: Path) -> str:
    path = tmp_path / "coverage.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(InputError) as err:
        coverage.load(path)
    return str(err.value)


def test_a_covered_row_must_name_checks(raw: Any, tmp_path: Path) -> None:
    bad = copy.deepcopy(raw)
    row = next(r for r in bad["rows"] if r["status"] == "covered")
    row["checks"] = []
    assert "checks: a covered row names the checks" in _bad(bad, tmp_path)


def test_a_missing_row_names_no_checks_and_says_why(raw: Any, tmp_path: Path) -> None:
    bad = copy.deepcopy(raw)
    row = next(r for r in bad["rows"] if r["status"] == "missing")
    row["checks"] = ["k8s.reach.hairpin"]
    assert "a missing row names no checks" in _bad(bad, tmp_path)
    bad = copy.deepcopy(raw)
    row = next(r for r in bad["rows"] if r["status"] == "missing")
    del row["note"]
    assert "note: a missing row says why" in _bad(bad, tmp_path)


def test_a_status_outside_the_set_names_the_field(raw: Any, tmp_path: Path) -> None:
    bad = copy.deepcopy(raw)
    bad["rows"][3]["status"] = "mostly"
    assert "rows[3].status: 'mostly' is not one of covered" in _bad(bad, tmp_path)


def test_a_dropped_row_breaks_the_pinned_count(raw: Any, tmp_path: Path) -> None:
    bad = copy.deepcopy(raw)
    bad["rows"] = [r for r in bad["rows"] if r["id"] != "pod-to-pod-no-frag"]
    assert "sources.cilium-connectivity.count: 96, but 95 rows" in _bad(bad, tmp_path)


def test_an_unknown_field_is_refused(raw: Any, tmp_path: Path) -> None:
    bad = copy.deepcopy(raw)
    bad["rows"][0]["stauts"] = "covered"
    assert "rows[0].stauts: unknown field" in _bad(bad, tmp_path)


def test_cilium_groups_match_the_builder_lists(cmap: coverage.CoverageMap) -> None:
    # builder.go's lists as vendored for v1.20: 83 concurrent, 6 sequential, 2 final,
    # 2 conn-disrupt, and the 3 perf builders.
    rows = cmap.rows_of(Source.CILIUM_CONNECTIVITY)
    groups = {g: sum(1 for r in rows if r.group == g) for g in {r.group for r in rows}}
    assert groups == {"concurrent": 83, "sequential": 6, "final": 2, "conn-disrupt": 2, "perf": 3}


def test_render_keeps_prose_out_of_html_and_columns() -> None:
    info = coverage.SourceInfo(Source.CALICO_E2E, "T", "v", "w", 1, {})
    row = coverage.Row(Source.CALICO_E2E, "a|b", "name.<domain> | x", Status.MISSING, (), "why")
    text = coverage.render(coverage.CoverageMap((info,), (row,)))
    assert "| `a\\|b` | name.&lt;domain&gt; \\| x | missing |  | why |" in text
