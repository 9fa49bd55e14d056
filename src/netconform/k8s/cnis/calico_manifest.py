"""Calico's manifest install (upstream's calico.yaml or calico-vxlan.yaml: node, CNI and
kube-controllers, no operator, no Typha), configured through the calico-config ConfigMap as
the seed does: the pool in kind's podSubnet, its encapsulation, the MTU in `veth_mtu`."""

from __future__ import annotations

from collections.abc import Sequence

from netconform.k8s import manifests, patches
from netconform.k8s.cnis.base import CniRender, OneManifest
from netconform.k8s.install import OPERATOR_S, ROLLOUT_S, Phase, Step, Workdir, kubectl, rollout
from netconform.k8s.profiles import CniProfile

NAMESPACE = "kube-system"


class CalicoManifest(OneManifest):
    artifact = "calico-manifest"  # the profile's: calico.yaml or calico-vxlan.yaml
    file = "calico.yaml"

    def patched(self, docs: list[manifests.Manifest], job: CniRender) -> list[manifests.Manifest]:
        profile = job.profile
        return patches.calico_manifest(docs, job.pod_cidr, profile.mtu, profile.encapsulation)

    def install_steps(
        self, profile: CniProfile, work: Workdir, skipped_rollouts: Sequence[str]
    ) -> list[Step]:
        # `create`: the CRDs are larger than client-side apply's annotation allows
        create = kubectl(work, "create", "-f", str(work.cni / self.file))
        return [
            Step(Phase.INSTALL, create, "create Calico (manifest install)"),
            rollout(work, NAMESPACE, "daemonset/calico-node", OPERATOR_S),
            rollout(work, NAMESPACE, "deployment/calico-kube-controllers", ROLLOUT_S),
        ]
