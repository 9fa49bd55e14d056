"""`netconform`: a thin CLI over the library. Errors a user can fix are one line and an exit
code (2 bad input, 3 environment); anything else is a bug and keeps its traceback."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from netconform.errors import EnvironmentUnfit, InputError, NetconformError, exit_code_of
from netconform.inputs import check_output_dir, output_dir
from netconform.lab.config import LabConfig
from netconform.options import OPTIONS, add_cli_options, normalise
from netconform.platforms import registry
from netconform.settings import VARIABLES, Settings
from netconform.vocab import Family, Fault


def conformance_dir() -> Path:
    checkout = Path(__file__).resolve().parents[2] / "conformance"
    if checkout.is_dir():
        return checkout
    return Path(__file__).resolve().parent / "conformance"


def cmd_run(args: argparse.Namespace, extra: list[str]) -> int:
    from netconform.interrupts import terminate_as_interrupt

    # SIGTERM ends the run as Ctrl-C does: teardown, results.json `interrupted`, exit 143
    with terminate_as_interrupt():
        return _run(args, extra)


def _run(args: argparse.Namespace, extra: list[str]) -> int:
    import pytest

    from netconform.interrupts import EXIT_CODES, Interruption
    from netconform.plugin import ProvidedRun, RunState
    from netconform.progress import StreamProgress
    from netconform.results import Phase, RunStatus

    settings = Settings.from_env()
    options = normalise({o.dest: getattr(args, o.dest) for o in OPTIONS}, settings)
    check_output_dir(options.out, "--out")
    # Fail fast, before pytest starts: bad scenario (2), missing tools or not root (3). The
    # plugin takes the prepared run as it is: nothing is parsed or preflighted twice.
    try:
        run = registry.prepare_run(options, settings, StreamProgress())
    except EnvironmentUnfit as exc:
        # This machine cannot host the platform: the run directory says so, for the report.
        RunState(options, settings=settings).not_provisioned(exc)
        raise
    except KeyboardInterrupt as exc:  # SIGTERM too: the run directory still says what happened
        RunState(options, settings=settings).end(RunStatus.INTERRUPTED, Phase.PREPARING)
        print("netconform: interrupted", file=sys.stderr)
        return Interruption.of(exc).exit_code
    out = options.out
    base = [str(conformance_dir()), "--rootdir", str(conformance_dir()), "-p", "no:cacheprovider"]
    if args.k:
        refused = _selection_refused([*base, "-k", args.k], run)
        if refused:
            print(f"netconform: -k {args.k!r}: {refused}", file=sys.stderr)
            return 2
    output_dir(out, "--out")  # only now: a refused run leaves no empty directory behind
    argv = [
        *base,
        "--alluredir",
        str(out / "allure-results"),
        "--clean-alluredir",
        "--junitxml",
        str(out / "junit.xml"),
        "-o",
        "junit_family=xunit2",
    ]
    if args.k:
        argv += ["-k", args.k]
    if args.n:
        # loadfile: the NetworkPolicy cases share namespaces and must stay in one worker
        argv += ["-n", str(args.n), "--dist", "loadfile"]
    code = int(pytest.main(argv + extra, plugins=[ProvidedRun(run)]))
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        print("netconform: no check matched the selection", file=sys.stderr)
        return 2
    return code if code in (0, 1, 2, 3, *EXIT_CODES) else 2


def _selection_refused(argv: list[str], run: registry.PreparedRun) -> str | None:
    """Why a -k selection is refused (malformed, or keeping no check), by pytest's own
    collection before anything is provisioned (the plugin provisions nothing under
    --collect-only); None when it keeps a check."""
    import pytest

    from netconform.plugin import ProvidedRun

    said = io.StringIO()
    with contextlib.redirect_stdout(said), contextlib.redirect_stderr(said):
        code = pytest.main([*argv, "--collect-only", "-q"], plugins=[ProvidedRun(run)])
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        return f"no check of {run.options.platform} matches"
    if code == pytest.ExitCode.USAGE_ERROR:
        lines = [ln for ln in said.getvalue().splitlines() if ln.startswith("ERROR:")]
        return lines[0].removeprefix("ERROR: ") if lines else "not a pytest -k expression"
    return None


def cmd_lab(args: argparse.Namespace) -> int:
    from netconform.lab import lab
    from netconform.lab.config import LabConfig
    from netconform.progress import StreamProgress

    if args.lab_cmd == "up":
        given = {"hosts": args.hosts, "underlay_mtu": args.underlay_mtu}
        config = LabConfig(args.name, **{k: v for k, v in given.items() if v is not None})
        state = lab.up(config, StreamProgress())
        print(f"lab {state.name} up: {len(state.hosts)} hosts on {state.subnet}")
        for host in state.hosts:
            print(f"  {host.name} {host.address} DOCKER_HOST={host.docker_socket}")
        return 0
    if args.lab_cmd == "fault":
        return cmd_fault(args)
    if args.lab_cmd == "down":
        report = lab.down(args.name, StreamProgress())
        if report is None:
            print(f"no lab {args.name!r} is up")
        else:
            print(
                f"lab {args.name} down: {report.killed} processes stopped, "
                f"{len(report.namespaces)} namespaces and {report.unmounted} mounts removed"
            )
        return 0
    status = lab.status(args.name)
    if status is None:
        print(f"no lab {args.name!r} is up")
        return 0
    print(json.dumps(status, indent=2))
    return 0


def cmd_fault(args: argparse.Namespace) -> int:
    from netconform.lab import faults

    if args.fault_cmd == "add":
        record = faults.add(args.name, args.kind, args.host, args.mtu)
        print(f"fault {record['kind']} applied on {record['host']}")
    elif args.fault_cmd == "clear":
        cleared = faults.clear(args.name)
        print(f"{len(cleared)} faults cleared")
    else:
        for record in faults.listed(args.name):
            print(json.dumps(record, sort_keys=True))
    return 0


def cmd_selftest(args: argparse.Namespace) -> int:
    from netconform.progress import StreamProgress
    from netconform.selftest import run_selftest

    if registry.entry(args.platform).name != "swarm-lab":
        raise InputError(f"--platform {args.platform}: faults can be injected only in swarm-lab")
    out = output_dir(Path(args.out), "--out")  # before a lab is made, not after the rounds
    report = run_selftest(out, lab_name=args.lab_name, keep=args.keep, progress=StreamProgress())
    problems = report.problems()
    print(
        f"self-test {'passed' if not problems else 'FAILED'}: "
        f"{sum(not r.skipped for r in report.rounds)} faults applied, "
        f"{len(report.uncatchable)} checks no fault can reach; {args.out}/selftest.md"
    )
    for problem in problems:
        print(f"  {problem}")
    return 0 if not problems else 1


def cmd_checks(args: argparse.Namespace) -> int:
    from netconform.checks.base import CATALOGUE

    family = registry.entry(args.platform).family
    registry.load_checks(args.platform)
    for check in sorted(CATALOGUE.for_family(family), key=lambda c: c.spec.id):
        s = check.spec
        needs = f" [needs {','.join(sorted(s.requires))}]" if s.requires else ""
        print(f"{s.id:45} {s.area:12} {s.title}{needs}")
    return 0


def _add_lab_commands(lab_parser: argparse.ArgumentParser) -> None:
    """`lab up|down|status` and `lab fault add|clear|list`, each with --name."""
    lab_sub = lab_parser.add_subparsers(dest="lab_cmd", required=True)
    for name in ("up", "down", "status"):
        p = lab_sub.add_parser(name)
        p.add_argument("--name", default=LabConfig.name)
        if name == "up":
            p.add_argument("--hosts", type=int, help=f"hosts (default {LabConfig.hosts})")
            p.add_argument(
                "--underlay-mtu", type=int, help=f"underlay MTU (default {LabConfig.underlay_mtu})"
            )
    fault = lab_sub.add_parser("fault", help="inject, list and clear faults in a running lab")
    fault_sub = fault.add_subparsers(dest="fault_cmd", required=True)
    add = fault_sub.add_parser("add")
    add.add_argument("kind", help=", ".join(Fault))
    add.add_argument("--host", type=int, default=2, help="host number (1-based)")
    add.add_argument("--mtu", type=int, help="mtu-mismatch: the lowered MTU")
    for name in ("clear", "list"):
        fault_sub.add_parser(name)
    for p in (add, *fault_sub.choices.values()):
        if not any(a.dest == "name" for a in p._actions):
            p.add_argument("--name", default=LabConfig.name)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="netconform", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)

    run = sub.add_parser(
        "run",
        help="provision a platform, run the checks, tear down",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="environment:\n"
        + "\n".join(f"  {name:30} {what}" for name, what in VARIABLES.items()),
    )
    add_cli_options(run, registry.names())
    run.add_argument("-k", help="pytest -k expression selecting checks")
    run.add_argument("-n", help="pytest-xdist workers")

    _add_lab_commands(sub.add_parser("lab", help="the local multi-host Swarm lab"))

    selftest = sub.add_parser("selftest", help="prove every check can fail: fault x check matrix")
    selftest.add_argument("--platform", default="swarm-lab")
    selftest.add_argument("--out", required=True)
    selftest.add_argument("--lab-name", default="selftest")
    selftest.add_argument("--keep", action="store_true", help="keep the lab for another round")

    checks = sub.add_parser("checks", help="list the checks of a platform's family")
    checks.add_argument("--platform", default="swarm-lab")

    report = sub.add_parser("report", help="compare runs: comparison.html/.md/.json (+ Allure)")
    from netconform.report.cli import add_report_arguments

    add_report_arguments(report)

    netpol = sub.add_parser("netpol", help="NetworkPolicy oracle and catalogue")
    from netconform.netpol.cli import add_netpol_subcommands

    add_netpol_subcommands(netpol.add_subparsers(dest="netpol_cmd", required=True))

    cluster = sub.add_parser(
        "cluster", help="platform cluster: least-privilege kubeconfig, cleanup of leftovers"
    )
    from netconform.k8s.cluster_cli import add_cluster_subcommands

    add_cluster_subcommands(cluster.add_subparsers(dest="cluster_cmd", required=True))

    plan = sub.add_parser("plan", help="render every object a platform would create")
    try:
        from netconform.k8s.cli import add_plan_arguments

        add_plan_arguments(plan, registry.names(Family.KUBERNETES))
    except ImportError:  # the Kubernetes extra is not installed
        plan.add_argument("--platform", required=True)
        plan.add_argument("--out", required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.cmd != "run":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        if args.cmd == "run":
            return cmd_run(args, extra)
        if args.cmd == "lab":
            return cmd_lab(args)
        if args.cmd == "checks":
            return cmd_checks(args)
        if args.cmd == "selftest":
            return cmd_selftest(args)
        if args.cmd == "report":
            from netconform.report.cli import run_report

            return run_report(args)
        if args.cmd == "plan":
            from netconform.k8s.cli import run_plan

            if registry.entry(args.platform).family != Family.KUBERNETES:
                kube = ", ".join(registry.names(Family.KUBERNETES))
                raise InputError(f"--platform {args.platform}: plan renders only {kube}")
            return int(run_plan(args))
        func = getattr(args, "func", None)
        if func is None:
            parser.error("missing subcommand")
        return int(func(args))
    except KeyboardInterrupt:
        print("netconform: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `netconform checks | head`
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - stdout must stay open until exit
        return 0
    # OSError: the machine refused something (a file, a socket, a cgroup)
    except (NetconformError, OSError) as exc:
        print(f"netconform: {exc}", file=sys.stderr)
        return exit_code_of(exc)


if __name__ == "__main__":
    sys.exit(main())
