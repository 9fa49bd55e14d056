"""`netconform cluster rbac|kubeconfig|cleanup`: the least-privilege setup of the `cluster`
platform and the removal of what killed runs left. The kubeconfig and context are the ones
the platform uses (NETCONFORM_KUBECONFIG or KUBECONFIG, NETCONFORM_KUBE_CONTEXT)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, TextIO

from netconform.k8s import access, leftovers
from netconform.k8s.tools import Runner, SubprocessRunner, require_tools
from netconform.owner import LocalProcesses, Processes
from netconform.polling import Clock, Sleep
from netconform.settings import Settings


def _kubectl(settings: Settings) -> access.Kubectl:
    require_tools(["kubectl"], "cluster")
    return access.user_kubectl(str(settings.kubeconfig), settings.kube_context)


def print_rbac(args: argparse.Namespace, out: TextIO | None = None) -> int:
    (out or sys.stdout).write(access.rbac_manifest().read_text())
    return 0


def print_kubeconfig(
    args: argparse.Namespace,
    runner: Runner | None = None,
    settings: Settings | None = None,
    out: TextIO | None = None,
) -> int:
    settings = settings or Settings.from_env()
    kubectl = _kubectl(settings)
    config = access.service_account_kubeconfig(runner or SubprocessRunner(), kubectl, args.duration)
    (out or sys.stdout).write(config)
    return 0


def cleanup(
    args: argparse.Namespace,
    runner: Runner | None = None,
    settings: Settings | None = None,
    processes: Processes | None = None,
    out: TextIO | None = None,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
) -> int:
    settings = settings or Settings.from_env()
    runner = runner or SubprocessRunner()
    processes = processes or LocalProcesses()
    out = out or sys.stdout
    kubectl = _kubectl(settings)
    done = leftovers.clean(runner, kubectl, processes, everything=args.everything)
    for line in done.lines():
        out.write(line + "\n")
    if done.found_nothing:
        out.write("no namespace or ClusterNetworkPolicy of a netconform run\n")
    leftovers.wait_gone(runner, kubectl, done.deleted_names, args.wait_s, clock, sleep)
    return 0


def add_cluster_subcommands(sub: Any) -> None:
    rbac = sub.add_parser("rbac", help="print the RBAC and admission manifest (kubectl apply -f -)")
    rbac.set_defaults(func=print_rbac)
    kubeconfig = sub.add_parser(
        "kubeconfig", help="print a kubeconfig for the netconform ServiceAccount"
    )
    kubeconfig.add_argument("--duration", default="24h", help="token lifetime (default 24h)")
    kubeconfig.set_defaults(func=print_kubeconfig)
    clean = sub.add_parser(
        "cleanup", help="delete the namespaces of netconform runs that are no longer live"
    )
    clean.add_argument(
        "--all",
        dest="everything",
        action="store_true",
        help="also those of runs on other hosts, and those with no owner (never a live one)",
    )
    clean.add_argument(
        "--wait-s",
        type=float,
        default=leftovers.GONE_DEADLINE_S,
        help="how long to wait for them to be gone",
    )
    clean.set_defaults(func=cleanup)
