"""results.json written as a run goes (issue 22): the header once, each finished check one
line of the sidecar, the whole document once at the end. The real writer, on the checks of
the golden fixtures (what the real checks write), and the benchmark's old way to compare."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from netconform.errors import InputError
from netconform.options import RunOptions
from netconform.plugin import RunState
from netconform.results import (
    PROVISIONING_ERROR,
    CheckResult,
    ResultsWriter,
    RunResults,
    RunStatus,
    checks_path,
    read_results,
    write_results,
)

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_results_writer.py"


def _bench() -> ModuleType:
    """The benchmark's real checks and its old and new ways of writing, measured here too."""
    spec = importlib.util.spec_from_file_location("bench_results_writer", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


bench = _bench()
STARTED: str = bench.STARTED
FINISHED: str = bench.FINISHED
INFO: dict[str, object] = bench.INFO


def real_checks(count: int) -> list[CheckResult]:
    checks: list[CheckResult] = bench.real_checks(count)
    return checks


def test_appended_then_finished_is_the_single_document_byte_for_byte(tmp_path: Path) -> None:
    checks = real_checks(60)
    bench.new_way(tmp_path / "new" / "results.json", checks)
    final = tuple(sorted(checks, key=lambda c: c.id))
    old = RunResults("kind-cilium", INFO, STARTED, FINISHED, final, True)
    write_results(tmp_path / "old" / "results.json", old)
    new_bytes = (tmp_path / "new" / "results.json").read_bytes()
    assert new_bytes == (tmp_path / "old" / "results.json").read_bytes()
    assert not checks_path(tmp_path / "new" / "results.json").exists()
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["results.json"]
    assert read_results(tmp_path / "new" / "results.json") == old


def test_while_the_run_goes_the_document_has_no_checks_and_the_sidecar_one_line_each(
    tmp_path: Path,
) -> None:
    path = tmp_path / "results.json"
    checks = real_checks(5)
    writer = ResultsWriter(path, "kind-cilium", STARTED)
    for done in range(1, 6):
        writer.progress(INFO, checks[:done])
    header = json.loads(path.read_text())
    assert header["complete"] is False and header["finished"] is None
    assert header["checks"] == [] and header["platform_info"] == INFO
    lines = checks_path(path).read_text().splitlines()
    assert [json.loads(line) for line in lines] == [c.to_json() for c in checks]
    assert checks_path(path).name == "results.checks.jsonl"


def test_an_interrupted_run_reads_back_every_finished_check(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    checks = real_checks(40)
    writer = ResultsWriter(path, "kind-cilium", STARTED)
    writer.progress(INFO, [])
    for done in range(1, 24):
        writer.progress(INFO, checks[:done])
    # killed here: no finish
    run = read_results(path)
    assert run.complete is False and run.finished is None
    assert run.platform == "kind-cilium" and run.platform_info == INFO
    assert run.checks == tuple(sorted(checks[:23], key=lambda c: c.id))
    # what the old writer's last incomplete document read back as
    old_path = tmp_path / "old" / "results.json"
    write_results(old_path, RunResults("kind-cilium", INFO, STARTED, None, run.checks, False))
    assert read_results(old_path) == run


def test_a_truncated_last_line_is_left_out(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    checks = real_checks(4)
    writer = ResultsWriter(path, "kind-cilium", STARTED)
    writer.progress(INFO, checks[:3])
    cut = json.dumps(checks[3].to_json())
    for end in (1, len(cut) // 2, len(cut)):  # killed while writing the fourth line
        with checks_path(path).open("a") as sidecar:
            sidecar.write(cut[:end])
        assert read_results(path).checks == tuple(sorted(checks[:3], key=lambda c: c.id))
        text = checks_path(path).read_text()
        checks_path(path).write_text(text[: text.rindex("\n") + 1])


def test_a_malformed_line_within_the_sidecar_is_an_input_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    checks = real_checks(3)
    ResultsWriter(path, "kind-cilium", STARTED).progress(INFO, checks)
    lines = checks_path(path).read_text().splitlines(keepends=True)
    lines[1] = lines[1][:30] + "\n"
    checks_path(path).write_text("".join(lines))
    with pytest.raises(InputError, match=r"results\.checks\.jsonl: line 2: not valid JSON"):
        read_results(path)


def test_the_header_is_rewritten_only_when_platform_info_changes(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    checks = real_checks(4)
    writer = ResultsWriter(path, "kind-cilium", STARTED)
    writer.progress({"platform": "kind-cilium"}, [])
    first = path.stat().st_ino  # every write of the document replaces the file
    writer.progress({"platform": "kind-cilium"}, checks[:2])
    assert path.stat().st_ino == first
    writer.progress(INFO, checks[:3])
    assert path.stat().st_ino != first
    run = read_results(path)
    assert run.platform_info == INFO and len(run.checks) == 3


def test_a_killed_earlier_runs_sidecar_never_joins_a_new_run(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    ResultsWriter(path, "kind-cilium", "2026-12-06T00:00:00+00:00").progress(INFO, real_checks(6))
    ResultsWriter(path, "kind-cilium", STARTED).progress(INFO, [])
    run = read_results(path)
    assert run.started == STARTED and run.checks == ()


def test_a_complete_document_is_read_alone(tmp_path: Path) -> None:
    """Killed between the final document and the sidecar's removal: the document has it all."""
    path = tmp_path / "results.json"
    checks = real_checks(6)
    writer = ResultsWriter(path, "kind-cilium", STARTED)
    writer.progress(INFO, checks)
    kept = checks_path(path).read_text()
    writer.finish(INFO, checks, FINISHED)
    checks_path(path).write_text(kept)
    assert read_results(path).checks == tuple(sorted(checks, key=lambda c: c.id))


def test_run_state_writes_as_checks_finish_and_once_at_the_end(tmp_path: Path) -> None:
    state = RunState(RunOptions(platform="swarm-lab", out=tmp_path))
    state.info = {"platform": "swarm-lab"}
    state.progress()
    for check in real_checks(3):
        state.results.append(check)
        state.progress()
    assert len(checks_path(tmp_path / "results.json").read_text().splitlines()) == 3
    assert len(read_results(tmp_path / "results.json").checks) == 3
    state.end(RunStatus.COMPLETE)
    run = read_results(tmp_path / "results.json")
    assert run.complete is True and run.finished is not None and len(run.checks) == 3
    assert not checks_path(tmp_path / "results.json").exists()


def test_not_provisioned_still_says_why(tmp_path: Path) -> None:
    # a sidecar left by an earlier run killed in the same directory
    ResultsWriter(tmp_path / "results.json", "swarm-lab", STARTED).progress(INFO, real_checks(2))
    state = RunState(RunOptions(platform="swarm-lab", out=tmp_path))
    state.not_provisioned(OSError("cannot reach docker at unix:///nowhere"))
    run = read_results(tmp_path / "results.json")
    assert run.complete is False and run.checks == ()
    assert run.platform_info[PROVISIONING_ERROR] == "cannot reach docker at unix:///nowhere"
    assert not checks_path(tmp_path / "results.json").exists()


def test_bytes_written_per_run_are_linear_in_its_checks(tmp_path: Path) -> None:
    checks = real_checks(200)
    old = bench.written_bytes(lambda: bench.old_way(tmp_path / "old" / "results.json", checks))
    new = bench.written_bytes(lambda: bench.new_way(tmp_path / "new" / "results.json", checks))
    final = (tmp_path / "new" / "results.json").stat().st_size
    assert final == (tmp_path / "old" / "results.json").stat().st_size
    # new: the final document plus one compact line per check (and a small header)
    assert final < new < 3 * final, (new, final)
    # old: the document, growing, 201 times over (~100x the final size for 200 checks)
    assert old > 50 * final, (old, final)
