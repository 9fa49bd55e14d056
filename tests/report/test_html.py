from __future__ import annotations

import re
import shlex
import subprocess
from html import escape
from pathlib import Path

import pytest

from netconform.report.compare import load_runs, merge_runs
from netconform.report.html import render_html
from netconform.results import NetpolReport, NetpolStep

from .built import (
    CANARY,
    CROSS_HOST,
    DF_OVER,
    HAIRPIN,
    NAMED_PORT,
    REPRODUCE,
    SWARM_ONLY,
    k8s,
    run,
)
from .dom import read_matrix
from .support import chromium_argv


@pytest.fixture
def page(tmp_path: Path, sample_dirs: list[Path]) -> Path:
    path = tmp_path / "comparison.html"
    path.write_text(render_html(merge_runs(load_runs(sample_dirs))), encoding="utf-8")
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
        "Aspect",
        "swarm-lab",
        "kind-flannel",
        "kind-calico",
        "kind-cilium⚠ crashed",
    ]
    rows = {r.id: r for r in matrix.rows if r.kind == "chk"}
    assert len(rows) == 9
    assert not any(r.hidden for r in rows.values())  # no filter: everything shown
    areas = [r for r in matrix.rows if r.kind == "area"]
    assert [r.area for r in areas] == ["reachability", "dns", "mtu", "netpol", "isolation", "perf"]
    # one row per aspect, each platform's own check id small under its verdict
    cross = rows[CROSS_HOST]
    assert [c.text.strip() for c in cross.cells] == ["✓ pass"] * 4
    assert cross.check_ids == [
        "reachability.cross-host.tcp",
        *["k8s.reach.pod-to-pod.cross-node"] * 3,
    ]
    assert "Endpoint to endpoint across hosts (tcp)" in cross.header
    assert rows[DF_OVER].verdicts == ["fail", "pass", "pass", "not-reached"]
    # no check of the aspect (another family) is not the crash's "not reached"
    assert rows[NAMED_PORT].verdicts == ["not-applicable", "skip", "fail", "not-reached"]
    assert [c.text.strip() for c in rows[NAMED_PORT].cells] == [
        "— not applicable",
        "⊘ skip",
        "✗ fail",
        "⚠ not reached",
    ]
    assert rows[NAMED_PORT].check_ids == ["", *["k8s.netpol.upstream.named-port"] * 2, ""]
    assert rows[SWARM_ONLY].verdicts == ["pass", *["not-applicable"] * 3]
    netpol_head = next(r for r in areas if r.area == "netpol")
    assert "2 aspects" in netpol_head.header
    assert "✗1" in netpol_head.cells[1].text  # flannel's canary
    assert 'id="crashed"' in dom
    assert '<b id="shown">9</b>' in dom


def test_filters_from_the_url_fragment(chromium: str, page: Path, tmp_path: Path) -> None:
    dom = _dump_dom(chromium, tmp_path / "profile", page.as_uri() + "#area=reachability&diff=1")
    visible = [r.id for r in read_matrix(dom).rows if r.kind == "chk" and not r.hidden]
    # the hairpin differs; cross-host agrees on every platform
    assert visible == [HAIRPIN]
    assert '<b id="shown">1</b>' in dom
    # a Swarm-only aspect is no difference, however it is filtered
    dom = _dump_dom(chromium, tmp_path / "profile", page.as_uri() + "#diff=1")
    visible = [r.id for r in read_matrix(dom).rows if r.kind == "chk" and not r.hidden]
    assert SWARM_ONLY not in visible
    assert DF_OVER in visible
    # the text filter finds a platform's check id as well as the aspect
    dom = _dump_dom(chromium, tmp_path / "profile", page.as_uri() + "#q=k8s.netpol")
    visible = sorted(r.id for r in read_matrix(dom).rows if r.kind == "chk" and not r.hidden)
    assert visible == sorted([CANARY, NAMED_PORT])
    dom = _dump_dom(chromium, tmp_path / "profile", page.as_uri() + "#q=dns.service")
    visible = sorted(r.id for r in read_matrix(dom).rows if r.kind == "chk" and not r.hidden)
    assert visible == ["dns.service.a"]


def _section(text: str, start: str, end: str) -> str:
    part = text[text.index(start) :]
    return part[: part.index(end)]


def test_netpol_tables_errors_and_reproduce(page: Path) -> None:
    text = page.read_text()
    anchor = f"np-2-{NAMED_PORT}"
    section = _section(text, f'id="{anchor}"', "</section>")
    assert f'href="#{anchor}"' in text  # linked from the calico cell
    for name in ("expected", "observed", "difference"):
        assert f'data-table="{name}"' in section
    assert "did not hold within 30 s, 12 observations" in section
    # the probe that failed to run is an error cell, never a deny
    observed = _section(section, 'data-table="observed"', "</table>")
    assert observed.count('class="e"') == 1
    assert observed.count('class="b"') == 0  # z/a, z/b -> x/a were not observed denied
    difference = _section(section, 'data-table="difference"', "</table>")
    assert difference.count('class="X"') == 2
    assert "namespace z matches no rule of x/deny" in section
    assert "z/b -&gt; x/a 80/TCP: probe failed to run: agent crashed" in section
    assert escape(shlex.join(REPRODUCE)) in section
    assert '<button type="button" class="copy">' in section
    # a Swarm probe that failed to run: its command in the cell, copyable
    cell = _section(text, "mtu.pmtu.default.df-over-limit</small>", "</td>")
    assert "tcp 10.0.1.5: no result: agent printed no result" in cell
    assert escape("docker exec nc-probe.1 python3 -c '<agent>'") in cell
    assert "10.0.1.6" not in cell  # a probe that connected is not listed


def test_profile_measurements_and_platforms(page: Path) -> None:
    text = page.read_text()
    profile = _section(text, 'id="profile-table"', "</table>")
    assert HAIRPIN in profile
    assert "a task cannot reach itself through its VIP" in profile
    assert "<small>k8s.reach.hairpin</small>hairpin works" in profile
    assert NAMED_PORT not in profile
    measurements = _section(text, 'id="key-measurements"', "</table>")
    assert "1480 bytes" in measurements
    assert "13m00s" in measurements
    assert "Policy enforcement latency p99" in measurements
    for fact in ("6.1.0-27-amd64", "crashed / incomplete"):
        assert fact in text


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


def test_profile_names_the_steps_a_platform_profile_matched(tmp_path: Path) -> None:
    report = NetpolReport(
        "upstream.ipblock",
        (NetpolStep("step 1", False, 3.0, 4, (), profile="ipblock-matches-pods"),),
    )
    case = k8s("k8s.netpol.ipblock", "netpol.case.ipblock", profile=True, netpol=report)
    html = render_html(merge_runs([(tmp_path, run("kind-cilium", [case]))]))
    profile = _section(html, 'id="profile-table"', "</table>")
    assert "step 1: profile ipblock-matches-pods" in profile
