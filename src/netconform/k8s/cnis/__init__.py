"""The CNI installers, one per install method: a profile names its method, provisioning and
the plan look it up here. Adding a CNI: a profile (fixtures/cni), a kind config
(fixtures/kind), and an installer module with a row here unless an existing method fits
(a Helm chart needs none)."""

from __future__ import annotations

from netconform.k8s.cnis.base import CniInstaller, CniRender, RenderedCni
from netconform.k8s.cnis.calico_manifest import CalicoManifest
from netconform.k8s.cnis.calico_operator import CalicoOperator
from netconform.k8s.cnis.flannel import FlannelManifest
from netconform.k8s.cnis.helm import HelmChart
from netconform.k8s.profiles import CniProfile, InstallMethod

INSTALLERS: dict[InstallMethod, CniInstaller] = {
    InstallMethod.FLANNEL_MANIFEST: FlannelManifest(),
    InstallMethod.CALICO_OPERATOR: CalicoOperator(),
    InstallMethod.CALICO_MANIFEST: CalicoManifest(),
    InstallMethod.HELM: HelmChart(),
}


def installer_for(profile: CniProfile) -> CniInstaller:
    return INSTALLERS[profile.install]


__all__ = ["INSTALLERS", "CniInstaller", "CniRender", "RenderedCni", "installer_for"]
