from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from netconform.report.compare import load_runs, merge_runs
from netconform.report.html import render_html

from .dom import read_matrix
from .support import chromium_argv


@pytest.fixture
def page(tmp_path: Path, fixture_dirs: list[Path]) -> Path:
    path = tmp_path / "comparison.html"
    path.write_text(render_html(merge_runs(load_runs(fixture_dirs))), encoding="utf-8")
    return path


def _dump_dom(chromium: str, profile: Path, url: str) -> str:
    done = subprocess.run(
        [*chromium_argv(chromium, profile), "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "</html>" in done.stdout
    return done.stdout


def test_self_contained(page: Path) -> None:
    text = page.read_text()
    # no external script, stylesheet, image or font: the page works offline
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", text)
    assert "url(" not in text
    assert "@import" not in text
    assert text.count("<script>") == 1


def test_matrix_in_chromium(chromium: str, page: Path, tmp_path: Path) -> None:
    dom = _dump_dom(chromium, tmp_path / "profile", page.as_uri())
    matrix = read_matrix(dom)
    assert [h.strip() for h in matrix.headers] == [
        "Check",
        "swarm-lab",
        "kind-flannel",
        "kind-calico",
        "kind-cilium⚠ crashed",
    ]
    checks = [r for r in matrix.rows if r.kind == "chk"]
    assert len(checks) == 25
    assert not any(r.hidden for r in checks)  # no filter: everything shown
    areas = [r for r in matrix.rows if r.kind == "area"]
    assert [r.area for r in areas] == ["reachability", "dns", "mtu", "netpol", "isolation", "perf"]
    # every check row sits in its area's group
    assert all(r.id.split(".")[0] in (r.area, "profile") for r in checks)
    rows = {r.id: r for r in checks}
    assert rows["mtu.pmtu.df-over-limit"].verdicts == ["fail", "pass", "pass", "pass"]
    assert rows["netpol.upstream.named-port"].verdicts == ["skip", "skip", "fail", "not-reached"]
    assert rows["netpol.upstream.allow-from-namespace"].verdicts[3] == "error"
    assert rows["isolation.namespace.default-allow"].verdicts[0] == "missing"
    # symbol and word in every cell, never colour alone
    assert [c.text.strip() for c in rows["dns.pod.reverse"].cells] == [
        "✓ pass",
        "✗ fail",
        "✓ pass",
        "✓ pass",
    ]
    assert rows["perf.throughput.cross-host"].cells[3].text.strip() == "⚠ not reached"
    netpol_head = next(r for r in areas if r.area == "netpol")
    assert "7 checks" in netpol_head.header
    assert "✗1" in netpol_head.cells[1].text  # flannel's canary
    assert 'id="crashed"' in dom
    assert '<b id="shown">25</b>' in dom


def test_filters_from_the_url_fragment(chromium: str, page: Path, tmp_path: Path) -> None:
    dom = _dump_dom(chromium, tmp_path / "profile", page.as_uri() + "#area=mtu&diff=1")
    checks = [r for r in read_matrix(dom).rows if r.kind == "chk"]
    visible = sorted(r.id for r in checks if not r.hidden)
    assert visible == ["mtu.encrypted.effective", "mtu.pmtu.df-over-limit"]
    assert '<b id="shown">2</b>' in dom
    dom = _dump_dom(chromium, tmp_path / "profile", page.as_uri() + "#q=dns.service")
    visible = sorted(r.id for r in read_matrix(dom).rows if r.kind == "chk" and not r.hidden)
    assert visible == ["dns.service.a", "dns.service.srv"]


def test_details_netpol_profile_and_platforms(page: Path) -> None:
    text = page.read_text()
    # the failing named-port case: three tables and the oracle's explanations
    section = text[text.index('id="np-2-netpol.upstream.named-port"') :]
    section = section[: section.index("</section>")]
    for name in ("expected", "observed", "difference"):
        assert f'data-table="{name}"' in section
    assert section.count("namespace z, so no rule allows it") == 3
    assert 'href="#np-2-netpol.upstream.named-port"' in text
    profile = text[text.index('id="profile-table"') :]
    profile = profile[: profile.index("</table>")]
    assert "ipBlock matches pod IPs" in profile
    assert "⚠ not reached" in profile  # cilium crashed before its profile checks
    for fact in ("6.1.0-27-amd64", "lab-worker-2", "calico v3.30.3", "crashed / incomplete"):
        assert fact in text
    measurements = text[text.index('id="key-measurements"') :]
    measurements = measurements[: measurements.index("</table>")]
    assert "1480 bytes" in measurements
    assert "13m57s" in measurements


def test_screenshot(chromium: str, page: Path, tmp_path: Path) -> None:
    screenshot = tmp_path / "comparison.png"
    done = subprocess.run(
        [
            *chromium_argv(chromium, tmp_path / "profile"),
            "--window-size=1400,2200",
            f"--screenshot={screenshot}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 50_000  # a rendered page, not a blank one
