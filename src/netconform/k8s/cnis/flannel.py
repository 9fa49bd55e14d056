"""Flannel from its pinned kube-flannel.yml: the pod CIDR (and MTU when pinned) patched into
net-conf.json, applied, the DaemonSet waited for."""

from __future__ import annotations

from collections.abc import Sequence

from netconform.k8s import manifests, patches
from netconform.k8s.cnis.base import CniRender, OneManifest
from netconform.k8s.install import ROLLOUT_S, Phase, Step, Workdir, kubectl, rollout
from netconform.k8s.profiles import CniProfile


class FlannelManifest(OneManifest):
    artifact = "kube-flannel"
    file = "kube-flannel.yml"

    def patched(self, docs: list[manifests.Manifest], job: CniRender) -> list[manifests.Manifest]:
        return patches.flannel(docs, job.pod_cidr, job.profile.mtu)

    def install_steps(
        self, profile: CniProfile, work: Workdir, skipped_rollouts: Sequence[str]
    ) -> list[Step]:
        apply = kubectl(work, "apply", "-f", str(work.cni / self.file))
        return [
            Step(Phase.INSTALL, apply, f"apply {self.file}"),
            rollout(work, "kube-flannel", "daemonset/kube-flannel-ds", ROLLOUT_S),
        ]
