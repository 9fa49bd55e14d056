"""The external targets of the Kubernetes platforms (k8s/external_target.py) and their checks
(checks/k8s_external.py): the option, the strict record in platform_info, the peer_echo
server as a real process answered by the real agent, the containers' argv and leftovers,
and each check's verdict when its property holds and when it breaks."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from netconform import aspects
from netconform.catalog.scenario import KubernetesScenario
from netconform.core import Capabilities
from netconform.errors import InputError
from netconform.k8s import external_target as ext
from netconform.k8s import leftovers
from netconform.k8s.context import make_probe
from netconform.k8s.kube import PodEndpoint
from netconform.k8s.run_state import KubeRunState
from netconform.k8s.tools import Completed
from netconform.k8s.workloads import (
    ENDPOINT_LABEL,
    NODE_INDEX_LABEL,
    ROLE_LABEL,
    RUN_LABEL,
    SLOT_LABEL,
    WorkloadSpec,
)
from netconform.options import normalise
from netconform.owner import ProcessOwner
from netconform.probes.executors import agent_command
from netconform.probes.model import Connectivity, Probe, ProbeKind, ProbeResult
from netconform.results import Verdict
from netconform.settings import Settings

WORLD = ext.ExternalTarget(ext.Role.WORLD, "172.18.0.5", 8080, 8081, "nc-r1-external-world")
METADATA = ext.ExternalTarget(
    ext.Role.METADATA, "172.18.0.6", 8080, 8081, "nc-r1-external-metadata"
)


# --- the option ---------------------------------------------------------------------------
def test_the_option_gives_the_world_target_with_or_without_udp() -> None:
    assert ext.parse_option("192.0.2.10:8080:8081") == ext.ExternalTarget(
        ext.Role.WORLD, "192.0.2.10", 8080, 8081
    )
    assert ext.parse_option(" 192.0.2.10:80 ").udp_port is None


@pytest.mark.parametrize(
    "text",
    ["host.example:80", "192.0.2.10", "192.0.2.10:0", "192.0.2.10:70000", "300.1.1.1:80",
     "192.0.2.10:80:x", "192.0.2.10:80:81:82", ""],
)  # fmt: skip
def test_a_bad_option_is_one_line_naming_it_and_the_format(text: str) -> None:
    with pytest.raises(InputError) as err:
        ext.parse_option(text)
    message = str(err.value)
    assert message.startswith(f"--external-target {text!r}: expected IPV4:TCPPORT[:UDPPORT]")
    assert "\n" not in message


def _given(platform: str, target: str | None) -> dict[str, Any]:
    return {"platform": platform, "external_target": target}


def test_normalise_takes_the_option_on_cluster_and_refuses_it_elsewhere() -> None:
    options = normalise(_given("cluster", "192.0.2.10:9000"), Settings())
    assert options.external_target == ext.ExternalTarget(ext.Role.WORLD, "192.0.2.10", 9000)
    with pytest.raises(InputError, match="not an option of kind-flannel"):
        normalise(_given("kind-flannel", "192.0.2.10:9000"), Settings())
    assert normalise(_given("kind-flannel", None), Settings()).external_target is None


def test_run_options_carry_the_target_to_workers() -> None:
    from netconform.options import RunOptions

    options = normalise(_given("cluster", "192.0.2.10:9000:9001"), Settings())
    again = RunOptions.from_json(json.loads(json.dumps(options.to_json())))
    assert again.external_target == options.external_target
    assert again.external_target is not None and again.external_target.udp_port == 9001


def test_the_variable_stands_in_for_the_option_and_the_option_wins() -> None:
    settings = Settings.from_env({"NETCONFORM_EXTERNAL_TARGET": "192.0.2.20:7000:7001"})
    assert normalise(_given("cluster", None), settings).external_target == ext.ExternalTarget(
        ext.Role.WORLD, "192.0.2.20", 7000, 7001
    )
    chosen = normalise(_given("cluster", "192.0.2.10:80"), settings).external_target
    assert chosen is not None and chosen.address == "192.0.2.10"
    bad = Settings.from_env({"NETCONFORM_EXTERNAL_TARGET": "nope"})
    with pytest.raises(InputError, match=r"^NETCONFORM_EXTERNAL_TARGET 'nope'"):
        normalise(_given("cluster", None), bad)


def test_the_cli_exits_2_with_one_line_for_a_bad_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from netconform.cli import main

    code = main(["run", "--platform", "cluster", "--out", str(tmp_path), "--external-target", "x"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "--external-target 'x'" in err[0], err


# --- the record in platform_info -------------------------------------------------------------
def test_targets_round_trip_through_platform_info() -> None:
    info = {ext.INFO_KEY: [WORLD.to_json(), METADATA.to_json()]}
    targets = ext.ExternalTargets.of(json.loads(json.dumps(info)))
    assert targets.get(ext.Role.WORLD) == WORLD
    assert targets.get(ext.Role.METADATA) == METADATA
    assert ext.ExternalTargets.of({}).targets == ()


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"extra": 1}, "unknown fields ['extra']"),
        ({"tcp_port": "8080"}, "[0].tcp_port: expected a port"),
        ({"udp_port": 0}, "[0].udp_port: expected a port"),
        ({"tcp_port": True}, "[0].tcp_port"),
        ({"address": "example.com"}, "[0].address: expected an IPv4 address"),
        ({"role": "moon"}, "[0].role: 'moon' is not one of"),
        ({"container": 3}, "[0].container: expected a string"),
    ],
)
def test_a_wrong_record_is_refused_naming_the_field(change: dict[str, Any], named: str) -> None:
    record = {**WORLD.to_json(), **change}
    with pytest.raises(ValueError, match=r"platform_info\.external_targets") as err:
        ext.ExternalTargets.of({ext.INFO_KEY: [record]})
    assert named in str(err.value)


def test_a_missing_field_a_repeated_role_or_a_non_list_is_refused() -> None:
    record = WORLD.to_json()
    del record["docker_host"]
    with pytest.raises(ValueError, match=r"missing fields \['docker_host'\]"):
        ext.ExternalTargets.of({ext.INFO_KEY: [record]})
    with pytest.raises(ValueError, match="a role appears twice"):
        ext.ExternalTargets.of({ext.INFO_KEY: [WORLD.to_json(), WORLD.to_json()]})
    with pytest.raises(ValueError, match="expected a list"):
        ext.ExternalTargets.of({ext.INFO_KEY: WORLD.to_json()})


def test_why_a_target_is_missing_names_the_option_or_the_failure() -> None:
    none = ext.ExternalTargets.of({ext.INFO_KEY: []})
    assert "--external-target HOST:TCPPORT[:UDPPORT]" in none.why_missing(ext.Role.WORLD)
    assert "metadata address" in none.why_missing(ext.Role.METADATA)
    failed = ext.ExternalTargets.of({ext.INFO_KEY: [], ext.INFO_UNAVAILABLE: "docker run: boom"})
    assert failed.why_missing(ext.Role.WORLD) == (
        "the external targets were not started: docker run: boom"
    )


# --- peer_echo, for real -----------------------------------------------------------------------
def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def peer_echo() -> Iterator[tuple[int, int]]:
    tcp, udp = _free_port(socket.SOCK_STREAM), _free_port(socket.SOCK_DGRAM)
    argv = [sys.executable, *ext.peer_echo_command(tcp, udp, "world")[1:]]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("ready world")
        yield tcp, udp
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _agent(probes: Sequence[Probe]) -> dict[str, ProbeResult]:
    from netconform.probes.model import parse_agent_output

    argv = [sys.executable, *agent_command(probes)[1:]]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    return {r.id: r for r in parse_agent_output(probes, done.stdout, done.stderr)}


def test_the_agent_reads_the_address_peer_echo_saw_over_tcp_and_udp(
    peer_echo: tuple[int, int],
) -> None:
    tcp, udp = peer_echo
    probes = [
        make_probe(ProbeKind.TCP, "127.0.0.1", 2.0, port=tcp),
        make_probe(ProbeKind.UDP, "127.0.0.1", 2.0, port=udp),
    ]
    results = _agent(probes)
    assert [results[p.id].values["peer"] for p in probes] == ["world saw 127.0.0.1"] * 2
    assert [ext.seen_address(results[p.id]) for p in probes] == ["127.0.0.1"] * 2


def _result(
    ok: bool, peer: str = "", outcome: Connectivity = Connectivity.CONNECTED
) -> ProbeResult:
    return ProbeResult("p", "tcp", "t", ok, None, 1.0, {"peer": peer}, outcome=outcome)


def test_seen_address_needs_a_peer_echo_answer() -> None:
    assert ext.seen_address(_result(True, "world saw 10.0.0.1")) == "10.0.0.1"
    assert ext.seen_address(_result(True, "probe-0-a")) is None  # the agent's own server
    assert ext.seen_address(_result(False, "world saw 10.0.0.1", Connectivity.TIMEOUT)) is None


# --- the containers on kind and their leftovers ------------------------------------------------
@dataclass
class FakeRunner:
    """Answers by the first word after docker's options; records every argv."""

    replies: Mapping[str, Completed | Callable[[Sequence[str]], Completed]]
    calls: list[tuple[str, ...]] = field(default_factory=list)

    def run(
        self, argv: Sequence[str], *, timeout_s: float | None = None, stdin: str | None = None
    ) -> Completed:
        self.calls.append(tuple(argv))
        verb = next(a for a in argv[1:] if not a.startswith("-") and a != "unix:///d.sock")
        reply = self.replies.get(verb, Completed(tuple(argv), 0, "", ""))
        return reply(argv) if callable(reply) else reply


def _ok(stdout: str = "") -> Completed:
    return Completed((), 0, stdout, "")


OWNER = ProcessOwner(4242, 99, "harness")


def _networks(argv: Sequence[str]) -> Completed:
    address = "172.18.0.5" if argv[-1].endswith("world") else "172.18.0.6"
    return _ok(json.dumps({"kind": {"IPAddress": address, "Gateway": "172.18.0.1"}}))


def test_start_runs_both_targets_on_the_kind_network_labelled_with_the_owner() -> None:
    runner = FakeRunner({"inspect": _networks})
    started = ext.start(runner, "r1", "netconform/probe:abc", OWNER, "unix:///d.sock")
    assert [(t.role, t.address, t.container) for t in started] == [
        (ext.Role.WORLD, "172.18.0.5", "nc-r1-external-world"),
        (ext.Role.METADATA, "172.18.0.6", "nc-r1-external-metadata"),
    ]
    run = runner.calls[0]
    assert run[:4] == ("docker", "-H", "unix:///d.sock", "run")
    assert run[run.index("--network") + 1] == "kind"
    labels = {run[i + 1] for i, a in enumerate(run) if a == "--label"}
    assert {f"{RUN_LABEL}=r1", "netconform.io/owner=harness/4242/99"} <= labels
    assert f"{ext.TARGET_LABEL}=world" in labels
    assert run[run.index("netconform/probe:abc") + 1 :][-3:] == ("8080", "8081", "world")
    assert ext.remove_argv("r1", "unix:///d.sock")[-3:] == (
        "--force",
        "nc-r1-external-world",
        "nc-r1-external-metadata",
    )


def test_a_target_that_cannot_start_or_has_no_address_is_unavailable_naming_it() -> None:
    failed = FakeRunner({"run": Completed((), 125, "", "docker: image not found")})
    with pytest.raises(ext.TargetsUnavailable, match="nc-r1-external-world failed: docker: image"):
        ext.start(failed, "r1", "img", OWNER)
    silent = FakeRunner({"inspect": _ok("{}")})
    with pytest.raises(ext.TargetsUnavailable, match="no IPv4 address on the kind network"):
        ext.start(silent, "r1", "img", OWNER)


@dataclass(frozen=True)
class FakeProcesses:
    alive: Mapping[int, int]  # pid -> start time
    host: str = "harness"

    def runs(self, pid: int) -> bool:
        return pid in self.alive

    def start_time(self, pid: int) -> int | None:
        return self.alive.get(pid)


def _inspected(*containers: tuple[str, str]) -> Completed:
    docs = [
        {"Name": f"/{name}", "Config": {"Labels": {RUN_LABEL: "r0", ext.OWNER_LABEL: owner}}}
        for name, owner in containers
    ]
    return _ok(json.dumps(docs))


def test_leftover_targets_of_dead_runs_are_removed_and_no_others() -> None:
    runner = FakeRunner(
        {
            "ps": _ok("id1\nid2\nid3\nid4\n"),
            "inspect": _inspected(
                ("dead", "harness/100/5"),  # pid gone
                ("reused", "harness/200/5"),  # pid now another process
                ("live", "harness/300/7"),
                ("foreign", "elsewhere/100/5"),
            ),
        }
    )
    processes = FakeProcesses({200: 6, 300: 7})
    said = leftovers.clean_containers(runner, processes, ext.TARGET_LABEL, ext.OWNER_LABEL)
    assert runner.calls[-1] == ("docker", "rm", "--force", "dead", "reused")
    assert said == [
        "removed dead (run r0, owner harness/100/5: its run is gone)",
        "removed reused (run r0, owner harness/200/5: its run is gone)",
    ]
    quiet = FakeRunner({"ps": _ok("")})
    assert leftovers.clean_containers(quiet, processes, ext.TARGET_LABEL, ext.OWNER_LABEL) == []
    assert [c[1] for c in quiet.calls] == ["ps"]


def test_objects_give_every_node_an_egress_client_and_a_worker_the_backend() -> None:
    spec = WorkloadSpec("r1", ("cp", "w1", "w2"), "probe:1", "10.96.0.10")
    found = {(o["kind"], o["metadata"]["name"]): o for o in ext.objects(spec)}
    egress = [found[("Pod", f"egress-{i}")] for i in range(3)]
    assert [p["spec"]["nodeSelector"]["kubernetes.io/hostname"] for p in egress] == list(spec.nodes)
    backend = found[("Pod", ext.BACKEND_POD)]
    assert backend["spec"]["nodeSelector"]["kubernetes.io/hostname"] == "w1"
    assert backend["metadata"]["labels"][ROLE_LABEL] == ext.BACKEND_ROLE
    for name, policy in ((ext.LOCAL_SERVICE, "Local"), (ext.CLUSTER_SERVICE, "Cluster")):
        service = found[("Service", name)]["spec"]
        assert (service["type"], service["externalTrafficPolicy"]) == ("NodePort", policy)
        assert service["selector"] == {ENDPOINT_LABEL: ext.BACKEND_POD}
        assert service["ports"][0]["port"] == 8080  # ctx.node_port reads the first
    assert {o["metadata"]["namespace"] for o in found.values()} == {spec.probe_namespace}
    assert all(o["metadata"]["labels"][RUN_LABEL] == "r1" for o in found.values())


def test_the_kind_platform_starts_and_removes_its_targets(
    fake_path: Path, tmp_path: Path, offline_artifacts: Any
) -> None:
    """With fake tools the targets have no address: the run goes on, recording why, and
    teardown removes both names before the cluster."""
    from tests.k8s.test_lifecycle import calls, index

    from netconform.platforms.kind import KindPlatform

    kind = KindPlatform(
        "kind-flannel",
        artifacts=offline_artifacts("flannel"),
        state_dir=tmp_path / "work",
        run_id="r1",
        docker_host="",
    )
    handle = kind.provision()
    assert handle.info[ext.INFO_KEY] == []
    assert "no IPv4 address on the kind network" in handle.info[ext.INFO_UNAVAILABLE]
    kind.teardown()
    seen = calls(fake_path)
    started = index(seen, "docker", "run", "nc-r1-external-world")
    assert (
        index(
            seen,
            "kubectl",
            "apply",
            str(tmp_path / "work" / "netconform-flannel" / "external.yaml"),
        )
        > started
    )
    removed = index(
        seen, "docker", "rm", "--force", "nc-r1-external-world", "nc-r1-external-metadata"
    )
    assert started < removed < index(seen, "kind", "delete", "cluster")


# --- the checks -------------------------------------------------------------------------------
EXTERNAL_ASPECTS = (
    "reachability.external.tcp",
    "reachability.external.source-nat",
    "reachability.external.published-port.client-kept",
    "reachability.external.published-port.forwarded-snat",
    "netpol.egress.ipblock-except",
)


def _aspects_known() -> bool:
    try:
        for key in EXTERNAL_ASPECTS:
            aspects.get(key)
    except KeyError:
        return False
    return True


needs_registration = pytest.mark.skipif(
    not _aspects_known(),
    reason="the external checks' aspects and Measure source_seen are not in aspects.py / "
    "results.py yet (the lead adds them with the catalogue registration)",
)

SPEC = WorkloadSpec("r1", ("cp", "w1", "w2"), "probe:1", "10.96.0.10")
NODE_IPS = {"cp": "172.18.0.2", "w1": "172.18.0.3", "w2": "172.18.0.4"}


def _pod(name: str, ip: str, node: int, role: str, **labels: str) -> PodEndpoint:
    all_labels = {ROLE_LABEL: role, NODE_INDEX_LABEL: str(node), **labels}
    return PodEndpoint(
        SPEC.probe_namespace, name, "agent", ip, SPEC.nodes[node], tuple(sorted(all_labels.items()))
    )


PODS = [
    *(_pod(f"probe-{i}-a", f"10.244.{i}.10", i, "probe", **{SLOT_LABEL: "a"}) for i in range(3)),
    *(_pod(f"egress-{i}", f"10.244.{i}.20", i, ext.EGRESS_ROLE) for i in range(3)),
    _pod(ext.BACKEND_POD, "10.244.1.30", 1, ext.BACKEND_ROLE),
]
NODE_PORTS = {ext.LOCAL_SERVICE: 30001, ext.CLUSTER_SERVICE: 30002}

Answer = Callable[[str, Probe, "FakeCluster"], tuple[Connectivity, str]]


def conformant(src_node: str, p: Probe, cluster: FakeCluster) -> tuple[Connectivity, str]:
    """A cluster that masquerades pods to their node, enforces the policy and keeps or
    replaces a NodePort client as documented (src_node "outside": the world target)."""
    if src_node != "outside":
        if cluster.policy and p.target == METADATA.address:
            return Connectivity.TIMEOUT, ""
        return Connectivity.CONNECTED, f"x saw {NODE_IPS[src_node]}"
    via = next(n for n, ip in NODE_IPS.items() if ip == p.target)
    if p.port == NODE_PORTS[ext.LOCAL_SERVICE]:
        return Connectivity.CONNECTED, f"{ext.BACKEND_POD} saw {WORLD.address}"
    return Connectivity.CONNECTED, f"{ext.BACKEND_POD} saw 10.244.{SPEC.nodes.index(via)}.0"


@dataclass
class FakeCluster:
    answer: Answer = conformant
    info: dict[str, Any] = field(
        default_factory=lambda: {ext.INFO_KEY: [WORLD.to_json(), METADATA.to_json()]}
    )
    policy: Mapping[str, Any] | None = None
    applied: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.spec = SPEC
        self.params = KubernetesScenario(
            converge_deadline_s=0.05, poll_interval_s=0.01, netpol_deadline_s=0.05
        )
        self.run_state = KubeRunState.for_spec(SPEC)

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(frozenset({"networkpolicy", "nodeport", "icmp"}))

    def platform_info(self) -> dict[str, Any]:
        return dict(self.info)

    def pods(self, role: str) -> list[PodEndpoint]:
        return [p for p in PODS if p.label(ROLE_LABEL) == role]

    def node_addresses(self) -> dict[str, str]:
        return dict(NODE_IPS)

    def node_port(self, namespace: str, name: str) -> int:
        return NODE_PORTS[name]

    def probe(self, kind: ProbeKind, target: str, **kw: Any) -> Probe:
        return make_probe(kind, target, 0.01, **kw)

    def _reply(self, src_node: str, p: Probe) -> ProbeResult:
        outcome, peer = self.answer(src_node, p, self)
        ok = outcome == Connectivity.CONNECTED
        values = {"peer": peer} if ok and p.kind != ProbeKind.ICMP else {}
        error = None if ok else str(outcome)
        return ProbeResult(p.id, str(p.kind), p.target, ok, error, 1.0, values,
                           outcome=outcome, reproduce=("kubectl", "exec", p.id))  # fmt: skip

    def run_many(
        self, batches: Mapping[PodEndpoint, Sequence[Probe]]
    ) -> dict[PodEndpoint, list[ProbeResult]]:
        return {src: [self._reply(src.node, p) for p in ps] for src, ps in batches.items()}

    def apply_policy(self, manifest: Mapping[str, Any]) -> None:
        self.applied.append(f"apply {manifest['metadata']['name']}")
        self.policy = manifest

    def delete_policy(self, namespace: str, name: str) -> None:
        self.applied.append(f"delete {name}")
        self.policy = None


@dataclass
class OutsideRunner:
    """`docker exec <world> python3 -c AGENT batch JSON`, answered by the fake cluster."""

    cluster: FakeCluster

    def run(
        self, argv: Sequence[str], *, timeout_s: float | None = None, stdin: str | None = None
    ) -> Completed:
        assert argv[:3] == ("docker", "exec", WORLD.container)
        probes = json.loads(argv[-1])
        lines = []
        for wire in probes:
            p = Probe(wire["id"], ProbeKind(wire["kind"]), wire["target"], wire.get("port"))
            r = self.cluster._reply("outside", p)
            lines.append(json.dumps({"id": r.id, "kind": r.kind, "target": r.target, "ok": r.ok,
                                     "outcome": str(r.outcome), "error": r.error,
                                     "latency_ms": 1.0, "values": dict(r.values)}))  # fmt: skip
        return Completed(tuple(argv), 0, "\n".join(lines), "")


def _run(check_id: str, cluster: FakeCluster, monkeypatch: pytest.MonkeyPatch) -> Any:
    from netconform.checks import k8s_external
    from netconform.checks.base import CATALOGUE, execute

    monkeypatch.setattr(k8s_external, "SubprocessRunner", lambda: OutsideRunner(cluster))
    return execute(CATALOGUE.get(check_id), cluster)


def _breaking(**faults: Answer) -> Answer:
    """`conformant` with the named node's (or "outside") answers replaced."""

    def answer(src_node: str, p: Probe, cluster: FakeCluster) -> tuple[Connectivity, str]:
        fault = faults.get(src_node)
        return (fault or conformant)(src_node, p, cluster)

    return answer


@needs_registration
@pytest.mark.parametrize("kind", ["tcp", "udp", "icmp"])
def test_pods_reach_the_world_from_every_node_and_a_dropping_node_fails(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    passed = _run(f"k8s.reach.external.{kind}", FakeCluster(), monkeypatch)
    assert passed.verdict == Verdict.PASS, passed.reason
    assert len(passed.observed) == 3
    dropped = FakeCluster(_breaking(w2=lambda *_: (Connectivity.TIMEOUT, "")))
    failed = _run(f"k8s.reach.external.{kind}", dropped, monkeypatch)
    assert failed.verdict == Verdict.FAIL
    assert "1 of 3 not reachable: probe-2-a@w2 -> world 172.18.0.5" in failed.reason
    assert failed.observed[next(k for k in failed.observed if "@w2" in k)]["reproduce"]


@needs_registration
def test_the_source_address_is_each_nodes_and_a_pod_address_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    passed = _run("k8s.reach.external.source-address", FakeCluster(), monkeypatch)
    assert passed.verdict == Verdict.PASS, passed.reason
    assert passed.measurements["source_seen"] == NODE_IPS
    assert passed.expected == NODE_IPS
    unmasqueraded = FakeCluster(
        _breaking(w1=lambda *_: (Connectivity.CONNECTED, "x saw 10.244.1.10"))
    )
    failed = _run("k8s.reach.external.source-address", unmasqueraded, monkeypatch)
    assert failed.verdict == Verdict.FAIL
    assert failed.measurements["source_seen"]["w1"] == "10.244.1.10"
    assert "not masqueraded" in failed.reason
    assert failed.reason.endswith("; seen: w1 10.244.1.10")


@needs_registration
def test_a_target_that_does_not_report_the_address_is_a_named_skip(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hostname_only = FakeCluster(lambda *_: (Connectivity.CONNECTED, "some-host"))
    result = _run("k8s.reach.external.source-address", hostname_only, monkeypatch)
    assert result.verdict == Verdict.SKIP
    assert "does not say which address it saw" in result.reason


@needs_registration
def test_without_targets_cluster_skips_naming_the_option_and_kind_errors_naming_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    none = _run("k8s.reach.external.tcp", FakeCluster(info={ext.INFO_KEY: []}), monkeypatch)
    assert none.verdict == Verdict.SKIP and "--external-target" in none.reason
    broken = FakeCluster(info={ext.INFO_KEY: [], ext.INFO_UNAVAILABLE: "docker run failed"})
    result = _run("k8s.reach.external.tcp", broken, monkeypatch)
    assert result.verdict == Verdict.ERROR and "docker run failed" in result.reason
    user_given = FakeCluster(info={ext.INFO_KEY: [replace(WORLD, container=None).to_json()]})
    for check in ("k8s.reach.external.nodeport.local", "k8s.netpol.egress.ipblock-except"):
        skipped = _run(check, user_given, monkeypatch)
        assert skipped.verdict == Verdict.SKIP, skipped.reason


@needs_registration
def test_the_egress_policy_blocks_only_the_metadata_stand_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cluster = FakeCluster()
    result = _run("k8s.netpol.egress.ipblock-except", cluster, monkeypatch)
    assert result.verdict == Verdict.PASS, result.reason
    rule = result.expected["policy"]["spec"]["egress"][0]["to"][0]["ipBlock"]
    assert rule == {"cidr": "0.0.0.0/0", "except": ["172.18.0.6/32"]}
    assert cluster.applied == [f"apply {ext.EGRESS_POLICY}", f"delete {ext.EGRESS_POLICY}"]
    assert "took_effect_s" in result.measurements
    assert len(result.observed["without a policy"]) == 12  # 3 clients x A, B x TCP, UDP


@needs_registration
def test_an_except_not_enforced_fails_and_a_broken_path_is_no_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def ignores_except(src: str, p: Probe, c: FakeCluster) -> tuple[Connectivity, str]:
        return Connectivity.CONNECTED, f"x saw {NODE_IPS.get(src, '?')}"

    cluster = FakeCluster(ignores_except)
    failed = _run("k8s.netpol.egress.ipblock-except", cluster, monkeypatch)
    assert failed.verdict == Verdict.FAIL
    assert "6 of 12 not as expected" in failed.reason or "not blocked" in failed.reason, (
        failed.reason
    )
    assert cluster.policy is None  # deleted after a failure too

    def metadata_down(src: str, p: Probe, c: FakeCluster) -> tuple[Connectivity, str]:
        if p.target == METADATA.address:
            return Connectivity.TIMEOUT, ""
        return conformant(src, p, c)

    control = _run("k8s.netpol.egress.ipblock-except", FakeCluster(metadata_down), monkeypatch)
    assert control.verdict == Verdict.ERROR
    assert control.reason.startswith("positive control: without any policy")


@needs_registration
def test_nodeport_local_keeps_the_client_and_cluster_replaces_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    local = _run("k8s.reach.external.nodeport.local", FakeCluster(), monkeypatch)
    assert local.verdict == Verdict.PASS, local.reason
    assert list(local.measurements["source_seen"].values()) == [WORLD.address]
    assert "via w1 172.18.0.3:30001" in next(iter(local.observed))
    cluster = _run("k8s.reach.external.nodeport.cluster", FakeCluster(), monkeypatch)
    assert cluster.verdict == Verdict.PASS, cluster.reason
    assert sorted(cluster.measurements["source_seen"].values()) == ["10.244.0.0", "10.244.2.0"]

    def snat_everywhere(src: str, p: Probe, c: FakeCluster) -> tuple[Connectivity, str]:
        return Connectivity.CONNECTED, f"{ext.BACKEND_POD} saw 172.18.0.3"

    rewritten = _run(
        "k8s.reach.external.nodeport.local",
        FakeCluster(_breaking(outside=snat_everywhere)),
        monkeypatch,
    )
    assert rewritten.verdict == Verdict.FAIL and "rewritten on the way in" in rewritten.reason
    assert rewritten.reason.endswith("172.18.0.3:30001 172.18.0.3")

    def no_snat(src: str, p: Probe, c: FakeCluster) -> tuple[Connectivity, str]:
        return Connectivity.CONNECTED, f"{ext.BACKEND_POD} saw {WORLD.address}"

    kept = _run(
        "k8s.reach.external.nodeport.cluster", FakeCluster(_breaking(outside=no_snat)), monkeypatch
    )
    assert kept.verdict == Verdict.FAIL and "does not SNAT" in kept.reason
