from __future__ import annotations

from netconform.report.reproduce import failed_probes
from netconform.results import Verdict

from .built import check, failed_probe, passed_probe


def test_failed_probes_in_observed_carry_their_command() -> None:
    observed = {"pairs": [passed_probe("10.0.1.6"), failed_probe("10.0.1.5")], "note": "x"}
    result = check("dns.x", "dns.service.a", Verdict.ERROR, observed=observed)
    (probe,) = failed_probes(result)
    assert probe.what == "tcp 10.0.1.5"
    assert probe.reason == "no result: agent printed no result"
    assert probe.argv[:2] == ("docker", "exec")
    assert probe.command == "docker exec nc-probe.1 python3 -c '<agent>'"


def test_observed_without_probes_gives_none() -> None:
    assert failed_probes(check("dns.x", "dns.service.a", observed="text")) == ()
    assert failed_probes(check("dns.x", "dns.service.a", observed={"reproduce": []})) == ()
    assert failed_probes(check("dns.x", "dns.service.a")) == ()


def test_a_grid_cell_is_named_by_its_key() -> None:
    # how the Swarm grid checks put a probe that did not run (swarm_common.probe_evidence)
    unrun = {"outcome": "failed", "error": "exec failed", "reproduce": ["docker", "exec", "t1"]}
    observed = {"t1 -> t2": unrun, "t1 -> t3": "ok"}
    (probe,) = failed_probes(check("r.x", "reachability.hairpin", Verdict.ERROR, observed=observed))
    assert (probe.what, probe.reason) == ("t1 -> t2", "exec failed")
    listed = check("r.x", "reachability.hairpin", Verdict.ERROR, observed=[unrun])
    assert failed_probes(listed)[0].what == "probe"
