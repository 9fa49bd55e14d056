"""The MTU sweep (checks/k8s_mtu.py): the search alone through its round seam, with paths
of known limits (refusing with the size they take, or in silence), and the checks on the
scripted cluster with the DF probes answered by a path MTU per pair."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from tests.k8s.scripted import Conformant, ScriptedContext

from netconform.checks import k8s_mtu
from netconform.checks.k8s_mtu import (
    SWEEP_PATHS,
    SWEEP_POINTS,
    SWEEP_ROUNDS,
    PairSweep,
    SweepPath,
    Tried,
    mtu_sweep,
    sweep,
)
from netconform.k8s.facts import CniFacts
from netconform.k8s.kube import PodEndpoint
from netconform.probes.model import Connectivity, Probe, ProbeKind, ProbeResult
from netconform.results import Measure, Verdict

FLOOR, CAP = 576 - 28, 9000 - 28
E = 1450 - 28  # what a 1500 node MTU minus VXLAN's 50 leaves an ICMP payload


def _result(ok: bool, outcome: Connectivity, values: dict[str, Any] | None = None) -> ProbeResult:
    return ProbeResult("p", "icmp", "t", ok, None if ok else str(outcome), 1.0, values or {},
                       outcome=outcome)  # fmt: skip


class Path:
    """A fake round runner: pair -> the largest payload it carries; over it a probe is
    refused naming the path MTU (`named`) or lost in silence."""

    def __init__(self, limits: dict[str, int], named: bool = True) -> None:
        self.limits = limits
        self.named = named
        self.rounds: list[list[tuple[str, int]]] = []

    def __call__(self, asked: Sequence[tuple[str, int]]) -> list[ProbeResult]:
        self.rounds.append(list(asked))
        return [self.answer(pair, size) for pair, size in asked]

    def answer(self, pair: str, size: int) -> ProbeResult:
        if size <= self.limits[pair]:
            return _result(True, Connectivity.CONNECTED)
        if self.named:
            return _result(False, Connectivity.EMSGSIZE, {"local_mtu": self.limits[pair] + 28})
        return _result(False, Connectivity.TIMEOUT)

    @property
    def probes(self) -> int:
        return sum(len(r) for r in self.rounds)


def _hint(tried: Tried) -> int | None:
    return k8s_mtu.ICMP_DF.hint(tried)


def test_a_conformant_path_takes_one_round_of_two_probes_per_pair() -> None:
    path = Path({"a": E, "b": E})
    found = sweep(["a", "b"], E, path, _hint)
    assert {p: f.largest for p, f in found.items()} == {"a": E, "b": E}
    assert {p: f.smallest_failing for p, f in found.items()} == {"a": E + 1, "b": E + 1}
    assert path.rounds == [[("a", E), ("a", E + 1), ("b", E), ("b", E + 1)]]
    assert all(not f.unstable and f.rounds == 1 for f in found.values())


def test_a_narrower_hop_that_names_its_mtu_is_found_in_a_few_probes() -> None:
    path = Path({"a": E, "b": 1400 - 28})
    found = sweep(["a", "b"], E, path, _hint)
    assert found["a"].largest == E and found["b"].largest == 1372
    assert found["b"].smallest_failing == 1373
    # round 1 (E, E+1), round 2 tries the named 1372 and 1373 first: settled; the retry
    # round re-tries 1372, 1373 and E, E+1
    assert len(path.rounds) == 3
    assert [size for pair, size in path.rounds[-1] if pair == "b"] == [1372, 1373, E, E + 1]
    assert not found["b"].unstable


def test_a_silent_path_is_bisected_within_the_round_bound() -> None:
    path = Path({"a": 1376}, named=False)
    found = sweep(["a"], E, path, _hint)
    assert found["a"].largest == 1376 and found["a"].smallest_failing == 1377
    assert len(path.rounds) <= SWEEP_ROUNDS + 1
    assert all(len(r) <= max(SWEEP_POINTS, 4) for r in path.rounds)
    assert found["a"].tried[-1].round == len(path.rounds)


def test_more_than_declared_is_searched_upwards_to_the_cap() -> None:
    found = sweep(["a", "b"], E, Path({"a": 1500 - 28, "b": CAP + 500}, named=False), _hint)
    assert found["a"].largest == 1472 and found["a"].smallest_failing == 1473
    assert found["b"].largest == CAP and found["b"].smallest_failing is None


def test_a_path_that_takes_not_even_the_floor_has_no_figure() -> None:
    found = sweep(["a"], E, Path({"a": 100}, named=False), _hint)
    assert found["a"].largest is None and found["a"].smallest_failing == FLOOR


@pytest.mark.parametrize("named", [True, False])
def test_any_limit_is_found_exactly(named: bool) -> None:
    rng = random.Random(25)
    limits = [FLOOR, FLOOR + 1, E - 1, E, E + 1, CAP - 1, CAP] + [
        rng.randint(FLOOR, CAP) for _ in range(40)
    ]
    for limit in limits:
        path = Path({"a": limit}, named)
        found = sweep(["a"], E, path, _hint)["a"]
        over = limit + 1 if limit < CAP else None
        assert (found.largest, found.smallest_failing) == (limit, over)
        assert len(path.rounds) <= SWEEP_ROUNDS + 1, limit


def test_a_size_that_passes_once_and_fails_once_makes_the_pair_unstable() -> None:
    """The first probe at E is lost: the search goes down, the retry sees E pass."""
    path = Path({"a": E})
    lost = {"done": False}

    def once_lost(asked: Sequence[tuple[str, int]]) -> list[ProbeResult]:
        results = path(asked)
        if not lost["done"]:
            lost["done"] = True
            results[0] = _result(False, Connectivity.TIMEOUT)
        return results

    found = sweep(["a"], E, once_lost, _hint)["a"]
    assert E in found.unstable


def test_a_probe_that_did_not_run_ends_the_search() -> None:
    path = Path({"a": 1372})

    def crashing(asked: Sequence[tuple[str, int]]) -> list[ProbeResult]:
        results = path(asked)
        return [_result(False, Connectivity.FAILED), *results[1:]]

    found = sweep(["a"], E, crashing, _hint)["a"]
    assert len(path.rounds) == 1 and found.rounds == 1


# --- the checks on the scripted cluster ---------------------------------------------------

HEADERS = {ProbeKind.ICMP: 28, ProbeKind.UDP_DF: 28, ProbeKind.TCP_MSS: 40}
MtuOf = Callable[[PodEndpoint, Probe], int]


class SizedPaths:
    """The scripted cluster's answers, with DF size probes answered by `mtu_of(src, probe)`
    (the path MTU): over it refused with the MTU named, or (`silent`) lost."""

    def __init__(self, ctx: ScriptedContext, mtu_of: MtuOf, silent: bool = False) -> None:
        self.healthy = Conformant(ctx)
        self.mtu_of = mtu_of
        self.silent = silent

    def __call__(self, src: PodEndpoint, p: Probe) -> tuple[bool, str | None, dict[str, Any]]:
        kind = ProbeKind(str(p.kind))
        if kind not in HEADERS or (kind == ProbeKind.ICMP and not p.params.get("df")):
            return self.healthy(src, p)
        size, mtu = int(p.params["size"]), self.mtu_of(src, p)
        if size + HEADERS[kind] <= mtu:
            return True, None, {"size": size, "peer": "somebody"}
        if self.silent:
            return False, "timeout", {"size": size}
        named = {ProbeKind.ICMP: "local_mtu", ProbeKind.UDP_DF: "path_mtu"}
        key = named.get(kind, "mss_after")
        value = mtu - 40 if kind == ProbeKind.TCP_MSS else mtu
        return False, "emsgsize", {"size": size, key: value}


def _ctx(mtu_of: MtuOf, silent: bool = False, facts: CniFacts | None = None) -> ScriptedContext:
    ctx = ScriptedContext(facts=facts)
    ctx.answer = SizedPaths(ctx, mtu_of, silent)
    return ctx


def _path(name: str) -> SweepPath:
    return next(p for p in SWEEP_PATHS if p.name == name)


def _everywhere(mtu: int) -> MtuOf:
    return lambda src, p: mtu


@pytest.mark.parametrize("name", [p.name for p in SWEEP_PATHS])
def test_every_path_passes_at_the_declared_mtu(name: str) -> None:
    path = _path(name)
    outcome = mtu_sweep(_ctx(_everywhere(1450)), path)
    assert outcome.verdict == Verdict.PASS, outcome.reason
    want = 1450 - path.carrier.headers
    assert outcome.measurements[Measure.LARGEST_DF_PAYLOAD] == want
    assert outcome.measurements[Measure.PROBES] == 2 * len(outcome.observed)
    assert outcome.expected["path_mtu"] == 1450
    assert outcome.expected["rule"] == "node MTU 1500 - overhead 50"
    assert outcome.expected["tolerance_bytes"] == 0
    for pair in outcome.observed.values():
        assert (pair["path_mtu"], pair["difference"]) == (1450, 0)
        passed, over = pair["probes"]
        assert passed.startswith(f"r1 {want} ") and over == f"r1 {want + 1} emsgsize"
        assert pair["decisive"] == {}  # one byte over is expected to fail: nothing to re-run


def test_the_paths_pair_every_node_with_the_next() -> None:
    ctx = _ctx(_everywhere(1450))
    labels = {p.name: [pair.label for pair in p.pairs(ctx)] for p in SWEEP_PATHS}
    assert labels["pod-to-pod.cross-node"] == [
        "probe-0-a -> probe-1-a",
        "probe-1-a -> probe-2-a",
        "probe-2-a -> probe-0-a",
    ]
    assert labels["pod-to-pod.same-node"][0] == "probe-0-a -> probe-0-b"
    assert labels["clusterip"][0] == "probe-0-a -> svc-1-a (10.96.1.12) udp/8081"
    assert labels["nodeport"][0] == "probe-0-b -> n1 (172.18.0.3):30080 tcp"
    assert labels["hostnetwork-to-pod"][2] == "host-2 -> probe-0-a udp/8081"


def _into_node1(src: PodEndpoint, p: Probe) -> int:
    """Node n1's VXLAN device lowered to 1400: what crosses into n1 takes 1400."""
    return 1400 if p.target.startswith("10.244.1.") else 1450


@pytest.mark.parametrize("silent", [False, True])
def test_a_lowered_node_fails_the_pair_into_it_with_the_argv_to_reproduce(silent: bool) -> None:
    outcome = mtu_sweep(_ctx(_into_node1, silent), _path("pod-to-pod.cross-node"))
    assert outcome.verdict == Verdict.FAIL
    assert "1 of 3 pairs differ from the declared path MTU 1450" in outcome.reason
    assert "probe-0-a -> probe-1-a: 1372 (path MTU 1400, -50)" in outcome.reason
    assert ("PMTU blackhole?" in outcome.reason) is silent
    pair = outcome.observed["probe-0-a -> probe-1-a"]
    assert (pair["largest_payload"], pair["path_mtu"], pair["difference"]) == (1372, 1400, -50)
    failing = pair["decisive"]["probe-0-a -> probe-1-a payload 1373"]
    assert failing["outcome"] == ("timeout" if silent else "emsgsize")
    assert failing["reproduce"][:4] == ["kubectl", "exec", "-n", "nc-r1-probe"]
    assert '"size": 1373' in failing["reproduce"][-1] and '"df": true' in failing["reproduce"][-1]
    assert outcome.measurements[Measure.LARGEST_DF_PAYLOAD] == 1372
    assert outcome.observed["probe-1-a -> probe-2-a"]["decisive"] == {}  # a conforming pair


def test_a_pod_mtu_above_the_declared_one_fails_too() -> None:
    outcome = mtu_sweep(_ctx(_everywhere(1500)), _path("pod-to-pod.same-node"))
    assert outcome.verdict == Verdict.FAIL
    assert "1472 (path MTU 1500, +50)" in outcome.reason


def test_tcp_carries_the_mss_and_udp_the_datagram() -> None:
    nodeport = mtu_sweep(_ctx(_everywhere(1400)), _path("nodeport"))
    assert nodeport.verdict == Verdict.FAIL
    assert nodeport.expected["largest_payload"] == 1410 and nodeport.expected["probe"] == "tcp-mss"
    assert nodeport.measurements[Measure.LARGEST_DF_PAYLOAD] == 1360
    clusterip = mtu_sweep(_ctx(_everywhere(1400)), _path("clusterip"))
    assert clusterip.measurements[Measure.LARGEST_DF_PAYLOAD] == 1372


def test_a_configured_mtu_is_the_declared_one() -> None:
    facts = CniFacts(overhead_bytes=50, configured_mtu=1400)
    outcome = mtu_sweep(_ctx(_everywhere(1400), facts=facts), _path("clusterip"))
    assert outcome.verdict == Verdict.PASS, outcome.reason
    assert outcome.expected["rule"] == "the CNI's configured MTU 1400"


def test_an_unprofiled_cni_is_held_to_the_pods_own_mtu() -> None:
    outcome = mtu_sweep(_ctx(_everywhere(1450), facts=CniFacts()), _path("clusterip"))
    assert outcome.verdict == Verdict.PASS, outcome.reason
    assert outcome.expected["rule"] == "no declared MTU (CNI not profiled): pod MTU 1450"


def test_a_probe_that_did_not_run_is_an_error_not_a_figure() -> None:
    ctx = _ctx(_everywhere(1450))
    sized = ctx.answer

    def crash(src: PodEndpoint, p: Probe) -> tuple[bool, str | None, dict[str, Any]]:
        if p.kind == ProbeKind.UDP_DF and src.name == "probe-1-a":
            return False, "no result: Traceback (most recent call last): agent crashed", {}
        return sized(src, p)

    ctx.answer = crash
    outcome = mtu_sweep(ctx, _path("clusterip"))
    assert outcome.verdict == Verdict.ERROR
    assert "did not run" in outcome.reason


def test_the_figures_of_a_pair_come_from_its_probes() -> None:
    found = PairSweep(1372, 1373, (), ())
    assert found.rounds == 0
