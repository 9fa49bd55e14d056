"""Verdicts as JSON and as upstream-style truth tables (`.` allowed, `X` denied)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from netconform.netpol.model import Protocol
from netconform.netpol.oracle import DirectionVerdict, ProbeVerdict, RuleRef


def rule_json(ref: RuleRef) -> dict[str, Any]:
    """`{policy, rule}`, plus tier, priority, name and action for a cluster policy's rule."""
    data: dict[str, Any] = {"policy": ref.policy, "rule": ref.rule}
    if ref.tier is not None:
        data.update(
            kind="ClusterNetworkPolicy",
            tier=str(ref.tier),
            priority=ref.priority,
            name=ref.name,
            action=str(ref.action),
        )
    return data


def direction_json(verdict: DirectionVerdict) -> dict[str, Any]:
    """The NetworkPolicy fields always; which tier decided and the cluster policies' part
    only when there is one (NetworkPolicy-only output reads as it always has)."""
    data: dict[str, Any] = {
        "allowed": verdict.allowed,
        "isolated": verdict.isolated,
        "isolated_by": list(verdict.isolated_by),
        "allowed_by": [rule_json(r) for r in verdict.allowed_by],
        "reason": verdict.reason,
    }
    if verdict.closest is not None:
        data["closest"] = {
            **rule_json(verdict.closest.rule),
            "failed": verdict.closest.failed,
            "detail": verdict.closest.detail,
        }
    if verdict.tier:
        data["tier"] = verdict.tier
    if verdict.decided_by is not None:
        data["decided_by"] = rule_json(verdict.decided_by)
    if verdict.passed:
        data["passed"] = [rule_json(r) for r in verdict.passed]
    if verdict.ambiguous_with:
        data["ambiguous_with"] = [rule_json(r) for r in verdict.ambiguous_with]
        data["ambiguous"] = verdict.ambiguous
    if verdict.unsupported:
        data["unsupported"] = verdict.unsupported
    return data


def verdict_json(verdict: ProbeVerdict) -> dict[str, Any]:
    probe = verdict.probe
    data: dict[str, Any] = {
        "from": probe.source,
        "to": probe.destination,
        "port": probe.port,
        "protocol": str(probe.protocol),
        **({"service": True} if probe.service else {}),
        "allowed": verdict.allowed,
        "served": verdict.served,
        "reason": verdict.reason,
        "egress": direction_json(verdict.egress),
        "ingress": direction_json(verdict.ingress),
    }
    if verdict.ignored:
        data["ignored"] = verdict.ignored
    return data


def results_json(verdicts: Sequence[ProbeVerdict]) -> dict[str, Any]:
    return {"results": [verdict_json(v) for v in verdicts]}


def truth_table(
    verdicts: Sequence[ProbeVerdict], port: int, protocol: Protocol, title: str = ""
) -> str:
    """One table for one port/protocol; rows are sources, columns destinations."""
    cells = {
        (v.probe.source, v.probe.destination): v.allowed
        for v in verdicts
        if v.probe.port == port and v.probe.protocol == protocol
    }
    sources = list(dict.fromkeys(s for s, _ in cells))
    destinations = list(dict.fromkeys(d for _, d in cells))
    width = max([len(k) for k in sources + destinations] + [1])
    heading = title or f"{port}/{protocol}"
    lines = [heading, " ".join([" " * width] + [d.ljust(width) for d in destinations]).rstrip()]
    for src in sources:
        row = [src.ljust(width)]
        for dst in destinations:
            mark = "" if (src, dst) not in cells else ("." if cells[(src, dst)] else "X")
            row.append(mark.ljust(width))
        lines.append(" ".join(row).rstrip())
    return "\n".join(lines)


def truth_tables(verdicts: Sequence[ProbeVerdict], title: str = "") -> str:
    """A table per port/protocol, in the order they first appear."""
    pairs = list(dict.fromkeys((v.probe.port, v.probe.protocol) for v in verdicts))
    blocks = []
    for port, protocol in pairs:
        heading = f"{title} {port}/{protocol}".strip()
        blocks.append(truth_table(verdicts, port, protocol, heading))
    return "\n\n".join(blocks)
