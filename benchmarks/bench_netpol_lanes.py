"""The NetworkPolicy catalogue's schedule on the fake data plane, one lane vs all lanes:
`python benchmarks/bench_netpol_lanes.py [OBSERVATION_S] [EFFECT_S]` prints the figures.

A round of probes is modelled as taking OBSERVATION_S (on a cluster: exec setup ~0.4 s plus
the 2 s timeout of the denied probes) and a policy change as taking EFFECT_S to show; the
fake's oracle runs for real, so its CPU time is in the figures too. Scaled down by default
(0.1 s rounds) so it runs in about a minute."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test fakes

from tests.k8s.fake_cluster import FakeDataPlane, FakeNetpolContext

import netconform.checks.k8s_catalogue  # noqa: F401 - registers the checks
from netconform.checks.base import CATALOGUE, execute
from netconform.k8s.run_state import Enforcement
from netconform.netpol.catalogue import load_catalogue
from netconform.netpol.model import Protocol
from netconform.results import Verdict


def schedule(lanes: int, observation_s: float, effect_s: float) -> tuple[float, int, int]:
    ids = [f"k8s.netpol.{c.id}" for c in load_catalogue() if Protocol.SCTP not in c.protocols]
    plane = FakeDataPlane(observation_s=observation_s, effect_after_s=effect_s)
    ctx = FakeNetpolContext(plane, lanes=lanes)
    ctx.params = ctx.params.model_copy(update={"netpol_deadline_s": 60, "poll_interval_s": 0.05})
    ctx.plan_checks(ids)
    ctx.run_state.enforcement = Enforcement(True, "known", 0.1)
    start = time.monotonic()
    results = [execute(CATALOGUE.get(i), ctx) for i in ids]
    wall = time.monotonic() - start
    ctx.close()
    passed = sum(r.verdict == Verdict.PASS for r in results)
    return wall, passed, ctx.observations


def main() -> None:
    observation_s = float(sys.argv[1]) if len(sys.argv) > 1 else 0.1
    effect_s = float(sys.argv[2]) if len(sys.argv) > 2 else 0.05
    print(f"round {observation_s} s, policy takes {effect_s} s to show")
    for lanes in (1, 2, 3):
        wall, passed, rounds = schedule(lanes, observation_s, effect_s)
        print(f"lanes {lanes}: {wall:6.1f} s wall, {rounds} rounds, {passed} cases passed")


if __name__ == "__main__":
    main()
