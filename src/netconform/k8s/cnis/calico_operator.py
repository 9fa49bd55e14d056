"""Calico through the tigera-operator, as Calico's own test scripts install it: the CRDs,
the operator, then the Installation (pool patched into kind's podSubnet, the profile's
encapsulation), waited for through TigeraStatus."""

from __future__ import annotations

from collections.abc import Sequence

from netconform.k8s import manifests, patches
from netconform.k8s.cnis.base import (
    CniRender,
    RenderedCni,
    images_in,
    images_of,
    pinned,
    pinned_docs,
    write_file,
)
from netconform.k8s.install import (
    OPERATOR_S,
    ROLLOUT_S,
    Phase,
    Step,
    Workdir,
    guarded_wait,
    kubectl,
    rollout,
)
from netconform.k8s.kindhost import Artifacts
from netconform.k8s.profiles import CniProfile

CRDS, OPERATOR, RESOURCES = "operator-crds", "tigera-operator", "custom-resources"
# the pool's encapsulation in the Installation, from the profile's
POOL_ENCAPSULATION = {"vxlan": "VXLAN", "ipip": "IPIP", "none": "None"}


def _dataplane(docs: Sequence[manifests.Manifest]) -> str:
    """The Installation's Linux dataplane (BPF in custom-resources-bpf.yaml); the operator's
    default, iptables, when it names none."""
    installation = manifests.find(docs, "Installation", "default")
    return str(installation["spec"]["calicoNetwork"].get("linuxDataplane", "Iptables"))


class CalicoOperator:
    tools: tuple[str, ...] = ()

    def images(self, profile: CniProfile, artifacts: Artifacts) -> list[str]:
        return images_of(profile, artifacts, OPERATOR)

    def render(self, job: CniRender) -> RenderedCni:
        pinned_files = {name: pinned(job.profile, job.artifacts, name) for name in (CRDS, OPERATOR)}
        files = [write_file(job.work.cni / f"{n}.yaml", data) for n, data in pinned_files.items()]
        patched = patches.calico_custom_resources(
            pinned_docs(job.profile, job.artifacts, RESOURCES),
            job.pod_cidr,
            job.profile.mtu,
            POOL_ENCAPSULATION[job.profile.encapsulation],
        )
        files.append(write_file(job.work.cni / f"{RESOURCES}.yaml", manifests.dump_all(patched)))
        images = images_in(job.profile, manifests.load_all(pinned_files[OPERATOR]))
        return RenderedCni(tuple(files), tuple(images), {"calico_dataplane": _dataplane(patched)})

    def install_steps(
        self, profile: CniProfile, work: Workdir, skipped_rollouts: Sequence[str]
    ) -> list[Step]:
        def create(name: str, why: str) -> Step:
            # `create`, not client-side apply: the Installation CRD is larger than the
            # last-applied annotation allows.
            return Step(
                Phase.INSTALL, kubectl(work, "create", "-f", str(work.cni / f"{name}.yaml")), why
            )

        return [
            create(CRDS, "create the operator and Calico CRDs"),
            Step(
                Phase.WAIT,
                kubectl(
                    work,
                    "wait",
                    "--for=condition=Established",
                    "crd/installations.operator.tigera.io",
                    "crd/tigerastatuses.operator.tigera.io",
                    "--timeout=120s",
                ),
                "wait for the CRDs to be served",
            ),
            create(OPERATOR, "create the tigera-operator"),
            rollout(work, "tigera-operator", "deployment/tigera-operator", ROLLOUT_S),
            create(RESOURCES, "create the Installation and APIServer"),
            # TigeraStatus objects appear only once the operator reconciles.
            Step(
                Phase.WAIT,
                kubectl(work, "get", "tigerastatus", "calico"),
                "wait for tigerastatus/calico to exist",
                retry_s=300,
            ),
            guarded_wait(
                work,
                ("wait", "--for=condition=Available", "tigerastatus/calico"),
                "wait for tigerastatus/calico Available",
                OPERATOR_S,
                profile.namespaces,
            ),
            rollout(work, "calico-system", "daemonset/calico-node", ROLLOUT_S, profile.namespaces),
        ]
