"""The node-pair mesh: which nodes carry a mesh agent, which probes every ordered node pair
gets, and the node x node matrix the results make. Pure: no cluster, no I/O, so the planner
and the matrix are measured at 1000 nodes with fakes (benchmarks/bench_mesh.py).

Every mesh node runs two agents: `mesh-<i>` on the pod network and `mesh-host-<i>` on the
node's own network (hostNetwork). From each node's pod agent, one batch (one exec) probes
every other node's pod agent over TCP, UDP and ICMP and its host agent over TCP, and asks
the cluster DNS once. Batches run MESH_EXEC_CONCURRENCY at a time; inside a batch the agent
runs up to 64 probes at once; so a round costs about (nodes / concurrency) x (probes per
batch / 64) x the per-probe time, linear in node pairs with bounded concurrency."""

from __future__ import annotations

import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import cycle
from typing import Any

from netconform.errors import InputError
from netconform.probes.model import Connectivity, ProbeResult

# Up to this many schedulable nodes, every one is in the mesh; past it `--nodes N` (or this
# default) samples N, spread over zones. At 100 nodes a round is 9,900 pairs (39,703 probes):
# about 20 s on a healthy cluster by benchmarks/bench_mesh.py's model (from costs measured on
# kind), 5.5 min at 500 and 20 min at 1000; the heatmap stays readable up to here.
DEFAULT_NODE_LIMIT = 100
CHECK_ID = "k8s.reach.node-mesh"  # the check (checks/k8s_mesh.py) the report's section reads
MAX_NODES = 5000  # a --nodes past every cluster's size limit is a typo
MESH_EXEC_CONCURRENCY = 16  # execs in flight at once (kube-apiserver's exec streams)
ZONE_LABEL = "topology.kubernetes.io/zone"
NO_ZONE = ""


class MeshPath(StrEnum):
    """What one ordered node pair is probed for (the matrix has one plane per path)."""

    POD_TCP = "pod-tcp"
    POD_UDP = "pod-udp"
    POD_ICMP = "pod-icmp"
    HOST_TCP = "pod-to-host-tcp"  # to the other node's hostNetwork agent


# One character per cell of a matrix row: compact enough for 1000 x 1000.
CELL_CODES = {
    Connectivity.CONNECTED: ".",
    Connectivity.NO_REPLY: "n",
    Connectivity.ANSWERED: ".",
    Connectivity.REFUSED: "r",
    Connectivity.TIMEOUT: "t",
    Connectivity.UNREACHABLE: "u",
    Connectivity.EMSGSIZE: "m",
    Connectivity.ERROR: "e",
    Connectivity.FAILED: "f",
}
SELF = "-"  # the diagonal: a node is not probed from itself
NOT_PROBED = " "  # a path this platform cannot probe (a missing capability)
LEGEND = {
    ".": "connected",
    "n": "connected, no reply",
    "r": "refused",
    "t": "timeout",
    "u": "unreachable",
    "m": "message too long",
    "e": "error",
    "f": "probe did not run",
    SELF: "same node",
    NOT_PROBED: "not probed",
}


@dataclass(frozen=True)
class MeshNode:
    name: str
    zone: str = NO_ZONE


def parse_node_count(text: str) -> int:
    """--nodes N: a whole number from 2 to MAX_NODES."""
    try:
        count = int(text)
    except ValueError:
        raise InputError(f"--nodes {text!r}: not a whole number") from None
    if not 2 <= count <= MAX_NODES:
        raise InputError(f"--nodes {count}: must be from 2 to {MAX_NODES}")
    return count


def select_nodes(nodes: Sequence[MeshNode], wanted: int | None) -> tuple[str, ...]:
    """The mesh's nodes: all of them up to `wanted` (default DEFAULT_NODE_LIMIT); past it,
    `wanted` nodes taken from each zone in turn (zones and nodes in name order), so every
    zone is in the sample and no zone holds more than its share. Deterministic: the same
    cluster gives the same sample, run after run."""
    limit = wanted or DEFAULT_NODE_LIMIT
    ordered = sorted(nodes, key=lambda n: (n.zone, n.name))
    if len(ordered) <= limit:
        return tuple(n.name for n in sorted(ordered, key=lambda n: n.name))
    by_zone: dict[str, list[str]] = {}
    for node in ordered:
        by_zone.setdefault(node.zone, []).append(node.name)
    queues = [list(reversed(names)) for _, names in sorted(by_zone.items())]
    chosen: list[str] = []
    for queue in cycle(queues):
        if len(chosen) == limit:
            break
        if queue:
            chosen.append(queue.pop())
    return tuple(sorted(chosen))


@dataclass(frozen=True)
class Target:
    """One probe of a batch: to `node`'s agent over `path`."""

    node: str
    path: MeshPath
    address: str


@dataclass(frozen=True)
class MeshPlan:
    """Who probes whom: the targets of one source node are made when its batch is (a
    1000-node round has 4 million probes; they never exist all at once)."""

    nodes: tuple[str, ...]
    pod_ip: Mapping[str, str]
    host_ip: Mapping[str, str]
    paths: tuple[MeshPath, ...]

    def targets(self, src: str) -> list[Target]:
        """Every other node, every path."""
        return [self.target(dst, path) for dst in self.nodes if dst != src for path in self.paths]

    def target(self, dst: str, path: MeshPath) -> Target:
        return Target(
            dst, path, self.host_ip[dst] if path is MeshPath.HOST_TCP else self.pod_ip[dst]
        )

    def waves(self, size: int = MESH_EXEC_CONCURRENCY) -> list[tuple[str, ...]]:
        """The source nodes in groups of `size`: one group's batches run at once."""
        return [self.nodes[i : i + size] for i in range(0, len(self.nodes), size)]


def probe_count(nodes: int, paths: int) -> int:
    """Probes in one round: every ordered pair, every path, and one DNS lookup per node."""
    return nodes * (nodes - 1) * paths + nodes


PING_TIME = re.compile(r"time[=<]([0-9.]+) ms")


def rtt_ms(result: ProbeResult) -> float | None:
    """The round trip ping reported for an ICMP probe (its own timing, not the batch's)."""
    found = PING_TIME.search(str(result.values.get("output", "")))
    return float(found.group(1)) if found else None


@dataclass(frozen=True)
class PairFailure:
    src: str
    dst: str
    path: MeshPath
    outcome: Connectivity
    error: str | None
    reproduce: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.src,
            "to": self.dst,
            "path": str(self.path),
            "outcome": str(self.outcome),
            "error": self.error,
            "reproduce": list(self.reproduce),
        }


@dataclass(frozen=True)
class MeshMatrix:
    """The round's result: per path, one string per source node (a character per
    destination, CELL_CODES); ICMP round trips per pair in microseconds (None: no answer);
    DNS per node; and every failing probe with the argv that re-runs it."""

    nodes: tuple[str, ...]
    rows: Mapping[MeshPath, tuple[str, ...]]
    rtt_us: tuple[tuple[int | None, ...], ...]
    dns: Mapping[str, Connectivity]
    failures: tuple[PairFailure, ...]

    @property
    def failing_pairs(self) -> list[tuple[str, str]]:
        return sorted({(f.src, f.dst) for f in self.failures})

    @property
    def network_failures(self) -> list[PairFailure]:
        """Failures the network made (a probe that did not run says nothing of it)."""
        return [f for f in self.failures if f.outcome is not Connectivity.FAILED]

    @property
    def dns_failing(self) -> list[str]:
        return sorted(n for n, o in self.dns.items() if o is not Connectivity.ANSWERED)

    @property
    def network_said_no(self) -> bool:
        """Something the network did failed (not only probes that never ran)."""
        dns = [
            o for o in self.dns.values() if o not in {Connectivity.ANSWERED, Connectivity.FAILED}
        ]
        return bool(self.network_failures or dns)

    @property
    def pairs(self) -> int:
        return len(self.nodes) * (len(self.nodes) - 1)

    def rtt_p50_ms(self) -> float | None:
        seen = [v for row in self.rtt_us for v in row if v is not None]
        return round(statistics.median(seen) / 1000, 3) if seen else None

    def to_json(self) -> dict[str, Any]:
        return {
            "nodes": list(self.nodes),
            "legend": LEGEND,
            "matrix": {str(path): list(rows) for path, rows in self.rows.items()},
            "rtt_us": [list(row) for row in self.rtt_us],
            "dns": {node: str(outcome) for node, outcome in sorted(self.dns.items())},
            "failures": [f.to_json() for f in self.failures],
        }


class MatrixBuilder:
    """The matrix, filled one source's batch at a time (results are folded into a row of
    characters and dropped); a later answer for a cell replaces the earlier one."""

    def __init__(self, nodes: Sequence[str], paths: Sequence[MeshPath]) -> None:
        self.nodes = tuple(nodes)
        self.paths = tuple(paths)
        self._index = {node: i for i, node in enumerate(nodes)}
        n = len(nodes)
        self._grid = {
            path: [bytearray(NOT_PROBED * n, "ascii") for _ in range(n)] for path in paths
        }
        for path in paths:
            for i in range(n):
                self._grid[path][i][i] = ord(SELF)
        self._rtt: list[list[int | None]] = [[None] * n for _ in range(n)]
        self._dns: dict[str, Connectivity] = {}
        self._failures: dict[tuple[str, str, MeshPath], PairFailure] = {}

    def add(self, src: str, targets: Sequence[Target], results: Sequence[ProbeResult]) -> None:
        i = self._index[src]
        for target, result in zip(targets, results, strict=True):
            j = self._index[target.node]
            self._grid[target.path][i][j] = ord(CELL_CODES[result.outcome])
            key = (src, target.node, target.path)
            if target.path is MeshPath.POD_ICMP:
                seen = rtt_ms(result) if result.ok else None
                self._rtt[i][j] = None if seen is None else round(seen * 1000)
            if result.ok:
                self._failures.pop(key, None)
            else:
                self._failures[key] = PairFailure(
                    src, target.node, target.path, result.outcome, result.error, result.reproduce
                )

    def add_dns(self, src: str, result: ProbeResult) -> None:
        # an answer that is no address (NXDOMAIN for kubernetes.default) is an error here
        self._dns[src] = _dns_outcome(result)

    def failing(self) -> list[tuple[str, str, MeshPath]]:
        """(source, destination, path) of every probe whose last answer was a failure."""
        return list(self._failures)

    def done(self) -> MeshMatrix:
        return MeshMatrix(
            nodes=self.nodes,
            rows={p: tuple(row.decode() for row in self._grid[p]) for p in self.paths},
            rtt_us=tuple(tuple(row) for row in self._rtt),
            dns=dict(self._dns),
            failures=tuple(self._failures.values()),
        )


def _dns_outcome(result: ProbeResult) -> Connectivity:
    if result.ok or result.outcome is not Connectivity.ANSWERED:
        return result.outcome
    return Connectivity.ERROR
