"""`netconform plan` output: every Kubernetes object validates against the official schemas
(strict), custom resources against the pinned CRDs, and the rendered files say what the
install relies on (pod CIDR agreement, node placement, policies bound to the run)."""

from __future__ import annotations

import functools
import ipaddress
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from netconform.checks.k8s_netpol import cluster_policy_requirements
from netconform.k8s import manifests, patches, plan, profiles
from netconform.k8s.workloads import NETPOL_LANES
from netconform.netpol.catalogue import CreatePolicy, UpdatePolicy, load_catalogue
from netconform.vocab import Capability

from . import schemas

RUN = "t3st01"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory, offline_artifacts: Any) -> dict[str, Path]:
    out = {}
    for cni in profiles.PROFILES:
        d = tmp_path_factory.mktemp(cni)
        plan.render_kind(f"kind-{cni}", profiles.load_profile(cni), RUN, d, offline_artifacts(cni))
        out[cni] = d
    d = tmp_path_factory.mktemp("cluster")
    plan.render_cluster(RUN, d, ["n1", "n2", "n3"], "example/probe:1", "10.43.0.10")
    out["cluster"] = d
    return out


def _docs(path: Path) -> list[dict[str, Any]]:
    return manifests.load_all(path.read_bytes())


@pytest.mark.parametrize("platform", [*profiles.PROFILES, "cluster"])
def test_workloads_validate_strictly(rendered: dict[str, Path], platform: str) -> None:
    docs = _docs(rendered[platform] / "workloads.yaml")
    assert schemas.validate_all(docs) == len(docs) > 30


def test_a_schema_violation_is_caught(rendered: dict[str, Path]) -> None:
    docs = _docs(rendered["flannel"] / "workloads.yaml")
    pod = next(d for d in docs if d["kind"] == "Pod")
    pod["spec"]["containers"][0]["portz"] = []
    with pytest.raises(Exception, match="portz"):
        schemas.validate_builtin(pod)


@pytest.mark.parametrize("platform", [*profiles.PROFILES, "cluster"])
def test_every_case_policy_validates_and_is_bound_to_the_run(
    rendered: dict[str, Path], platform: str
) -> None:
    files = sorted((rendered[platform] / "netpol").rglob("*.yaml"))
    expected_files = sum(
        1
        for case in load_catalogue()
        for step in case.steps
        if any(isinstance(a, CreatePolicy | UpdatePolicy) for a in step.actions)
    )
    assert len(files) == expected_files > 100
    real = {f"nc-{RUN}-{x}" for x in "xyz"}
    cluster_policies = 0
    for path in files:
        for doc in _docs(path):
            text = json.dumps(doc)
            assert '"kubernetes.io/metadata.name": "y"' not in text, path
            if doc.get("kind") == "ClusterNetworkPolicy":
                cluster_policies += 1
                _assert_bound_cluster_policy(doc, real, path)
                continue
            schemas.validate_builtin(doc)
            assert doc["metadata"]["namespace"] in real
    assert cluster_policies > 30


# Calico's pinned CRD bundle: ClusterNetworkPolicy v1alpha2, the schema v1beta1 has too
CALICO_CRDS = Path(__file__).resolve().parents[3] / "shared/cni/calico/v3.32.1/operator-crds.yaml"


@functools.cache
def _experimental_cases() -> frozenset[str]:
    """Cases only an experimental-channel CRD admits (Calico's is the standard channel)."""
    return frozenset(
        c.id
        for c in load_catalogue()
        if Capability.CLUSTER_NETWORK_POLICY_EXPERIMENTAL in cluster_policy_requirements(c)
    )


def _assert_bound_cluster_policy(doc: dict[str, Any], real: set[str], path: Path) -> None:
    """Valid against the CRD's schema, named and labelled as the lane's, its subject confined
    to the lane's own namespaces."""
    assert doc["metadata"]["name"].startswith(f"nc-{RUN}-l0-"), path
    assert doc["metadata"]["labels"]["netconform.io/cluster-policy-owner"] == f"nc-{RUN}-l0"
    assert "namespace" not in doc["metadata"], path
    if CALICO_CRDS.is_file() and path.parent.name not in _experimental_cases():
        as_served = {**doc, "apiVersion": "policy.networking.k8s.io/v1alpha2"}
        schemas.validate_custom(as_served, CALICO_CRDS)
    subject = doc["spec"]["subject"]
    selector = subject.get("namespaces") or subject["pods"]["namespaceSelector"]
    confined = [
        set(e["values"])
        for e in selector.get("matchExpressions", [])
        if e["key"] == "kubernetes.io/metadata.name" and e["operator"] == "In"
    ]
    assert confined and all(values <= real for values in confined), path


def test_flannel_manifest_validates_and_matches_the_kind_pod_subnet(
    rendered: dict[str, Path],
) -> None:
    docs = _docs(rendered["flannel"] / "cni" / "kube-flannel.yml")
    assert schemas.validate_all(docs) == 6
    kind = yaml.safe_load((rendered["flannel"] / "kind-config.yaml").read_text())
    cfg = json.loads(manifests.find(docs, "ConfigMap", "kube-flannel-cfg")["data"]["net-conf.json"])
    assert cfg["Network"] == kind["networking"]["podSubnet"]


def test_calico_objects_validate_against_official_and_pinned_crd_schemas(
    rendered: dict[str, Path], shared_cni: Path
) -> None:
    crds = shared_cni / "calico" / "v3.32.1" / "operator-crds.yaml"
    cni = rendered["calico"] / "cni"
    assert (cni / "operator-crds.yaml").read_bytes() == crds.read_bytes()  # applied unmodified
    custom = _docs(cni / "custom-resources.yaml")
    assert schemas.validate_all(custom, crds) == 2
    assert schemas.validate_all(_docs(cni / "tigera-operator.yaml")) > 5
    # The operator rejects pools outside kubeadm's podSubnet: the pool must lie inside it.
    kind = yaml.safe_load((rendered["calico"] / "kind-config.yaml").read_text())
    pool = ipaddress.ip_network(custom[0]["spec"]["calicoNetwork"]["ipPools"][0]["cidr"])
    assert pool.subnet_of(ipaddress.ip_network(kind["networking"]["podSubnet"]))


def test_the_crd_schema_catches_a_wrong_encapsulation(
    rendered: dict[str, Path], shared_cni: Path
) -> None:
    crds = shared_cni / "calico" / "v3.32.1" / "operator-crds.yaml"
    installation = _docs(rendered["calico"] / "cni" / "custom-resources.yaml")[0]
    installation["spec"]["calicoNetwork"]["ipPools"][0]["encapsulation"] = "GRE"
    with pytest.raises(jsonschema.ValidationError, match="GRE"):
        schemas.validate_custom(installation, crds)
    installation["spec"]["calicoNetwork"]["ipPools"][0]["encapsulation"] = "VXLAN"
    installation["spec"]["calicoNetwork"]["mtuu"] = 1400
    with pytest.raises(jsonschema.ValidationError, match="mtuu"):
        schemas.validate_custom(installation, crds)


def _calico_node_env(rendered: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    docs = _docs(rendered / "cni" / "calico.yaml")
    agent = manifests.find(docs, "DaemonSet", "calico-node")["spec"]["template"]["spec"]
    container = next(c for c in agent["containers"] if c["name"] == "calico-node")
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
    return manifests.find(docs, "ConfigMap", "calico-config")["data"], env


def test_calico_manifest_install_is_the_seeds_configuration(rendered: dict[str, Path]) -> None:
    """calico-config's veth_mtu 1450 (the seed's; the CNI config's "mtu" reads it), calico-ipam
    and portmap as upstream has them, a VXLAN-always pool in kind's podSubnet."""
    config, env = _calico_node_env(rendered["calico-manifest"])
    assert config["veth_mtu"] == "1450" and config["calico_backend"] == "vxlan"
    cni = config["cni_network_config"]
    assert '"mtu": __CNI_MTU__' in cni and "calico-ipam" in cni and '"portMappings": true' in cni
    assert env["CALICO_IPV4POOL_VXLAN"] == "Always" and env["CALICO_IPV4POOL_IPIP"] == "Never"
    kind = yaml.safe_load((rendered["calico-manifest"] / "kind-config.yaml").read_text())
    assert env["CALICO_IPV4POOL_CIDR"] == kind["networking"]["podSubnet"]
    docs = _docs(rendered["calico-manifest"] / "cni" / "calico.yaml")
    assert schemas.validate_all([d for d in docs if d["kind"] != "CustomResourceDefinition"]) > 10
    whys = [
        s["why"]
        for s in json.loads((rendered["calico-manifest"] / "plan.json").read_text())["steps"]
    ]
    assert (
        whys.index("create Calico (manifest install)")
        < whys.index("wait for kube-system/daemonset/calico-node")
        < whys.index("wait for kube-system/deployment/calico-kube-controllers")
    )
    assert not any("tigera" in w for w in whys)


def test_calico_bgp_has_no_encapsulation_and_peers_with_bird(rendered: dict[str, Path]) -> None:
    config, env = _calico_node_env(rendered["calico-bgp"])
    assert config["calico_backend"] == "bird" and config["veth_mtu"] == "0"  # auto: node MTU
    assert env["CALICO_IPV4POOL_IPIP"] == "Never" and env["CALICO_IPV4POOL_VXLAN"] == "Never"
    profile = profiles.load_profile("calico-bgp")
    assert (profile.encapsulation, profile.overhead_bytes) == ("none", 0)


def test_calico_bpf_installation_turns_kube_proxy_off_and_says_its_dataplane(
    rendered: dict[str, Path],
) -> None:
    installation = _docs(rendered["calico-bpf"] / "cni" / "custom-resources.yaml")[0]
    network = installation["spec"]["calicoNetwork"]
    assert network["linuxDataplane"] == "BPF"
    assert network["kubeProxyManagement"] == "Enabled"
    assert network["ipPools"][0]["encapsulation"] == "VXLAN"  # forced, as for kind-calico
    dataplane = {
        cni: json.loads((rendered[cni] / "plan.json").read_text())["info"]["calico_dataplane"]
        for cni in ("calico", "calico-bpf")
    }
    assert dataplane == {"calico": "Iptables", "calico-bpf": "BPF"}


def test_an_upstream_manifest_without_calico_config_is_refused() -> None:
    with pytest.raises(patches.UpstreamChanged, match="calico-config"):
        patches.calico_manifest([{"kind": "DaemonSet"}], "10.0.0.0/16", None, "vxlan")


def test_probe_pods_are_spread_over_every_kind_node(rendered: dict[str, Path]) -> None:
    docs = _docs(rendered["cilium"] / "workloads.yaml")
    nodes = json.loads((rendered["cilium"] / "plan.json").read_text())["info"]["nodes"]
    placed: dict[str, list[str]] = {}
    for d in docs:
        if d["kind"] == "Pod":
            placed.setdefault(d["spec"]["nodeSelector"]["kubernetes.io/hostname"], []).append(
                d["metadata"]["name"]
            )
    assert sorted(placed) == sorted(nodes)
    for node in nodes:
        assert sum(p.startswith("probe-") for p in placed[node]) == 2
        assert sum(p.startswith("host-") for p in placed[node]) == 1


def test_plan_json_lists_steps_in_install_order(rendered: dict[str, Path]) -> None:
    summary = json.loads((rendered["calico"] / "plan.json").read_text())
    whys = [s["why"] for s in summary["steps"]]
    assert whys[0] == "create the kind cluster"
    assert whys[-1] == "delete the kind cluster"
    order = [
        "create the operator and Calico CRDs",
        "create the tigera-operator",
        "create the Installation and APIServer",
        "wait for tigerastatus/calico Available",
        "wait for every node Ready",
        "import the probe image into the local Docker",
        "create the run's workloads",
        "wait for every probe pod Ready",
    ]
    assert [whys.index(w) for w in order] == sorted(whys.index(w) for w in order)
    assert (rendered["calico"] / "steps.sh").read_text().count("kubectl") >= 10


def test_cilium_plan_writes_values_that_helm_reads(rendered: dict[str, Path]) -> None:
    values = yaml.safe_load((rendered["cilium"] / "cni" / "values.yaml").read_text())
    assert values["k8sServiceHost"] == "netconform-cilium-control-plane"
    summary = json.loads((rendered["cilium"] / "plan.json").read_text())
    helm = next(s["argv"] for s in summary["steps"] if s["argv"][0] == "helm")
    assert helm[helm.index("--values") + 1].endswith("cni/values.yaml")
    assert helm[3].endswith("cilium-1.20.0.tgz")  # the verified local chart, never a repo


def test_cluster_plan_touches_only_its_namespaces(rendered: dict[str, Path]) -> None:
    summary = json.loads((rendered["cluster"] / "plan.json").read_text())
    delete = summary["steps"][-1]["argv"]
    assert delete[3:5] == ["delete", "namespace"]
    lanes = [f"{ns}{lane or ''}" for lane in range(NETPOL_LANES) for ns in ("x", "y", "z")]
    names = [f"nc-{RUN}-{s}" for s in ("probe", "dns", *lanes)]
    assert sorted(delete[5 : 5 + len(names)]) == sorted(names)
    assert all(a.startswith("--") for a in delete[5 + len(names) :])
    assert not any(a.startswith("-l") or a == "--all" for a in delete)
    docs = _docs(rendered["cluster"] / "workloads.yaml")
    assert {d["metadata"].get("namespace", d["metadata"]["name"]) for d in docs} == set(names)
