"""NetworkPolicy on Kubernetes: a default-deny canary first (a platform that does not enforce
gets one finding and every case is skipped with that reason), then every catalogue case
(scenarios/netpol) bound to the run's namespaces, each step polled until the observed matrix
equals the oracle's or the deadline passes. A failed case carries its typed report
(results.NetpolReport): expected and observed tables and the oracle's explanation of each
wrong cell; a mismatch that a known legitimate profile (e.g. ipBlock not matching pod IPs)
explains passes as a profile result. A cell whose probe did not run is an error cell: the
case is an error naming it (with the argv that re-runs it), never a deny that passes.

This module judges a case; `k8s.netpol_runner` decides when and in which lane it runs (the
context's run_state.netpol), and a case check records the time its case took there."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from netconform import aspects
from netconform.checks.base import CATALOGUE, Outcome, Polled, poll
from netconform.checks.grid import observe
from netconform.checks.k8s_common import Cell, spec
from netconform.checks.netpol_report import (
    Observed,
    cell_value,
    compared,
    errors,
    expected_value,
    step_report,
    wrong,
)
from netconform.errors import InputError, file_field_error
from netconform.k8s.context import KubeCheckContext
from netconform.k8s.netpol_binding import NetpolBinding
from netconform.k8s.plan import netpol_binding
from netconform.k8s.run_state import Enforcement
from netconform.k8s.workloads import NETPOL_PORTS
from netconform.netpol.catalogue import (
    CLUSTER_DNS,
    Case,
    CaseSelection,
    CreatePolicy,
    DeleteAllPolicies,
    DeletePolicy,
    ResolvedStep,
    UpdatePolicy,
    case_manifest,
    load_catalogue,
)
from netconform.netpol.cluster_policy import ClusterNetworkPolicy
from netconform.netpol.manifest import parse_manifest
from netconform.netpol.model import Cluster, Protocol
from netconform.netpol.oracle import Probe as NetpolProbe
from netconform.netpol.oracle import ProbeVerdict, Profile
from netconform.netpol.policy import Direction
from netconform.options import RunOptions
from netconform.probes.model import ProbeKind
from netconform.results import Area, CellValue, Measure, NetpolReport, NetpolStep
from netconform.vocab import Capability

SPEC = "https://kubernetes.io/docs/concepts/services-networking/network-policies/"
CLUSTER_SPEC = "https://network-policy-api.sigs.k8s.io/api-overview/"


def spec_of(case: Case) -> str:
    return CLUSTER_SPEC if case.writes_cluster_policies else SPEC


CANARY_ID = "k8s.netpol.enforcement"
# Profiles where CNIs legitimately differ, tried when the default expectation is not met.
ALTERNATIVE_PROFILES = {
    "ipblock-does-not-match-pods": Profile(ipblock_matches_pods=False),
    "cnp-networks-do-not-match-pods": Profile(networks_match_pods=False),
}
PROBE_KIND = {Protocol.TCP: ProbeKind.TCP, Protocol.UDP: ProbeKind.UDP}
# Cases testing what another family tests by other means share that aspect.
SHARED_ASPECTS = {
    # Swarm overlays are segments by default; a namespace is one under this policy.
    "upstream.tcp.deny-ingress-from-other-namespaces": "isolation.segments.cross-segment",
    # Swarm's --internal overlay has no way out; a pod whose egress is its namespace neither.
    "generated.peers.egress.empty-pod-selector": "isolation.internal.no-egress",
}


def _cells(
    ctx: KubeCheckContext,
    binding: NetpolBinding,
    probes: Sequence[NetpolProbe],
    ips: Mapping[str, str],
) -> dict[NetpolProbe, Cell]:
    cells = {}
    for p in probes:
        ns, pod = p.source.split("/")
        src = ctx.pod(binding.real(ns), pod)
        if p.destination == CLUSTER_DNS:
            # The DNS server answers queries, not the agent's echo: a query over the cell's
            # transport, to that pod's IP, for a name it serves itself.
            probe = ctx.probe(
                ProbeKind.DNS,
                f"kubernetes.default.svc.{ctx.spec.cluster_domain}",
                port=p.port,
                server=ips[p.destination],
                transport=p.protocol.lower(),
            )
        else:
            probe = ctx.probe(PROBE_KIND[p.protocol], ips[p.destination], port=p.port)
        cells[p] = Cell(src, probe, str(p))
    return cells


def _observe(ctx: KubeCheckContext, cells: Mapping[NetpolProbe, Cell]) -> Observed:
    seen = observe(ctx, list(cells.values()))
    return {p: seen[c.label] for p, c in cells.items()}


# When a step's last observation at its deadline is wrong, its disagreeing cells alone are
# probed again, this many times, before the step fails: one lost SYN in a 288-cell matrix on
# a loaded machine is not a policy (real Cilium: 3 of 288 cells no policy selected timed out
# in a step's last observation). Only then, so the time a change took to take effect is
# still that of a whole matrix matching; the rest of the matrix is from the last observation.
CELL_RETRIES = 2


def _reprobe_stragglers(
    ctx: KubeCheckContext,
    cells: Mapping[NetpolProbe, Cell],
    expected: Sequence[ProbeVerdict],
    polled: Polled[Observed],
    applied: float,
) -> Polled[Observed]:
    seen = dict(polled.value)
    if not wrong(expected, seen):  # already what `expected` says (an alternative's)
        return Polled(seen, True, polled.attempts, polled.elapsed_s, polled.began_s)
    for retry in range(1, CELL_RETRIES + 1):
        disagreeing = {v.probe: cells[v.probe] for v in wrong(expected, seen)}
        began = time.monotonic() - applied
        seen.update(_observe(ctx, disagreeing))
        if not wrong(expected, seen):
            ended = time.monotonic() - applied
            return Polled(seen, True, polled.attempts + retry, ended, began)
    return polled


def _canary_poll(
    ctx: KubeCheckContext,
    cells: Mapping[NetpolProbe, Cell],
    probe: NetpolProbe,
    want: CellValue,
    since: float | None = None,
) -> Polled[CellValue]:
    return poll(
        lambda: cell_value(_observe(ctx, cells)[probe]),
        lambda value: value == want,
        ctx.params.netpol_deadline_s,
        ctx.params.poll_interval_s,
        since=since,
    )


def _undecided(what: str) -> Enforcement:
    return Enforcement(False, f"canary: {what}: the probe did not run", None, undecided=True)


def check_enforcement(ctx: KubeCheckContext) -> Enforcement:
    """Once per run: x/b reachable from x/a, then a default-deny ingress in x must stop it."""
    if ctx.run_state.enforcement is not None:
        return ctx.run_state.enforcement
    binding = netpol_binding(ctx.spec)
    ns = binding.real("x")
    src, dst = ctx.pod(ns, "a"), ctx.pod(ns, "b")
    probe = NetpolProbe("x/a", "x/b", 80, Protocol.TCP)
    cells = _cells(ctx, binding, [probe], {"x/b": dst.ip})
    deadline = ctx.params.netpol_deadline_s
    before = _canary_poll(ctx, cells, probe, CellValue.ALLOW)
    if before.value == CellValue.ERROR:
        result = _undecided(f"{src.key} -> {dst.key}:80 before any policy")
    elif not before.held:
        result = Enforcement(
            False, f"canary: {src.key} cannot reach {dst.key}:80 even without policies", None
        )
    else:
        deny = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "netconform-canary", "namespace": ns},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
        }
        ctx.apply_policy(deny)
        try:
            after = _canary_poll(ctx, cells, probe, CellValue.DENY, since=time.monotonic())
        finally:
            ctx.delete_policy(ns, "netconform-canary")
        if after.held:
            took = after.began_s  # as for a case's step: see took_effect_s
            result = Enforcement(True, f"default-deny ingress took effect in {took:.1f}s", took)
        elif after.value == CellValue.ERROR:
            result = _undecided(f"{src.key} -> {dst.key}:80 under a default-deny ingress")
        else:
            result = Enforcement(
                False,
                f"the platform does not enforce NetworkPolicy: a default-deny ingress "
                f"policy left {dst.key}:80 reachable for {deadline:.0f}s",
                None,
            )
    ctx.run_state.enforcement = result
    return result


@CATALOGUE.register(
    spec(
        CANARY_ID,
        Area.NETPOL,
        "netpol.default-deny.canary",
        "Default-deny canary: whether the platform enforces NetworkPolicy",
        SPEC + "#default-deny-all-ingress-traffic",
    )
)
def enforcement(ctx: KubeCheckContext) -> Outcome:
    """Runs on every platform: a platform that declares NetworkPolicy support and does not
    enforce it fails; one that declares none gets the measured fact as one profile finding,
    and its NetworkPolicy cases are not applicable (skipped, pointing here)."""
    found = check_enforcement(ctx)
    if found.undecided:
        return Outcome.errored(found.reason)
    if found.enforced:
        assert found.took_s is not None
        return Outcome.passed(
            found.reason,
            measurements={Measure.ENFORCED: True, Measure.TOOK_EFFECT_S: found.took_s},
        )
    declared = ctx.capabilities.why_missing(frozenset({Capability.NETWORKPOLICY}))
    if declared is None:
        return Outcome.failed(
            found.reason,
            expected="denied after the policy",
            observed="still allowed",
            measurements={Measure.ENFORCED: False},
        )
    return Outcome.passed(
        f"no enforcement: {found.reason} (as the platform declares: {declared})",
        expected="denied after the policy",
        observed="still allowed",
        measurements={Measure.ENFORCED: False},
        profile=True,
    )


def _sync_labels(
    ctx: KubeCheckContext, binding: NetpolBinding, before: Cluster | None, after: Cluster
) -> None:
    """Make the real labels equal the model's where the step changed them (only of what
    the run made: the cluster DNS pod and kube-system are the cluster's)."""
    for ns in after.namespaces:
        if not binding.owns_namespace(ns.name):
            continue
        if before is None or before.namespace(ns.name).labels != ns.labels:
            ctx.set_namespace_labels(binding.real(ns.name), binding.real_namespace_labels(ns))
    for pod in after.pods:
        if not binding.owns_namespace(pod.namespace):
            continue
        if before is None or before.pod(pod.key).labels != pod.labels:
            ctx.set_pod_labels(binding.real(pod.namespace), pod.name, binding.real_pod_labels(pod))


def _delete_lane_policies(ctx: KubeCheckContext, binding: NetpolBinding) -> None:
    """Every policy of the lane: NetworkPolicies in its namespaces, its cluster-scoped ones."""
    for real in binding.namespaces.values():
        ctx.delete_all_policies(real)
    ctx.delete_cluster_policies(binding.cluster_policy_selector)


def _apply(
    ctx: KubeCheckContext, binding: NetpolBinding, step: ResolvedStep, before: Cluster
) -> None:
    for action in step.step.actions:
        if isinstance(action, CreatePolicy | UpdatePolicy):
            ctx.apply_policy(binding.policy(case_manifest(action.manifest, step.cluster)))
        elif isinstance(action, DeletePolicy) and action.cluster_scoped:
            ctx.delete_policy("", binding.cluster_policy_name(action.name))
        elif isinstance(action, DeletePolicy):
            ctx.delete_policy(binding.real(action.namespace), action.name)
        elif isinstance(action, DeleteAllPolicies):
            _delete_lane_policies(ctx, binding)
    if before is not step.cluster:
        _sync_labels(ctx, binding, before, step.cluster)


def _poll_step(
    ctx: KubeCheckContext,
    cells: Mapping[NetpolProbe, Cell],
    expected: Sequence[ProbeVerdict],
    applied: float,
    deadline_s: float,
) -> Polled[Observed]:
    """Until the observed matrix equals the expected one, counted from `applied` (when the
    API server had accepted the step's last change). Twice at least: a first observation
    that lasted the whole deadline (a loaded machine, many denied probes waiting out their
    timeouts) began before the change could take effect, and cannot tell a slow data plane
    from a wrong one (found on Cilium: 11 cases failed on one such observation)."""
    return poll(
        lambda: _observe(ctx, cells),
        lambda seen: not wrong(expected, seen),
        deadline_s,
        ctx.params.poll_interval_s,
        since=applied,
        min_attempts=2,
    )


def label_change_s(ctx: KubeCheckContext) -> float:
    """How much longer than the scenario's deadline the CNI takes, by design, to apply a
    label change (its profile's netpol_timing; 0 for a platform without a profile)."""
    return ctx.facts.label_change_s


def mark_relabelled(ctx: KubeCheckContext, binding: NetpolBinding, at: float) -> None:
    """The lane's labels changed at `at`: until the CNI's label-change time has passed, its
    steps may see the old labels (Cilium: a pod waiting for its new identity applies no
    policy change either, so a policy step right after a relabel waits too)."""
    ctx.run_state.label_settles.mark(binding, at + label_change_s(ctx))


def step_deadline_s(ctx: KubeCheckContext, binding: NetpolBinding, applied: float) -> float:
    """The step's deadline, from `applied`: the scenario's, and at least until the lane's
    last label change has had the CNI's label-change time (a relabelling step, the steps
    after it, and the case after one, whose put-back labels settle)."""
    deadline = ctx.params.netpol_deadline_s
    settles_at = ctx.run_state.label_settles.settles_at(binding)
    return max(deadline, settles_at - applied + deadline)


def took_effect_s(polled: Polled[Observed]) -> float:
    """How long the step's change took to show in the data plane: from its apply to the
    start of the first observation that matched the oracle (what that observation saw was
    in effect when it began; the one before, which did not match, began one observation and
    one interval earlier: the resolution). A step that never held: until the deadline."""
    return polled.began_s if polled.held else polled.elapsed_s


def _step_outcome(step: NetpolStep, expected: list[ProbeVerdict]) -> Outcome:
    """The verdict of a case stopped at a step that did not hold."""
    total = len(compared(expected))
    if step.errors:
        first = step.errors[0]
        return Outcome.errored(
            f"step {step.name!r}: {len(step.errors)} of {total} cells could not be probed, "
            f"e.g. {first.cell}: {first.reason}"
        )
    labels = step.difference()
    first_label = labels[0]
    verdict = next(v for v in expected if str(v.probe) == first_label)
    want = "allowed" if expected_value(verdict) == CellValue.ALLOW else "denied"
    return Outcome.failed(
        f"step {step.name!r}: {len(labels)} of {total} cells differ after "
        f"{step.took_effect_s:.1f}s, e.g. {first_label}: expected {want} ({verdict.reason})"
    )


def run_case(ctx: KubeCheckContext, case: Case, binding: NetpolBinding | None = None) -> Outcome:
    """One case in one lane (default lane 0): each step applied, then polled until the
    observed matrix equals the oracle's; policies and labels put back however it ends."""
    binding = binding or netpol_binding(ctx.spec)
    ips = {
        key: ctx.pod(binding.real(key.split("/")[0]), key.split("/")[1]).ip
        for key in case.model_pods
    }
    dns = ctx.cluster_dns() if case.uses_cluster_dns else None
    if dns is not None:
        ips[CLUSTER_DNS] = dns.ip
    initial = binding.model(case, ips, dns)
    resolved = case.resolve(initial)
    steps: list[NetpolStep] = []
    stopped: Outcome | None = None
    relabelled = False
    try:
        before = initial
        for step in resolved.steps:
            # Everything the observations need is ready before the change, so the clock
            # that measures how long it takes to apply starts right after it.
            expected = step.expected()
            cells = _cells(ctx, binding, [v.probe for v in expected], ips)
            changes_labels = before is not step.cluster
            relabelled = relabelled or changes_labels
            _apply(ctx, binding, step, before)
            applied = time.monotonic()
            before = step.cluster
            if changes_labels:
                mark_relabelled(ctx, binding, applied)
            deadline = step_deadline_s(ctx, binding, applied)
            polled = _poll_step(ctx, cells, expected, applied, deadline)
            if not polled.held:
                polled = _reprobe_stragglers(ctx, cells, expected, polled, applied)
            profile = ""
            if not polled.held and not errors(expected, polled.value):
                # A profile's expectation gets the same re-probe of stragglers as the
                # default's: one cell lost once must not turn a divergence into a failure.
                for label, alternative in ALTERNATIVE_PROFILES.items():
                    judged = _reprobe_stragglers(
                        ctx, cells, step.expected(alternative), polled, applied
                    )
                    if judged.held:
                        profile = label
                        polled = replace(judged, held=False)  # held: the default expectation
                        break
            report = step_report(
                step.step.name,
                polled.held,
                took_effect_s(polled),
                polled.attempts,
                expected,
                polled.value,
                profile,
                changes_labels,
            )
            steps.append(report)
            if not polled.held and not profile:
                stopped = _step_outcome(report, expected)
                break
    finally:
        _delete_lane_policies(ctx, binding)
        _sync_labels(ctx, binding, None, initial)
        if relabelled:
            # the labels put back are themselves a change the next case in this lane waits for
            mark_relabelled(ctx, binding, time.monotonic())
    netpol = NetpolReport(case.id, tuple(steps))
    measurements: dict[Measure, Any] = {
        Measure.TOOK_EFFECT_S: round(max(s.took_effect_s for s in steps), 3),
        Measure.STEPS: len(resolved.steps),
    }
    if stopped is not None:
        return Outcome(stopped.verdict, stopped.reason, measurements=measurements, netpol=netpol)
    profiles = sorted({s.profile for s in steps if s.profile})
    if profiles:
        return Outcome.passed(
            f"matches the oracle under the platform profile {profiles}",
            measurements=measurements,
            profile=True,
            netpol=netpol,
        )
    return Outcome.passed(
        f"{len(resolved.steps)} step(s) matched the oracle",
        measurements=measurements,
        netpol=netpol,
    )


def _cluster_policies(case: Case) -> list[ClusterNetworkPolicy]:
    model = case.model()
    return [
        policy
        for step in case.steps
        for a in step.actions
        if isinstance(a, CreatePolicy | UpdatePolicy)
        and isinstance(
            policy := parse_manifest(case_manifest(a.manifest, model)), ClusterNetworkPolicy
        )
    ]


def cluster_policy_requirements(case: Case) -> set[Capability]:
    """A case that writes a ClusterNetworkPolicy needs the API; one using its experimental
    channel (nodes or domainNames peers, named ports) needs a CRD that admits them."""
    policies = _cluster_policies(case)
    deletes = any(
        isinstance(a, DeletePolicy) and a.cluster_scoped for s in case.steps for a in s.actions
    )
    if not policies and not deletes:
        return set()
    rules = [r for p in policies for d in Direction for r in p.rules(d)]
    experimental = any(peer.unsupported for r in rules for peer in r.peers) or any(
        isinstance(port.port, str) for r in rules for port in r.ports
    )
    if experimental:
        return {Capability.CLUSTER_NETWORK_POLICY, Capability.CLUSTER_NETWORK_POLICY_EXPERIMENTAL}
    return {Capability.CLUSTER_NETWORK_POLICY}


def check_id(case: Case) -> str:
    return f"k8s.netpol.{case.id}"


def _register_case(case: Case, builtin: bool = True) -> None:
    # No NetworkPolicy requirement: the canary decides (measured, not declared), once.
    requires: set[Capability] = set()
    if Protocol.SCTP in case.protocols:
        requires.add(Capability.SCTP)
    requires |= cluster_policy_requirements(case)
    if builtin:
        aspect = SHARED_ASPECTS.get(case.id, aspects.netpol_case(case))
    else:
        aspect = aspects.add_netpol_case(case)

    def run(ctx: KubeCheckContext, case: Case = case) -> Outcome:
        canary = check_enforcement(ctx)
        if canary.undecided:
            return Outcome.errored(f"{canary.reason} (see {CANARY_ID})")
        if not canary.enforced:
            return Outcome.skipped(f"not applicable: {canary.reason} (see {CANARY_ID})")
        runner = ctx.run_state.netpol

        def judge(case: Case, lane: NetpolBinding) -> Outcome:
            return run_case(ctx, case, lane)

        runner.start(_planned_cases(ctx), judge)  # the first case starts the planned ones
        # planned: its outcome once it finished in its lane; else it runs now, in this thread
        ran = runner.result(case, judge)
        if ran.error is not None:
            error = f"{type(ran.error).__name__}: {ran.error}"
            return Outcome.errored(error, duration_s=ran.duration_s)
        assert ran.outcome is not None
        return replace(ran.outcome, duration_s=ran.duration_s)  # its own time, not the wait

    _CASES[case.id] = case

    CATALOGUE.register(
        spec(
            check_id(case),
            aspects.case_area(case),
            aspect,
            case.title,
            spec_of(case),
            frozenset(requires),
        )
    )(run)


# The case of every registered case check, by case id.
_CASES: dict[str, Case] = {}


def _runnable(ctx: KubeCheckContext, check_id_: str) -> Case | None:
    """The case of a planned check that will run here (a case whose capabilities the
    platform has), else None."""
    case = _CASES.get(check_id_.removeprefix("k8s.netpol."))
    if not check_id_.startswith("k8s.netpol.") or case is None:
        return None
    try:
        requires = CATALOGUE.get(check_id_).spec.requires
    except InputError:
        return None
    return case if ctx.capabilities.why_missing(requires) is None else None


def _planned_cases(ctx: KubeCheckContext) -> list[Case]:
    """The cases of the checks this process will run, in plan order."""
    return [c for i in ctx.run_state.planned if (c := _runnable(ctx, i))]


BUILTIN = tuple(load_catalogue())
for _case in BUILTIN:
    _register_case(_case)


def _servable(case: Case) -> None:
    """A case's pods on a cluster serve what netpol_objects deploys: no other port."""
    extra = sorted(set(case.ports) - set(NETPOL_PORTS))
    if extra:
        served = " and ".join(str(p) for p in NETPOL_PORTS)
        raise file_field_error(
            case.source, f"{case.id}.ports", f"{extra[0]}: the run's pods serve {served} only"
        )


def use_run_options(options: RunOptions) -> None:
    """The registry's hook: the run's --netpol-cases selection."""
    if options.netpol_cases.directory is not None:
        use_cases(options.netpol_cases)


def use_cases(selection: CaseSelection) -> list[Case]:
    """Make the catalogue's NetworkPolicy cases the run's selection: the user's cases
    registered (their expectations, like every case's, come from the oracle), the built-in
    ones dropped when the user's replace them. Idempotent: the CLI and then each pytest
    process call it with the same selection."""
    user = selection.user_cases()
    for case in user:
        _servable(case)
    if not selection.with_catalogue:
        for case in BUILTIN:
            CATALOGUE.unregister(check_id(case))
            _CASES.pop(case.id, None)
    for case in user:
        CATALOGUE.unregister(check_id(case))
        _register_case(case, builtin=False)
    return user
