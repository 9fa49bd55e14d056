"""Calico's manifest install (upstream's calico.yaml or calico-vxlan.yaml: node, CNI and
kube-controllers, no operator, no Typha), configured through the calico-config ConfigMap as
the seed does: the pool in kind's podSubnet, its encapsulation, the MTU in `veth_mtu`."""

from __future__ import annotations

from collections.abc import Sequence

from netconform.k8s import manifests, patches
from netconform.k8s.cnis.base import CniRender, RenderedCni, images_of, pinned_docs, write_file
from netconform.k8s.install import OPERATOR_S, ROLLOUT_S, Phase, Step, Workdir, kubectl, rollout
from netconform.k8s.kindhost import Artifacts
from netconform.k8s.profiles import CniProfile

MANIFEST = "calico-manifest"  # the profile's artifact: calico.yaml or calico-vxlan.yaml
FILE = "calico.yaml"
NAMESPACE = "kube-system"


class CalicoManifest:
    tools: tuple[str, ...] = ()

    def images(self, profile: CniProfile, artifacts: Artifacts) -> list[str]:
        return images_of(profile, artifacts, [MANIFEST])

    def render(self, job: CniRender) -> RenderedCni:
        docs = pinned_docs(job.profile, job.artifacts, MANIFEST)
        patched = patches.calico_manifest(
            docs, job.pod_cidr, job.profile.mtu, job.profile.encapsulation
        )
        return RenderedCni((write_file(job.work.cni / FILE, manifests.dump_all(patched)),))

    def install_steps(
        self, profile: CniProfile, work: Workdir, skipped_rollouts: Sequence[str]
    ) -> list[Step]:
        return [
            # `create`: the CRDs are larger than client-side apply's annotation allows
            Step(
                Phase.INSTALL,
                kubectl(work, "create", "-f", str(work.cni / FILE)),
                "create Calico (manifest install)",
            ),
            rollout(work, NAMESPACE, "daemonset/calico-node", OPERATOR_S),
            rollout(work, NAMESPACE, "deployment/calico-kube-controllers", ROLLOUT_S),
        ]
