"""kind clusters by name: which exist, which a previous run left ready for reuse (--keep),
which a crashed run left behind. Our clusters carry the `netconform-` prefix, and a cluster
whose install finished carries a marker ConfigMap naming its CNI profile."""

from __future__ import annotations

from dataclasses import dataclass

from netconform.k8s.install import MARKER, Workdir, kubectl
from netconform.k8s.tools import Runner

CLUSTER_PREFIX = "netconform-"


@dataclass(frozen=True)
class KindClusters:
    runner: Runner

    def names(self) -> list[str]:
        result = self.runner.run(["kind", "get", "clusters"], timeout_s=60)
        if result.returncode != 0:
            return []
        return [line.strip() for line in result.stdout.splitlines() if line.strip()]

    def ours(self) -> list[str]:
        return [n for n in self.names() if n.startswith(CLUSTER_PREFIX)]

    def export_kubeconfig(self, name: str, work: Workdir) -> bool:
        work.root.mkdir(parents=True, exist_ok=True)
        argv = [
            "kind",
            "export",
            "kubeconfig",
            "--name",
            name,
            "--kubeconfig",
            str(work.kubeconfig),
        ]
        return self.runner.run(argv, timeout_s=60).returncode == 0

    def ready_profile(self, work: Workdir) -> str | None:
        """The profile a finished install recorded, or None (no marker: never finished)."""
        argv = kubectl(
            work, "-n", "kube-system", "get", "configmap", MARKER, "-o", "jsonpath={.data.profile}"
        )
        result = self.runner.run(argv, timeout_s=60)
        return result.stdout.strip() or None if result.returncode == 0 else None

    def delete(self, name: str) -> bool:
        return (
            self.runner.run(["kind", "delete", "cluster", "--name", name], timeout_s=300).returncode
            == 0
        )


def reap(clusters: KindClusters, keep: set[str] | None = None) -> list[str]:
    """Delete every netconform- cluster not named in `keep`; returns what was deleted."""
    deleted = []
    for name in clusters.ours():
        if keep and name in keep:
            continue
        if clusters.delete(name):
            deleted.append(name)
    return deleted
