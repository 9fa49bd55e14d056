"""The comparison of the golden runs the real checks wrote (data/regenerate.py): a Swarm run
and a Kubernetes run line up on every aspect both families' catalogues share."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netconform.checks.base import CATALOGUE
from netconform.platforms.registry import load_checks
from netconform.report.compare import comparison_to_json, load_runs, merge_runs
from netconform.results import Area
from netconform.vocab import Family

from .support import DATA

# Issue 11 asks for 25 once every shared aspect is declared; the catalogues share 24 today.
SHARED_AT_LEAST = 25  # issue 11: at least 25 aspects in both families


def _shared_by_the_catalogues() -> set[str]:
    def aspects(family: Family) -> set[str]:
        load_checks(family)
        return {check.spec.aspect for check in CATALOGUE.for_family(family)}

    return aspects(Family.SWARM) & aspects(Family.KUBERNETES)


def test_a_swarm_and_a_kubernetes_run_give_a_row_per_shared_aspect() -> None:
    comparison = merge_runs(load_runs([DATA / "swarm-lab", DATA / "kind-calico"]))
    both = [row.aspect for row in comparison.rows if row.shared]
    # one row per aspect both catalogues have, a verdict from each family's own check
    assert sorted(both) == sorted(_shared_by_the_catalogues())
    assert len(both) >= SHARED_AT_LEAST


@pytest.mark.parametrize("kubernetes", ["kind-flannel", "kind-calico", "kind-cilium"])
def test_every_kubernetes_run_lines_up_with_the_swarm_run(kubernetes: str) -> None:
    comparison = merge_runs(load_runs([DATA / "swarm-lab", DATA / kubernetes]))
    both = [r for r in comparison.rows if r.shared]
    ran = {c.aspect for c in comparison.columns[1].run.checks}
    # the crashed cilium run lacks the shared aspects it never reached, and only those
    assert {r.aspect for r in both} == _shared_by_the_catalogues() & ran
    assert comparison.columns[1].incomplete or len(both) >= SHARED_AT_LEAST
    for row in both:
        swarm, kube = row.cells
        assert swarm is not None and kube is not None
        assert (swarm.family, kube.family) == (Family.SWARM, Family.KUBERNETES)
        assert swarm.aspect == kube.aspect == row.aspect
        assert swarm.id != kube.id  # each platform's own id, under one aspect
    ids = {(r.cells[0].id, r.cells[1].id) for r in both if r.cells[0] and r.cells[1]}
    assert ("reachability.cross-host.tcp", "k8s.reach.pod-to-pod.cross-node.tcp") in ids


def test_golden_comparison_json_cells_carry_verdicts_in_both_families(
    golden_dirs: list[Path],
) -> None:
    data = comparison_to_json(merge_runs(load_runs(golden_dirs)))
    data = json.loads(json.dumps(data))
    rows = {r["aspect"]: r for r in data["rows"]}
    udp = rows["reachability.pod-to-pod.cross-host.udp"]
    assert {label: cell["verdict"] for label, cell in udp["cells"].items()} == {
        "swarm-lab": "fail",
        "kind-flannel": "pass",
        "kind-calico": "pass",
        "kind-cilium": "pass",
    }
    assert udp["cells"]["swarm-lab"]["check_id"] == "reachability.cross-host.udp"
    assert udp["cells"]["kind-flannel"]["check_id"] == "k8s.reach.pod-to-pod.cross-node.udp"
    assert udp["differs"] is True
    # Kubernetes-only aspects: not applicable to Swarm, not a difference by themselves
    ptr = rows["dns.service.ptr"]
    assert ptr["absent"] == {"swarm-lab": "not-applicable"}
    assert ptr["differs"] is False
    # a NetworkPolicy case the crashed run never reached
    udp_ports = rows["netpol.case.upstream.udp.ports"]
    assert udp_ports["absent"] == {"swarm-lab": "not-applicable", "kind-cilium": "not-reached"}
    assert [p["complete"] for p in data["platforms"]] == [True, True, True, False]
    assert sum(1 for r in data["rows"] if r["area"] == str(Area.NETPOL)) == 9
