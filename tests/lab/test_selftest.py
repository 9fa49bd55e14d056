"""Every fault kind applied to the real lab, caught by its area's checks, and cleared with no
residue; the self-test's verdicts repeat exactly when it runs twice."""

from __future__ import annotations

import json
from pathlib import Path

from labtools import netconform, nft_tables

from netconform.lab import faults, lab, state


def test_selftest_catches_every_applicable_fault_twice_the_same(
    tmp_path: Path, lab_name: str
) -> None:
    first = netconform("selftest", "--out", str(tmp_path / "1"), "--lab-name", lab_name, "--keep")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-2000:]
    second = netconform("selftest", "--out", str(tmp_path / "2"), "--lab-name", lab_name)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-2000:]
    one, two = (json.loads((tmp_path / n / "selftest.json").read_text()) for n in ("1", "2"))
    assert one["verdict"] == "pass" and not one["problems"]
    applied = {r["fault"]: r for r in one["rounds"] if not r["skipped"]}
    # the kinds this kernel supports are applied; the others say why not
    assert {"mtu-mismatch", "vxlan-blocked", "dns-broken", "isolation-breach", "host-loss"} <= set(
        applied
    )
    for r in one["rounds"]:
        if r["skipped"]:
            assert "netem" in r["skipped"] or "lacks" in r["skipped"]
    for kind, r in applied.items():
        assert r["caught"], kind
        assert r["residue"] == [], kind
        assert r["failed"], kind
    # the healthy round fails nothing, and both runs agree check by check
    assert not [c for c, v in one["healthy"].items() if v in ("fail", "error")]
    assert one["healthy"] == two["healthy"]

    # the declared checks fail the same way both times (the verdict-bearing part)
    def declared_failures(doc: dict) -> dict:  # type: ignore[type-arg]
        return {r["fault"]: sorted(set(r["failed"]) & set(r["declared"])) for r in doc["rounds"]}

    assert declared_failures(one) == declared_failures(two)
    assert [r["caught"] for r in one["rounds"]] == [r["caught"] for r in two["rounds"]]
    assert "dns.resolv-conf" in one["uncatchable"]
    assert (tmp_path / "1" / "selftest.md").read_text().startswith("# netconform self-test: pass")
    # the matrix as a section of the comparison report
    calico = Path(__file__).parents[1] / "report" / "data" / "kind-calico"
    report = netconform(
        "report", str(calico), str(tmp_path / "1"), "--out", str(tmp_path / "cmp"), "--no-allure"
    )
    assert report.returncode == 0, report.stderr
    html = (tmp_path / "cmp" / "comparison.html").read_text()
    assert "Self-test: which check catches which fault" in html and "vxlan-blocked" in html


def test_fault_cli_add_list_clear_restores_the_host(lab_name: str) -> None:
    lab.up(lab.LabConfig(name=lab_name, hosts=2))
    assert (
        netconform(
            "lab",
            "fault",
            "add",
            "mtu-mismatch",
            "--host",
            "2",
            "--mtu",
            "1300",
            "--name",
            lab_name,
        ).returncode
        == 0
    )
    added = netconform("lab", "fault", "add", "vxlan-blocked", "--host", "2", "--name", lab_name)
    assert added.returncode == 0, added.stderr
    listed = netconform("lab", "fault", "list", "--name", lab_name).stdout.splitlines()
    assert [json.loads(x)["kind"] for x in listed] == ["mtu-mismatch", "vxlan-blocked"]
    h2 = state.load(lab_name).host("h2")  # type: ignore[union-attr]
    from netconform.lab import netns

    lab_state = state.load(lab_name)
    assert lab_state is not None
    assert netns.link_mtu(lab_state.underlay_netns, "h2-port") == 1300
    # the switch also drops GSO super-packets over the MTU, which Linux would forward
    assert "bridge netconform_fault_h2" in nft_tables(lab_name)
    bad = netconform("lab", "fault", "add", "no-such-fault", "--name", lab_name)
    assert bad.returncode == 2 and "unknown fault" in bad.stderr
    assert netconform("lab", "fault", "clear", "--name", lab_name).returncode == 0
    assert netns.link_mtu(lab_state.underlay_netns, "h2-port") == 1500
    assert netns.link_mtu(h2.netns, "eth0") == 1500
    assert not [t for t in nft_tables(lab_name) if "netconform_fault" in t]
    assert faults.listed(lab_name) == []
