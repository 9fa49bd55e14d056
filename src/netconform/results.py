"""The results.json contract (schema netconform/results/v2): values, writer and reader.

Other tools read these files; keep field names stable and add, never rename. v2 adds to
every check the family-neutral `aspect` (the comparison's row key, see aspects.py), the
`family`, the `profile` flag and the typed NetworkPolicy report `netpol`; measurement keys
are `Measure` values. The reader still reads v1 files (aspect = id, family from the id).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from netconform.errors import InputError
from netconform.inputs import finite, load_json, read_text
from netconform.vocab import Family

SCHEMA = "netconform/results/v2"
# platform_info key of a run whose platform could not be provisioned: the error, one line
PROVISIONING_ERROR = "provisioning_error"
SCHEMA_V1 = "netconform/results/v1"
READABLE_SCHEMAS = (SCHEMA, SCHEMA_V1)

JSONValue = Any  # JSON-serialisable value (dict, list, str, number, bool, None)


class RunStatus(StrEnum):
    """How a run ended. Only COMPLETE means every planned check ran; the others say why the
    checks are fewer, so a report never shows a short run as a clean one."""

    COMPLETE = "complete"
    INTERRUPTED = "interrupted"  # SIGINT or SIGTERM: teardown ran, the rest never did
    # an exception escaped, or the process died outright (the in-progress header says so)
    CRASHED = "crashed"
    NOT_PROVISIONED = "not-provisioned"  # platform_info[PROVISIONING_ERROR] says why


class Phase(StrEnum):
    """Where a run that did not complete stopped."""

    PREPARING = "preparing"  # options, host, preflight: nothing made yet
    PROVISIONING = "provisioning"
    CHECKS = "checks"


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"
    ERROR = "error"


class Area(StrEnum):
    REACHABILITY = "reachability"
    DNS = "dns"
    MTU = "mtu"
    NETPOL = "netpol"
    # SIG Network's ClusterNetworkPolicy cases (with or without NetworkPolicies beside them)
    CLUSTER_NETPOL = "cluster-netpol"
    ISOLATION = "isolation"
    PERF = "perf"


class Measure(StrEnum):
    """Every measurement name a check may write; checks and the report use these constants,
    so a name the report reads is a name some check writes. One name per quantity."""

    # Polling: how long an expectation took to hold.
    ATTEMPTS = "attempts"  # observations made (1 = held at once)
    CONVERGED_S = "converged_s"  # seconds until it held (or until the deadline)
    PROBES = "probes"  # probes (cells, pairs, requests) in one observation
    # The node-pair mesh (k8s.reach.node-mesh): its nodes, ordered pairs, failing pairs,
    # the median ICMP round trip over every pair, and one round's wall time.
    MESH_NODES = "mesh_nodes"
    MESH_PAIRS = "mesh_pairs"
    MESH_FAILING_PAIRS = "mesh_failing_pairs"
    RTT_P50_MS = "rtt_p50_ms"
    ROUND_S = "round_s"
    LATENCY_P50_MS = "latency_p50_ms"  # median probe round trip of the last observation
    # Services.
    BACKENDS = "backends"  # backends a service has
    BACKENDS_ANSWERED = "backends_answered"  # distinct backends that answered
    HAIRPIN_WORKS = "hairpin_works"  # a backend reaches itself through its own service
    # Service programming: an endpoint joining (add) or leaving (remove) a service until its
    # virtual IP answers from it (add) or no longer does (remove); checks/k8s_services.py.
    ENDPOINT_ADD_P50_MS = "endpoint_add_p50_ms"
    ENDPOINT_ADD_P99_MS = "endpoint_add_p99_ms"
    ENDPOINT_REMOVE_P50_MS = "endpoint_remove_p50_ms"
    ENDPOINT_REMOVE_P99_MS = "endpoint_remove_p99_ms"
    ENDPOINT_CHANGES = "endpoint_changes"  # {add: n, remove: n} changes timed
    POLL_ROUND_MS = "poll_round_ms"  # median observation round: the figures' resolution
    # The underlay.
    WIRE_PACKETS = "wire_packets"  # {class: packets} counted on the underlay switch
    # DNS.
    # Lookup latency, each lookup timed around its own exchange, one at a time.
    DNS_P50_MS = "dns_p50_ms"  # over UDP
    DNS_P90_MS = "dns_p90_ms"
    DNS_P99_MS = "dns_p99_ms"
    DNS_TCP_P50_MS = "dns_tcp_p50_ms"
    DNS_TCP_P90_MS = "dns_tcp_p90_ms"
    DNS_TCP_P99_MS = "dns_tcp_p99_ms"
    DIG_P50_MS = "dig_p50_ms"  # the same lookups asked by dig in the same endpoint (UDP)
    DIG_P99_MS = "dig_p99_ms"
    DIG_SAMPLES = "dig_samples"  # lookups dig answered
    SAMPLES = "samples"  # lookups per transport
    CONCURRENCY = "concurrency"  # lookups in flight at once while timing
    FAILED_PROBES = "failed_probes"
    SCALE_CONVERGED_S = "scale_converged_s"  # {replicas: seconds until DNS followed}
    # MTU.
    MTU_OPTION = "mtu_option"  # the MTU the network was created with (None: default)
    EFFECTIVE_MTU = "effective_mtu"  # the endpoint's MTU (interface, lowered by a route MTU)
    INTERFACE_MTU = "interface_mtu"  # the endpoint interface's own MTU
    ROUTE_MTU = "route_mtu"  # a route MTU below the interface's (None: none set)
    HOST_MTU = "host_mtu"  # the host's underlay (default-route) interface MTU
    LARGEST_DF_PAYLOAD = "largest_df_payload"  # ICMP payload with DF that crossed
    # Bulk transfer.
    TRANSFER_BYTES = "transfer_bytes"
    TRANSFER_S = "transfer_s"
    THROUGHPUT_MBIT_S = "throughput_mbit_s"  # the slowest pair's rate
    # NetworkPolicy.
    ENFORCED = "enforced"  # the default-deny canary saw a policy take effect (bool)
    SOURCE_SEEN = "source_seen"  # the address a receiving end saw, per node or path
    TOOK_EFFECT_S = "took_effect_s"  # policy change until the data plane showed it (slowest step)
    STEPS = "steps"  # steps of a NetworkPolicy case
    # Perf (informational): the measured path and its baseline (host network / underlay),
    # sampled alternately; figures are medians over the samples.
    MBIT_S = "mbit_s"  # throughput, median of the samples
    MBIT_S_SAMPLES = "mbit_s_samples"  # each sample's throughput
    SPREAD_PCT = "spread_pct"  # (max - min) / median of the samples, percent
    STREAMS = "streams"  # parallel TCP streams per sample
    SAMPLE_S = "sample_s"  # length of one throughput sample
    RETRANSMITS = "retransmits"  # TCP retransmissions over every sample
    UDP_LOSS_PCT = "udp_loss_pct"  # datagrams lost, median of the samples
    UDP_OFFERED_MBIT_S = "udp_offered_mbit_s"  # the rate the sender was asked to send at
    RR_P50_MS = "rr_p50_ms"  # TCP request/response round trip, one connection
    RR_P90_MS = "rr_p90_ms"
    RR_P99_MS = "rr_p99_ms"
    CONNECTIONS_PER_S = "connections_per_s"  # connect + one exchange + close, sequential
    CPU_S_PER_GB = "cpu_s_per_gb"  # the endpoints' cgroup CPU seconds per GB moved
    BASELINE = "baseline"  # what the baseline path is (e.g. "host-network")
    BASELINE_MBIT_S = "baseline_mbit_s"
    BASELINE_SPREAD_PCT = "baseline_spread_pct"
    BASELINE_RR_P50_MS = "baseline_rr_p50_ms"
    BASELINE_RR_P99_MS = "baseline_rr_p99_ms"
    BASELINE_CONNECTIONS_PER_S = "baseline_connections_per_s"
    BASELINE_CPU_S_PER_GB = "baseline_cpu_s_per_gb"
    RATIO_TO_BASELINE = "ratio_to_baseline"  # median over the rounds of path / baseline
    RATIO_SPREAD_PCT = "ratio_spread_pct"  # (max - min) / median of the rounds' ratios


class CellValue(StrEnum):
    """One NetworkPolicy truth-table cell. ERROR: the probe failed to run, never a deny."""

    ALLOW = "allow"
    DENY = "deny"
    ERROR = "error"


def cell_label(source: str, destination: str, port: int, protocol: str) -> str:
    """The one spelling of a cell: `x/a -> y/b 80/TCP` (also the oracle Probe's str)."""
    return f"{source} -> {destination} {port}/{protocol}"


Grid = tuple[tuple[CellValue, ...], ...]

# One letter per cell in results.json: a row of a truth table is one short string, so every
# step of a 138-case run can carry its observed matrix (a list of words per cell is ~8x larger).
CELL_LETTER = {CellValue.ALLOW: "a", CellValue.DENY: "d", CellValue.ERROR: "e"}
LETTER_CELL = {letter: value for value, letter in CELL_LETTER.items()}


def _grid(rows: Sequence[Sequence[str] | str]) -> Grid:
    """Rows as written (a string of letters), or as results.json before them (words)."""
    return tuple(
        tuple(LETTER_CELL[c] for c in row) if isinstance(row, str) else tuple(map(CellValue, row))
        for row in rows
    )


def _rows(grid: Grid) -> list[JSONValue]:
    return ["".join(CELL_LETTER[v] for v in row) for row in grid]


@dataclass(frozen=True)
class TruthTable:
    """Expected and observed cells of one port/protocol: rows are sources, columns
    destinations (`namespace/pod` of the case's logical names)."""

    port: int
    protocol: str
    sources: tuple[str, ...]
    destinations: tuple[str, ...]
    expected: Grid
    observed: Grid

    def __post_init__(self) -> None:
        shape = (len(self.sources), len(self.destinations))
        for name, grid in (("expected", self.expected), ("observed", self.observed)):
            if len(grid) != shape[0] or any(len(row) != shape[1] for row in grid):
                raise ValueError(f"truth table {self.port}/{self.protocol}: {name} not {shape}")

    def label(self, source: str, destination: str) -> str:
        return cell_label(source, destination, self.port, self.protocol)

    def difference(self) -> tuple[str, ...]:
        """The labels of the cells whose observation differs from the expectation."""
        return tuple(
            self.label(src, dst)
            for i, src in enumerate(self.sources)
            for j, dst in enumerate(self.destinations)
            if self.expected[i][j] != self.observed[i][j]
        )

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "port": self.port,
            "protocol": self.protocol,
            "sources": list(self.sources),
            "destinations": list(self.destinations),
            "expected": _rows(self.expected),
            "observed": _rows(self.observed),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, JSONValue]) -> TruthTable:
        return cls(
            port=int(data["port"]),
            protocol=str(data["protocol"]),
            sources=tuple(str(s) for s in data["sources"]),
            destinations=tuple(str(d) for d in data["destinations"]),
            expected=_grid(data["expected"]),
            observed=_grid(data["observed"]),
        )


@dataclass(frozen=True)
class CellError:
    """A cell whose probe failed to run: why, and the exec argv that re-runs it."""

    cell: str
    reason: str
    reproduce: tuple[str, ...] = ()

    def to_json(self) -> dict[str, JSONValue]:
        return {"cell": self.cell, "reason": self.reason, "reproduce": list(self.reproduce)}

    @classmethod
    def from_json(cls, data: Mapping[str, JSONValue]) -> CellError:
        return cls(
            str(data["cell"]),
            str(data.get("reason", "")),
            tuple(str(a) for a in data.get("reproduce") or ()),
        )


@dataclass(frozen=True)
class NetpolStep:
    """One step of a NetworkPolicy case as last observed. `profile` names the legitimate
    platform profile the observation matched instead of the default ("" when none)."""

    name: str
    held: bool
    took_effect_s: float
    attempts: int
    tables: tuple[TruthTable, ...]
    explanations: Mapping[str, str] = field(default_factory=dict)  # cell label -> oracle's why
    errors: tuple[CellError, ...] = ()
    profile: str = ""
    # the step changed pod or namespace labels (its time to take effect is the CNI's
    # label-change latency, reported apart from policy changes)
    label_change: bool = False
    # cell label -> the argv that re-runs its probe, for every cell observed wrong
    reproduce: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def difference(self) -> tuple[str, ...]:
        return tuple(label for table in self.tables for label in table.difference())

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "name": self.name,
            "held": self.held,
            "took_effect_s": round(self.took_effect_s, 3),
            "attempts": self.attempts,
            "tables": [t.to_json() for t in self.tables],
            "explanations": dict(self.explanations),
            "errors": [e.to_json() for e in self.errors],
            "profile": self.profile,
            "label_change": self.label_change,
            "reproduce": {cell: list(argv) for cell, argv in self.reproduce.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, JSONValue]) -> NetpolStep:
        return cls(
            name=str(data["name"]),
            held=bool(data["held"]),
            took_effect_s=float(data.get("took_effect_s") or 0.0),
            attempts=int(data.get("attempts") or 0),
            tables=tuple(TruthTable.from_json(t) for t in data.get("tables") or ()),
            explanations={str(k): str(v) for k, v in (data.get("explanations") or {}).items()},
            errors=tuple(CellError.from_json(e) for e in data.get("errors") or ()),
            profile=str(data.get("profile") or ""),
            label_change=bool(data.get("label_change") or False),
            reproduce={
                str(k): tuple(str(a) for a in v) for k, v in (data.get("reproduce") or {}).items()
            },
        )


@dataclass(frozen=True)
class NetpolReport:
    """What a NetworkPolicy case check observed, step by step (written by the check, read
    by the report)."""

    case: str
    steps: tuple[NetpolStep, ...]

    def to_json(self) -> dict[str, JSONValue]:
        return {"case": self.case, "steps": [s.to_json() for s in self.steps]}

    @classmethod
    def from_json(cls, data: Mapping[str, JSONValue]) -> NetpolReport:
        return cls(str(data["case"]), tuple(NetpolStep.from_json(s) for s in data["steps"]))


def _family_of_v1(check_id: str) -> Family:
    """v1 files carry no family; their ids did: every Kubernetes id began `k8s.`."""
    return Family.KUBERNETES if check_id.startswith("k8s.") else Family.SWARM


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict and what it observed, so a failure explains itself."""

    id: str
    area: Area
    title: str
    verdict: Verdict
    reason: str
    duration_s: float
    expected: JSONValue = None
    observed: JSONValue = None
    measurements: Mapping[str, JSONValue] = field(default_factory=dict)
    spec: str = ""
    aspect: str = ""  # the aspects.py key (defaults to the id: a row of its own)
    family: Family = Family.SWARM
    profile: bool = False  # a legitimate platform difference, not a conformance verdict
    netpol: NetpolReport | None = None

    def __post_init__(self) -> None:
        if not self.aspect:
            object.__setattr__(self, "aspect", self.id)

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "id": self.id,
            "aspect": self.aspect,
            "family": str(self.family),
            "area": str(self.area),
            "title": self.title,
            "verdict": str(self.verdict),
            "reason": self.reason,
            "profile": self.profile,
            "duration_s": round(self.duration_s, 3),
            "expected": self.expected,
            "observed": self.observed,
            "measurements": dict(self.measurements),
            "netpol": self.netpol.to_json() if self.netpol is not None else None,
            "spec": self.spec,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, JSONValue]) -> CheckResult:
        check_id = str(data["id"])
        netpol = data.get("netpol")
        return cls(
            id=check_id,
            area=Area(data["area"]),
            title=str(data.get("title", "")),
            verdict=Verdict(data["verdict"]),
            reason=str(data.get("reason", "")),
            duration_s=float(data.get("duration_s", 0.0)),
            expected=data.get("expected"),
            observed=data.get("observed"),
            measurements=dict(data.get("measurements") or {}),
            spec=str(data.get("spec", "")),
            aspect=str(data.get("aspect") or check_id),
            family=Family(data["family"]) if data.get("family") else _family_of_v1(check_id),
            profile=bool(data.get("profile", False)),
            netpol=NetpolReport.from_json(netpol) if netpol else None,
        )


def summarize(checks: Iterable[CheckResult]) -> dict[str, int]:
    counts = {str(v): 0 for v in Verdict}
    for check in checks:
        counts[str(check.verdict)] += 1
    return counts


@dataclass(frozen=True)
class RunResults:
    """One run: one platform x one catalogue selection."""

    platform: str
    platform_info: Mapping[str, JSONValue]
    started: str
    finished: str | None
    checks: tuple[CheckResult, ...]
    # False while a run is in progress or when it did not complete: a report shows it as such.
    # Kept for the readers of v2 files before `status`; always complete == (status is COMPLETE).
    complete: bool = True
    # given: decides `complete`; left COMPLETE with complete=False (files before `status`, the
    # in-progress header): CRASHED, or NOT_PROVISIONED when platform_info says why
    status: RunStatus = RunStatus.COMPLETE
    phase: Phase | None = None  # where a run that did not complete stopped
    not_run: tuple[str, ...] = ()  # ids of the planned checks that never finished

    def __post_init__(self) -> None:
        if self.status is RunStatus.COMPLETE and not self.complete:
            derived = (
                RunStatus.NOT_PROVISIONED
                if PROVISIONING_ERROR in self.platform_info
                else RunStatus.CRASHED
            )
            object.__setattr__(self, "status", derived)
        object.__setattr__(self, "complete", self.status is RunStatus.COMPLETE)

    @property
    def summary(self) -> dict[str, int]:
        return summarize(self.checks)

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "schema": SCHEMA,
            "platform": self.platform,
            "platform_info": dict(self.platform_info),
            "started": self.started,
            "finished": self.finished,
            "complete": self.complete,
            "status": str(self.status),
            "phase": str(self.phase) if self.phase is not None else None,
            "not_run": list(self.not_run),
            "checks": [c.to_json() for c in self.checks],
            "summary": self.summary,
        }


def write_results(path: Path, run: RunResults) -> None:
    """Write atomically, so a killed run never leaves a truncated results.json behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".results-", dir=path.parent)
    with os.fdopen(fd, "w") as out:
        json.dump(finite(run.to_json()), out, indent=2, sort_keys=False, allow_nan=False)
        out.write("\n")
    os.chmod(tmp, 0o644)  # mkstemp makes 0600; CI uploads these as another user
    os.replace(tmp, path)


def checks_path(path: Path) -> Path:
    """The sidecar of a results.json while its run goes: the checks finished so far, one JSON
    line each (`results.json` -> `results.checks.jsonl`)."""
    return path.with_name(f"{path.stem}.checks.jsonl")


class ResultsWriter:
    """results.json written as a run goes, in bytes linear in its checks (rewriting the whole
    document after each check was quadratic: a ~180-check kind run ends at 737 KB).

    While the run goes: the document without checks (complete=false), written once and again
    only when platform_info changes; each finished check one line appended to the sidecar and
    flushed. At the end: the whole document once, atomically, then the sidecar goes. A run
    killed part way leaves both, and read_results reads them together."""

    def __init__(self, path: Path, platform: str, started: str) -> None:
        self.path = path
        self.sidecar = checks_path(path)
        self.platform = platform
        self.started = started
        self._info: dict[str, JSONValue] | None = None  # platform_info of the written header
        self._appended = 0  # checks already in the sidecar

    def progress(
        self, platform_info: Mapping[str, JSONValue], checks: Sequence[CheckResult]
    ) -> None:
        """The run so far: `checks` in the order they finished, a list only ever appended to."""
        if self._info is None:
            # an earlier run killed in this directory: its checks must never join this run's
            self.sidecar.unlink(missing_ok=True)
        if self._info != platform_info:
            self._info = dict(platform_info)
            header = RunResults(self.platform, self._info, self.started, None, (), complete=False)
            write_results(self.path, header)
        if len(checks) > self._appended:
            with self.sidecar.open("a", encoding="utf-8") as lines:
                for check in checks[self._appended :]:
                    # ASCII (json's default): a line cut short never splits a character
                    lines.write(json.dumps(finite(check.to_json()), allow_nan=False) + "\n")
                    lines.flush()
            self._appended = len(checks)

    def finish(
        self,
        platform_info: Mapping[str, JSONValue],
        checks: Sequence[CheckResult],
        finished: str | None,
        status: RunStatus = RunStatus.COMPLETE,
        phase: Phase | None = None,
        not_run: Sequence[str] = (),
    ) -> None:
        """The whole document, once, saying how the run ended; the sidecar goes after it (a
        kill between the two leaves a whole document, which the reader takes alone)."""
        run = RunResults(
            platform=self.platform,
            platform_info=dict(platform_info),
            started=self.started,
            finished=finished,
            checks=tuple(sorted(checks, key=lambda c: c.id)),
            status=status,
            phase=phase,
            not_run=tuple(not_run),
        )
        write_results(self.path, run)
        self.sidecar.unlink(missing_ok=True)


def _sidecar_checks(path: Path) -> tuple[CheckResult, ...]:
    """The checks in the sidecar of an incomplete results.json. A last line without its
    newline is one the run was killed while writing: left out."""
    sidecar = checks_path(path)
    if not sidecar.exists():
        return ()
    *lines, _unfinished = read_text(sidecar).split("\n")
    checks = []
    for number, line in enumerate(lines, 1):
        try:
            checks.append(CheckResult.from_json(load_json(line, f"{sidecar}: line {number}")))
        except InputError:
            raise
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise InputError(f"{sidecar}: line {number}: malformed check ({exc})") from None
    return tuple(checks)


def read_results(path: Path) -> RunResults:
    """Read and validate one results.json; every problem is one InputError naming the file."""
    if not path.exists():
        raise InputError(f"{path}: no such results file")
    data = load_json(read_text(path), path)
    if not isinstance(data, dict):
        raise InputError(f"{path}: top level must be an object")
    schema = data.get("schema")
    if schema not in READABLE_SCHEMAS:
        wanted = " or ".join(repr(s) for s in READABLE_SCHEMAS)
        raise InputError(f"{path}: schema: unsupported {schema!r}, expected {wanted}")
    try:
        checks = tuple(CheckResult.from_json(c) for c in data["checks"])
        run = RunResults(
            platform=str(data["platform"]),
            platform_info=dict(data.get("platform_info") or {}),
            started=str(data["started"]),
            finished=data.get("finished"),
            checks=checks,
            complete=bool(data.get("complete", data.get("finished") is not None)),
            # files before `status` leave it out: derived from `complete` as they always were
            status=RunStatus(data.get("status") or RunStatus.COMPLETE),
            phase=Phase(data["phase"]) if data.get("phase") else None,
            not_run=tuple(str(i) for i in data.get("not_run") or ()),
        )
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise InputError(f"{path}: checks: malformed entry ({exc})") from None
    # a whole document (finished, or a platform never provisioned) is read alone
    if run.complete or run.finished is not None or run.status is RunStatus.NOT_PROVISIONED:
        return run
    # in progress or killed part way: the checks it finished are in the sidecar
    finished = _sidecar_checks(path)
    if not finished:
        return run
    return replace(run, checks=tuple(sorted(run.checks + finished, key=lambda c: c.id)))
