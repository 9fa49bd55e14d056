"""Manifests as kubectl reads them: YAML 1.2, where `1e5432` is a number. A run id like that
once reached a real API server as a float label value and the whole deploy was refused."""

from __future__ import annotations

import re

import pytest
import yaml

from netconform.k8s import manifests
from netconform.k8s.workloads import WorkloadSpec, all_objects

# What YAML 1.2's core schema reads as a number (the strings kubectl would not keep).
YAML12_NUMBER = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")


@pytest.mark.parametrize("value", ["1e5432", "123456", "0x1f", "1.5", "12e3"])
def test_number_like_strings_are_written_quoted(value: str) -> None:
    text = manifests.dump({"metadata": {"labels": {"run": value}}})
    assert f"run: '{value}'" in text
    assert yaml.safe_load(text)["metadata"]["labels"]["run"] == value


def test_plain_strings_stay_plain() -> None:
    assert "name: nc-1e5432\n" in manifests.dump({"name": "nc-1e5432"})


def test_workloads_of_a_number_like_run_id_have_no_plain_number_label() -> None:
    spec = WorkloadSpec("1e5432", ("n0", "n1", "n2"), "probe:1", "10.96.0.10")
    text = manifests.dump_all(all_objects(spec))
    plain = [
        line
        for line in text.splitlines()
        if ":" in line
        and YAML12_NUMBER.fullmatch(line.split(":", 1)[1].strip())
        and "1e5432" in line
    ]
    assert plain == []
