"""Issue 23's table as a test: every command that reads a user's file, given each class of
hostile input (tests/unit/hostile_inputs.py), answers within 60 s and 2 GiB with one line
and its exit code, never a traceback, and leaves nothing behind (no --out, no lock, no
state). Each cell is the real CLI in a process of its own."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.unit.hostile_inputs import CLASSES, COMMANDS, Command, HostileClass, cells, run_cell

CELLS = cells()


def test_the_table_covers_every_command_and_class() -> None:
    assert {c.name for c, _ in CELLS} == {c.name for c in COMMANDS}
    assert {h.name for _, h in CELLS} == {h.name for h in CLASSES}


@pytest.mark.parametrize(
    ("command", "hostile"), CELLS, ids=[f"{c.name}|{h.name}" for c, h in CELLS]
)
def test_hostile_input(command: Command, hostile: HostileClass, tmp_path: Path) -> None:
    cell = run_cell(command, hostile, tmp_path)
    assert not cell.problems(), (cell.problems(), cell.first_line)
    if cell.exit_code != 0:
        assert cell.first_line.startswith("netconform: "), cell.first_line
