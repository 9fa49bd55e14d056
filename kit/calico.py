"""Calico in the kit: nothing to build (the module proxy refuses every projectcalico and
tigera module), only images to find. A user with the images (from a registry mirror, or
made otherwise) loads them into the kit's dockerd under upstream's names; `kit up` then
lists the Calico profiles they serve in NETCONFORM_KIT_CNIS, and says which are missing."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from kit import dockerd, pins

# The images upstream's manifest install runs (manifests/calico.yaml and calico-vxlan.yaml).
MANIFEST_IMAGES = tuple(
    f"quay.io/calico/{name}:{pins.CALICO}" for name in ("node", "cni", "kube-controllers")
)
# The operator install: the operator, and what it renders for the Installation.
OPERATOR_IMAGES = (
    f"quay.io/tigera/operator:{pins.TIGERA_OPERATOR}",
    *MANIFEST_IMAGES,
    *(
        f"quay.io/calico/{name}:{pins.CALICO}"
        for name in ("typha", "pod2daemon-flexvol", "csi", "node-driver-registrar", "apiserver")
    ),
)


def _present(image: str) -> bool:
    found = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", image],
        env=dockerd.docker_env(),
        capture_output=True,
        check=False,
    )
    return found.returncode == 0


@dataclass(frozen=True)
class LocalImages:
    """Images the kit cannot build, only find in its running dockerd."""

    name: str
    images: tuple[str, ...]

    def missing(self) -> list[str]:
        return [i for i in self.images if not _present(i)]

    def built(self) -> bool:
        return not self.missing()

    def build(self) -> None:
        raise NotImplementedError(
            f"{self.name}: the kit cannot build these; load {', '.join(self.missing())} "
            "into the kit's dockerd"
        )


MANIFEST = LocalImages("calico images (manifest install)", MANIFEST_IMAGES)
OPERATOR = LocalImages("calico images (operator install)", OPERATOR_IMAGES)
