"""Benchmark: bytes written and time to keep results.json current through a run, the old way
(the whole document rewritten after every check) against the new (ResultsWriter: the header
once, one sidecar line per check, the whole document once at the end). Issue 22, item 5.

Run: python benchmarks/bench_results_writer.py [--checks 50 200 1000]

The checks are the golden fixtures' (tests/report/data: what the real checks write), cycled
with unique ids and finishing in shuffled order. Bytes are what the process handed write(2)
(/proc/self/io wchar), so they count every byte either way wrote, temp files included.
Target: the new way writes less than 3x the final document, at every size.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from netconform.results import CheckResult, ResultsWriter, RunResults, read_results, write_results

DATA = Path(__file__).resolve().parents[1] / "tests" / "report" / "data"
GOLDEN = ("swarm-lab", "kind-calico", "kind-cilium", "kind-flannel")
PLATFORM = "kind-cilium"
STARTED = "2026-12-07T18:00:00+00:00"
FINISHED = "2026-12-07T18:12:00+00:00"
INFO = {"platform": PLATFORM, "nodes": 3, "provision_s": 95.2}
TARGET_TIMES_FINAL = 3.0


def real_checks(count: int) -> list[CheckResult]:
    """`count` checks as the real checks write them, each id made unique, in a shuffled
    order (the order checks finish in is not the id order)."""
    golden = [c for p in GOLDEN for c in read_results(DATA / p / "results.json").checks]
    checks = [
        replace(golden[i % len(golden)], id=f"{golden[i % len(golden)].id}.n{i:04d}")
        for i in range(count)
    ]
    random.Random(22).shuffle(checks)
    return checks


def written_bytes(action: Callable[[], None]) -> int:
    """Bytes this process handed write(2) while `action` ran (Linux: /proc/self/io wchar)."""

    def wchar() -> int:
        for line in Path("/proc/self/io").read_text().splitlines():
            if line.startswith("wchar:"):
                return int(line.split()[1])
        raise RuntimeError("no wchar in /proc/self/io")

    before = wchar()
    action()
    return wchar() - before


def old_way(path: Path, checks: Sequence[CheckResult]) -> None:
    """What RunState.write did before: the whole document after every check, then at the end."""
    for done in range(1, len(checks) + 1):
        so_far = tuple(sorted(checks[:done], key=lambda c: c.id))
        write_results(path, RunResults(PLATFORM, INFO, STARTED, None, so_far, False))
    final = tuple(sorted(checks, key=lambda c: c.id))
    write_results(path, RunResults(PLATFORM, INFO, STARTED, FINISHED, final, True))


def new_way(path: Path, checks: Sequence[CheckResult]) -> None:
    """What RunState.write does: the header at the start, each check as it finishes, the end."""
    writer = ResultsWriter(path, PLATFORM, STARTED)
    writer.progress(INFO, [])
    for done in range(1, len(checks) + 1):
        writer.progress(INFO, checks[:done])
    writer.finish(INFO, checks, FINISHED)


@dataclass(frozen=True)
class Measured:
    bytes_written: int
    seconds: float


def measure(
    way: Callable[[Path, Sequence[CheckResult]], None], checks: list[CheckResult]
) -> tuple[Measured, int]:
    """One run of `way` in a fresh directory: what it wrote and took, and the final size."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "results.json"
        began = time.perf_counter()
        written = written_bytes(lambda: way(path, checks))
        seconds = time.perf_counter() - began
        return Measured(written, seconds), path.stat().st_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checks", type=int, nargs="+", default=[50, 200, 1000])
    args = parser.parse_args()
    print(f"{'checks':>6} {'final':>9} {'old written':>12} {'old s':>7} "
          f"{'new written':>12} {'new s':>6} {'new/final':>9} {'old/new':>8}")  # fmt: skip
    within = True
    for count in args.checks:
        checks = real_checks(count)
        old, old_final = measure(old_way, checks)
        new, final = measure(new_way, checks)
        assert old_final == final, "the two ways must end in the same document"
        times_final = new.bytes_written / final
        within = within and times_final < TARGET_TIMES_FINAL
        print(
            f"{count:>6} {final / 1024:>7.0f}KB {old.bytes_written / 2**20:>10.1f}MB "
            f"{old.seconds:>7.2f} {new.bytes_written / 2**20:>10.2f}MB {new.seconds:>6.2f} "
            f"{times_final:>8.2f}x {old.bytes_written / new.bytes_written:>7.0f}x"
        )
    print(f"target: new way below {TARGET_TIMES_FINAL}x the final document")
    print("within target" if within else "OVER TARGET")
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
