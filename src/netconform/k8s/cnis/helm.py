"""Any CNI shipped as a Helm chart: the verified chart .tgz (or the user's local one),
the profile's values plus what the cluster dictates, the capability lists trimmed to the
nodes' bounding set, `helm install`, then the profile's rollouts waited for."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import yaml

from netconform.k8s import manifests, patches
from netconform.k8s.cnis.base import CniRender, RenderedCni, pinned, write_file
from netconform.k8s.install import OPERATOR_S, Phase, Step, Workdir, rollout
from netconform.k8s.kindhost import Artifacts, KindHost, absent_optional
from netconform.k8s.profiles import CniProfile, HelmRelease

VALUES_FILE = "values.yaml"

# Values a CNI's chart needs from the cluster it goes into: (cluster, pinned MTU) -> values.
ComputedValues = Callable[[str, int | None], dict[str, Any]]
COMPUTED_VALUES: dict[str, ComputedValues] = {"cilium": patches.cilium_cluster_values}


def _helm(profile: CniProfile) -> HelmRelease:
    if profile.helm is None:  # a profile error the profile tests catch
        raise ValueError(f"profile {profile.cni}: install: helm needs a helm section")
    return profile.helm


def chart_file(profile: CniProfile) -> str:
    return f"{profile.cni}-{profile.version}.tgz"


def chart_of(profile: CniProfile, host: KindHost, artifacts: Artifacts) -> bytes:
    """The chart to install: the user's (recorded, not pinned) or the verified pinned one."""
    if host.local_chart is not None:
        return host.local_chart.read_bytes()
    return pinned(profile, artifacts, _helm(profile).chart_artifact)


def chart_defaults(chart: bytes) -> dict[str, Any]:
    """The chart's own values.yaml (`<chart>/values.yaml` in the .tgz); {} for a file that is
    no chart archive (helm install then says so)."""
    try:
        archive = tarfile.open(fileobj=io.BytesIO(chart), mode="r:gz")  # noqa: SIM115 - closed below
    except tarfile.TarError:
        return {}
    with archive:
        for member in archive.getmembers():
            parts = member.name.split("/")
            if len(parts) == 2 and parts[1] == "values.yaml" and member.isfile():
                extracted = archive.extractfile(member)
                if extracted is not None:
                    loaded = yaml.safe_load(extracted.read())
                    return loaded if isinstance(loaded, dict) else {}
    return {}


def trimmed_capabilities(
    profile: CniProfile, host: KindHost, chart: bytes
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Helm values that drop from the chart's capability lists what the nodes' bounding set
    lacks, and what was dropped per container (empty when nothing is, or it is unknown)."""
    path = _helm(profile).capability_lists
    if path is None or host.node_capabilities is None:
        return {}, {}
    return patches.capabilities_beyond(chart_defaults(chart), path, host.node_capabilities)


def release_values(
    profile: CniProfile, cluster: str, host: KindHost, trimmed: Mapping[str, Any]
) -> dict[str, Any]:
    values: dict[str, Any] = dict(_helm(profile).values)
    for optional in absent_optional(profile, host):
        values = patches.deep_merge(values, optional.values_without)
    computed = COMPUTED_VALUES.get(profile.cni)
    if computed is not None:
        values = patches.deep_merge(values, computed(cluster, profile.mtu))
    return patches.deep_merge(values, trimmed)


class HelmChart:
    tools: tuple[str, ...] = ("helm",)

    def images(self, profile: CniProfile, artifacts: Artifacts) -> list[str]:
        return list(profile.preload_images)  # a chart's images are the profile's to declare

    def render(self, job: CniRender) -> RenderedCni:
        # the chart is read once: its values.yaml gives the capability lists to trim
        chart = chart_of(job.profile, job.host, job.artifacts)
        trimmed, dropped = trimmed_capabilities(job.profile, job.host, chart)
        values = release_values(job.profile, job.cluster, job.host, trimmed)
        files = [write_file(job.work.cni / VALUES_FILE, manifests.dump(values))]
        if job.include_binaries:
            files.append(write_file(job.work.cni / chart_file(job.profile), chart))
        # asked for by the chart, outside the nodes' bounding set: dropped so the pods start
        images = tuple(job.profile.preload_images)
        return RenderedCni(tuple(files), images, {"capabilities_dropped": dropped})

    def install_steps(
        self, profile: CniProfile, work: Workdir, skipped_rollouts: Sequence[str]
    ) -> list[Step]:
        helm = _helm(profile)
        install = Step(
            Phase.INSTALL,
            (
                "helm",
                "install",
                helm.release,
                str(work.cni / chart_file(profile)),
                "--kubeconfig",
                str(work.kubeconfig),
                "--namespace",
                helm.namespace,
                "--values",
                str(work.cni / VALUES_FILE),
            ),
            f"helm install {helm.release} from the verified chart",
        )
        waits = [
            rollout(work, helm.namespace, what, OPERATOR_S, profile.namespaces)
            for what in helm.rollouts
            if what not in skipped_rollouts  # a part installed without its optional image
        ]
        return [install, *waits]
