"""The comparison of approaches on the golden runs (written by the real checks): one row per
platform with its isolation, performance and complexity figures, the baselines as reference
rows, the same values in Markdown and comparison.json, and the SVG chart drawn by Chromium."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from netconform.report import approaches, aspects
from netconform.report.cli import main
from netconform.report.compare import Comparison, load_runs, merge_runs
from netconform.report.html import render_html
from netconform.results import Measure

from .support import DATA, GOLDEN_RUNS, chromium_argv


def _golden() -> Comparison:
    return merge_runs(load_runs([DATA / n for n in GOLDEN_RUNS]))


def _measurement(platform: str, aspect: str, measure: Measure) -> object:
    data = json.loads((DATA / platform / "results.json").read_text())
    check = next(c for c in data["checks"] if c["aspect"] == aspect)
    return check["measurements"][measure]


def test_one_row_per_platform_then_the_reference_rows() -> None:
    rows = approaches.approaches(_golden())
    platforms = [r for r in rows if not r.reference]
    assert [r.name for r in platforms] == list(GOLDEN_RUNS)
    assert [r.name for r in rows if r.reference] == [
        "host network (swarm-lab)",
        "bridge, one host (swarm-lab)",
        "host network (kind-flannel)",
        "host network (kind-calico)",
        "host network (kind-cilium)",
    ]  # the bridge is a Swarm reference only
    swarm, flannel, calico, cilium = platforms
    aspect = aspects.THROUGHPUT
    assert swarm.mbit_s == _measurement("swarm-lab", aspect, Measure.MBIT_S)
    assert swarm.throughput_ratio == _measurement("swarm-lab", aspect, Measure.RATIO_TO_BASELINE)
    assert flannel.latency_ratio == _measurement(
        "kind-flannel", aspects.LATENCY, Measure.RATIO_TO_BASELINE
    )
    assert cilium.provision_s is None  # the fixtures were never provisioned
    # isolation: Swarm has no NetworkPolicy; Flannel enforces none, Calico does
    assert (swarm.policy_enforced, flannel.policy_enforced, calico.policy_enforced) == (
        None,
        False,
        True,
    )
    assert swarm.isolation_judged and swarm.isolation_passed == swarm.isolation_judged
    assert swarm.effective_mtu == 1450
    assert swarm.objects is not None and swarm.objects > 10 and swarm.images == 1
    assert flannel.objects is not None and flannel.images is not None and flannel.images >= 1
    host = next(r for r in rows if r.name == "host network (swarm-lab)")
    assert host.throughput_ratio == 1.0 and host.mbit_s == _measurement(
        "swarm-lab", aspect, Measure.BASELINE_MBIT_S
    )
    bridge = next(r for r in rows if r.name.startswith("bridge"))
    # the bridge's ratio is to the loopback it alternated with in its own check
    bridge_ratio = _measurement("swarm-lab", aspects.BRIDGE, Measure.RATIO_TO_BASELINE)
    assert bridge.throughput_ratio == bridge_ratio and bridge.baseline == "host loopback"


def test_markdown_and_json_carry_the_same_rows(tmp_path: Path) -> None:
    out = tmp_path / "report"
    assert main([*(str(DATA / n) for n in GOLDEN_RUNS), "--out", str(out), "--no-allure"]) == 0
    data = json.loads((out / "comparison.json").read_text())
    assert data["approaches"] == approaches.summary_json(_golden())
    markdown = (out / "comparison.md").read_text()
    section = markdown[markdown.index("## Comparison of approaches") :]
    section = section[: section.index("\n## ", 1)]
    table = [line for line in section.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| Approach | Isolation | Throughput vs underlay")
    assert len(table) == 1 + len(data["approaches"])
    swarm = next(line for line in table if line.startswith("| swarm-lab |"))
    ratio = data["approaches"][0]["throughput_ratio"]
    assert f"×{ratio:.2f}" in swarm and "no NetworkPolicy" in swarm
    assert swarm.endswith(" objects, 1 image |")  # one probe image: no plural


def test_complexity_counts_read_as_english() -> None:
    row = approaches.Approach("p", "p", reference=False, provision_s=12.0, objects=1, images=3)
    assert approaches.complexity_text(row) == "provisioned in 12 s, 1 object, 3 images"


def test_the_chart_renders_in_headless_chromium(chromium: str, tmp_path: Path) -> None:
    page = tmp_path / "comparison.html"
    page.write_text(render_html(_golden()), encoding="utf-8")
    argv = chromium_argv(chromium, tmp_path / "profile")
    dom = subprocess.run(
        [*argv, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120,
        check=False,
    ).stdout  # fmt: skip
    charts = dom[dom.index('id="approaches-charts"') :]
    charts = charts[: charts.index("</div>")]
    assert charts.count("<svg") == 2
    rows = approaches.approaches(_golden())
    bars = re.findall(r'<rect [^>]*width="([\d.]+)"', charts)
    with_throughput = [r for r in rows if r.mbit_s is not None]
    with_latency = [r for r in rows if r.rr_p50_ms is not None]
    assert len(bars) == len(with_throughput) + len(with_latency)
    # the longest bar is the fastest row's, full width
    widest = max(with_throughput, key=lambda r: float(r.mbit_s or 0))
    assert float(bars[with_throughput.index(widest)]) == approaches.BAR_W
    shot = tmp_path / "shot.png"
    done = subprocess.run(
        [*argv, "--hide-scrollbars", "--window-size=1200,1600", f"--screenshot={shot}",
         f"{page.as_uri()}#approaches"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-1000:]
    assert shot.stat().st_size > 10_000
