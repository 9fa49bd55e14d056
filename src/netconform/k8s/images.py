"""The images a kind platform needs, looked up in the local Docker (DOCKER_HOST honoured)
before anything is created: present ones are `kind load`ed into the nodes, so nodes never
pull what the machine already has; with --offline a missing one is exit 3 naming it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from netconform.errors import EnvironmentUnfit
from netconform.k8s.tools import Runner


def _containers(pod_spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from pod_spec.get(key) or ()


def _pod_spec(doc: Mapping[str, Any]) -> Mapping[str, Any] | None:
    kind = doc.get("kind")
    spec = doc.get("spec") or {}
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    template = spec.get("template")
    pod = template.get("spec") if isinstance(template, dict) else None
    return pod if isinstance(pod, dict) else None


def manifest_images(docs: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every container image the manifests reference, in first-seen order."""
    seen: dict[str, None] = {}
    for doc in docs:
        spec = _pod_spec(doc)
        for container in _containers(spec or {}):
            image = container.get("image")
            if isinstance(image, str) and image:
                seen.setdefault(image, None)
    return list(seen)


@dataclass(frozen=True)
class ImagePlan:
    """Which images come from the local Docker and which the nodes must pull."""

    local: tuple[str, ...]
    pulled: tuple[str, ...]


def present_locally(runner: Runner, image: str) -> bool:
    return runner.run(("docker", "image", "inspect", image), timeout_s=60).returncode == 0


def plan_images(runner: Runner, images: Sequence[str], offline: bool, platform: str) -> ImagePlan:
    local = tuple(i for i in images if present_locally(runner, i))
    pulled = tuple(i for i in images if i not in local)
    if offline and pulled:
        raise EnvironmentUnfit(
            f"platform {platform} --offline: image{'s' if len(pulled) > 1 else ''} "
            f"{', '.join(pulled)} not in the local Docker (the nodes cannot pull: load "
            f"{'them' if len(pulled) > 1 else 'it'} under these names into the Docker that "
            "DOCKER_HOST names, e.g. `docker load`, or build them with `bash .ci/kit up`)"
        )
    return ImagePlan(local, pulled)


def image_labels(runner: Runner, image: str) -> dict[str, str]:
    result = runner.run(
        ("docker", "image", "inspect", "--format", "{{json .Config.Labels}}", image), timeout_s=60
    )
    if result.returncode != 0:
        return {}
    import json

    try:
        labels = json.loads(result.stdout or "null")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in (labels or {}).items()}


# A node image that lists its CNI plugins under this label gets none copied onto its nodes.
CNI_PLUGINS_LABEL = "io.netconform.node.cni-plugins"


def node_has_plugins(runner: Runner, node_image: str, plugins: Sequence[str]) -> bool:
    declared = set(image_labels(runner, node_image).get(CNI_PLUGINS_LABEL, "").split(","))
    return set(plugins) <= declared
