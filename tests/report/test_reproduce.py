from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from netconform.probes.executors import AGENT_ELIDED, agent_source
from netconform.report.reproduce import failed_probes, shell_command
from netconform.results import Verdict

from .built import check, failed_probe, passed_probe


def test_failed_probes_in_observed_carry_their_command() -> None:
    observed = {"pairs": [passed_probe("10.0.1.6"), failed_probe("10.0.1.5")], "note": "x"}
    result = check("dns.x", "dns.service.a", Verdict.ERROR, observed=observed)
    (probe,) = failed_probes(result)
    assert probe.what == "tcp 10.0.1.5"
    assert probe.reason == "no result: agent printed no result"
    assert probe.argv[:2] == ("docker", "exec")


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


def test_the_copied_command_runs_with_the_agent_source_put_back() -> None:
    # printf stands in for kubectl: it shows the argv a shell hands over
    argv = (
        "printf",
        "%s\\0",
        "-n",
        "nc x",
        "--",
        "python3",
        "-c",
        AGENT_ELIDED,
        "batch",
        '[{"a": 1}]',
    )
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "-c", shell_command(argv)], capture_output=True, text=True, env=env, check=True
    )
    handed = done.stdout.split("\0")[:-1]
    # the shell's $(...) drops the file's last newline, which python3 -c does not need
    assert handed == [*argv[2:7], agent_source().rstrip("\n"), *argv[8:]]
