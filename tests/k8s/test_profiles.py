"""Pinned data: profiles and kind configs load, pins match the upstream facts sheet and the
bytes in shared/cni, and a wrong field is an input error naming file and field."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from netconform.errors import InputError
from netconform.k8s import profiles

KIND_NODE_IMAGE = (
    "kindest/node:v1.36.1@sha256:3489c7674813ba5d8b1a9977baea8a6e553784dab7b84759d1014dbd78f7ebd5"
)


@pytest.mark.parametrize("cni", profiles.PROFILES)
def test_profile_pins_match_the_facts_sheet_and_the_bytes(cni: str, shared_cni: Path) -> None:
    profile = profiles.load_profile(cni)
    readme = (shared_cni / "README.md").read_text()
    for artifact in profile.artifacts:
        if artifact.go_module_file:
            continue  # pinned against its Go module instead (the next test)
        assert artifact.sha256 in readme, f"{artifact.name}: sha256 not in the facts sheet"
        if artifact.reference_copy:
            data = (shared_cni / artifact.reference_copy).read_bytes()
            assert hashlib.sha256(data).hexdigest() == artifact.sha256
            # The pinned URL is the upstream path of that same file at the same tag.
            assert Path(artifact.url).name in {
                Path(artifact.reference_copy).name,
                "kube-flannel.yml",
            }
            assert profile.version in artifact.url


KIT_MODULES = Path("/var/cache/netconform/kit/go/mod")


@pytest.mark.parametrize(
    "cni",
    [
        p
        for p in profiles.PROFILES
        if any(a.go_module_file for a in profiles.load_profile(p).artifacts)
    ],
)
def test_a_file_pinned_from_a_go_module_is_those_bytes_at_that_tag(cni: str) -> None:
    for artifact in profiles.load_profile(cni).artifacts:
        if not artifact.go_module_file:
            continue
        version, path = artifact.go_module_file.split("@", 1)[1].split("/", 1)
        assert artifact.url.endswith(f"/{version}/{path}")
        local = KIT_MODULES / artifact.go_module_file
        if not local.is_file():
            pytest.skip(f"{artifact.go_module_file}: not in the offline kit's module cache")
        assert hashlib.sha256(local.read_bytes()).hexdigest() == artifact.sha256


@pytest.mark.parametrize("cni", profiles.PROFILES)
def test_kind_config_is_one_control_plane_two_workers_without_default_cni(cni: str) -> None:
    profile = profiles.load_profile(cni)
    config, raw = profiles.load_kind_config(profiles.kind_config_path(profile))
    assert [n.role for n in config.nodes] == ["control-plane", "worker", "worker"]
    assert config.networking.disableDefaultCNI is True
    assert {n.image for n in config.nodes} == {KIND_NODE_IMAGE}
    assert config.node_names("netconform-x") == [
        "netconform-x-control-plane",
        "netconform-x-worker",
        "netconform-x-worker2",
    ]
    assert "name" not in raw  # the name always comes from --name


def test_calico_pod_subnet_is_the_pool_the_operator_accepts() -> None:
    config, _ = profiles.load_kind_config(
        profiles.kind_config_path(profiles.load_profile("calico"))
    )
    assert config.networking.podSubnet == "192.168.0.0/16"


def test_cilium_profile_has_helm_and_preloads_the_chart_images() -> None:
    profile = profiles.load_profile("cilium")
    assert profile.helm is not None and profile.helm.namespace == "kube-system"
    assert all(re.search(r":v1\.(20\.0|37\.5)", i) for i in profile.preload_images)
    assert "networkpolicy" in profile.capabilities.available
    assert "networkpolicy" in profiles.load_profile("flannel").capabilities.missing


def test_a_wrong_field_names_file_and_field(tmp_path: Path) -> None:
    good = (profiles.fixtures_dir() / "cni" / "flannel.yaml").read_text()
    (tmp_path / "flannel.yaml").write_text(good.replace("sha256: e875", "sha256: XXXX"))
    with pytest.raises(InputError, match=r"flannel.yaml: artifacts\.0\.sha256"):
        profiles.load_profile("flannel", tmp_path)


def test_kind_config_rejects_a_bad_subnet_and_an_unpinned_image(tmp_path: Path) -> None:
    path = tmp_path / "k.yaml"
    path.write_text(
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnetworking: {podSubnet: 10.0.0.1/8}\n"
    )
    with pytest.raises(InputError, match=r"networking\.podSubnet"):
        profiles.load_kind_config(path)
    path.write_text(
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes: [{role: worker, image: a:b}]\n"
    )
    with pytest.raises(InputError, match="nodes"):
        profiles.load_kind_config(path)


def test_unknown_cni_is_an_input_error() -> None:
    with pytest.raises(InputError, match="weave"):
        profiles.load_profile("weave")
