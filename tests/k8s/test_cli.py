"""The entry points the CLI uses: `plan` renders without running, the factory knows the
four platforms and rejects others as input errors."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from netconform.errors import InputError
from netconform.k8s.cli import add_plan_arguments, make_platform, run_plan
from netconform.platforms.cluster import ClusterPlatform
from netconform.platforms.kind import KindPlatform
from netconform.progress import NoProgress


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_plan_arguments(parser)
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


def test_plan_rejects_an_unknown_platform() -> None:
    with pytest.raises(SystemExit):
        _args("--platform", "kind-weave", "--out", "x")


def test_make_platform() -> None:
    assert isinstance(make_platform("kind-cilium", True, NoProgress()), KindPlatform)
    assert isinstance(make_platform("cluster", False, NoProgress()), ClusterPlatform)
    with pytest.raises(InputError, match="kind-weave"):
        make_platform("kind-weave", False, NoProgress())
