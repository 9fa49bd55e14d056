"""Integration tests on the real lab: root, docker.io and mmdebstrap (the CLI installs
missing packages itself when it can). Each test removes what it made, also on failure."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from labtools import assert_no_residue

from netconform.lab import lab


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The hook sees every collected item of the session, not only this directory's.
    here = os.path.dirname(__file__)
    for item in items:
        if not str(item.path).startswith(here + os.sep):
            continue
        item.add_marker(pytest.mark.lab)
        if os.geteuid() != 0:
            item.add_marker(pytest.mark.skip(reason="the swarm lab needs root"))


@pytest.fixture
def lab_name(request: pytest.FixtureRequest) -> Iterator[str]:
    """A lab name unique to the test, taken down whatever happens."""
    name = "t" + "".join(ch for ch in request.node.name if ch.isalnum())[-10:]
    lab.down(name)
    yield name
    lab.down(name)
    assert_no_residue(name)
