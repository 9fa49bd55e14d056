"""What a person debugging a failed Kubernetes run needs, collected into the results
directory: pods and nodes wide, events, node conditions, the CNI pods' logs. Best effort:
every command has a timeout and a failing one is written down, never raised."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from netconform.k8s.tools import Runner

COMMAND_TIMEOUT_S = 60.0


def _kubectl(kubeconfig: str, *args: str) -> tuple[str, ...]:
    return ("kubectl", "--kubeconfig", kubeconfig, *args)


def _save(runner: Runner, argv: Sequence[str], path: Path) -> str:
    result = runner.run(argv, timeout_s=COMMAND_TIMEOUT_S)
    text = result.stdout
    if result.returncode != 0:
        text += f"\n# `{' '.join(argv)}` exit {result.returncode}: {result.stderr.strip()}\n"
    path.write_text(text)
    return result.stdout


def collect(
    runner: Runner, kubeconfig: str, out: Path, cni_namespaces: Sequence[str]
) -> list[Path]:
    """Write the diagnostics under out/; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    plain = {
        "pods.txt": ("get", "pods", "-A", "-o", "wide"),
        "nodes.txt": ("get", "nodes", "-o", "wide"),
        "events.txt": ("get", "events", "-A", "--sort-by=.lastTimestamp"),
        "describe-nodes.txt": ("describe", "nodes"),
    }
    written = []
    for name, args in plain.items():
        _save(runner, _kubectl(kubeconfig, *args), out / name)
        written.append(out / name)
    nodes = runner.run(_kubectl(kubeconfig, "get", "nodes", "-o", "json"), timeout_s=60)
    conditions: dict[str, object] = {}
    try:
        for node in json.loads(nodes.stdout or "{}").get("items", []):
            conditions[node["metadata"]["name"]] = node.get("status", {}).get("conditions", [])
    except (ValueError, KeyError, TypeError):
        pass
    (out / "node-conditions.json").write_text(json.dumps(conditions, indent=2) + "\n")
    written.append(out / "node-conditions.json")
    logs = out / "cni-logs"
    for namespace in cni_namespaces:
        pods = runner.run(
            _kubectl(kubeconfig, "-n", namespace, "get", "pods", "-o", "name"), timeout_s=60
        )
        for pod in pods.stdout.split():
            logs.mkdir(exist_ok=True)
            name = pod.removeprefix("pod/")
            path = logs / f"{namespace}_{name}.log"
            _save(
                runner,
                _kubectl(
                    kubeconfig, "-n", namespace, "logs", name, "--all-containers",
                    "--prefix", "--tail=2000",
                ),
                path,
            )  # fmt: skip
            written.append(path)
    return written
