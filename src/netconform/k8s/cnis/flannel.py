"""Flannel from its pinned kube-flannel.yml: the pod CIDR (and MTU when pinned) patched into
net-conf.json, applied, the DaemonSet waited for."""

from __future__ import annotations

from collections.abc import Sequence

from netconform.k8s import manifests, patches
from netconform.k8s.cnis.base import CniRender, RenderedCni, images_of, pinned_docs, write_file
from netconform.k8s.install import ROLLOUT_S, Phase, Step, Workdir, kubectl, rollout
from netconform.k8s.kindhost import Artifacts
from netconform.k8s.profiles import CniProfile

MANIFEST = "kube-flannel"  # the profile's artifact
FILE = "kube-flannel.yml"


class FlannelManifest:
    tools: tuple[str, ...] = ()

    def images(self, profile: CniProfile, artifacts: Artifacts) -> list[str]:
        return images_of(profile, artifacts, [MANIFEST])

    def render(self, job: CniRender) -> RenderedCni:
        docs = pinned_docs(job.profile, job.artifacts, MANIFEST)
        patched = patches.flannel(docs, job.pod_cidr, job.profile.mtu)
        return RenderedCni((write_file(job.work.cni / FILE, manifests.dump_all(patched)),))

    def install_steps(
        self, profile: CniProfile, work: Workdir, skipped_rollouts: Sequence[str]
    ) -> list[Step]:
        return [
            Step(
                Phase.INSTALL, kubectl(work, "apply", "-f", str(work.cni / FILE)), f"apply {FILE}"
            ),
            rollout(work, "kube-flannel", "daemonset/kube-flannel-ds", ROLLOUT_S),
        ]
