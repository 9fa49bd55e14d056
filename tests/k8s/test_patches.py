"""The patches, run against the real upstream manifests and chart values in shared/cni."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from netconform.k8s import manifests, patches, profiles
from netconform.k8s.cnis.helm import release_values
from netconform.k8s.kindhost import KindHost


def _load(shared: Path, rel: str) -> list[manifests.Manifest]:
    return manifests.load_all((shared / rel).read_bytes())


def test_flannel_network_follows_the_pod_cidr_and_mtu(shared_cni: Path) -> None:
    docs = _load(shared_cni, "flannel/kube-flannel-v0.28.9.yml")
    out = patches.flannel(docs, "10.250.0.0/16", 1400)
    net_conf = json.loads(
        manifests.find(out, "ConfigMap", "kube-flannel-cfg")["data"]["net-conf.json"]
    )
    assert net_conf["Network"] == "10.250.0.0/16"
    assert net_conf["Backend"] == {"Type": "vxlan", "MTU": 1400}
    assert net_conf["EnableNFTables"] is False  # untouched
    # The input is not modified, and every other object is byte-for-byte the same.
    original = json.loads(
        manifests.find(docs, "ConfigMap", "kube-flannel-cfg")["data"]["net-conf.json"]
    )
    assert original["Network"] == "10.244.0.0/16"
    assert [d for d in out if d["kind"] != "ConfigMap"] == [
        d for d in docs if d["kind"] != "ConfigMap"
    ]


def test_flannel_without_a_pinned_mtu_leaves_it_to_flanneld(shared_cni: Path) -> None:
    docs = _load(shared_cni, "flannel/kube-flannel-v0.28.9.yml")
    out = patches.flannel(docs, "10.244.0.0/16", None)
    cfg = json.loads(manifests.find(out, "ConfigMap", "kube-flannel-cfg")["data"]["net-conf.json"])
    assert "MTU" not in cfg["Backend"]


def test_flannel_patch_fails_loudly_if_upstream_moved(shared_cni: Path) -> None:
    docs = [
        d for d in _load(shared_cni, "flannel/kube-flannel-v0.28.9.yml") if d["kind"] != "ConfigMap"
    ]
    with pytest.raises(patches.UpstreamChanged, match=r"net-conf\.json"):
        patches.flannel(docs, "10.244.0.0/16", None)


def test_calico_pool_follows_kind_and_forces_vxlan(shared_cni: Path) -> None:
    docs = _load(shared_cni, "calico/v3.32.1/custom-resources.yaml")
    out = patches.calico_custom_resources(docs, "10.244.0.0/16", 1450)
    assert [d["kind"] for d in out] == ["Installation", "APIServer"]
    network = manifests.find(out, "Installation", "default")["spec"]["calicoNetwork"]
    assert network["mtu"] == 1450
    (pool,) = network["ipPools"]
    assert pool["cidr"] == "10.244.0.0/16"
    assert pool["encapsulation"] == "VXLAN"
    assert pool["natOutgoing"] == "Enabled" and pool["blockSize"] == 26  # upstream values kept
    # input untouched
    assert docs[0]["spec"]["calicoNetwork"]["ipPools"][0]["encapsulation"] == "VXLANCrossSubnet"


def test_calico_pool_patch_works_on_the_bpf_variant_too(shared_cni: Path) -> None:
    docs = _load(shared_cni, "calico/v3.32.1/custom-resources-bpf.yaml")
    out = patches.calico_custom_resources(docs, "192.168.0.0/16", None)
    network = manifests.find(out, "Installation", "default")["spec"]["calicoNetwork"]
    assert network["linuxDataplane"] == "BPF" and "mtu" not in network


@pytest.mark.parametrize("version", ["v1.20.0", "v1.19.6"])
def test_cilium_values_only_use_keys_the_chart_has(shared_cni: Path, version: str) -> None:
    defaults = yaml.safe_load((shared_cni / "cilium" / version / "values.yaml").read_text())
    profile = profiles.load_profile("cilium")
    assert profile.helm is not None
    values = release_values(profile, "netconform-cilium", KindHost(), {})
    assert patches.unknown_value_paths(values, defaults) == []
    assert values["k8sServiceHost"] == "netconform-cilium-control-plane"
    assert values["MTU"] == 0 and values["ipam"] == {"mode": "kubernetes"}
    # Preloaded tags are only used if the chart references tags, not digests.
    for path in (("image",), ("operator", "image"), ("envoy", "image")):
        node = values
        for key in path:
            node = node[key]
        assert node["useDigest"] is False, path
    # The preloaded images are the chart's own tags.
    chart = defaults["image"]["repository"] + ":" + defaults["image"]["tag"]
    if version == "v1.20.0":
        assert chart in profile.preload_images
        envoy = defaults["envoy"]["image"]
        assert f"{envoy['repository']}:{envoy['tag']}" in profile.preload_images


def test_unknown_value_paths_finds_a_typo() -> None:
    assert patches.unknown_value_paths(
        {"ipam": {"mdoe": "x"}, "MTU": 1}, {"ipam": {"mode": ""}, "MTU": 0}
    ) == ["ipam.mdoe"]
