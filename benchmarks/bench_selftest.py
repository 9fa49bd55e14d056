"""The self-test's total time with the lab reused between rounds (run as root).

    python benchmarks/bench_selftest.py
Target (issue 6): under 10 minutes on a 2-core machine.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from netconform.lab import lab
from netconform.selftest import run_selftest

NAME = "benchst"


def main() -> None:
    lab.down(NAME)
    figures: dict[str, object] = {}
    try:
        t0 = time.monotonic()
        lab.up(lab.LabConfig(name=NAME, hosts=3))
        figures["lab_up_s"] = round(time.monotonic() - t0, 1)
        with tempfile.TemporaryDirectory() as out:
            t0 = time.monotonic()
            report = run_selftest(Path(out), lab_name=NAME, keep=True)
            figures["selftest_s"] = round(time.monotonic() - t0, 1)
        figures["rounds_s"] = {r.fault: round(r.duration_s, 1) for r in report.rounds}
        figures["faults_applied"] = sum(not r.skipped for r in report.rounds)
        figures["verdict"] = "pass" if not report.problems() else report.problems()
    finally:
        lab.down(NAME)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
