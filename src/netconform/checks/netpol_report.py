"""From probe results to NetworkPolicy cells, and from a step's expectation and observation
to the typed `NetpolStep` the report reads (results.NetpolReport).

A cell is allowed when the connection was made, denied when the network stopped it (refused,
timeout, unreachable), and an error otherwise: a probe that did not run, or ended in an error
the agent could not classify, is never read as a deny.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from netconform.netpol.oracle import Probe as NetpolProbe
from netconform.netpol.oracle import ProbeVerdict
from netconform.probes.model import BLOCKED, Connectivity, ProbeResult
from netconform.results import CellError, CellValue, NetpolStep, TruthTable

Observed = Mapping[NetpolProbe, ProbeResult]


def cell_value(result: ProbeResult) -> CellValue:
    # A TCP handshake without a reply, or a DNS answer (a negative one too), crossed the
    # policy: the connection was allowed.
    if result.ok or result.outcome in (Connectivity.NO_REPLY, Connectivity.ANSWERED):
        return CellValue.ALLOW
    if result.outcome in BLOCKED:
        return CellValue.DENY
    return CellValue.ERROR


def expected_value(verdict: ProbeVerdict) -> CellValue:
    return CellValue.ALLOW if verdict.allowed else CellValue.DENY


def compared(verdicts: Sequence[ProbeVerdict]) -> list[ProbeVerdict]:
    return [v for v in verdicts if not v.ignored]


def wrong(expected: Sequence[ProbeVerdict], observed: Observed) -> list[ProbeVerdict]:
    """Compared cells not as expected; an error cell is always wrong."""
    return [v for v in compared(expected) if cell_value(observed[v.probe]) != expected_value(v)]


def errors(expected: Sequence[ProbeVerdict], observed: Observed) -> list[CellError]:
    """The compared cells whose probe could not tell allowed from denied."""
    found = []
    for v in compared(expected):
        result = observed[v.probe]
        if cell_value(result) == CellValue.ERROR:
            why = "probe failed to run" if not result.ran else f"probe ended in {result.outcome}"
            found.append(CellError(str(v.probe), f"{why}: {result.error}", result.reproduce))
    return found


def explain(verdict: ProbeVerdict) -> str:
    """The oracle's why of one cell: the verdict and each direction's reason."""
    return f"{verdict.reason}; egress: {verdict.egress.reason}; ingress: {verdict.ingress.reason}"


def tables(expected: Sequence[ProbeVerdict], observed: Observed) -> tuple[TruthTable, ...]:
    """One table per port/protocol in the order probed. An ignored cell (loopback,
    hostNetwork under the profile) is shown as observed on both sides: it is not compared."""
    out = []
    for port, protocol in dict.fromkeys((v.probe.port, v.probe.protocol) for v in expected):
        here = [v for v in expected if (v.probe.port, v.probe.protocol) == (port, protocol)]
        sources = tuple(dict.fromkeys(v.probe.source for v in here))
        destinations = tuple(dict.fromkeys(v.probe.destination for v in here))
        cells = {(v.probe.source, v.probe.destination): v for v in here}
        want, seen = [], []
        for src in sources:
            row_want, row_seen = [], []
            for dst in destinations:
                v = cells[(src, dst)]
                got = cell_value(observed[v.probe])
                row_seen.append(got)
                row_want.append(got if v.ignored else expected_value(v))
            want.append(tuple(row_want))
            seen.append(tuple(row_seen))
        out.append(TruthTable(port, str(protocol), sources, destinations, tuple(want), tuple(seen)))
    return tuple(out)


def step_report(
    name: str,
    held: bool,
    took_effect_s: float,
    attempts: int,
    expected: Sequence[ProbeVerdict],
    observed: Observed,
    profile: str = "",
    label_change: bool = False,
) -> NetpolStep:
    """Every step carries its tables, the observed matrix beside the expected one, held or
    not (a pass is auditable and can be re-judged); one that did not hold under the default
    expectation also the oracle's explanation of every wrong cell and the cells that could
    not be probed."""
    return NetpolStep(
        name,
        held,
        took_effect_s,
        attempts,
        tables(expected, observed),
        {str(v.probe): explain(v) for v in wrong(expected, observed)},
        tuple(errors(expected, observed)),
        profile,
        label_change,
        {
            str(v.probe): observed[v.probe].reproduce
            for v in wrong(expected, observed)
            if observed[v.probe].reproduce
        },
    )
