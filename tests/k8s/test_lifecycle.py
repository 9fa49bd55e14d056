"""Lifecycle ordering with fake kind/kubectl/helm/docker on PATH that record their calls:
create, install, wait, deploy, (checks), delete; also when a step fails, on Ctrl-C during
provisioning and during the checks, with --keep, and when reusing or reclaiming a cluster."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from tests.unit.test_deadline_loops import FakeClock

from netconform.core import running
from netconform.errors import EnvironmentUnfit
from netconform.k8s import install
from netconform.k8s.mesh import MeshNode
from netconform.k8s.tools import Completed, SubprocessRunner
from netconform.k8s.workloads import NETPOL_LANES
from netconform.platforms.cluster import ClusterPlatform
from netconform.platforms.kind import KindPlatform

TOOLS = ("kind", "kubectl", "helm", "docker")


def calls(state: Path) -> list[list[str]]:
    path = state / "calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def index(seen: list[list[str]], *needle: str) -> int:
    """Position of the first call containing every word of `needle`, in order of the call."""
    for i, call in enumerate(seen):
        if all(n in call for n in needle):
            return i
    raise AssertionError(f"no call with {needle}: {[' '.join(c) for c in seen]}")


def count(seen: list[list[str]], *needle: str) -> int:
    return sum(all(n in c for n in needle) for c in seen)


def platform(
    name: str, tmp_path: Path, artifacts: Any, keep: bool = False, runner: Any = None
) -> KindPlatform:
    cni = name.removeprefix("kind-")
    return KindPlatform(
        name,
        keep=keep,
        runner=runner,
        artifacts=artifacts(cni),
        state_dir=tmp_path / "work",
        run_id="r1",
    )


@pytest.mark.parametrize("name", ["kind-flannel", "kind-calico", "kind-cilium"])
def test_create_install_wait_deploy_run_delete(
    name: str, fake_path: Path, tmp_path: Path, offline_artifacts: Any
) -> None:
    p = platform(name, tmp_path, offline_artifacts)
    with running(p) as handle:
        ran_checks_at = len(calls(fake_path))
        plugin = tmp_path / "work" / "netconform-flannel" / "node-plugins" / "bridge"
        bridge_mode = plugin.stat().st_mode if plugin.exists() else 0
        assert handle.run_id == "r1" and handle.info["kubernetes"] == "v1.36.1"
        assert handle.kubeconfig == str(tmp_path / "work" / f"netconform-{name[5:]}" / "kubeconfig")
    seen = calls(fake_path)
    create = index(seen, "kind", "create", "cluster")
    ready = index(seen, "wait", "--for=condition=Ready", "nodes")
    mark = index(seen, "create", "configmap", "netconform-cluster")
    load = index(seen, "kind", "load", "docker-image", handle.image)
    deploy = index(seen, "apply", "--server-side")
    pods = index(seen, "wait", "--for=condition=Ready", "pods")
    delete = index(seen, "kind", "delete", "cluster")
    assert create < ready < mark < load < deploy < pods < ran_checks_at <= delete == len(seen) - 1
    if name == "kind-flannel":
        # The bridge plugin lands on all three nodes before Flannel is applied.
        apply = index(seen, "apply", "-f")
        assert count(seen, "docker", "cp") == 3
        assert max(i for i, c in enumerate(seen) if c[:2] == ["docker", "cp"]) < apply
        assert apply < index(seen, "rollout", "status", "daemonset/kube-flannel-ds") < ready
        assert bridge_mode & stat.S_IEXEC
    # teardown leaves no work files behind
    assert not (tmp_path / "work" / f"netconform-{name[5:]}").exists()
    if name == "kind-calico":
        order = [
            index(
                seen,
                "create",
                "-f",
                str(tmp_path / "work/netconform-calico/cni/operator-crds.yaml"),
            ),
            index(seen, "--for=condition=Established"),
            index(
                seen,
                "create",
                "-f",
                str(tmp_path / "work/netconform-calico/cni/tigera-operator.yaml"),
            ),
            index(seen, "rollout", "status", "deployment/tigera-operator"),
            index(
                seen,
                "create",
                "-f",
                str(tmp_path / "work/netconform-calico/cni/custom-resources.yaml"),
            ),
            index(seen, "get", "tigerastatus", "calico"),
            index(seen, "--for=condition=Available", "tigerastatus/calico"),
            ready,
        ]
        assert order == sorted(order)
        # Never client-side apply for Calico (the Installation CRD is too large for it).
        assert [c for c in seen if "apply" in c and "--server-side" not in c] == []
    if name == "kind-cilium":
        helm = index(seen, "helm", "install")
        assert (
            max(
                i
                for i, c in enumerate(seen)
                if c[:3] == ["kind", "load", "docker-image"]
                and "quay.io/cilium/cilium:v1.20.0" in c
            )
            < helm
        )
        assert helm < index(seen, "rollout", "status", "daemonset/cilium") < ready
        assert count(seen, "helm", "repo") == 0


def test_a_failed_wait_deletes_the_cluster_and_deploys_nothing(
    fake_path: Path, tmp_path: Path, offline_artifacts: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_FAIL", "daemonset/kube-flannel-ds")
    p = platform("kind-flannel", tmp_path, offline_artifacts)
    clock = FakeClock()  # the wait's 300 s window passes at once
    p.clock, p.sleep = clock, clock.sleep
    with (
        pytest.raises(
            install.StepFailed,
            match=r"wait for kube-flannel/daemonset/kube-flannel-ds failed.*fake failure",
        ) as err,
        running(p),
    ):
        pytest.fail("checks must not run")
    assert err.value.exit_code == 3
    assert 298 <= clock.now <= 300  # the whole window, in 30 s slices
    seen = calls(fake_path)
    assert seen[-1][:3] == ["kind", "delete", "cluster"]
    assert count(seen, "apply", "--server-side") == 0
    assert count(seen, "create", "configmap") == 0  # never marked reusable


class InterruptingRunner(SubprocessRunner):
    """Ctrl-C arrives while one command runs."""

    def __init__(self, when: str) -> None:
        super().__init__()
        self.when = when

    def run(
        self, argv: Sequence[str], *, timeout_s: float | None = None, stdin: str | None = None
    ) -> Completed:
        if self.when in " ".join(argv):
            raise KeyboardInterrupt
        return super().run(argv, timeout_s=timeout_s, stdin=stdin)


def test_ctrl_c_during_provisioning_deletes_the_cluster(
    fake_path: Path, tmp_path: Path, offline_artifacts: Any
) -> None:
    p = platform(
        "kind-calico", tmp_path, offline_artifacts, runner=InterruptingRunner("tigerastatus/calico")
    )
    with pytest.raises(KeyboardInterrupt), running(p):
        pytest.fail("checks must not run")
    seen = calls(fake_path)
    assert seen[-1][:3] == ["kind", "delete", "cluster"]
    assert (fake_path / "clusters").read_text().split() == []


def test_ctrl_c_during_checks_still_tears_down(
    fake_path: Path, tmp_path: Path, offline_artifacts: Any
) -> None:
    p = platform("kind-cilium", tmp_path, offline_artifacts)
    with pytest.raises(KeyboardInterrupt), running(p):
        raise KeyboardInterrupt
    assert calls(fake_path)[-1][:3] == ["kind", "delete", "cluster"]


def test_keep_then_reuse_skips_create_and_install(
    fake_path: Path, tmp_path: Path, offline_artifacts: Any
) -> None:
    with running(platform("kind-flannel", tmp_path, offline_artifacts, keep=True)):
        pass
    first = calls(fake_path)
    assert count(first, "kind", "delete", "cluster") == 0
    assert (fake_path / "clusters").read_text().split() == ["netconform-flannel"]
    (fake_path / "calls.jsonl").unlink()
    with running(platform("kind-flannel", tmp_path, offline_artifacts)):
        pass
    second = calls(fake_path)
    assert count(second, "kind", "create") == 0
    assert [c for c in second if "apply" in c and "--server-side" not in c] == []
    stale = index(second, "delete", "namespace", "-l")
    assert (
        stale < index(second, "apply", "--server-side") < index(second, "kind", "delete", "cluster")
    )


def test_a_cluster_left_unfinished_is_removed_and_recreated(
    fake_path: Path, tmp_path: Path, offline_artifacts: Any
) -> None:
    (fake_path / "clusters").write_text("netconform-calico\nsomeone-elses")
    with running(platform("kind-calico", tmp_path, offline_artifacts)):
        pass
    seen = calls(fake_path)
    assert index(seen, "kind", "delete", "cluster", "netconform-calico") < index(
        seen, "kind", "create", "cluster"
    )
    assert count(seen, "someone-elses") == 0
    assert (fake_path / "clusters").read_text().split() == ["someone-elses"]


def test_a_marker_of_another_profile_is_not_reused(
    fake_path: Path, tmp_path: Path, offline_artifacts: Any
) -> None:
    (fake_path / "clusters").write_text("netconform-flannel")
    (fake_path / "marker").write_text("flannel:v0.27.0")
    with running(platform("kind-flannel", tmp_path, offline_artifacts)):
        pass
    seen = calls(fake_path)
    assert index(seen, "kind", "delete") < index(seen, "kind", "create")


def test_preflight_names_every_missing_tool_and_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, offline_artifacts: Any
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("kind", "docker"):
        (bin_dir / tool).write_text("#!/bin/sh\nexit 0\n")
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    p = platform("kind-cilium", tmp_path, offline_artifacts)
    with pytest.raises(
        EnvironmentUnfit, match=r"needs kubectl, helm on PATH.*helm: install helm"
    ) as err:
        p.preflight()
    assert err.value.exit_code == 3


def test_preflight_without_a_docker_daemon(
    fake_path: Path, tmp_path: Path, offline_artifacts: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_FAIL", "docker info")
    with pytest.raises(EnvironmentUnfit, match="running Docker daemon"):
        platform("kind-flannel", tmp_path, offline_artifacts).preflight()
    assert count(calls(fake_path), "kind") == 0  # preflight creates nothing


class ScriptedRunner:
    def __init__(self, codes: Iterator[int]) -> None:
        self.codes = codes
        self.seen: list[tuple[str, ...]] = []

    def run(
        self, argv: Sequence[str], *, timeout_s: float | None = None, stdin: str | None = None
    ) -> Completed:
        self.seen.append(tuple(argv))
        return Completed(tuple(argv), next(self.codes), "", "not yet")


def test_retry_steps_poll_until_success_or_deadline() -> None:
    now = [0.0]
    step = install.Step(
        install.Phase.WAIT, ("kubectl", "get", "tigerastatus", "calico"), "exists", retry_s=10
    )
    runner = ScriptedRunner(iter([1, 1, 0]))
    install.run_steps(
        [step], runner, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s)
    )
    assert len(runner.seen) == 3
    runner = ScriptedRunner(iter([1] * 100))
    now[0] = 0.0
    with pytest.raises(install.StepFailed, match="not yet"):
        install.run_steps(
            [step], runner, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s)
        )
    assert len(runner.seen) == 6  # t = 0, 2, ..., 10


class FakeApi:
    def __init__(self, kubeconfig: str) -> None:
        self.kubeconfig = kubeconfig

    def schedulable_nodes(self) -> list[MeshNode]:
        return [MeshNode(n) for n in ["w1", "w2", "w3", "w4"]]

    def cluster_dns_ip(self) -> str:
        return "10.43.0.10"

    def close(self) -> None:
        pass


def test_cluster_platform_deletes_exactly_its_namespaces(
    fake_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kubeconfig = tmp_path / "kc"
    kubeconfig.write_text("apiVersion: v1\n")
    monkeypatch.setenv("NETCONFORM_KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("NETCONFORM_PROBE_IMAGE", "example/probe:1")
    p = ClusterPlatform(state_dir=tmp_path / "work", run_id="c1", api_factory=FakeApi)  # type: ignore[arg-type]
    with running(p) as handle:
        assert handle.nodes == ("w1", "w2", "w3") and handle.cluster_dns_ip == "10.43.0.10"
        # the mesh covers every schedulable node, not only the 3 the other checks use
        assert handle.mesh_nodes == ("w1", "w2", "w3", "w4")
        workloads = (tmp_path / "work" / "c1" / "workloads.yaml").read_text()
        assert "name: mesh-host-3" in workloads and "name: mesh-3" in workloads
    seen = calls(fake_path)
    assert count(seen, "kind") == 0
    assert (
        index(seen, "config", "view")
        < index(seen, "apply", "--server-side")
        < index(seen, "delete", "namespace")
    )
    delete = seen[index(seen, "delete", "namespace")]
    lanes = [f"{ns}{lane or ''}" for lane in range(NETPOL_LANES) for ns in ("x", "y", "z")]
    assert sorted(a for a in delete if a.startswith("nc-")) == sorted(
        f"nc-c1-{s}" for s in ("probe", "dns", *lanes)
    )
    assert "-l" not in delete and "--all" not in delete


def test_cluster_platform_preflight_needs_an_image(
    fake_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kubeconfig = tmp_path / "kc"
    kubeconfig.write_text("apiVersion: v1\n")
    monkeypatch.setenv("NETCONFORM_KUBECONFIG", str(kubeconfig))
    monkeypatch.delenv("NETCONFORM_PROBE_IMAGE", raising=False)
    with pytest.raises(EnvironmentUnfit, match="NETCONFORM_PROBE_IMAGE"):
        ClusterPlatform().preflight()
