from __future__ import annotations

import re
import shlex
import subprocess
from html import escape
from pathlib import Path

import pytest

from netconform.report.compare import load_runs, merge_runs
from netconform.report.html import render_html
from netconform.report.reproduce import AGENT_FROM_INSTALL

from .built import NAMED_PORT, REPRODUCE
from .dom import read_matrix
from .support import chromium_argv


@pytest.fixture
def page(tmp_path: Path, golden_dirs: list[Path]) -> Path:
    path = tmp_path / "comparison.html"
    path.write_text(render_html(merge_runs(load_runs(golden_dirs))), encoding="utf-8")
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


UDP = "reachability.pod-to-pod.cross-host.udp"
DENY_EGRESS = "netpol.case.upstream.tcp.deny-egress-namespace"


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
    assert len(rows) == 80
    assert not any(r.hidden for r in rows.values())  # no filter: everything shown
    areas = [r for r in matrix.rows if r.kind == "area"]
    assert [r.area for r in areas] == ["reachability", "dns", "mtu", "netpol", "isolation", "perf"]
    # one row per aspect, each platform's own check id small under its verdict
    udp = rows[UDP]
    assert [c.text.strip() for c in udp.cells] == ["✗ fail", "✓ pass", "✓ pass", "✓ pass"]
    assert udp.check_ids == [
        "reachability.cross-host.udp",
        *["k8s.reach.pod-to-pod.cross-node.udp"] * 3,
    ]
    assert "Endpoint to endpoint across hosts (udp)" in udp.header
    # a family without the aspect is not the crash's "not reached"
    assert rows["netpol.case.upstream.udp.ports"].verdicts == [
        "not-applicable",
        "skip",
        "pass",
        "not-reached",
    ]
    assert [c.text.strip() for c in rows[DENY_EGRESS].cells] == [
        "— not applicable",
        "⊘ skip",
        "✗ fail",
        "! error",
    ]
    assert rows[DENY_EGRESS].check_ids == [
        "",
        *["k8s.netpol.upstream.tcp.deny-egress-namespace"] * 3,
    ]
    assert rows["mtu.interface.option"].verdicts == ["pass", *["not-applicable"] * 3]
    netpol_head = next(r for r in areas if r.area == "netpol")
    assert "9 aspects" in netpol_head.header
    assert "—9" in netpol_head.cells[0].text  # none applies to Swarm
    assert "!1" in netpol_head.cells[3].text  # cilium's error
    assert 'id="crashed"' in dom
    assert '<b id="shown">80</b>' in dom


def _visible(chromium: str, page: Path, profile: Path, fragment: str) -> list[str]:
    dom = _dump_dom(chromium, profile, page.as_uri() + fragment)
    return sorted(r.id for r in read_matrix(dom).rows if r.kind == "chk" and not r.hidden)


def test_filters_from_the_url_fragment(chromium: str, page: Path, tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    # verdicts compared per aspect: the two cross-host rows where one platform failed
    assert _visible(chromium, page, profile, "#area=reachability&diff=1") == [
        "reachability.pod-to-pod.cross-host.tcp",
        UDP,
    ]
    # an aspect only one family has, agreed on by its platforms, is no difference
    differing = _visible(chromium, page, profile, "#diff=1")
    assert "dns.service.ptr" not in differing
    assert "mtu.interface.option" not in differing
    assert "dns.service.aaaa-nodata" in differing
    # the text filter finds a platform's own check id as well as the aspect
    assert _visible(chromium, page, profile, "#q=routing-mesh") == [
        "reachability.published-port.other-host"
    ]
    assert _visible(chromium, page, profile, "#q=dns.service.a") == [
        "dns.service.a",
        "dns.service.aaaa-nodata",
        "dns.service.alias",
        "dns.service.search-path",  # by its Kubernetes id, k8s.dns.service.a-search
    ]


def _section(text: str, start: str, end: str) -> str:
    part = text[text.index(start) :]
    return part[: part.index(end)]


def test_netpol_tables_and_explanations(page: Path) -> None:
    text = page.read_text()
    anchor = "np-2-netpol.case.upstream.tcp.default-deny-all"
    section = _section(text, f'id="{anchor}"', "</section>")
    assert f'href="#{anchor}"' in text  # linked from the calico cell
    for name in ("expected", "observed", "difference"):
        assert f'data-table="{name}"' in section
    assert "step deny all in x: did not hold" in section
    difference = _section(section, 'data-table="difference"', "</table>")
    assert difference.count('class="X"') == 2
    explain = _section(section, 'class="explain"', "</table>")
    assert explain.count("isolated for egress by x/deny-all") == 2


def test_error_cells_are_errors_with_their_command(page: Path) -> None:
    text = page.read_text()
    section = _section(text, f'id="np-3-{DENY_EGRESS}"', "</section>")
    observed = _section(section, 'data-table="observed"', "</table>")
    # the probes that failed to run are error cells, never denies
    assert observed.count("title=error>!</td>") == 6
    assert "title=deny" not in observed
    errors = _section(section, '<ul class="errors">', "</ul>")
    assert errors.count("<li>") == 4
    assert "x/a -&gt; x/b 80/TCP: probe failed to run: no result: agent: Killed" in errors
    assert (
        escape("kubectl exec -n nc-r1-x a -- python3 -c '<netconform/probes/agent.py>'") in errors
    )
    # the copy button carries the command runnable, the agent source read from the install
    assert errors.count('<button type="button" class="copy" data-copy=') == 4
    assert escape(AGENT_FROM_INSTALL) in errors


def test_failed_probe_command_in_its_cell(sample_dirs: list[Path]) -> None:
    text = render_html(merge_runs(load_runs(sample_dirs)))
    cell = _section(text, "mtu.pmtu.default.df-over-limit</small>", "</td>")
    assert "tcp 10.0.1.5: no result: agent printed no result" in cell
    assert escape("docker exec nc-probe.1 python3 -c '<agent>'") in cell
    assert '<button type="button" class="copy" data-copy=' in cell
    assert "10.0.1.6" not in cell  # a probe that connected is not listed
    assert f'href="#np-2-{NAMED_PORT}"' in text
    section = _section(text, f'id="np-2-{NAMED_PORT}"', "</section>")
    assert escape(shlex.join(REPRODUCE)) in section


def test_profile_measurements_and_platforms(page: Path) -> None:
    text = page.read_text()
    profile = _section(text, 'id="profile-table"', "</table>")
    assert "reachability.hairpin" in profile
    assert "netpol.case.upstream.tcp.egress-cidr" in profile
    # which step matched which platform profile, on the platform that needed one
    assert "x/a egress to ipBlock y/b/32: profile ipblock-does-not-match-pods" in profile
    measurements = _section(text, 'id="key-measurements"', "</table>")
    assert "1450 bytes" in measurements
    assert "9450 Mbit/s" in measurements  # iperf3, 1 stream (perf), on every platform
    assert "Policy enforcement latency p99" in measurements
    for fact in ("calico", "v3.32.1", "crashed / incomplete"):
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
