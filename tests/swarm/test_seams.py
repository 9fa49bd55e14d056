"""The seams of the Swarm checks: every check has scripted cases that pass and fail, the check
modules and the fake import without docker or pyroute2, and the real SwarmContext reads
Docker's answers through the run's plan, opening its clients only when first used."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from netconform.catalog.scenario import load_swarm_scenario
from netconform.checks.base import CATALOGUE
from netconform.core import Capabilities
from netconform.platforms import swarm as swarm_platform
from netconform.platforms.swarm import SwarmContext
from netconform.platforms.swarm_deploy import Node
from netconform.platforms.swarm_plan import Endpoint
from netconform.probes.model import Connectivity, ProbeKind
from netconform.results import Verdict

from .test_dns import CASES as DNS
from .test_dns_options import CASES as DNS_OPTIONS
from .test_isolation import CASES as ISOLATION
from .test_mtu import CASES as MTU
from .test_perf import CASES as PERF
from .test_reachability import CASES as REACHABILITY

CASES = [*REACHABILITY, *DNS, *MTU, *ISOLATION, *DNS_OPTIONS, *PERF]
SWARM_CHECKS = {c.spec.id: c.spec for c in CATALOGUE.for_family("swarm")}


@pytest.mark.parametrize("verdict", [Verdict.PASS, Verdict.FAIL])
def test_every_swarm_check_has_a_passing_and_a_failing_script(verdict: Verdict) -> None:
    assert len(SWARM_CHECKS) == 45
    scripted = {c.check_id for c in CASES if c.verdict == verdict}
    assert sorted(set(SWARM_CHECKS) - scripted) == []
    assert sorted(scripted - set(SWARM_CHECKS)) == []


def test_every_check_needing_a_capability_has_a_skip_script() -> None:
    needing = {i for i, spec in SWARM_CHECKS.items() if spec.requires}
    assert needing == {c.check_id for c in CASES if c.verdict == Verdict.SKIP}


BLOCKED_IMPORT = """
import sys
sys.modules["docker"] = None  # any import of docker or pyroute2 now raises ImportError
sys.modules["pyroute2"] = None
from netconform.platforms.registry import load_checks
from netconform.checks.base import CATALOGUE
load_checks("swarm")
from tests.swarm.fake_swarm import FakeSwarm, run_check
print(len(CATALOGUE.for_family("swarm")), run_check("dns.tasks.ips", FakeSwarm()).verdict)
"""


def test_check_modules_and_the_fake_import_without_docker_or_pyroute2() -> None:
    checkout = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", BLOCKED_IMPORT],
        cwd=checkout,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["45", "pass"]


# --- the real context, over stand-in Docker clients ----------------------------------------
class _Collection:
    def __init__(self, items: dict[str, Any]) -> None:
        self.items = items
        self.listed: list[dict[str, str]] = []

    def get(self, name: str) -> Any:
        return self.items[name]

    def list(self, filters: dict[str, str], ignore_removed: bool = False) -> list[Any]:
        self.listed.append(filters)
        return [v for k, v in self.items.items() if filters["name"] in k]


class _Obj:
    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)


def _task(node_id: str, address: str, network: str, state: str = "running") -> dict[str, Any]:
    return {
        "NodeID": node_id,
        "Slot": None,
        "Status": {"State": state, "ContainerStatus": {"ContainerID": f"c-{node_id}"}},
        "NetworksAttachments": [{"Network": {"Spec": {"Name": network}}, "Addresses": [address]}],
    }


class _Container:
    name = "ncr1-probe.abc"

    def exec_run(self, argv: list[str], demux: bool) -> tuple[int, tuple[bytes, bytes]]:
        (probe,) = json.loads(argv[-1])
        line = {"id": probe["id"], "kind": "tcp", "target": probe["target"], "ok": True}
        line |= {"outcome": "connected", "error": None, "latency_ms": 0.4, "values": {}}
        return 0, (json.dumps(line).encode(), b"")


class _Client:
    def __init__(self, node: str) -> None:
        self.node = node
        self.closed = False
        probe = _Obj(
            attrs={"Endpoint": {"VirtualIPs": [{"NetworkID": "net-main", "Addr": "10.0.1.2/24"}]}},
            tasks=lambda filters: [
                _task("id-h1", "10.0.1.5/24", "ncr1-main"),
                _task("id-h2", "10.0.1.6/24", "ncr1-main"),
                _task("id-h2", "10.0.1.7/24", "ncr1-main", state="starting"),
            ],
        )
        main = _Obj(
            id="net-main",
            attrs={
                "Options": {"com.docker.network.driver.overlay.vxlanid_list": "4101"},
                "IPAM": {"Config": [{"Subnet": "10.0.1.0/24"}]},
            },
        )
        peer = _Obj(
            name=f"ncr1-peer-{node}",
            id=f"peer-{node}",
            attrs={"NetworkSettings": {"Networks": {"ncr1-main": {"IPAddress": "10.0.1.50"}}}},
        )
        self.services = _Collection({"ncr1-probe": probe})
        self.networks = _Collection({"ncr1-main": main})
        self.containers = _Collection({f"ncr1-peer-{node}": peer, "c-id-h1": _Container()})

    def info(self) -> dict[str, Any]:
        return {"Swarm": {"NodeID": f"id-{self.node}"}}

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, _Client]]:
    """Every set of clients the context opens."""
    sets: list[dict[str, _Client]] = []

    def clients(nodes: Any) -> dict[str, _Client]:
        sets.append({n.name: _Client(n.name) for n in nodes})
        return sets[-1]

    monkeypatch.setattr(swarm_platform, "_clients", clients)
    return sets


def _context() -> SwarmContext:
    nodes = [Node("h1", "unix:///h1", "192.168.1.1"), Node("h2", "unix:///h2", "192.168.1.2")]
    return SwarmContext(nodes, "r1", load_swarm_scenario(), Capabilities(frozenset()), {})


def test_the_context_opens_no_client_until_used(opened: list[dict[str, _Client]]) -> None:
    ctx = _context()
    ctx.close()
    assert opened == []
    assert ctx.overlay("main") == (4101, "10.0.1.0/24")
    assert len(opened) == 1
    ctx.close()
    assert all(c.closed for c in opened[0].values())
    ctx.vip("probe", "main")  # used again after close: a fresh set
    assert len(opened) == 2


def test_the_context_reads_tasks_peers_and_vips_by_the_plan_names(
    opened: list[dict[str, _Client]],
) -> None:
    ctx = _context()
    assert ctx.tasks("probe") == [
        Endpoint("probe@h1", "probe", "h1", "10.0.1.5", "c-id-h1", "main"),
        Endpoint("probe@h2", "probe", "h2", "10.0.1.6", "c-id-h2", "main"),
    ]  # the starting task is not an endpoint yet
    assert ctx.tasks("probe", "other") == []
    assert ctx.vip("probe", "main") == "10.0.1.2"
    assert [(p.name, p.service, p.ip) for p in ctx.peers()] == [
        ("ncr1-peer-h1", "peer", "10.0.1.50"),
        ("ncr1-peer-h2", "peer", "10.0.1.50"),
    ]
    assert opened[0]["h1"].containers.listed == [
        {"label": "io.netconform.run=r1", "name": "ncr1-peer-h1"}
    ]


def test_a_probe_from_a_task_runs_in_its_container_and_says_how_to_rerun_it(
    opened: list[dict[str, _Client]],
) -> None:
    ctx = _context()
    task = ctx.tasks("probe")[0]
    (result,) = ctx.run(task, [ctx.probe(ProbeKind.TCP, "10.0.1.6", port=8080)])
    assert (result.ok, result.outcome) == (True, Connectivity.CONNECTED)
    # the daemon of the task's node, the container's name, then the agent
    assert result.reproduce[:6] == (
        "docker",
        "-H",
        "unix:///h1",
        "exec",
        "ncr1-probe.abc",
        "python3",
    )
