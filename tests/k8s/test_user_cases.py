"""--netpol-cases: a user's NetworkPolicy cases instead of (DIR) or beside (+DIR) the
built-in catalogue. Bad case files are one line naming file, case and field, exit 2, before
any platform exists; good ones run like catalogue cases, their expectations from the oracle."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netconform.checks import k8s_netpol
from netconform.checks.base import CATALOGUE, execute
from netconform.cli import main
from netconform.core import Capabilities
from netconform.errors import EnvironmentUnfit
from netconform.k8s.facts import CniFacts
from netconform.k8s.run_state import Enforcement
from netconform.netpol.catalogue import CaseSelection
from netconform.netpol.oracle import Profile
from netconform.platforms.kind import KindPlatform
from netconform.results import Verdict

from .fake_cluster import FakeDataPlane, FakeNetpolContext

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "netpol-microservices"
GOOD = """cases:
- id: mine.deny-x
  title: my default deny
  pods: [x/a, x/b, y/a]
  steps:
  - actions:
    - create-policy: {metadata: {name: deny, namespace: x}, spec: {podSelector: {}}}
    probes: [80/TCP]
"""


@pytest.fixture(autouse=True)
def catalogue() -> Iterator[None]:
    """A run's selection changes the process's catalogue and case table: put both back
    after each test (a later test module must see the built-in cases)."""
    saved, cases = dict(CATALOGUE._checks), dict(k8s_netpol._CASES)
    yield
    CATALOGUE._checks.clear()
    CATALOGUE._checks.update(saved)
    k8s_netpol._CASES.clear()
    k8s_netpol._CASES.update(cases)


@pytest.fixture
def never_provisioned(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A kind platform that fails loudly if anything of it is touched."""
    touched: list[str] = []

    def loud(name: str) -> object:
        def method(self: object) -> None:
            touched.append(name)
            raise AssertionError(f"KindPlatform.{name} was called")

        return method

    for name in ("prepare_host", "preflight", "provision"):
        monkeypatch.setattr(KindPlatform, name, loud(name))
    return touched


def _case_file(tmp_path: Path, text: str | bytes, name: str = "mine.yaml") -> Path:
    directory = tmp_path / "cases"
    directory.mkdir(exist_ok=True)
    path = directory / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return directory


BAD = {
    "malformed-yaml": ("cases: [\n  - id: x\n", "mine.yaml: line 2: not valid YAML: "),
    "binary": (b"\xff\xfe\x00 not text", "mine.yaml: cannot read: not UTF-8 text"),
    "unknown-case-field": (
        GOOD.replace("  title:", "  titel:"),
        "mine.yaml: cases[0].titel: unknown field",
    ),
    "unknown-step-field": (
        GOOD.replace("    probes:", "    probe:"),
        "mine.yaml: cases[0] (mine.deny-x).steps[0].probe: unknown field",
    ),
    "invalid-policy": (
        GOOD.replace("podSelector: {}", "podSelector: {matchLabels: {'-bad': x}}"),
        "mine.yaml: cases[0] (mine.deny-x).steps[0].actions[0] spec.podSelector.matchLabels",
    ),
    "unknown-pod": (
        GOOD.replace("y/a]", "w/a]"),
        "mine.yaml: cases[0] (mine.deny-x).pods[2]: 'w/a': not a pod of the model",
    ),
    "unknown-pod-in-ip": (
        GOOD.replace(
            "podSelector: {}",
            "podSelector: {}, egress: [{to: [{ipBlock: {cidr: '${ip:z/c}/32'}}]}]",
        ),
        "mine.yaml: cases[0] (mine.deny-x).steps[0].actions[0]: IP placeholder names a pod",
    ),
    "policy-in-kube-system": (
        GOOD.replace("namespace: x}", "namespace: kube-system}"),
        "(mine.deny-x).steps[0].actions[0] metadata.namespace: 'kube-system'",
    ),
    "unserved-probe": (
        GOOD.replace("[80/TCP]", "[8080/TCP]"),
        "(mine.deny-x).steps[0].probes[0]: 8080/TCP is not served",
    ),
    "port-not-a-number": (
        GOOD.replace("  pods:", "  ports: [eighty]\n  pods:"),
        "(mine.deny-x).ports[0]: 'eighty': must be a port number",
    ),
    "no-cases": ("cases: []\n", "mine.yaml: cases: the list is empty"),
    "port-the-pods-do-not-serve": (
        GOOD.replace("  pods:", "  ports: [8080]\n  pods:").replace("80/TCP", "8080/TCP"),
        "mine.yaml: mine.deny-x.ports: 8080: the run's pods serve 80 and 81 only",
    ),
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_a_bad_case_file_is_one_line_and_exit_2_before_any_platform(
    kind: str,
    tmp_path: Path,
    never_provisioned: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    text, wanted = BAD[kind]
    directory = _case_file(tmp_path, text)
    argv = ["run", "--platform", "kind-cilium", "--out", str(tmp_path / "out")]
    assert main([*argv, "--netpol-cases", str(directory)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert str(directory / "mine.yaml") in err and wanted in err, err
    assert never_provisioned == []


@pytest.mark.parametrize(
    ("layout", "wanted"),
    [("missing", "no such directory"), ("empty", "holds no *.yaml files"), ("file", "not a dir")],
)
def test_a_bad_directory_is_one_line_and_exit_2(
    layout: str,
    wanted: str,
    tmp_path: Path,
    never_provisioned: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "cases"
    if layout == "empty":
        path.mkdir()
    elif layout == "file":
        path.write_text(GOOD)
    argv = ["run", "--platform", "kind-calico", "--netpol-cases", f"+{path}"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--netpol-cases {path}: " in err and wanted in err, err
    assert never_provisioned == []


def test_beside_the_catalogue_a_users_id_must_not_be_a_catalogue_id(
    tmp_path: Path, never_provisioned: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    directory = _case_file(tmp_path, GOOD.replace("mine.deny-x", "upstream.tcp.default-deny-all"))
    assert main(["run", "--platform", "kind-calico", "--netpol-cases", f"+{directory}"]) == 2
    err = capsys.readouterr().err
    assert (
        "mine.yaml: upstream.tcp.default-deny-all: the built-in catalogue has this case id" in err
    )
    assert never_provisioned == []
    # Instead of the catalogue, the same id is the user's case.
    selection = CaseSelection(directory, with_catalogue=False)
    assert [c.id for c in k8s_netpol.use_cases(selection)] == ["upstream.tcp.default-deny-all"]


def test_netpol_cases_on_a_swarm_platform_is_bad_usage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = _case_file(tmp_path, GOOD)
    assert main(["run", "--platform", "swarm", "--netpol-cases", str(directory)]) == 2
    assert "(it is for the Kubernetes platforms)" in capsys.readouterr().err


def test_good_cases_reach_the_platform_only_after_they_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The positive control of the tests above: valid cases get as far as the preflight."""

    def preflight(self: KindPlatform) -> None:
        raise EnvironmentUnfit("stop here: the cases loaded")

    monkeypatch.setattr(KindPlatform, "prepare_host", lambda self: None)
    monkeypatch.setattr(KindPlatform, "preflight", preflight)
    argv = ["run", "--platform", "kind-cilium", "--out", str(tmp_path / "out")]
    assert main([*argv, "--netpol-cases", str(EXAMPLE)]) == 3
    assert "stop here: the cases loaded" in capsys.readouterr().err


# checks.k8s_external's policy check probes the external target: not a case, --netpol-cases
# leaves it be
NOT_A_CASE = {"k8s.netpol.egress.ipblock-except"}


def _netpol_ids() -> set[str]:
    return {c.spec.id for c in CATALOGUE if c.spec.id.startswith("k8s.netpol.")} - NOT_A_CASE


def test_dir_replaces_the_catalogue_and_plus_dir_adds_to_it(tmp_path: Path) -> None:
    directory = _case_file(tmp_path, GOOD)
    builtin = _netpol_ids()
    assert len(builtin) > 138 and "k8s.netpol.mine.deny-x" not in builtin
    k8s_netpol.use_cases(CaseSelection(directory, with_catalogue=True))
    assert _netpol_ids() == builtin | {"k8s.netpol.mine.deny-x"}
    k8s_netpol.use_cases(CaseSelection(directory, with_catalogue=False))
    k8s_netpol.use_cases(CaseSelection(directory, with_catalogue=False))  # idempotent
    assert _netpol_ids() == {"k8s.netpol.enforcement", "k8s.netpol.mine.deny-x"}
    check = CATALOGUE.get("k8s.netpol.mine.deny-x")
    assert check.spec.aspect == "netpol.case.mine.deny-x" and check.spec.title == "my default deny"


def _run_example(
    plane: FakeDataPlane, label_change_s: float = 0.0
) -> tuple[FakeNetpolContext, Any]:
    (case,) = k8s_netpol.use_cases(CaseSelection(EXAMPLE, with_catalogue=False))
    ctx = FakeNetpolContext(plane)
    ctx.facts = CniFacts(label_change_s=label_change_s)
    initial = (dict(ctx.ns_labels), dict(ctx.pod_labels))
    ctx.run_state.enforcement = Enforcement(True, "known", 0.1)
    result = execute(CATALOGUE.get(f"k8s.netpol.{case.id}"), ctx)
    assert ctx.policies == {} and (ctx.ns_labels, ctx.pod_labels) == initial  # cleaned up
    return ctx, result


def test_policy_steps_after_a_relabel_wait_for_it_too() -> None:
    """The example labels its pods first; with labels 0.5 s slow to show (and a 0.3 s step
    deadline) its later policy steps select pods by labels the data plane lacks yet: they
    pass only when the profile's label-change time covers the steps after a relabel too
    (found on real Cilium: 'default deny all in x' failed right after the labelling)."""
    plane = FakeDataPlane(label_effect_after_s=0.5)
    _, slow = _run_example(plane)
    assert slow.verdict == Verdict.FAIL, slow.reason
    _, covered = _run_example(plane, label_change_s=1.0)
    assert covered.verdict == Verdict.PASS, covered.reason
    assert covered.netpol is not None
    assert [s.label_change for s in covered.netpol.steps] == [True, False, False, False]


def test_the_example_passes_on_a_correct_data_plane() -> None:
    ctx, result = _run_example(FakeDataPlane())
    assert result.verdict == Verdict.PASS and not result.profile, result.reason
    assert result.netpol is not None and len(result.netpol.steps) == 4
    # only the run's namespaces were touched (the fake refuses anything else, kube-system too)
    assert ctx.api_calls and all(" nc-r1-" in c for c in ctx.api_calls)


def test_the_example_on_a_cni_whose_ipblock_never_matches_pods_passes_as_a_profile() -> None:
    _, result = _run_example(FakeDataPlane(profile=Profile(ipblock_matches_pods=False)))
    assert result.verdict == Verdict.PASS and result.profile, result.reason
    assert result.netpol is not None
    assert result.netpol.steps[-1].profile == "ipblock-does-not-match-pods"


def test_the_example_fails_where_egress_is_not_enforced() -> None:
    _, result = _run_example(FakeDataPlane(ignore_egress=True))
    assert result.verdict == Verdict.FAIL
    assert "step 'default deny all in x'" in result.reason


def test_the_pytest_option_refuses_bad_cases_before_the_session(tmp_path: Path) -> None:
    directory = _case_file(tmp_path, GOOD.replace("  title:", "  titel:"))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(REPO / "conformance"),
            "-p",
            "no:cacheprovider",
            "--platform",
            "kind-calico",
            "--netpol-cases",
            str(directory),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR, proc.stdout + proc.stderr
    assert "mine.yaml: cases[0].titel: unknown field" in proc.stderr


def test_the_documented_example_is_a_valid_case_file(tmp_path: Path) -> None:
    section = (REPO / "docs" / "netpol-cases.md").read_text()
    block = section[section.index("```yaml\n") + 8 : section.index("```\n", 10)]
    directory = _case_file(tmp_path, block)
    (case,) = k8s_netpol.use_cases(CaseSelection(directory, with_catalogue=False))
    assert case.id == "shop.api-ingress" and len(case.steps) == 2
    ctx = FakeNetpolContext()
    ctx.run_state.enforcement = Enforcement(True, "known", 0.1)
    result = execute(CATALOGUE.get("k8s.netpol.shop.api-ingress"), ctx)
    assert result.verdict == Verdict.PASS, result.reason


CLUSTER_CASE = """cases:
- id: mine.admin-guard
  title: an admin guard over a namespace owner's allow
  pods: [x/a, y/a, z/a]
  steps:
  - actions:
    - create-policy: {metadata: {name: allow-all, namespace: y}, spec: {podSelector: {},
        ingress: [{}]}}
    - create-policy:
        apiVersion: policy.networking.k8s.io/v1beta1
        kind: ClusterNetworkPolicy
        metadata: {name: guard-y}
        spec:
          tier: Admin
          priority: 10
          subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: y}}}
          ingress:
          - {name: no-x, action: Deny,
             from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: x}}}]}
    probes: [80/TCP]
  - actions: [{delete-policy: guard-y}]
    probes: [80/TCP]
"""


def test_a_users_case_with_a_cluster_network_policy_runs_and_cleans_up(tmp_path: Path) -> None:
    """--netpol-cases takes ClusterNetworkPolicy cases: the oracle's expectation (x to y
    denied by the Admin rule over the namespace's allow-all, then allowed once it is
    deleted) is what a correct data plane shows; the lane's cluster policy is gone after."""
    (case,) = k8s_netpol.use_cases(
        CaseSelection(_case_file(tmp_path, CLUSTER_CASE), with_catalogue=False)
    )
    assert case.writes_cluster_policies
    check = CATALOGUE.get(f"k8s.netpol.{case.id}")
    assert check.spec.aspect == "cluster-netpol.case.mine.admin-guard"
    ctx = FakeNetpolContext(FakeDataPlane())
    ctx.run_state.enforcement = Enforcement(True, "known", 0.1)
    result = execute(check, ctx)
    assert result.verdict == Verdict.PASS, result.reason
    assert result.netpol is not None and len(result.netpol.steps) == 2
    assert ctx.policies == {}  # the cluster policy deleted, the NetworkPolicy too
    # where the CNI does not enforce ClusterNetworkPolicy the case is a named skip
    without = FakeNetpolContext(FakeDataPlane(), Capabilities(frozenset({"networkpolicy"})))
    without.run_state.enforcement = Enforcement(True, "known", 0.1)
    skipped = execute(check, without)
    assert skipped.verdict == Verdict.SKIP and "cluster-network-policy" in skipped.reason
    assert without.policies == {} and not without.api_calls


@pytest.mark.parametrize(
    "case_id",
    [
        "generated.cnp.networks.deny-all-ipv4-includes-pods.egress",
        "generated.cnp.networks.deny-one-ip-before-accept-all.egress",
    ],
)
def test_cluster_policy_networks_that_miss_pods_are_classified_not_failed(case_id: str) -> None:
    """Found on kind-cilium-cnp: Cilium v1.20 matches a ClusterNetworkPolicy's `networks`
    against addresses outside the cluster only (as its ipBlock); such steps are the profile
    cnp-networks-do-not-match-pods, with their observed tables, and not failures."""
    check = CATALOGUE.get(f"k8s.netpol.{case_id}")
    ctx = FakeNetpolContext(FakeDataPlane(profile=Profile(networks_match_pods=False)))
    ctx.run_state.enforcement = Enforcement(True, "known", 0.1)
    result = execute(check, ctx)
    assert result.verdict == Verdict.PASS and result.profile, result.reason
    assert result.netpol is not None
    assert "cnp-networks-do-not-match-pods" in {s.profile for s in result.netpol.steps}
    correct = FakeNetpolContext(FakeDataPlane())
    correct.run_state.enforcement = Enforcement(True, "known", 0.1)
    plain = execute(check, correct)
    assert plain.verdict == Verdict.PASS and not plain.profile, plain.reason
