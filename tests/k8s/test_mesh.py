"""The node-pair mesh: the planner (which nodes, which probes), the check on a scripted
cluster with one broken pair, one node's DNS broken and a missing capability, and the
agents it deploys."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from tests.report.built import run, write_run

from netconform.checks.base import CATALOGUE, execute
from netconform.core import Capabilities
from netconform.errors import InputError
from netconform.k8s import mesh
from netconform.k8s.kube import PodEndpoint
from netconform.k8s.mesh import MeshNode, MeshPath
from netconform.k8s.workloads import MESH_HOST_ROLE, ROLE_LABEL, mesh_objects
from netconform.options import normalise
from netconform.probes.model import Probe
from netconform.report.compare import load_runs, merge_runs
from netconform.report.html import render_html
from netconform.report.markdown import render_markdown
from netconform.results import CheckResult, Measure, Verdict
from netconform.settings import Settings

from .scripted import SPEC, Answer, Reply, ScriptedContext


def test_every_node_up_to_the_limit_in_name_order() -> None:
    nodes = [MeshNode(f"n{i:03}", zone=f"z{i % 3}") for i in range(40)]
    assert mesh.select_nodes(nodes, None) == tuple(f"n{i:03}" for i in range(40))


def test_a_sample_takes_every_zone_in_turn() -> None:
    # 3 zones of 50, 30 and 2 nodes: 10 sampled hold both nodes of the small zone
    nodes = [MeshNode(f"a{i:02}", "zone-a") for i in range(50)]
    nodes += [MeshNode(f"b{i:02}", "zone-b") for i in range(30)]
    nodes += [MeshNode(f"c{i:02}", "zone-c") for i in range(2)]
    chosen = mesh.select_nodes(nodes, 10)
    zones = {z: sum(n.startswith(z[-1]) for n in chosen) for z in ("zone-a", "zone-b", "zone-c")}
    assert len(chosen) == 10 and zones == {"zone-a": 4, "zone-b": 4, "zone-c": 2}
    assert mesh.select_nodes(list(reversed(nodes)), 10) == chosen  # deterministic


def test_past_the_default_limit_the_default_sample() -> None:
    nodes = [MeshNode(f"n{i:04}") for i in range(mesh.DEFAULT_NODE_LIMIT + 50)]
    assert len(mesh.select_nodes(nodes, None)) == mesh.DEFAULT_NODE_LIMIT


@pytest.mark.parametrize(
    ("text", "said"), [("1", "from 2 to"), ("x", "not a whole number"), ("99999", "from 2 to")]
)
def test_a_bad_node_count_is_refused(text: str, said: str) -> None:
    with pytest.raises(InputError, match=said):
        mesh.parse_node_count(text)


def test_nodes_is_an_option_of_cluster_only() -> None:
    settings = Settings.from_env()
    given = {"platform": "cluster", "mesh_size": "7"}
    assert normalise(given, settings).mesh_size == 7
    with pytest.raises(InputError, match="--nodes 7: not an option of kind-flannel"):
        normalise({**given, "platform": "kind-flannel"}, settings)


def test_the_plan_probes_every_ordered_pair_on_every_path() -> None:
    nodes = [f"n{i}" for i in range(5)]
    plan = mesh.MeshPlan(
        tuple(nodes), {n: f"10.0.0.{i}" for i, n in enumerate(nodes)},
        {n: f"172.18.0.{i}" for i, n in enumerate(nodes)}, tuple(MeshPath),
    )  # fmt: skip
    targets = {src: plan.targets(src) for src in nodes}
    assert sum(len(t) for t in targets.values()) + len(nodes) == mesh.probe_count(5, 4)
    assert all(t.node != src for src, ts in targets.items() for t in ts)
    host = [t for t in targets["n0"] if t.path is MeshPath.HOST_TCP]
    assert [t.address for t in host] == ["172.18.0.1", "172.18.0.2", "172.18.0.3", "172.18.0.4"]
    assert plan.waves(2) == [("n0", "n1"), ("n2", "n3"), ("n4",)]


def _mesh(ctx: ScriptedContext) -> CheckResult:
    return execute(CATALOGUE.get("k8s.reach.node-mesh"), ctx)


def test_a_conformant_cluster_passes_with_the_matrix_recorded() -> None:
    result = _mesh(ScriptedContext())
    assert result.verdict is Verdict.PASS, result.reason
    assert result.measurements[Measure.MESH_PAIRS] == 6
    assert result.measurements[Measure.RTT_P50_MS] == 0.1
    observed = result.observed
    assert observed["nodes"] == ["n0", "n1", "n2"]
    assert observed["matrix"]["pod-tcp"] == ["-..", ".-.", "..-"]
    assert observed["dns"] == {"n0": "answered", "n1": "answered", "n2": "answered"}


def _breaking(ctx: ScriptedContext, broken: tuple[str, str]) -> Answer:
    """The conformant answers, except every probe from node broken[0] to broken[1]'s
    addresses times out (one node pair's route gone, as a fault on one node would)."""
    conformant = ctx.answer
    lost = {p.ip for p in ctx.all if p.node == broken[1] and p.label(ROLE_LABEL).startswith("mesh")}

    def answer(src: PodEndpoint, p: Probe) -> Reply:
        if src.node == broken[0] and p.target in lost:
            return False, "timeout", {}
        return conformant(src, p)

    return answer


def test_one_broken_pair_is_found_and_named_with_a_reproducer() -> None:
    ctx = ScriptedContext()
    ctx.answer = _breaking(ctx, ("n2", "n0"))
    result = _mesh(ctx)
    assert result.verdict is Verdict.FAIL
    assert "1 failing pairs: n2 -> n0" in result.reason
    assert result.observed["matrix"]["pod-udp"] == ["-..", ".-.", "t.-"]
    assert result.measurements[Measure.MESH_FAILING_PAIRS] == 1
    failures = result.observed["failures"]
    assert {f["path"] for f in failures} == {str(p) for p in MeshPath}
    assert all(f["from"] == "n2" and f["to"] == "n0" and f["reproduce"] for f in failures)
    assert result.observed["rtt_us"][2][0] is None  # no ICMP answer, no round trip


def test_dns_broken_on_one_node_is_named() -> None:
    ctx = ScriptedContext()
    conformant = ctx.answer

    def answer(src: PodEndpoint, p: Probe) -> Reply:
        if src.node == "n1" and str(p.kind) == "dns":
            return False, "timeout", {}
        return conformant(src, p)

    ctx.answer = answer
    result = _mesh(ctx)
    assert result.verdict is Verdict.FAIL and "DNS failed on ['n1']" in result.reason


def test_a_path_the_platform_lacks_is_not_probed_and_says_why() -> None:
    caps = Capabilities(frozenset({"hostnetwork"}), {"icmp": "ICMP is filtered here"})
    result = _mesh(ScriptedContext(capabilities=caps))
    assert result.verdict is Verdict.PASS
    assert result.observed["paths_not_probed"] == {"pod-icmp": "ICMP is filtered here"}
    assert "pod-icmp" not in result.observed["matrix"]


def test_every_mesh_node_gets_a_pod_agent_and_a_host_agent() -> None:
    spec = replace(SPEC, mesh_nodes=("n0", "n1", "n2", "n3", "n4"))
    objects = mesh_objects(spec)
    assert len(objects) == 10
    hosts = [o for o in objects if o["metadata"]["labels"][ROLE_LABEL] == MESH_HOST_ROLE]
    assert {o["spec"]["nodeSelector"]["kubernetes.io/hostname"] for o in hosts} == set(
        spec.mesh_nodes
    )
    assert all(o["spec"]["hostNetwork"] for o in hosts)
    command = hosts[0]["spec"]["containers"][0]["command"]
    assert command[-2:] == [str(spec.mesh_host_port)] * 2
    assert 19000 <= spec.mesh_host_port < 20000 and spec.mesh_host_port != spec.hostport


def test_the_report_shows_the_heatmap_and_names_the_failing_pair(tmp_path: Path) -> None:
    ctx = ScriptedContext()
    ctx.answer = _breaking(ctx, ("n2", "n0"))
    failed = _mesh(ctx)
    # a node name with markup is shown as text, never as markup
    observed = {**failed.observed, "nodes": ["n0", "<b>n1</b>", "n2"]}
    run_dir = write_run(tmp_path, run("kind-flannel", [replace(failed, observed=observed)]))
    comparison = merge_runs(load_runs([run_dir]))
    html = render_html(comparison)
    assert 'id="node-mesh"' in html and "3 nodes, 1 failing pairs" in html
    assert html.count('class="m-fail"') == 1 and html.count('class="m-ok"') == 5
    assert 'title="n2 -&gt; n0: pod-tcp timeout; pod-udp timeout' in html
    assert "<b>n1</b>" not in html and "&lt;b&gt;n1&lt;/b&gt;" in html
    markdown = render_markdown(comparison)
    assert "6 ordered pairs; failing pairs: n2 -&gt; n0" in markdown  # escaped as text
