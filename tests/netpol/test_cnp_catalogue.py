"""The ClusterNetworkPolicy cases (scenarios/netpol/cnp-upstream.yaml and the generated
generated-cnp.yaml): they load and resolve, stay confined to the model's namespaces, cover
every test of the upstream conformance suite, are tagged by what they use, and hand-checked
cells come out as the API defines them, for the reason the oracle gives."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from netconform.k8s.workloads import NETPOL_PORTS
from netconform.netpol import cnp_variations
from netconform.netpol.catalogue import (
    Case,
    CreatePolicy,
    UpdatePolicy,
    default_catalogue_dir,
    load_cases_file,
    load_catalogue,
    select,
)
from netconform.netpol.cluster_policy import Action, ClusterNetworkPolicy, Tier
from netconform.netpol.model import NAMESPACE_NAME_LABEL, Protocol
from netconform.netpol.oracle import DirectionVerdict, ProbeVerdict

UPSTREAM_FILE = default_catalogue_dir() / "cnp-upstream.yaml"
GENERATED_FILE = default_catalogue_dir() / cnp_variations.FILE_NAME
UPSTREAM_CASES = load_cases_file(UPSTREAM_FILE)
GENERATED_CASES = load_cases_file(GENERATED_FILE)
CNP_CASES = {c.id: c for c in (*UPSTREAM_CASES, *GENERATED_CASES)}
DOC = Path(__file__).resolve().parents[2] / "docs" / "cluster-network-policy.md"

# The upstream suite's tests (sigs.k8s.io/network-policy-api v0.3.1, conformance/tests), by
# name: each case's `upstream:` ends with the one whose intent it covers.
UPSTREAM_ADMIN = (
    "CNPAdminTierIngressTCP",
    "CNPAdminTierIngressUDP",
    "CNPAdminTierIngressSCTP",
    "CNPAdminTierEgressTCP",
    "CNPAdminTierEgressUDP",
    "CNPAdminTierEgressSCTP",
    "CNPAdminTierGress",
    "CNPAdminTierIntegration",
    "CNPAdminTierPriorityField",
    "CNPAdminTierSamePriority",
    "CNPAdminTierPodSelector",
    "CNPAdminTierPortRange",
    "CNPAdminTierEgressInlineCIDRPeers",
    "CNPAdminTierEgressNamedPort",
    "CNPAdminTierIngressNamedPort",
    "CNPAdminTierEgressNodePeers",
)
UPSTREAM_BASELINE = (
    "CNPBaselineTierIngressTCP",
    "CNPBaselineTierIngressUDP",
    "CNPBaselineTierIngressSCTP",
    "CNPBaselineTierEgressTCP",
    "CNPBaselineTierEgressUDP",
    "CNPBaselineTierEgressSCTP",
    "CNPBaselineTierGress",
    "CNPBaselineTierSamePriority",
    "CNPBaselineTierPodSelector",
    "CNPBaselineTierPortRange",
    "CNPBaselineTierEgressInlineCIDRPeers",
    "CNPBaselineTierEgressNamedPort",
    "CNPBaselineTierIngressNamedPort",
    "CNPBaselineTierEgressNodePeers",
)


def upstream_name(case: Case) -> str:
    return case.upstream.split()[-1] if case.upstream else ""


def cnp_manifests(case: Case) -> Iterator[Mapping[str, Any]]:
    """Every ClusterNetworkPolicy manifest a case creates or updates, as it wrote it."""
    for step in case.steps:
        for action in step.actions:
            manifest = action.manifest if isinstance(action, CreatePolicy | UpdatePolicy) else {}
            if manifest.get("kind") == cnp_variations.CNP_KIND:
                yield manifest


def cell(case_id: str, step: int, source: str, destination: str, probe: str) -> ProbeVerdict:
    port, protocol = probe.split("/")
    resolved = CNP_CASES[case_id].resolve().steps[step]
    for verdict in resolved.expected():
        p = verdict.probe
        if (p.source, p.destination, p.port, p.protocol) == (
            source,
            destination,
            int(port),
            Protocol(protocol),
        ):
            return verdict
    raise AssertionError(f"{case_id} step {step} probes no {source} -> {destination} {probe}")


def decided(verdict: DirectionVerdict) -> tuple[str, str, int | None, str, str]:
    """(tier, policy, priority, rule name, action) of the rule that decided a direction."""
    ref = verdict.decided_by
    assert ref is not None, verdict.reason
    return (str(ref.tier), ref.policy, ref.priority, ref.name, str(ref.action))


# -- the files --------------------------------------------------------------------------


def test_generated_file_is_in_sync_with_its_generator() -> None:
    assert GENERATED_FILE.read_text(encoding="utf-8") == cnp_variations.render(), (
        f"{GENERATED_FILE} is stale: run python -m netconform.netpol.cnp_variations "
        "scenarios/netpol"
    )


def test_the_built_in_catalogue_holds_every_cnp_case_under_its_tag() -> None:
    tagged = {c.id for c in select(load_catalogue(), ["cluster-network-policy"])}
    assert set(CNP_CASES) <= tagged
    assert len(UPSTREAM_CASES) == 32
    assert len(GENERATED_CASES) == 35
    assert {c.id.split(".")[1] for c in UPSTREAM_CASES} == {"admin", "baseline"}
    assert all(c.id.startswith("generated.cnp.") for c in GENERATED_CASES)


@pytest.mark.parametrize("case_id", sorted(CNP_CASES))
def test_every_case_resolves_and_judges_allowed_and_denied_cells(case_id: str) -> None:
    case = CNP_CASES[case_id]
    steps = case.resolve().steps
    assert steps
    assert any(isinstance(p, ClusterNetworkPolicy) for s in steps for p in s.policies)
    judged: list[ProbeVerdict] = []
    for step in steps:
        assert step.step.probes, step.step.name
        verdicts = step.expected()
        assert verdicts, step.step.name
        judged += [v for v in verdicts if not v.ignored]
    # A case whose every cell were allowed (or skipped) would pass on a cluster ignoring it.
    assert any(v.allowed for v in judged)
    assert any(not v.allowed for v in judged)


def test_every_case_probes_only_ports_a_cluster_serves() -> None:
    """A cluster's model pods serve 80 and 81: a case probing 82 could never pass there
    (a port range may still reach past them)."""
    for case in CNP_CASES.values():
        assert set(case.ports) <= set(NETPOL_PORTS), case.id


@pytest.mark.parametrize("case_id", sorted(CNP_CASES))
def test_every_subject_names_model_namespaces_only(case_id: str) -> None:
    """Never `namespaces: {}`: a cluster-scoped subject must stay inside the run's lane."""
    manifests = list(cnp_manifests(CNP_CASES[case_id]))
    assert manifests
    for manifest in manifests:
        subject = manifest["spec"]["subject"]
        selector = subject.get("namespaces") or subject["pods"]["namespaceSelector"]
        names = [
            e["values"]
            for e in selector.get("matchExpressions", [])
            if e["key"] == NAMESPACE_NAME_LABEL and e["operator"] == "In"
        ]
        assert names, f"{manifest['metadata']['name']}: subject not confined: {subject}"
        assert all(v and set(v) <= {"x", "y", "z"} for v in names), subject


@pytest.mark.parametrize("case_id", sorted(CNP_CASES))
def test_tags_say_what_the_case_uses(case_id: str) -> None:
    case = CNP_CASES[case_id]
    tags = set(case.tags)
    tiers = {m["spec"]["tier"] for m in cnp_manifests(case)}
    text = repr(list(cnp_manifests(case)))
    assert "cluster-network-policy" in tags
    assert ("admin" in tags) == (Tier.ADMIN in tiers)
    assert ("baseline" in tags) == (Tier.BASELINE in tiers)
    assert ("sctp" in tags) == (Protocol.SCTP in case.protocols)
    experimental = "destinationNamedPort" in text or "'nodes'" in text
    assert ("experimental" in tags) == experimental


# -- the upstream suite ------------------------------------------------------------------


def test_every_upstream_test_has_a_case_of_its_tier() -> None:
    assert len(UPSTREAM_ADMIN) == 16
    assert len(UPSTREAM_BASELINE) == 14
    covered: dict[str, list[str]] = {}
    for case in UPSTREAM_CASES:
        assert case.upstream.startswith("network-policy-api v0.3.1 conformance "), case.id
        covered.setdefault(upstream_name(case), []).append(case.id)
        assert "upstream-cnp" in case.tags
    assert set(covered) == {*UPSTREAM_ADMIN, *UPSTREAM_BASELINE}
    for name, ids in covered.items():
        tier = "admin" if name in UPSTREAM_ADMIN else "baseline"
        assert all(i.startswith(f"cnp.{tier}.") for i in ids), (name, ids)
        experimental = "NamedPort" in name or "NodePeers" in name
        for case_id in ids:
            assert ("experimental" in CNP_CASES[case_id].tags) == experimental, case_id


def test_the_doc_maps_every_upstream_test_to_its_cases() -> None:
    rows: dict[str, set[str]] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\| (CNP\w+)[^|]*\|[^|]*\| ([^|]+) \|", line)
        if match:
            rows[match.group(1)] = set(re.findall(r"`([a-z0-9.-]+)`", match.group(2)))
    expected: dict[str, set[str]] = {}
    for case in UPSTREAM_CASES:
        expected.setdefault(upstream_name(case), set()).add(case.id)
    assert rows == expected


# -- hand-checked cells ------------------------------------------------------------------


def test_rule_order_and_pass_within_the_admin_tier() -> None:
    """x's Admin ingress rules: z is matched by Accept, Deny and Pass in turn as the steps
    reorder them; Pass skips the rest of the tier and, with no NetworkPolicy and no
    Baseline, lands on the default allow. A Deny on 80 from y leaves 81 alone."""
    case = "cnp.admin.ingress.tcp-rule-order"
    first = cell(case, 0, "z/a", "x/a", "80/TCP")
    assert first.allowed
    assert decided(first.ingress) == ("Admin", "x-ingress-tcp", 3, "accept-z", "Accept")
    second = cell(case, 1, "z/a", "x/a", "80/TCP")
    assert not second.allowed
    assert decided(second.ingress) == ("Admin", "x-ingress-tcp", 3, "deny-z", "Deny")
    third = cell(case, 2, "z/a", "x/a", "80/TCP")
    assert third.allowed and not third.ignored
    assert third.ingress.decided_by is None
    assert [(r.name, r.action) for r in third.ingress.passed] == [("pass-z", Action.PASS)]
    assert third.ingress.reason == (
        "passed by Admin x-ingress-tcp (priority 3) ingress[0] 'pass-z'; "
        "no NetworkPolicy isolates the destination for ingress; no tier decides: allowed"
    )
    # y on 80: denied until the Pass is moved ahead of the Deny; 81 is never matched.
    for step in (0, 1, 2):
        assert not cell(case, step, "y/a", "x/a", "80/TCP").allowed
    assert cell(case, 3, "y/a", "x/a", "80/TCP").allowed
    assert all(cell(case, s, "y/a", "x/a", "81/TCP").allowed for s in range(4))
    # The subject's own namespace: accepted on 80, denied otherwise; egress untouched.
    own = cell(case, 0, "x/b", "x/a", "81/TCP")
    assert decided(own.ingress) == ("Admin", "x-ingress-tcp", 3, "deny-x", "Deny")
    assert cell(case, 0, "x/a", "y/a", "80/TCP").allowed


def test_admin_pass_goes_to_networkpolicy_and_then_to_baseline() -> None:
    """Admin → NetworkPolicy → Baseline: a Pass reaches x's NetworkPolicy (allowing y),
    and once it is deleted the Baseline Deny. Evaluating the Baseline before the
    NetworkPolicy, or treating Pass as Deny, turns step 2 denied."""
    case = "cnp.admin.pass-to-networkpolicy-then-baseline"
    denied = cell(case, 0, "y/a", "x/a", "80/TCP")
    assert not denied.allowed
    assert decided(denied.ingress) == ("Admin", "x-admin-versus-y", 10, "from-y", "Deny")
    passed = cell(case, 1, "y/a", "x/a", "80/TCP")
    assert passed.allowed
    assert passed.ingress.tier == "NetworkPolicy"
    assert passed.ingress.reason == (
        "passed by Admin x-admin-versus-y (priority 10) ingress[0] 'from-y'; "
        "NetworkPolicy tier: allowed by x/x-allows-y ingress[0]"
    )
    assert not cell(case, 1, "x/a", "y/a", "80/TCP").allowed  # egress still denied
    assert cell(case, 2, "x/a", "y/a", "80/TCP").allowed  # now passed too
    baseline = cell(case, 3, "y/a", "x/a", "80/TCP")
    assert not baseline.allowed
    assert decided(baseline.ingress) == (
        "Baseline",
        "x-baseline-versus-y",
        10,
        "from-y",
        "Deny",
    )
    assert [r.policy for r in baseline.ingress.passed] == ["x-admin-versus-y"]
    assert baseline.ingress.reason == (
        "passed by Admin x-admin-versus-y (priority 10) ingress[0] 'from-y'; "
        "no NetworkPolicy isolates the destination for ingress; "
        "Baseline x-baseline-versus-y (priority 10) ingress[0] 'from-y' denies it"
    )
    # z was never named by any tier; x's NetworkPolicy isolated x from it until step 4.
    assert not cell(case, 2, "z/a", "x/a", "80/TCP").allowed
    assert cell(case, 3, "z/a", "x/a", "80/TCP").allowed


def test_lower_priority_value_first_within_a_tier_never_across_tiers() -> None:
    """A Pass at 60 loses to a Deny at 50; moved to 40 it wins, and the Baseline's Accept
    (its own priority 10 irrelevant to the Admin tier) decides."""
    case = "cnp.admin.priority.lower-value-first"
    before = cell(case, 0, "y/a", "x/a", "80/TCP")
    assert not before.allowed
    assert decided(before.ingress) == ("Admin", "x-deny-y-at-50", 50, "from-y", "Deny")
    after = cell(case, 1, "y/a", "x/a", "80/TCP")
    assert after.allowed
    assert [(r.policy, r.priority) for r in after.ingress.passed] == [("x-pass-y", 40)]
    assert decided(after.ingress) == ("Baseline", "x-baseline-accept-y", 10, "from-y", "Accept")
    assert after.ingress.reason == (
        "passed by Admin x-pass-y (priority 40) ingress[0] 'from-y'; "
        "no NetworkPolicy isolates the destination for ingress; "
        "Baseline x-baseline-accept-y (priority 10) ingress[0] 'from-y' accepts it"
    )
    egress = cell(case, 1, "x/a", "y/a", "81/TCP")
    assert egress.allowed
    assert decided(egress.egress)[:2] == ("Baseline", "x-baseline-accept-y")
    for step in (0, 1):  # the Baseline's Deny of z holds throughout
        z = cell(case, step, "z/a", "x/a", "80/TCP")
        assert decided(z.ingress) == ("Baseline", "x-baseline-accept-y", 10, "from-z", "Deny")
    # Across tiers: an Admin Accept at 1000 beats a Baseline Deny at 0.
    tiers = "generated.cnp.priority.tier-beats-priority.ingress"
    admin = cell(tiers, 0, "y/a", "x/a", "80/TCP")
    assert admin.allowed
    assert decided(admin.ingress) == ("Admin", "accept-y-last", 1000, "accept-y", "Accept")
    baseline = cell(tiers, 0, "z/a", "x/a", "80/TCP")
    assert decided(baseline.ingress) == ("Baseline", "deny-y-z-first", 0, "deny-y-z", "Deny")


def test_a_networkpolicy_selecting_the_pod_overrides_the_baseline_for_its_direction() -> None:
    case = "generated.cnp.baseline-overridden-by-np.ingress"
    z_to_a = cell(case, 1, "z/a", "x/a", "80/TCP")  # the Baseline denied z: the NP allows
    assert cell(case, 0, "z/a", "x/a", "80/TCP").allowed is False
    assert z_to_a.allowed
    assert z_to_a.ingress.tier == "NetworkPolicy"
    assert z_to_a.ingress.reason == "NetworkPolicy tier: allowed by x/a-allows-z ingress[0]"
    assert not cell(case, 1, "y/a", "x/a", "80/TCP").allowed  # the Baseline accepted y
    y_to_b = cell(case, 1, "y/a", "x/b", "80/TCP")  # x/b: no NP, the Baseline decides
    assert decided(y_to_b.ingress) == ("Baseline", "accept-y-deny-rest", 10, "accept-y", "Accept")
    # A NetworkPolicy selecting x/a for egress only leaves its ingress to the Baseline.
    other = "generated.cnp.baseline-not-overridden-by-other-direction-np.ingress"
    kept = cell(other, 1, "y/a", "x/a", "81/TCP")
    assert not kept.allowed
    assert decided(kept.ingress) == ("Baseline", "deny-y", 10, "deny-y", "Deny")


def test_networks_cover_pod_ips_and_an_ip_denied_first_stays_out() -> None:
    everything = "generated.cnp.networks.deny-all-ipv4-includes-pods.egress"
    own = cell(everything, 0, "x/a", "x/b", "80/TCP")
    assert not own.allowed
    assert decided(own.egress) == ("Admin", "deny-ipv4", 10, "deny-ipv4", "Deny")
    assert cell(everything, 0, "x/a", "x/a", "80/TCP").allowed  # a pod to its own IP
    except_like = "generated.cnp.networks.deny-one-ip-before-accept-all.egress"
    assert not cell(except_like, 0, "x/a", "z/b", "80/TCP").allowed  # NP default deny
    out = cell(except_like, 1, "x/a", "z/a", "80/TCP")
    assert decided(out.egress) == ("Admin", "deny-z-a", 10, "deny-z-a", "Deny")
    opened = cell(except_like, 1, "x/a", "z/b", "80/TCP")
    assert opened.allowed
    assert decided(opened.egress) == ("Admin", "accept-ipv4", 20, "accept-ipv4", "Accept")


def test_nodes_peers_never_match_ordinary_pods() -> None:
    case = "cnp.admin.egress.node-peers-are-not-pods"
    crossing = cell(case, 0, "x/a", "x/b", "81/TCP")  # through the nodes Deny, unmatched
    assert crossing.allowed and not crossing.ignored
    assert crossing.egress.decided_by is None
    beside = cell(case, 0, "x/a", "z/a", "81/TCP")  # the namespaces peer beside the nodes
    assert decided(beside.egress) == ("Admin", "x-egress-nodes", 75, "deny-nodes-and-z-81", "Deny")
    ahead = cell(case, 0, "x/a", "y/a", "80/TCP")
    assert decided(ahead.egress) == ("Admin", "x-egress-nodes", 75, "deny-y", "Deny")
