"""The entry points the CLI uses: `plan` renders without running, the platform table builds
the four Kubernetes platforms and rejects other names as input errors."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from netconform.catalog.scenario import KubernetesScenario
from netconform.cli import main
from netconform.errors import InputError
from netconform.k8s.cli import add_plan_arguments, run_plan
from netconform.options import RunOptions
from netconform.platforms import registry
from netconform.platforms.cluster import ClusterPlatform
from netconform.platforms.kind import KindPlatform
from netconform.progress import NoProgress
from netconform.settings import Settings
from netconform.vocab import Family


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_plan_arguments(parser, registry.names(Family.KUBERNETES))
    return parser.parse_args(list(argv))


def test_plan_renders_from_an_artifacts_dir(
    tmp_path: Path, shared_cni: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "plan"
    code = run_plan(
        _args(
            "--platform",
            "kind-flannel",
            "--out",
            str(out),
            "--artifacts",
            str(shared_cni),
            "--run-id",
            "abc",
        )
    )
    assert code == 0
    summary = json.loads((out / "plan.json").read_text())
    assert summary["cluster"] == "netconform-flannel" and summary["run_id"] == "abc"
    assert "cni/kube-flannel.yml" in summary["files"] and "kind-config.yaml" in summary["files"]
    assert "files and" in capsys.readouterr().out


def test_plan_with_a_missing_artifact_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--artifacts"):
        run_plan(
            _args(
                "--platform",
                "kind-calico",
                "--out",
                str(tmp_path / "p"),
                "--artifacts",
                str(tmp_path),
            )
        )


@pytest.mark.parametrize("name", ["kind-weave", "swarm-lab"])
def test_plan_rejects_a_platform_it_cannot_render(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", "--platform", name, "--out", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert name in err and "kind-calico" in err and err.count("\n") == 1
    assert not (tmp_path / "p").exists()


def _build(name: str, **options: object) -> object:
    entry = registry.entry(name)
    run = RunOptions(name, Path("out"), **options)  # type: ignore[arg-type]
    return entry.build(run, KubernetesScenario(), Settings(), NoProgress())


def test_the_table_builds_the_kubernetes_platforms() -> None:
    assert isinstance(_build("kind-cilium", keep=True), KindPlatform)
    assert isinstance(_build("cluster"), ClusterPlatform)
    assert registry.names(Family.KUBERNETES) == (
        "kind-flannel",
        "kind-calico",
        "kind-calico-manifest",
        "kind-calico-bgp",
        "kind-calico-bpf",
        "kind-cilium",
        "kind-cilium-cnp",
        "cluster",
    )
    with pytest.raises(InputError, match="kind-weave"):
        registry.entry("kind-weave")


def test_kind_platforms_get_the_node_image_and_offline_as_fields() -> None:
    pinned = _build("kind-calico")
    assert isinstance(pinned, KindPlatform)
    assert pinned.node_image is not None and pinned.node_image.startswith("kindest/node:")
    assert pinned.offline is False
    chosen = _build("kind-calico", node_image="kindest/node:v1.99.0", offline=True)
    assert isinstance(chosen, KindPlatform)
    assert (chosen.node_image, chosen.offline) == ("kindest/node:v1.99.0", True)
