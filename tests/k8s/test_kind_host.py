"""What a kind platform finds on the machine before it creates anything (fake docker/kind on
PATH): the node image, the Docker host's cgroup version, which images are local; --offline
with a missing image is exit 3 naming it, before any cluster exists."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from netconform.core import running
from netconform.errors import EnvironmentUnfit
from netconform.k8s.images import CNI_PLUGINS_LABEL
from netconform.platforms.kind import KindPlatform

from .test_lifecycle import calls, count, index

FLANNEL = "ghcr.io/flannel-io/flannel:v0.28.9"
NODE = "netconform.local/kind-node:v1.36.1"


def flannel(tmp_path: Path, artifacts: Any, **kw: Any) -> KindPlatform:
    return KindPlatform(
        "kind-flannel",
        artifacts=artifacts("flannel"),
        state_dir=tmp_path / "work",
        run_id="r1",
        **kw,
    )


def kind_config(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "work" / "netconform-flannel" / "kind-config.yaml"
    return dict(yaml.safe_load(path.read_text()))


def test_offline_missing_cni_image_is_exit_3_before_any_cluster(
    fake_path: Path, tmp_path: Path, offline_artifacts: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_ABSENT_IMAGES", FLANNEL)
    p = flannel(tmp_path, offline_artifacts, offline=True)
    with pytest.raises(EnvironmentUnfit, match=r"--offline: image ghcr.io/flannel-io/flannel:v0"):
        p.provision()
    assert count(calls(fake_path), "kind", "create") == 0
    # the draft plan rendered to list the images is not left behind either
    assert not (tmp_path / "work" / "netconform-flannel").exists()


def test_online_missing_image_is_left_to_the_nodes_and_present_ones_are_loaded(
    fake_path: Path, tmp_path: Path, offline_artifacts: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_ABSENT_IMAGES", FLANNEL)
    with running(flannel(tmp_path, offline_artifacts)) as handle:
        assert handle.info["cni_images_pulled_by_nodes"] == [FLANNEL]
    seen = calls(fake_path)
    assert count(seen, "kind", "load", "docker-image", FLANNEL) == 0
    cni_plugin = "ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3"
    assert index(seen, "kind", "load", "docker-image", cni_plugin) < index(seen, "apply", "-f")
    assert count(seen, "docker", "pull") == 0  # the host never pulls


def test_cgroup_v1_host_and_node_image_are_in_the_kind_config(
    fake_path: Path, tmp_path: Path, offline_artifacts: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_CGROUP_VERSION", "1")
    with running(flannel(tmp_path, offline_artifacts, node_image=NODE)) as handle:
        config = kind_config(tmp_path)
        assert {n["image"] for n in config["nodes"]} == {NODE}
        patches = [yaml.safe_load(p) for p in config["kubeadmConfigPatches"]]
        assert {"kind": "KubeletConfiguration", "failCgroupV1": False} in patches
        assert handle.info["cgroup_v1_host"] is True and handle.info["node_image"] == NODE


def test_cgroup_v2_host_gets_no_kubelet_patch(
    fake_path: Path, tmp_path: Path, offline_artifacts: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_CGROUP_VERSION", "2")
    with running(flannel(tmp_path, offline_artifacts)) as handle:
        assert "kubeadmConfigPatches" not in kind_config(tmp_path)
        assert handle.info["cgroup_v1_host"] is False


def test_node_image_that_lists_its_cni_plugins_gets_none_copied(
    fake_path: Path, tmp_path: Path, offline_artifacts: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    labels = {CNI_PLUGINS_LABEL: "bridge,host-local,loopback,portmap"}
    monkeypatch.setenv("FAKE_IMAGE_LABELS", json.dumps(labels))
    with running(flannel(tmp_path, offline_artifacts, node_image=NODE)):
        pass
    assert count(calls(fake_path), "docker", "cp") == 0


def test_failed_provisioning_leaves_diagnostics_and_no_cluster(
    fake_path: Path, tmp_path: Path, offline_artifacts: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_FAIL", "daemonset/kube-flannel-ds")  # Flannel never gets Ready
    # ... since its pod crash-loops: the wait ends at once with the pod's reason
    monkeypatch.setenv("FAKE_CRASHLOOP", "kube-flannel/kube-flannel-ds-x1/kube-flannel")
    out = tmp_path / "results" / "diagnostics"
    p = flannel(tmp_path, offline_artifacts, diagnostics_dir=out)
    with pytest.raises(EnvironmentUnfit, match="kube-flannel") as raised:
        p.provision()
    assert str(raised.value) == (
        "wait for kube-flannel/daemonset/kube-flannel-ds ended early: kube-flannel/"
        "kube-flannel-ds-x1 container kube-flannel is in CrashLoopBackOff after 5 restarts, "
        "last exit 2 (Error): panic: runtime error: makeslice: len out of range "
        "(kubectl -n kube-flannel logs kube-flannel-ds-x1 -c kube-flannel --previous)"
    )
    written = {f.name for f in out.iterdir()}
    assert {"pods.txt", "events.txt", "nodes.txt", "node-conditions.json"} <= written
    seen = calls(fake_path)
    # collected before the cluster was deleted, from the CNI's own namespace too
    pods = index(seen, "get", "pods", "-A", "-o", "wide")
    assert index(seen[pods:], "-n", "kube-flannel", "get", "pods") > 0
    assert pods < index(seen, "kind", "delete", "cluster")
    assert not (tmp_path / "work" / "netconform-flannel").exists()


ENVOY = "quay.io/cilium/cilium-envoy:v1.37.5-1782911245-7cffc778c923f68a77954a53b1a98d6b5353f004"


def cilium(tmp_path: Path, artifacts: Any, **kw: Any) -> KindPlatform:
    return KindPlatform(
        "kind-cilium", artifacts=artifacts("cilium"), state_dir=tmp_path / "work", run_id="r1", **kw
    )


def cilium_values(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "work" / "netconform-cilium" / "cni" / "values.yaml"
    return dict(yaml.safe_load(path.read_text()))


def test_offline_without_envoy_installs_cilium_without_the_l7_proxy_and_says_so(
    fake_path: Path, tmp_path: Path, offline_artifacts: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_ABSENT_IMAGES", ENVOY)
    monkeypatch.setenv("FAKE_CILIUM_CONFIG", json.dumps({"enable-l7-proxy": "false"}))
    with running(cilium(tmp_path, offline_artifacts, offline=True)) as handle:
        values = cilium_values(tmp_path)
        seen = calls(fake_path)
    assert values["l7Proxy"] is False and values["envoy"]["enabled"] is False
    assert count(seen, "kind", "load", "docker-image", ENVOY) == 0
    assert count(seen, "rollout", "status", "daemonset/cilium-envoy") == 0
    assert index(seen, "rollout", "status", "daemonset/cilium") > index(seen, "helm", "install")
    caps = handle.capabilities
    assert "l7-policy" not in caps.available and "networkpolicy" in caps.available
    assert ENVOY in caps.missing["l7-policy"]  # type: ignore[index]
    assert handle.info["runs_without"] == [
        {"image": ENVOY, "what": "the L7 proxy (Envoy)", "capability": "l7-policy"}
    ]
    assert handle.info["capabilities_reported"]["enable-l7-proxy"] == "false"


def test_cilium_with_envoy_local_keeps_the_l7_proxy_unless_the_agent_reports_it_off(
    fake_path: Path, tmp_path: Path, offline_artifacts: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running(cilium(tmp_path, offline_artifacts, offline=True)) as handle:
        assert "l7Proxy" not in cilium_values(tmp_path)
        assert "l7-policy" in handle.capabilities.available
        assert count(calls(fake_path), "rollout", "status", "daemonset/cilium-envoy") == 1
    monkeypatch.setenv("FAKE_CILIUM_CONFIG", json.dumps({"enable-l7-proxy": "false"}))
    with running(cilium(tmp_path, offline_artifacts, offline=True)) as handle:
        assert "l7-policy" not in handle.capabilities.available
        assert "enable-l7-proxy=false" in handle.capabilities.missing["l7-policy"]  # type: ignore[index]


def test_a_local_cilium_chart_is_installed_and_its_digest_recorded(
    fake_path: Path, tmp_path: Path, offline_artifacts: Any
) -> None:
    chart = tmp_path / "cilium-1.20.0.tgz"
    chart.write_bytes(b"a chart packaged from the module tree")
    with running(cilium(tmp_path, offline_artifacts, local_chart=chart)) as handle:
        installed = tmp_path / "work" / "netconform-cilium" / "cni" / "cilium-1.20.0.tgz"
        assert installed.read_bytes() == chart.read_bytes()
    assert handle.info["cni_chart"]["path"] == str(chart)
    assert len(handle.info["cni_chart"]["sha256"]) == 64


def test_capabilities_the_nodes_lack_are_dropped_from_the_charts_lists_and_said(
    fake_path: Path, tmp_path: Path, offline_artifacts: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # this machine's nodes: Docker 20.10 knows no BPF, PERFMON, CHECKPOINT_RESTORE, and the
    # host's bounding set lacks SYS_RESOURCE (bit 24)
    monkeypatch.setenv("FAKE_CAPBND", "000000fffeffffff")
    with running(cilium(tmp_path, offline_artifacts, offline=True)) as handle:
        values = cilium_values(tmp_path)
    asked = values["securityContext"]["capabilities"]
    # the chart's own lists (its values.yaml), less SYS_RESOURCE, every other entry kept
    assert asked["cleanCiliumState"] == ["NET_ADMIN", "SYS_MODULE", "SYS_ADMIN"]
    assert "SYS_RESOURCE" not in asked["ciliumAgent"] and "NET_ADMIN" in asked["ciliumAgent"]
    assert "mountCgroup" not in asked  # nothing it asks for is missing: left to the chart
    assert handle.info["capabilities_dropped"] == {
        "ciliumAgent": ["SYS_RESOURCE"],
        "cleanCiliumState": ["SYS_RESOURCE"],
    }


def test_nodes_with_every_capability_get_the_charts_lists_untouched(
    fake_path: Path, tmp_path: Path, offline_artifacts: Any
) -> None:
    with running(cilium(tmp_path, offline_artifacts, offline=True)) as handle:
        assert "securityContext" not in cilium_values(tmp_path)
    assert handle.info["capabilities_dropped"] == {}


@pytest.mark.parametrize("profile", ["calico", "calico-manifest"])
def test_calico_offline_without_its_images_names_each_one_and_how_to_load_it(
    fake_path: Path,
    tmp_path: Path,
    offline_artifacts: Any,
    monkeypatch: pytest.MonkeyPatch,
    profile: str,
) -> None:
    node = "quay.io/calico/node:v3.32.1"
    operator = "quay.io/tigera/operator:v1.42.3"
    monkeypatch.setenv("FAKE_ABSENT_IMAGES", f"{node},{operator}")
    p = KindPlatform(
        f"kind-{profile}",
        artifacts=offline_artifacts(profile),
        state_dir=tmp_path / "work",
        offline=True,
    )
    with pytest.raises(EnvironmentUnfit) as raised:
        p.provision()
    line = str(raised.value)
    assert node in line and "docker load" in line and "DOCKER_HOST" in line
    assert (operator in line) == (profile == "calico")  # the manifest install has no operator
    assert count(calls(fake_path), "kind", "create") == 0


def test_each_nodes_routes_to_the_other_nodes_pods_are_recorded_with_how_learned(
    fake_path: Path, tmp_path: Path, offline_artifacts: Any
) -> None:
    p = KindPlatform(
        "kind-calico-bgp", artifacts=offline_artifacts("calico-bgp"), state_dir=tmp_path / "w"
    )
    with running(p) as handle:
        routes = handle.info["node_routes"]
    assert sorted(routes) == sorted(handle.info["nodes"])
    for learned in routes.values():  # not the default, the node subnet, blackholes, own pods
        assert learned == ["192.168.33.0/26 via 172.18.0.4 dev eth0 proto bird"]
