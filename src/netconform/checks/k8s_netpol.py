"""NetworkPolicy on Kubernetes: a default-deny canary first (a platform that does not enforce
gets one finding and every case is skipped with that reason), then every catalogue case
(scenarios/netpol) bound to the run's namespaces, each step polled until the observed matrix
equals the oracle's or the deadline passes. A failed case carries expected, observed and
difference tables and the oracle's explanation of each wrong cell; a mismatch that a known
legitimate profile (e.g. ipBlock not matching pod IPs) explains passes into the profile."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from netconform.checks.base import CATALOGUE, CheckSpec, Outcome, Polled, poll
from netconform.checks.k8s_common import NOT_CATCHABLE, Cell, observe
from netconform.k8s.context import KubeCheckContext
from netconform.k8s.netpol_binding import NetpolBinding
from netconform.k8s.plan import netpol_binding
from netconform.netpol.catalogue import (
    Case,
    CreatePolicy,
    DeleteAllPolicies,
    DeletePolicy,
    ResolvedStep,
    UpdatePolicy,
    load_catalogue,
    substitute_ips,
)
from netconform.netpol.model import Cluster, Protocol
from netconform.netpol.oracle import Probe as NetpolProbe
from netconform.netpol.oracle import ProbeVerdict, Profile
from netconform.netpol.render import truth_tables, verdict_json
from netconform.probes.model import ProbeKind
from netconform.results import Area
from netconform.vocab import Family

SPEC = "https://kubernetes.io/docs/concepts/services-networking/network-policies/"
CANARY_ID = "k8s.netpol.enforcement"
# Profiles where CNIs legitimately differ, tried when the default expectation is not met.
ALTERNATIVE_PROFILES = {"ipblock-does-not-match-pods": Profile(ipblock_matches_pods=False)}
PROBE_KIND = {Protocol.TCP: ProbeKind.TCP, Protocol.UDP: ProbeKind.UDP}


@dataclass(frozen=True)
class Enforcement:
    enforced: bool
    reason: str
    took_s: float | None


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
        probe = ctx.probe(PROBE_KIND[p.protocol], ips[p.destination], port=p.port)
        cells[p] = Cell(src, probe, str(p))
    return cells


def _observe(ctx: KubeCheckContext, cells: Mapping[NetpolProbe, Cell]) -> dict[NetpolProbe, bool]:
    seen = observe(ctx, list(cells.values()))
    return {p: seen[c.label].ok for p, c in cells.items()}


def check_enforcement(ctx: KubeCheckContext) -> Enforcement:
    """Once per run: x/b reachable from x/a, then a default-deny ingress in x must stop it."""
    if "netpol_enforcement" in ctx.findings:
        found: Enforcement = ctx.findings["netpol_enforcement"]
        return found
    binding = netpol_binding(ctx.spec)
    ns = binding.real("x")
    src, dst = ctx.pod(ns, "a"), ctx.pod(ns, "b")
    probe = NetpolProbe("x/a", "x/b", 80, Protocol.TCP)
    cells = _cells(ctx, binding, [probe], {"x/b": dst.ip})
    deadline = ctx.params.netpol_deadline_s
    before = poll(lambda: _observe(ctx, cells)[probe], bool, deadline, ctx.params.poll_interval_s)
    if not before.held:
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
            after = poll(
                lambda: not _observe(ctx, cells)[probe], bool, deadline, ctx.params.poll_interval_s
            )
        finally:
            ctx.delete_policy(ns, "netconform-canary")
        if after.held:
            result = Enforcement(
                True, f"default-deny ingress took effect in {after.elapsed_s:.1f}s", after.elapsed_s
            )
        else:
            result = Enforcement(
                False,
                f"the platform does not enforce NetworkPolicy: a default-deny ingress "
                f"policy left {dst.key}:80 reachable for {deadline:.0f}s",
                None,
            )
    ctx.findings["netpol_enforcement"] = result
    return result


@CATALOGUE.register(
    CheckSpec(
        CANARY_ID,
        Area.NETPOL,
        "Default-deny canary: the platform enforces NetworkPolicy",
        SPEC + "#default-deny-all-ingress-traffic",
        Family.KUBERNETES,
        frozenset({"networkpolicy"}),
        not_catchable=NOT_CATCHABLE,
    )
)
def enforcement(ctx: KubeCheckContext) -> Outcome:
    found = check_enforcement(ctx)
    measurements = {"took_effect_s": found.took_s} if found.took_s is not None else {}
    if found.enforced:
        return Outcome.passed(found.reason, measurements=measurements)
    return Outcome.failed(
        found.reason, expected="denied after the policy", observed="still allowed"
    )


def _sync_labels(
    ctx: KubeCheckContext, binding: NetpolBinding, before: Cluster | None, after: Cluster
) -> None:
    """Make the real labels equal the model's where the step changed them."""
    for ns in after.namespaces:
        if before is None or before.namespace(ns.name).labels != ns.labels:
            ctx.set_namespace_labels(binding.real(ns.name), binding.real_namespace_labels(ns))
    for pod in after.pods:
        if before is None or before.pod(pod.key).labels != pod.labels:
            ctx.set_pod_labels(binding.real(pod.namespace), pod.name, dict(pod.labels))


def _apply(
    ctx: KubeCheckContext, binding: NetpolBinding, step: ResolvedStep, before: Cluster
) -> None:
    for action in step.step.actions:
        if isinstance(action, CreatePolicy | UpdatePolicy):
            ctx.apply_policy(binding.policy(substitute_ips(action.manifest, step.cluster)))
        elif isinstance(action, DeletePolicy):
            ctx.delete_policy(binding.real(action.namespace), action.name)
        elif isinstance(action, DeleteAllPolicies):
            for real in binding.namespaces.values():
                ctx.delete_all_policies(real)
    if before is not step.cluster:
        _sync_labels(ctx, binding, before, step.cluster)


def _compared(verdicts: Sequence[ProbeVerdict]) -> list[ProbeVerdict]:
    return [v for v in verdicts if not v.ignored]


def _wrong(
    expected: Sequence[ProbeVerdict], observed: Mapping[NetpolProbe, bool]
) -> list[ProbeVerdict]:
    return [v for v in _compared(expected) if observed[v.probe] != v.allowed]


def _step_report(
    name: str, expected: list[ProbeVerdict], observed: Mapping[NetpolProbe, bool]
) -> dict[str, Any]:
    seen = [replace(v, allowed=observed[v.probe]) for v in expected]
    diff = [replace(v, allowed=observed[v.probe] == v.allowed) for v in expected]
    return {
        "step": name,
        "expected": truth_tables(expected, "expected"),
        "observed": truth_tables(seen, "observed"),
        "difference": truth_tables(diff, "difference (X = wrong)"),
        "wrong": [
            {**verdict_json(v), "observed": observed[v.probe]} for v in _wrong(expected, observed)
        ],
    }


def _poll_step(
    ctx: KubeCheckContext, cells: Mapping[NetpolProbe, Cell], expected: Sequence[ProbeVerdict]
) -> Polled[dict[NetpolProbe, bool]]:
    """Until the observed matrix equals the expected one: the elapsed time is how long the
    step's policies took to take effect."""
    return poll(
        lambda: _observe(ctx, cells),
        lambda seen: not _wrong(expected, seen),
        ctx.params.netpol_deadline_s,
        ctx.params.poll_interval_s,
    )


def run_case(ctx: KubeCheckContext, case: Case) -> Outcome:
    binding = netpol_binding(ctx.spec)
    ips = {key: ctx.pod(binding.real(key.split("/")[0]), key.split("/")[1]).ip for key in case.pods}
    initial = binding.model(case, ips)
    resolved = case.resolve(initial)
    took: list[float] = []
    profile_used: dict[str, str] = {}
    try:
        before = initial
        for step in resolved.steps:
            _apply(ctx, binding, step, before)
            before = step.cluster
            expected = step.expected()
            cells = _cells(ctx, binding, [v.probe for v in expected], ips)
            polled = _poll_step(ctx, cells, expected)
            took.append(round(polled.elapsed_s, 3))
            if polled.held:
                continue
            for label, profile in ALTERNATIVE_PROFILES.items():
                if not _wrong(step.expected(profile), polled.value):
                    profile_used[step.step.name] = label
                    break
            else:
                report = _step_report(step.step.name, expected, polled.value)
                wrong = report["wrong"]
                first = wrong[0]
                cell = f"{first['from']} -> {first['to']} {first['port']}/{first['protocol']}"
                want = "allowed" if first["allowed"] else "denied"
                return Outcome.failed(
                    f"step {step.step.name!r}: {len(wrong)} of {len(_compared(expected))} cells "
                    f"differ after {polled.elapsed_s:.1f}s, e.g. {cell}: expected {want} "
                    f"({first['reason']})",
                    expected=report["expected"],
                    observed=report,
                    measurements={"took_effect_s": took},
                )
    finally:
        for real in binding.namespaces.values():
            ctx.delete_all_policies(real)
        _sync_labels(ctx, binding, None, initial)
    measurements: dict[str, Any] = {"took_effect_s": took, "steps": len(resolved.steps)}
    if profile_used:
        measurements["profile"] = profile_used
        return Outcome.passed(
            f"matches the oracle under the platform profile {sorted(set(profile_used.values()))}",
            measurements=measurements,
        )
    return Outcome.passed(
        f"{len(resolved.steps)} step(s) matched the oracle", measurements=measurements
    )


def _register_case(case: Case) -> None:
    requires = {"networkpolicy"} | ({"sctp"} if Protocol.SCTP in case.protocols else set())
    spec = CheckSpec(
        f"k8s.netpol.{case.id}",
        Area.NETPOL,
        case.title,
        SPEC,
        Family.KUBERNETES,
        frozenset(requires),
        not_catchable=NOT_CATCHABLE,
    )

    def run(ctx: KubeCheckContext, case: Case = case) -> Outcome:
        canary = check_enforcement(ctx)
        if not canary.enforced:
            return Outcome.skipped(f"{canary.reason} (see {CANARY_ID})")
        return run_case(ctx, case)

    CATALOGUE.register(spec)(run)


for _case in load_catalogue():
    _register_case(_case)
