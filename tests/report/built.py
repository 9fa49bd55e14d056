"""Runs built with the results types themselves (CheckResult, NetpolReport, ProbeResult), for
the report's unit tests: every field is one the types define, so a renamed field breaks
here, not silently in the report. The golden fixtures in data/ are the real checks' output."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from netconform.aspects import STATIC
from netconform.probes.model import Connectivity, ProbeResult
from netconform.results import (
    Area,
    CellError,
    CellValue,
    CheckResult,
    JSONValue,
    Measure,
    NetpolReport,
    NetpolStep,
    RunResults,
    TruthTable,
    Verdict,
    write_results,
)
from netconform.vocab import Family

STARTED = "2025-11-25T02:00:00+00:00"
REPRODUCE = ("kubectl", "exec", "-n", "nc-x", "b", "--", "python3", "-c", "<agent>")


def check(
    check_id: str,
    aspect: str,
    verdict: Verdict = Verdict.PASS,
    *,
    family: Family = Family.SWARM,
    reason: str = "",
    measurements: Mapping[Measure, JSONValue] | None = None,
    profile: bool = False,
    netpol: NetpolReport | None = None,
    observed: JSONValue = None,
    area: Area | None = None,
) -> CheckResult:
    known = STATIC.get(aspect)
    return CheckResult(
        id=check_id,
        area=area or (known.area if known else Area(aspect.split(".", maxsplit=1)[0])),
        title=f"{check_id} title",
        verdict=verdict,
        reason=reason or f"{verdict}: {check_id}",
        duration_s=1.5,
        observed=observed,
        measurements={str(k): v for k, v in (measurements or {}).items()},
        aspect=aspect,
        family=family,
        profile=profile,
        netpol=netpol,
    )


k8s = functools.partial(check, family=Family.KUBERNETES)


def run(
    platform: str,
    checks: Sequence[CheckResult],
    *,
    complete: bool = True,
    minutes: int = 7,
    info: Mapping[str, JSONValue] | None = None,
) -> RunResults:
    return RunResults(
        platform=platform,
        platform_info=dict(info or {"kernel": "6.1.0-27-amd64"}),
        started=STARTED,
        finished=f"2025-11-25T02:{minutes:02d}:00+00:00" if complete else None,
        checks=tuple(checks),
        complete=complete,
    )


def write_run(root: Path, results: RunResults, name: str | None = None) -> Path:
    run_dir = root / (name or results.platform)
    write_results(run_dir / "results.json", results)
    return run_dir


A, D = CellValue.ALLOW, CellValue.DENY


def named_port_report(*, held: bool = False, error: bool = True) -> NetpolReport:
    """A NetworkPolicy case whose second step did not hold: z/a should be denied to x/a and
    is allowed; z/b -> x/a did not run (agent crash) and shows as an error, not a deny."""
    sources = ("x/a", "z/a", "z/b")
    destinations = ("x/a", "y/a")
    expected = ((A, A), (D, A), (D, A))
    observed = ((A, A), (A, A), (CellValue.ERROR if error else D, A))
    table = TruthTable(80, "TCP", sources, destinations, expected, observed)
    errors = (
        (CellError(table.label("z/b", "x/a"), "probe failed to run: agent crashed", REPRODUCE),)
        if error
        else ()
    )
    return NetpolReport(
        case="upstream.named-port",
        steps=(
            NetpolStep("step 1", True, 1.2, 3, ()),
            NetpolStep(
                "step 2",
                held,
                30.0 if not held else 2.5,
                12,
                (table,),
                explanations={
                    table.label("z/a", "x/a"): "ingress: namespace z matches no rule of x/deny",
                },
                errors=errors,
            ),
        ),
    )


def held_report(*seconds: float) -> NetpolReport:
    return NetpolReport(
        case="upstream.default-deny",
        steps=tuple(NetpolStep(f"step {i}", True, s, 2, ()) for i, s in enumerate(seconds, 1)),
    )


def probe_json(target: str, outcome: Connectivity) -> dict[str, JSONValue]:
    """A probe as a check puts it into `observed`: the ProbeResult's own JSON."""
    ok = outcome is Connectivity.CONNECTED
    return ProbeResult(
        "p1",
        "tcp",
        target,
        ok,
        None if ok else "no result: agent printed no result",
        0.3 if ok else None,
        outcome=outcome,
        reproduce=("docker", "exec", "nc-probe.1", "python3", "-c", "<agent>"),
    ).to_json()


def failed_probe(target: str) -> dict[str, JSONValue]:
    return probe_json(target, Connectivity.FAILED)


def passed_probe(target: str) -> dict[str, JSONValue]:
    return probe_json(target, Connectivity.CONNECTED)


M = Measure
CROSS_HOST = "reachability.pod-to-pod.cross-host.tcp"
HAIRPIN = "reachability.hairpin"
NAMED_PORT = "netpol.case.upstream.named-port"
CANARY = "netpol.default-deny.canary"
SWARM_ONLY = "isolation.internal.no-egress"
DF_OVER = "mtu.pmtu.df-over-limit"


def sample_runs() -> list[RunResults]:
    """swarm-lab, kind-flannel (no NetworkPolicy), kind-calico (a failed case) and a crashed
    kind-cilium (its DNS check failed before), in that column order."""
    swarm = run(
        "swarm-lab",
        [
            check("reachability.cross-host.tcp", CROSS_HOST, measurements={M.PROBES: 18}),
            check(
                "reachability.service.hairpin",
                HAIRPIN,
                Verdict.FAIL,
                reason="a task cannot reach itself through its VIP",
                profile=True,
            ),
            check(
                "dns.service.vip",
                "dns.service.a",
                measurements={M.DNS_P50_MS: 0.4, M.DNS_P99_MS: 2.9},
            ),
            check(
                "mtu.pmtu.default.df-at-limit",
                "mtu.pmtu.df-at-limit",
                measurements={M.EFFECTIVE_MTU: 1450, M.LARGEST_DF_PAYLOAD: 1422},
            ),
            check(
                "mtu.pmtu.default.df-over-limit",
                DF_OVER,
                Verdict.FAIL,
                reason="1 of 2 DF probes over the PMTU got no EMSGSIZE",
                observed=[failed_probe("10.0.1.5"), passed_probe("10.0.1.6")],
            ),
            check("isolation.internal.no-egress", SWARM_ONLY),
            check(
                "perf.tcp.cross-host",
                "perf.tcp.cross-host.1-stream",
                measurements={M.MBIT_S: 940.0},
            ),
        ],
        minutes=6,
    )

    def kube(platform: str, netpol: bool, mtu: int, named_port: Verdict) -> list[CheckResult]:
        skipped = "NetworkPolicy is not enforced"
        return [
            k8s("k8s.reach.pod-to-pod.cross-node", CROSS_HOST, measurements={M.PROBES: 12}),
            k8s(
                "k8s.reach.hairpin",
                HAIRPIN,
                reason="hairpin works",
                profile=True,
                measurements={M.HAIRPIN_WORKS: True},
            ),
            k8s("k8s.dns.service.a", "dns.service.a", measurements={M.DNS_P99_MS: 4.8}),
            k8s(
                "k8s.mtu.pmtu.df-at-limit",
                "mtu.pmtu.df-at-limit",
                measurements={M.EFFECTIVE_MTU: mtu},
            ),
            k8s("k8s.mtu.pmtu.df-over-limit", DF_OVER),
            k8s(
                "k8s.netpol.canary",
                CANARY,
                Verdict.PASS if netpol else Verdict.FAIL,
                reason="enforced" if netpol else "NetworkPolicy is not enforced: canary connected",
                netpol=held_report(1.8) if netpol else None,
            ),
            k8s(
                "k8s.netpol.upstream.named-port",
                NAMED_PORT,
                named_port if netpol else Verdict.SKIP,
                reason="step 'step 2': 2 of 6 cells differ" if netpol else skipped,
                netpol=(named_port_report() if named_port is Verdict.FAIL else held_report(0.9))
                if netpol
                else None,
            ),
        ]

    cilium = kube("kind-cilium", True, 1450, Verdict.PASS)
    cilium[2] = replace(cilium[2], verdict=Verdict.FAIL, reason="DNS lookup timed out after 5 s")
    return [
        swarm,
        run("kind-flannel", kube("kind-flannel", False, 1450, Verdict.SKIP), minutes=11),
        run("kind-calico", kube("kind-calico", True, 1480, Verdict.FAIL), minutes=13),
        # crashed after its reachability and DNS checks
        run("kind-cilium", cilium[:3], complete=False),
    ]


def write_sample_runs(root: Path) -> list[Path]:
    return [write_run(root, r) for r in sample_runs()]
