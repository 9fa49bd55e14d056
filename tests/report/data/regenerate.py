"""Regenerate the golden report fixtures: `tests/report/data/<platform>/results.json`.

    .venv/bin/python tests/report/data/regenerate.py          # rewrite the files
    .venv/bin/python tests/report/data/regenerate.py --check  # exit 1 if they would change

Every result is the output of the REAL check code, run through `execute` as the plugin runs
it, against the test fakes: the Swarm checks on the scripted swarm (tests/swarm/fake_swarm),
the Kubernetes reachability, DNS and MTU checks on the scripted conformant cluster
(tests/k8s/scripted) and the NetworkPolicy checks on the oracle-backed fake data plane
(tests/k8s/fake_cluster). Each platform breaks a few things on purpose, so a report has
failures, errors, skips and profile rows to show:

- swarm-lab: one UDP path lost between two hosts; full-size DF pings to one host vanish
  (a PMTU blackhole on the default overlay).
- kind-calico: the data plane ignores egress policy (NetworkPolicy cases fail with tables
  and the oracle's explanations); AAAA answered NXDOMAIN.
- kind-cilium: ipBlock does not match pod IPs (profile rows); the agent crashes on the
  cells a case expects denied (error cells with the argv that re-runs them); the run was
  cut short (complete: false, the last checks never ran).
- kind-flannel: no NetworkPolicy: the canary measures it (one profile finding), every case
  is then not applicable (skipped, pointing at the canary),
  hairpin does not work (a profile fact), one cross-node TCP path refused.

Capabilities and platform facts come from the real CNI profiles (fixtures/cni). The clock
is a fake one, so the files are byte-stable: regenerating without a code change is a no-op.
"""

from __future__ import annotations

import argparse
import difflib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(REPO))  # the test fakes are imported as tests.k8s..., tests.swarm...

from tests.k8s.fake_cluster import FakeDataPlane, FakeNetpolContext  # noqa: E402
from tests.k8s.scripted import SPEC, ScriptedContext, override  # noqa: E402
from tests.swarm.fake_swarm import FakeSwarm, combine, failed, when  # noqa: E402

from netconform.checks.base import CATALOGUE, Check, execute  # noqa: E402
from netconform.core import Capabilities  # noqa: E402
from netconform.k8s import profiles  # noqa: E402
from netconform.k8s.facts import CniFacts  # noqa: E402
from netconform.k8s.run_state import KubeRunState  # noqa: E402
from netconform.k8s.workloads import all_objects  # noqa: E402
from netconform.netpol.oracle import Profile  # noqa: E402
from netconform.platforms.registry import load_checks  # noqa: E402
from netconform.platforms.swarm_deploy import object_counts  # noqa: E402
from netconform.probes.model import ProbeKind  # noqa: E402
from netconform.results import CheckResult, RunResults, write_results  # noqa: E402
from netconform.vocab import Family  # noqa: E402

STARTED = "2026-01-05T02:00:00+00:00"
NETPOL_CASES = (  # a cross-section of the catalogue, kept small enough to read
    "upstream.tcp.default-deny-ingress",
    "upstream.tcp.default-deny-all",
    "upstream.tcp.deny-ingress-from-other-namespaces",
    "upstream.tcp.deny-egress-namespace",
    "upstream.tcp.egress-to-pod-in-other-namespace",
    "upstream.tcp.egress-cidr",
    "upstream.tcp.allow-from-namespace",
    "upstream.udp.ports",
    "upstream.sctp.default-deny-ingress",
    "generated.peers.egress.empty-pod-selector",
)


class FakeClock:
    """Advances a millisecond per reading and by each sleep: elapsed times are counts."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 0.001
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@contextmanager
def fake_time() -> Iterator[None]:
    clock = FakeClock()
    monotonic, sleep = time.monotonic, time.sleep
    # poll() and execute() read the clock from the time module when called
    time.monotonic, time.sleep = clock, clock.sleep
    try:
        yield
    finally:
        time.monotonic, time.sleep = monotonic, sleep


def _checks(family: Family, prefix: str = "") -> list[Check[Any]]:
    return [c for c in CATALOGUE.for_family(family) if c.spec.id.startswith(prefix)]


def _run(checks: Iterable[Check[Any]], ctx_for: Callable[[Check[Any]], Any]) -> list[CheckResult]:
    return [execute(check, ctx_for(check)) for check in checks]


def _kube_info(cni: str) -> tuple[dict[str, Any], Capabilities]:
    profile = profiles.load_profile(cni)
    info = {
        "cni": profile.cni,
        "cni_version": profile.version,
        "encapsulation": profile.encapsulation,
        "overhead_bytes": profile.overhead_bytes,
        "kubernetes": "v1.34.0",
        "kube_proxy_mode": "iptables",
        "nodes": ["control-plane", "worker", "worker2"],
        "underlay_mtu": 1500,
        # as k8s.plan records them: the run's own objects, and the images it loads
        "objects": {"workloads": len(all_objects(SPEC))},
        "images": [*profile.preload_images, SPEC.image],
    }
    caps = profile.capabilities
    return info, Capabilities(frozenset(caps.available), dict(caps.missing))


def _kubernetes(
    cni: str,
    fault: Callable[[Any, Any], Any] | None = None,
    plane: Callable[[str], FakeDataPlane] = lambda case: FakeDataPlane(),
) -> tuple[dict[str, Any], list[CheckResult]]:
    """Probe checks on one scripted cluster; NetworkPolicy checks on the fake data plane
    (a fresh one per case, as `plane` says, all sharing the one canary finding)."""
    info, caps = _kube_info(cni)
    facts = CniFacts.of(profiles.load_profile(cni))
    scripted = ScriptedContext(info=info, capabilities=caps, facts=facts)
    if fault is not None:
        override(scripted, fault)
    probe_checks = [
        c for c in _checks(Family.KUBERNETES) if not c.spec.id.startswith("k8s.netpol.")
    ]
    results = _run(probe_checks, lambda _: scripted)
    run_state: KubeRunState | None = None

    def netpol_ctx(check: Check[Any]) -> FakeNetpolContext:
        nonlocal run_state
        ctx = FakeNetpolContext(plane(check.spec.id.removeprefix("k8s.netpol.")), caps)
        run_state = run_state or ctx.run_state
        ctx.run_state = run_state  # one canary per run, as on a cluster
        return ctx

    canary = CATALOGUE.get("k8s.netpol.enforcement")
    cases = [CATALOGUE.get(f"k8s.netpol.{case}") for case in NETPOL_CASES]
    results += _run([canary, *cases], netpol_ctx)
    return info, results


def _swarm() -> tuple[dict[str, Any], list[CheckResult]]:
    healthy = FakeSwarm()
    h1, h2, h3 = (healthy.task("probe", node) for node in ("h1", "h2", "h3"))
    broken = combine(
        when(failed("timeout"), kind=ProbeKind.UDP, source=h1.name, target=h2.ip),
        when(failed("timeout"), kind=ProbeKind.ICMP, df=True, target=h3.ip),
    )
    ctx = FakeSwarm(broken)
    info = {
        **ctx.platform_info(),
        "docker": "26.1.5+dfsg1",
        "nodes": [n.name for n in ctx.nodes],
        # what swarm_deploy.deploy creates, as the platform records it
        "objects": object_counts(ctx.scenario, ctx.capabilities.available, len(ctx.nodes)),
        "images": ["netconform/probe"],
    }
    return info, _run(_checks(Family.SWARM), lambda _: ctx)


def _refused_cross_node_tcp(src: Any, probe: Any) -> Any:
    if src.name == "probe-0-a" and probe.target == "10.244.1.10" and probe.kind == ProbeKind.TCP:
        return False, "refused", {}
    return None


def _aaaa_nxdomain(src: Any, probe: Any) -> Any:
    if probe.params.get("qtype") == "AAAA":
        return False, "nxdomain", {"rcode": "NXDOMAIN", "answers": []}
    return None


def runs() -> dict[str, RunResults]:
    """Every fixture run, by platform name."""
    load_checks(Family.SWARM)
    load_checks(Family.KUBERNETES)
    out: dict[str, RunResults] = {}
    with fake_time():
        made: dict[str, tuple[dict[str, Any], list[CheckResult], bool]] = {}
        info, results = _swarm()
        made["swarm-lab"] = (info, results, True)
        info, results = _kubernetes(
            "calico", _aaaa_nxdomain, lambda case: FakeDataPlane(ignore_egress=True)
        )
        made["kind-calico"] = (info, results, True)

        def cilium_plane(case: str) -> FakeDataPlane:
            crash = case == "upstream.tcp.deny-egress-namespace"
            return FakeDataPlane(profile=Profile(ipblock_matches_pods=False), crash_on_deny=crash)

        info, results = _kubernetes("cilium", None, cilium_plane)
        made["kind-cilium"] = (info, results[:-3], False)  # the run stopped: 3 never ran
        info, results = _kubernetes(
            "flannel",
            lambda s, p: _refused_cross_node_tcp(s, p) or _hairpin_lost(s, p),
            lambda case: FakeDataPlane(enforce=False),  # Flannel enforces nothing
        )
        made["kind-flannel"] = (info, results, True)
    for platform, (info, results, complete) in made.items():
        stable = tuple(replace(r, duration_s=round(r.duration_s, 3)) for r in results)
        out[platform] = RunResults(
            platform,
            info,
            STARTED,
            "2026-01-05T02:10:00+00:00" if complete else None,
            stable,
            complete,
        )
    return out


def _hairpin_lost(src: Any, probe: Any) -> Any:
    """A pod cannot reach itself through its own Service (no hairpin NAT)."""
    own = {"probe-0-a": "10.96.1.10", "probe-1-a": "10.96.1.12", "probe-2-a": "10.96.1.14"}
    return (False, "timeout", {}) if own.get(src.name) == probe.target else None


def render(run: RunResults) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "results.json"
        write_results(path, run)
        return path.read_text()


def main(argv: list[str] | None = None) -> int:
    if os.environ.get("PYTHONHASHSEED") != "0":  # set iteration order is part of the output
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        command = [sys.executable, __file__, *(sys.argv[1:] if argv is None else argv)]
        return subprocess.run(command, env=env, check=False).returncode
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    args = parser.parse_args(argv)
    stale = []
    for platform, run in runs().items():
        path = HERE / platform / "results.json"
        text = render(run)
        old = path.read_text() if path.is_file() else ""
        if old == text:
            continue
        stale.append(platform)
        if args.check:
            diff = difflib.unified_diff(old.splitlines(), text.splitlines(), lineterm="", n=1)
            print("\n".join(list(diff)[:40]))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    verb = "stale" if args.check else "rewritten"
    print(f"{verb}: {', '.join(stale) or 'none'}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
