"""The one probe grid and judge of both families (checks/grid.py): batching, polling, the
verdicts and their evidence; then a Swarm and a Kubernetes check judged alike by it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest
from tests.k8s.scripted import ScriptedContext, override
from tests.swarm.fake_swarm import FakeSwarm, failed, run_check, when

from netconform.checks.base import CATALOGUE, execute
from netconform.checks.grid import REACHABLE, UNREACHABLE, Cell, Expect, Grid, not_run
from netconform.platforms.registry import load_checks
from netconform.probes.model import Connectivity, Probe, ProbeKind, ProbeResult
from netconform.results import Measure, Verdict
from netconform.vocab import Family

# how a (round, source, target) ends: an outcome, or None for a probe that did not run
Script = Callable[[int, str, str], Connectivity | None]


def _healthy(_round: int, _src: str, _dst: str) -> Connectivity | None:
    return Connectivity.CONNECTED


class FakeProber:
    """Answers each probe as `script` says and records every round's batches."""

    def __init__(self, script: Script = _healthy) -> None:
        self.script = script
        self.rounds: list[dict[str, list[str]]] = []

    def run_many(self, batches: Mapping[str, Sequence[Probe]]) -> dict[str, list[ProbeResult]]:
        self.rounds.append({src: [p.target for p in probes] for src, probes in batches.items()})
        return {src: [self._answer(src, p) for p in probes] for src, probes in batches.items()}

    def _answer(self, src: str, probe: Probe) -> ProbeResult:
        outcome = self.script(len(self.rounds), src, probe.target) or Connectivity.FAILED
        ok = outcome == Connectivity.CONNECTED
        error = None if ok else str(outcome)
        argv = ("exec", src, probe.id)
        return ProbeResult(probe.id, str(probe.kind), probe.target, ok, error, 1.5 if ok else None,
                           outcome=outcome, reproduce=argv)  # fmt: skip


def _grid(expect: Expect = REACHABLE, **kw: Any) -> Grid[str]:
    cells = [
        Cell(src, Probe(f"{src}-{dst}", ProbeKind.TCP, dst, 8080), f"{src}->{dst}", expect)
        for src in ("a", "b")
        for dst in ("x", "y")
    ]
    return Grid("pairs over tcp", cells, **kw)


def test_one_exec_per_source_per_round_and_the_matrix_with_reproduce_argvs() -> None:
    prober = FakeProber()
    outcome = _grid().run(prober, deadline_s=30)
    assert prober.rounds == [{"a": ["x", "y"], "b": ["x", "y"]}]
    assert outcome.verdict == Verdict.PASS
    assert outcome.reason == "pairs over tcp: all 4 reachable"
    assert outcome.expected == "reachable"
    assert outcome.observed["b->y"]["reproduce"] == ["exec", "b", "b-y"]
    assert sorted(outcome.observed) == ["a->x", "a->y", "b->x", "b->y"]
    assert outcome.measurements[Measure.PROBES] == 4
    assert outcome.measurements[Measure.LATENCY_P50_MS] == 1.5


def test_a_failure_names_its_bad_cells_and_keeps_the_whole_matrix() -> None:
    def b_to_y_refused(_: int, src: str, dst: str) -> Connectivity:
        return Connectivity.REFUSED if (src, dst) == ("b", "y") else Connectivity.CONNECTED

    prober = FakeProber(b_to_y_refused)
    outcome = _grid(failing="a firewall?").run(prober, deadline_s=0)
    assert len(prober.rounds) == 1  # a deadline of 0: one round
    assert outcome.verdict == Verdict.FAIL
    assert outcome.reason == ("pairs over tcp: 1 of 4 not reachable: b->y (refused); a firewall?")
    assert outcome.observed["b->y"]["ok"] is False
    assert outcome.observed["a->x"]["ok"] is True


def test_rounds_repeat_until_every_cell_holds() -> None:
    def converges(round_: int, _src: str, _dst: str) -> Connectivity:
        return Connectivity.CONNECTED if round_ >= 3 else Connectivity.TIMEOUT

    prober = FakeProber(converges)
    polled = _grid().poll(prober, deadline_s=30, interval_s=0.001)
    assert polled.held and polled.attempts == 3 and len(prober.rounds) == 3


def test_an_unrun_probe_is_an_error_even_where_others_are_wrong() -> None:
    def a_leaks_b_crashes(_: int, src: str, _dst: str) -> Connectivity | None:
        return Connectivity.CONNECTED if src == "a" else None

    outcome = _grid(UNREACHABLE).run(FakeProber(a_leaks_b_crashes), deadline_s=0)
    assert outcome.verdict == Verdict.ERROR
    assert outcome.reason.startswith("pairs over tcp: 2 of 4 probes did not run, e.g. b->x:")
    assert sorted(outcome.observed) == ["a->x", "a->y", "b->x", "b->y"]  # the whole matrix


def test_not_run_shows_the_unrun_probes_unless_told_what_was_observed() -> None:
    seen = _grid().observe(
        FakeProber(lambda _r, src, _d: None if src == "b" else _healthy(0, "", ""))
    )
    unrun = not_run(seen, "lookups")
    assert unrun is not None and unrun.verdict == Verdict.ERROR
    assert sorted(unrun.observed) == ["b->x", "b->y"]
    told = not_run(seen, observed={"mine": 1})
    assert told is not None and told.observed == {"mine": 1}
    assert not_run({k: v for k, v in seen.items() if k.startswith("a")}) is None


def test_cells_with_their_own_expectations_show_them_per_label() -> None:
    to_x = Expect("reachable", lambda r: r.ok)
    not_y = Expect("unreachable", lambda r: not r.ok)
    cells = [
        Cell("a", Probe("1", ProbeKind.TCP, "x"), "a->x", to_x),
        Cell("a", Probe("2", ProbeKind.TCP, "y"), "a->y", not_y),
    ]
    outcome = Grid("mixed", cells).run(FakeProber(), deadline_s=0)
    assert outcome.verdict == Verdict.FAIL
    assert outcome.expected == {"a->x": "reachable", "a->y": "unreachable"}
    assert outcome.reason == "mixed: 1 of 2 not as expected: a->y (ok)".replace(
        "(ok)", "(connected)"
    )


def test_a_repeated_label_is_refused() -> None:
    probe = Probe("1", ProbeKind.TCP, "x")
    with pytest.raises(ValueError, match="repeat"):
        Grid("twice", [Cell("a", probe, "a->x"), Cell("b", probe, "a->x")])


def test_both_families_judge_one_broken_path_alike() -> None:
    """A Swarm and a Kubernetes cross-host TCP check, each with one path broken: one judge,
    so the same shape of verdict and evidence; only the endpoints differ."""
    load_checks(Family.SWARM)
    load_checks(Family.KUBERNETES)
    swarm = FakeSwarm()
    h1, h2 = swarm.task("probe", "h1"), swarm.task("probe", "h2")
    swarm_result = run_check(
        "reachability.cross-host.tcp",
        FakeSwarm(when(failed("refused"), kind=ProbeKind.TCP, source=h1.name, target=h2.ip)),
    )
    kube = ScriptedContext()

    def refused(src: Any, probe: Probe) -> Any:
        crossing = src.name == "probe-0-a" and probe.target == "10.244.1.10"
        return (False, "refused", {}) if crossing else None

    override(kube, refused)
    kube_result = execute(CATALOGUE.get("k8s.reach.pod-to-pod.cross-node.tcp"), kube)

    for result, broken in (
        (swarm_result, f"{h1.name}->{h2.name}"),
        (kube_result, "probe-0-a -> probe-1-a tcp/8080"),
    ):
        assert result.verdict == Verdict.FAIL
        assert result.expected == "reachable"
        assert f": 1 of {len(result.observed)} not reachable: {broken} (refused)" in result.reason
        assert result.observed[broken]["outcome"] == "refused"
        assert all(cell["reproduce"] for cell in result.observed.values())
    assert set(swarm_result.measurements) == set(kube_result.measurements)
