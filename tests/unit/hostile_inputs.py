"""Hostile inputs x every command that reads a user's file: the table issue 23 asks for.

Each cell runs the real CLI in its own process, under a 60 s timeout and a 2 GiB address
space limit, with its own state, cache and output directories; it records the exit code, the
first stderr line, the time and the peak memory, and whatever the command left behind. The
test (test_hostile_inputs.py) asserts every cell; `python -m tests.unit.hostile_inputs`
prints the table as Markdown.

A class is what is wrong with the file (its bytes, its kind, or one value inside a real
document); a command is where the file goes in, with a real document of the shape that
command reads as the base the value classes change."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from tests.unit.test_fuzz_loaders import replaced

REPO = Path(__file__).resolve().parents[2]
TIMEOUT_S = 60.0
MEMORY_LIMIT_BYTES = 2 * 1024**3
HUGE = "__hostile-huge__"  # placeholders replaced in the rendered text
NAN = "__hostile-nan__"


class Format(StrEnum):
    YAML = "yaml"
    JSON = "json"


@dataclass(frozen=True)
class Command:
    """Where a hostile file goes in: the argv (with {file}, {dir}, {out} filled in), the file's
    name inside {dir}, the real document it stands in for, and the exit codes a refusal may
    have (2 bad input; `lab down` reclaims a lab whose state is corrupt, exit 0)."""

    name: str
    argv: tuple[str, ...]
    filename: str
    base: Callable[[], Any]
    fmt: Format
    accepted_exits: frozenset[int] = frozenset({2})
    # classes for which exit 0 is right here: an empty history is no trend yet, and what an
    # entry holds is Allure's to read (netconform checks each line is a JSON object)
    answered: frozenset[str] = frozenset()
    label_path: tuple[Any, ...] = ()  # where a NetworkPolicy label key sits, if the doc has one


def _yaml_file(relative: str) -> Callable[[], Any]:
    return lambda: yaml.safe_load((REPO / relative).read_text())


def _json_file(relative: str) -> Callable[[], Any]:
    return lambda: json.loads((REPO / relative).read_text())


def _one_case() -> Any:
    doc = yaml.safe_load((REPO / "scenarios/netpol/generated-action.yaml").read_text())
    return {"cases": doc["cases"][:1]}


def _expect_input() -> Any:
    pod = {"labels": {"pod": "a"}, "ports": [{"port": 80, "protocol": "TCP"}]}
    return {
        "model": {
            "namespaces": {"x": {"labels": {"team": "a"}}, "y": {}},
            "pods": [
                {**pod, "namespace": "x", "name": "a", "ip": "10.1.0.1"},
                {**pod, "namespace": "y", "name": "b", "ip": "10.1.0.2"},
            ],
        },
        "policies": [
            {
                "metadata": {"name": "allow-team", "namespace": "y"},
                "spec": {
                    "podSelector": {"matchLabels": {"pod": "a"}},
                    "ingress": [{"from": [{"ipBlock": {"cidr": "10.1.0.0/16"}}]}],
                },
            }
        ],
    }


STATE_DIR = "__hostile-state-dir__"  # the cell's NETCONFORM_STATE_DIR, filled in when run


def _lab_state() -> Any:
    """A valid state of lab `hostile` (no process of it is alive: `down` only tidies)."""
    lab_dir = f"{STATE_DIR}/hostile"
    host = {"name": "h1", "netns": "nc-hostile-h1", "address": "192.168.213.11",
            "dir": f"{lab_dir}/h1", "containerd_pid": None, "dockerd_pid": None}  # fmt: skip
    return {
        "name": "hostile",
        "dir": lab_dir,
        "underlay_netns": "nc-hostile-ul",
        "subnet": "192.168.213.0/24",
        "gateway": "192.168.213.1",
        "underlay_mtu": 1500,
        "address_pool": "10.213.0.0/16",
        "cgroup": "netconform-hostile",
        "hosts": [host],
        "phase": "ready",
    }


CASE = "generated.action.create-delete"
RESULTS = "tests/report/data/kind-flannel/results.json"
POLICY_LABELS = ("cases", 0, "steps", 0, "actions", 0, "create-policy", "spec", "podSelector")
COMMANDS = (
    Command("run swarm-lab --scenario", ("run", "--platform", "swarm-lab", "--scenario",
            "{file}", "--out", "{out}"), "s.yaml", _yaml_file("scenarios/swarm.yaml"),
            Format.YAML),
    Command("run kind-flannel --scenario", ("run", "--platform", "kind-flannel", "--scenario",
            "{file}", "--out", "{out}"), "k.yaml", _yaml_file("scenarios/kubernetes.yaml"),
            Format.YAML),
    Command("run kind-flannel --netpol-cases", ("run", "--platform", "kind-flannel",
            "--netpol-cases", "{dir}", "--out", "{out}"), "c.yaml", _one_case, Format.YAML,
            label_path=POLICY_LABELS),
    Command("netpol cases --catalogue", ("netpol", "cases", "--catalogue", "{dir}"), "c.yaml",
            _one_case, Format.YAML, label_path=POLICY_LABELS),
    Command("netpol show --catalogue", ("netpol", "show", CASE, "--catalogue", "{dir}"),
            "c.yaml", _one_case, Format.YAML, label_path=POLICY_LABELS),
    Command("netpol expect", ("netpol", "expect", "{file}"), "e.yaml", _expect_input,
            Format.YAML, label_path=("policies", 0, "spec", "podSelector")),
    Command("netpol observed", ("netpol", "observed", "{file}", "upstream.tcp.default-deny"),
            "results.json", _json_file(RESULTS), Format.JSON),
    Command("report", ("report", "{dir}", "--out", "{out}", "--no-allure"), "results.json",
            _json_file(RESULTS), Format.JSON),
    Command("report --history", ("report", REPO.as_posix() + "/" + RESULTS, "--history",
            "{dir}", "--out", "{out}", "--no-allure"), "history.jsonl",
            lambda: {"buildOrder": 1, "reportName": "nightly"}, Format.JSON,
            answered=frozenset({"empty file", "list where a string belongs"})),
    # no state.json is no lab (exit 0, "no lab is up"); a corrupt one is reclaimed by `down`
    Command("lab status (state.json)", ("lab", "status", "--name", "hostile"),
            "state.json", _lab_state, Format.JSON, accepted_exits=frozenset({0, 2})),
    Command("lab down (state.json)", ("lab", "down", "--name", "hostile"), "state.json",
            _lab_state, Format.JSON, accepted_exits=frozenset({0, 2})),
)  # fmt: skip


def _places(doc: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    yield prefix, doc
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from _places(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from _places(value, (*prefix, i))


def _first(doc: Any, kind: type) -> tuple[Any, ...]:
    for where, value in _places(doc):
        if isinstance(value, kind) and not isinstance(value, bool):
            return where
    raise ValueError(f"no {kind.__name__} in the base document")


def _render(doc: Any, fmt: Format) -> str:
    if fmt is Format.JSON:
        text = json.dumps(doc)
        return text.replace(f'"{HUGE}"', "9" * 5000).replace(f'"{NAN}"', "NaN")
    text = yaml.safe_dump(doc)
    return text.replace(HUGE, "9" * 5000).replace(NAN, ".nan")


def _alias_bomb() -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 12):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


Make = Callable[[Command, Path], None]  # write the hostile input at the path


def _text(make_text: Callable[[Command], str]) -> Make:
    return lambda command, path: path.write_text(make_text(command))


def _value(value_of: Callable[[Command, Any], tuple[tuple[Any, ...], Any]]) -> Make:
    def make(command: Command, path: Path) -> None:
        doc = command.base()
        where, value = value_of(command, doc)
        path.write_text(_render(replaced(doc, where, value), command.fmt))

    return make


def _fifo(_: Command, path: Path) -> None:
    os.mkfifo(path)


def _device(_: Command, path: Path) -> None:
    path.symlink_to("/dev/zero")


def _directory(_: Command, path: Path) -> None:
    path.mkdir()


def _missing(_: Command, path: Path) -> None:
    """No such file, and for a command given a directory, no such directory either."""
    if path.parent.name == "input":
        path.parent.rmdir()


def _binary(_: Command, path: Path) -> None:
    path.write_bytes(b"\xff\xfe\x00\x81\x00 not text \x00" * 64)


def _bad_label(command: Command, doc: Any) -> tuple[tuple[Any, ...], Any]:
    return command.label_path, {"matchLabels": {"bad key/with/two/slashes": "-value-"}}


def _oversized(command: Command, doc: Any) -> tuple[tuple[Any, ...], Any]:
    """20,000 ports in a case, 3,000 pods in an expect model: past the bounds."""
    if "model" in doc:
        pod = doc["model"]["pods"][0]
        return ("model", "pods"), [
            {**pod, "name": f"p{i}", "ip": f"10.{i // 250}.{i % 250}.1"} for i in range(3000)
        ]
    return ("cases", 0, "ports"), list(range(1, 20001))


@dataclass(frozen=True)
class HostileClass:
    name: str
    make: Make
    applies: Callable[[Command], bool] = lambda _: True
    answered_within_bounds: bool = False  # exit 0 is right too, if in time and memory


def _labelled(command: Command) -> bool:
    return bool(command.label_path)


CLASSES = (
    HostileClass("missing file", _missing),
    HostileClass("a directory", _directory),
    HostileClass("empty file", _text(lambda _: "")),
    HostileClass("binary", _binary),
    HostileClass("FIFO", _fifo),
    HostileClass("device (/dev/zero)", _device),
    HostileClass("nesting 100,000 deep", _text(lambda _: "[" * 100_000 + "]" * 100_000)),
    HostileClass("alias bomb (9^12 nodes)", _text(lambda _: _alias_bomb())),
    HostileClass("5,000-digit integer", _value(lambda _, doc: (_first(doc, int), HUGE))),
    HostileClass("NaN", _value(lambda _, doc: (_first(doc, int), NAN))),
    HostileClass("list where a string belongs", _value(lambda _, doc: (_first(doc, str), [1]))),
    HostileClass("invalid label key", _value(_bad_label), _labelled),
    # past a bound is refused; within one (20,000 ports is 1.9 s for `show`) is answered
    HostileClass("oversized (20k ports, 3k pods)", _value(_oversized),
                 lambda c: c.name.startswith(("netpol show", "netpol expect")),
                 answered_within_bounds=True),
)  # fmt: skip


@dataclass(frozen=True)
class Cell:
    command: str
    hostile: str
    exit_code: int | None  # None: killed at the timeout
    first_line: str
    stderr_lines: int
    traceback: bool
    seconds: float
    peak_rss_mib: float
    leftovers: tuple[str, ...]
    accepted: frozenset[int]  # the exit codes that are right for this cell

    def problems(self) -> list[str]:
        found = []
        if self.exit_code is None:
            found.append(f"hung (killed after {TIMEOUT_S:.0f} s)")
        elif self.exit_code not in self.accepted:
            found.append(f"exit {self.exit_code}, expected one of {sorted(self.accepted)}")
        if self.traceback:
            found.append("traceback")
        if self.exit_code not in (0, None) and self.stderr_lines != 1:
            found.append(f"{self.stderr_lines} stderr lines, expected 1")
        # a command that answered wrote its output (--out); anything else is left behind
        left = [p for p in self.leftovers if self.exit_code != 0 or p.split("/")[0] != "out"]
        if left:
            found.append(f"left {', '.join(left)}")
        return found


def _snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def run_cell(command: Command, hostile: HostileClass, work: Path) -> Cell:
    """Run one command on one hostile input in a directory of its own."""
    where = work / "input"
    where.mkdir(parents=True)
    state = work / "state"
    (state / "hostile").mkdir(parents=True)
    dir_ = state / "hostile" if command.filename == "state.json" else where
    path = dir_ / command.filename
    hostile.make(command, path)
    if path.is_file() and not path.is_symlink():
        text = path.read_bytes().replace(STATE_DIR.encode(), str(state).encode())
        path.write_bytes(text)
    out = work / "out"
    argv = [
        a.replace("{file}", str(path)).replace("{dir}", str(dir_)).replace("{out}", str(out))
        for a in command.argv
    ]
    env = {
        **os.environ,
        "NETCONFORM_STATE_DIR": str(state),
        "NETCONFORM_CACHE_DIR": str(work / "cache"),
        "XDG_STATE_HOME": str(work / "xdg-state"),
        "XDG_CACHE_HOME": str(work / "xdg-cache"),
        "NETCONFORM_OFFLINE": "1",
    }
    answered = hostile.answered_within_bounds or hostile.name in command.answered
    before = _snapshot(work)
    started = time.monotonic()
    proc = subprocess.Popen(
        # prlimit (util-linux) sets the limit and execs the CLI: the same process, measured
        ["prlimit", f"--as={MEMORY_LIMIT_BYTES}", sys.executable, "-m", "netconform.cli", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        cwd=work,
        start_new_session=True,
    )
    timer = threading.Timer(TIMEOUT_S, lambda: os.killpg(proc.pid, signal.SIGKILL))
    timer.start()
    assert proc.stderr is not None
    err = proc.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - started
    killed = proc.returncode == -signal.SIGKILL and seconds >= TIMEOUT_S
    lines = err.splitlines()
    return Cell(
        command=command.name,
        hostile=hostile.name,
        exit_code=None if killed else proc.returncode,
        first_line=lines[0] if lines else "",
        stderr_lines=len(lines),
        traceback="Traceback" in err,
        seconds=round(seconds, 2),
        peak_rss_mib=round(usage.ru_maxrss / 1024, 1),
        leftovers=tuple(sorted(_snapshot(work) - before)),
        accepted=command.accepted_exits | ({0} if answered else set()),
    )


def cells() -> list[tuple[Command, HostileClass]]:
    return [(c, h) for c in COMMANDS for h in CLASSES if h.applies(c)]


def _markdown(rows: list[Cell]) -> str:
    out = [
        "| command | input | exit | s | MiB | first stderr line | problems |",
        "|---|---|---|---|---|---|---|",
    ]
    for cell in rows:
        line = cell.first_line.replace("|", "\\|")[:140]
        problems = "; ".join(cell.problems())[:300] or "none"
        out.append(
            f"| {cell.command} | {cell.hostile} | {cell.exit_code} | {cell.seconds} | "
            f"{cell.peak_rss_mib} | {line} | {problems} |"
        )
    return "\n".join(out)


def main() -> int:
    rows = []
    with tempfile.TemporaryDirectory(prefix="nc-hostile-") as tmp:
        for i, (command, hostile) in enumerate(cells()):
            rows.append(run_cell(command, hostile, Path(tmp) / str(i)))
            print(rows[-1], file=sys.stderr)
    print(_markdown(rows))
    bad = [c for c in rows if c.problems()]
    tracebacks = sum(c.traceback for c in rows)
    hangs = sum(c.exit_code is None for c in rows)
    print(f"\n{len(rows)} cells, {len(bad)} with problems, {tracebacks} tracebacks, {hangs} hangs")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
