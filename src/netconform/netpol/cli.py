"""`netconform netpol expect|cases|show`: the oracle and the catalogue from the shell.

The top-level CLI mounts these with `add_netpol_subcommands`; `python -m
netconform.netpol.cli` runs them standalone.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from netconform.errors import InputError
from netconform.inputs import files_dir
from netconform.netpol.catalogue import Case, default_catalogue_dir, load_catalogue, select
from netconform.netpol.document import load_expect_input
from netconform.netpol.oracle import Oracle, default_probes
from netconform.netpol.render import results_json, truth_tables, verdict_json


def _expect(args: argparse.Namespace) -> int:
    document = load_expect_input(Path(args.file))
    oracle = Oracle(document.cluster, document.policies, document.profile)
    probes = document.probes if document.probes is not None else default_probes(document.cluster)
    verdicts = oracle.verdicts(probes)
    if args.format == "json":
        print(json.dumps(results_json(verdicts), indent=2))
    else:
        print(truth_tables(verdicts))
    return 0


def _catalogue(args: argparse.Namespace) -> list[Case]:
    if args.catalogue is None:
        return load_catalogue()
    return load_catalogue(files_dir(Path(args.catalogue), "--catalogue", "*.yaml"))


def _cases(args: argparse.Namespace) -> int:
    cases = select(_catalogue(args), args.tag or ())
    width = max((len(c.id) for c in cases), default=0)
    for case in cases:
        print(f"{case.id.ljust(width)}  [{', '.join(case.tags)}]  {case.title}")
    return 0


def _show(args: argparse.Namespace) -> int:
    cases = {c.id: c for c in _catalogue(args)}
    case = cases.get(args.case_id)
    if case is None:
        where = args.catalogue or default_catalogue_dir()
        raise InputError(f"{where}: {args.case_id}: no such case (see `netpol cases`)")
    steps = [(step, step.expected()) for step in case.resolve().steps]
    if args.format == "json":
        data = {
            "id": case.id,
            "title": case.title,
            "tags": list(case.tags),
            "upstream": case.upstream,
            "steps": [
                {"name": step.step.name, "results": [verdict_json(v) for v in verdicts]}
                for step, verdicts in steps
            ],
        }
        print(json.dumps(data, indent=2))
        return 0
    print(f"{case.id}: {case.title}")
    if case.upstream:
        print(f"upstream: {case.upstream}")
    print(f"tags: {', '.join(case.tags)}")
    for number, (step, verdicts) in enumerate(steps, start=1):
        print()
        print(f"step {number}: {step.step.name}")
        print(f"policies: {', '.join(p.key for p in step.policies) or '(none)'}")
        print(truth_tables(verdicts))
    return 0


def _observed(args: argparse.Namespace) -> int:
    """A case's steps as a run observed them: every step, held or not, with its matrix."""
    from netconform.report.netpol_view import step_text
    from netconform.results import read_results

    path = Path(args.results)
    run = read_results(path / "results.json" if path.is_dir() else path)
    wanted = {args.case_id, f"k8s.netpol.{args.case_id}"}
    found = next((c for c in run.checks if c.id in wanted and c.netpol is not None), None)
    if found is None or found.netpol is None:
        raise InputError(f"{path}: {args.case_id}: no NetworkPolicy case of that id in the run")
    print(f"{found.id} on {run.platform}: {found.verdict}: {found.reason}")
    for step in found.netpol.steps:
        print()
        print(step_text(step))
    return 0


def add_netpol_subcommands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `expect`, `cases` and `show` to a subparsers object; each sets `func`."""
    expect = subparsers.add_parser(
        "expect", help="expected reachability for a model and policies, explained cell by cell"
    )
    expect.add_argument("file", help="YAML or JSON with model, policies, probes, profile")
    expect.add_argument("--format", choices=("json", "table"), default="json")
    expect.set_defaults(func=_expect)

    cases = subparsers.add_parser("cases", help="list the catalogue's cases (id, tags, title)")
    cases.add_argument("--tag", action="append", help="only cases with this tag (repeatable)")
    cases.add_argument("--catalogue", help="directory of case files (default: scenarios/netpol)")
    cases.set_defaults(func=_cases)

    show = subparsers.add_parser("show", help="a case's expected truth tables, step by step")
    show.add_argument("case_id")
    show.add_argument("--format", choices=("json", "table"), default="table")
    show.add_argument("--catalogue", help="directory of case files (default: scenarios/netpol)")
    show.set_defaults(func=_show)

    observed = subparsers.add_parser(
        "observed", help="a case's observed truth tables from a run's results, step by step"
    )
    observed.add_argument("results", help="a results.json, or the run directory holding it")
    observed.add_argument("case_id", help="e.g. upstream.tcp.default-deny-ingress")
    observed.set_defaults(func=_observed)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="netconform netpol", description=__doc__)
    add_netpol_subcommands(parser.add_subparsers(dest="netpol_cmd", required=True))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        return 0
    return result


if __name__ == "__main__":
    sys.exit(main())
