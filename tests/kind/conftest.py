"""The real kind tier: runs when the offline kit is up (`eval "$(bash .ci/kit up)"` exports
DOCKER_HOST, PATH and NETCONFORM_KIND_NODE_IMAGE); otherwise every test here is skipped with
that reason. .ci/run starts the kit from its cache when it is built."""

from __future__ import annotations

import os
import shutil

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    missing = [
        what
        for what, ok in (
            (
                "NETCONFORM_KIND_NODE_IMAGE (the kit's exports)",
                os.environ.get("NETCONFORM_KIND_NODE_IMAGE"),
            ),
            ("DOCKER_HOST (the kit's dockerd)", os.environ.get("DOCKER_HOST")),
            ("kind on PATH", shutil.which("kind")),
        )
        if not ok
    ]
    for item in items:
        if "tests/kind/" not in str(item.fspath):
            continue
        item.add_marker(pytest.mark.kind)
        if missing:
            item.add_marker(
                pytest.mark.skip(reason="the offline kit is not up: no " + ", ".join(missing))
            )
