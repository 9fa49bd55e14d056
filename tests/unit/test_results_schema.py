"""results.json v2: every new field survives the round trip, v1 files still read, and the
NetworkPolicy report's tables say which cells differ."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netconform.errors import InputError
from netconform.results import (
    SCHEMA,
    SCHEMA_V1,
    Area,
    CellError,
    CellValue,
    CheckResult,
    Measure,
    NetpolReport,
    NetpolStep,
    RunResults,
    TruthTable,
    Verdict,
    read_results,
    write_results,
)
from netconform.vocab import Family

A, D, E = CellValue.ALLOW, CellValue.DENY, CellValue.ERROR
TABLE = TruthTable(80, "TCP", ("x/a", "x/b"), ("x/a", "y/b"), ((A, D), (D, D)), ((A, D), (D, E)))
STEP = NetpolStep(
    "step 1",
    held=False,
    took_effect_s=1.8,
    attempts=4,
    tables=(TABLE,),
    explanations={"x/b -> y/b 80/TCP": "ingress: y/b isolated by deny-all"},
    errors=(CellError("x/b -> y/b 80/TCP", "probe failed to run: no result", ("kubectl", "exec")),),
)


def _result(**kw: object) -> CheckResult:
    fields: dict[str, object] = {
        "id": "k8s.netpol.upstream.tcp.default-deny-ingress",
        "area": Area.NETPOL,
        "title": "t",
        "verdict": Verdict.ERROR,
        "reason": "why",
        "duration_s": 0.5,
        "aspect": "netpol.case.upstream.tcp.default-deny-ingress",
        "family": Family.KUBERNETES,
        "profile": True,
        "netpol": NetpolReport("upstream.tcp.default-deny-ingress", (STEP,)),
        "measurements": {Measure.TOOK_EFFECT_S: 1.8},
    }
    fields.update(kw)
    return CheckResult(**fields)  # type: ignore[arg-type]


def test_v2_round_trips_aspect_family_profile_and_the_netpol_report(tmp_path: Path) -> None:
    run = RunResults("kind-calico", {}, "t0", "t1", (_result(),))
    write_results(tmp_path / "results.json", run)
    raw = json.loads((tmp_path / "results.json").read_text())
    assert raw["schema"] == SCHEMA
    entry = raw["checks"][0]
    assert entry["family"] == "kubernetes" and entry["profile"] is True
    # one letter per cell: a=allow, d=deny, e=error (the probe did not run)
    assert entry["netpol"]["steps"][0]["tables"][0]["observed"] == ["ad", "de"]
    assert entry["measurements"] == {"took_effect_s": 1.8}
    assert read_results(tmp_path / "results.json") == run


def test_a_v1_file_reads_with_the_id_as_aspect_and_the_family_from_the_id(tmp_path: Path) -> None:
    entries = [
        {"id": "dns.tasks.ips", "area": "dns", "verdict": "pass"},
        {"id": "k8s.dns.headless.a", "area": "dns", "verdict": "fail"},
    ]
    v1 = {"schema": SCHEMA_V1, "platform": "p", "started": "t0", "checks": entries}
    (tmp_path / "results.json").write_text(json.dumps(v1))
    swarm, k8s = read_results(tmp_path / "results.json").checks
    assert (swarm.aspect, swarm.family) == ("dns.tasks.ips", Family.SWARM)
    assert (k8s.aspect, k8s.family, k8s.netpol, k8s.profile) == (
        "k8s.dns.headless.a",
        Family.KUBERNETES,
        None,
        False,
    )


def test_an_unknown_schema_or_cell_value_is_one_input_error(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"schema": "netconform/results/v9", "checks": []}))
    with pytest.raises(InputError, match="unsupported 'netconform/results/v9'"):
        read_results(path)
    entry = _result().to_json()
    entry["netpol"]["steps"][0]["tables"][0]["observed"][0] = "aq"
    run = {"schema": SCHEMA, "platform": "p", "started": "t0", "checks": [entry]}
    path.write_text(json.dumps(run))
    with pytest.raises(InputError, match="malformed entry"):
        read_results(path)


def test_tables_written_as_words_before_the_letters_still_read(tmp_path: Path) -> None:
    entry = _result().to_json()
    entry["netpol"]["steps"][0]["tables"][0]["observed"] = [["allow", "deny"], ["deny", "error"]]
    run = {"schema": SCHEMA, "platform": "p", "started": "t0", "checks": [entry]}
    (tmp_path / "results.json").write_text(json.dumps(run))
    (check,) = read_results(tmp_path / "results.json").checks
    assert check == _result()


def test_difference_names_the_cells_that_differ() -> None:
    assert TABLE.difference() == ("x/b -> y/b 80/TCP",)
    assert STEP.difference() == ("x/b -> y/b 80/TCP",)
    with pytest.raises(ValueError, match="observed not"):
        TruthTable(80, "TCP", ("x/a",), ("x/a",), ((A,),), ((A, D),))
