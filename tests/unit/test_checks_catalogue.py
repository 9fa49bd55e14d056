"""The catalogue: stable ids, spec references, and the fault each check answers for."""

from __future__ import annotations

import re

from netconform.checks.base import CATALOGUE
from netconform.platforms.registry import load_checks

load_checks("swarm")


def test_every_swarm_check_has_an_id_area_spec_and_a_fault_story() -> None:
    checks = CATALOGUE.for_family("swarm")
    assert len(checks) >= 30
    for check in checks:
        spec = check.spec
        assert re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", spec.id), spec.id
        assert spec.id.split(".")[0] == spec.area or spec.id.startswith(f"{spec.area}.")
        assert spec.spec.startswith("https://"), spec.id
        # a check either names the lab faults that must make it fail, or says why none can
        assert bool(spec.catches) != bool(spec.not_catchable), spec.id
