"""The layers of src/netconform, read from every import (also those inside functions):
no two packages import each other, the Kubernetes code never reaches up into platforms/,
and core.py, the bottom layer, needs only errors, interrupts and the vocabulary (each of
those imports nothing of netconform's but errors)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "netconform"


def _edges() -> set[tuple[str, str]]:
    """(package, package it imports): top-level modules count as packages of their own."""
    edges = set()
    for path in SRC.rglob("*.py"):
        here = path.relative_to(SRC).parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] if node.module != "netconform" else [
                    f"netconform.{a.name}" for a in node.names
                ]  # fmt: skip
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] == "netconform" and len(parts) > 1 and parts[1] != here:
                    edges.add((here, parts[1]))
    return edges


def test_no_two_packages_import_each_other() -> None:
    edges = _edges()
    assert ("platforms", "k8s") in edges  # the reading works: kind.py builds on k8s/
    assert sorted((a, b) for a, b in edges if (b, a) in edges) == []


def test_kubernetes_code_never_imports_platforms() -> None:
    assert not [b for a, b in _edges() if a == "k8s" and b == "platforms"]


def test_core_is_the_bottom_layer() -> None:
    bottom = {"errors", "interrupts", "vocab"}
    assert {b for a, b in _edges() if a == "core"} <= bottom
    assert {b for a, b in _edges() if a in bottom} <= bottom
