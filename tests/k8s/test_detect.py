"""CNI detection on the user's own cluster, from what runs in it: the CNI, its version from
the agent's image, its mode from its own configuration, each fact with where it came from;
a profiled CNI lends the checks its facts, an unknown one runs with none."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from netconform.k8s.detect import detect, overridden
from netconform.k8s.facts import UNKNOWN_CNI
from netconform.k8s.install import Workdir, kubectl
from netconform.k8s.tools import Completed

REPO = Path(__file__).resolve().parents[2]


def daemonset(ns: str, name: str, container: str, image: str) -> dict[str, Any]:
    pod = {"containers": [{"name": container, "image": image}]}
    return {"metadata": {"namespace": ns, "name": name}, "spec": {"template": {"spec": pod}}}


class Cluster:
    """kubectl over fixed objects: `get <what>` answers what `objects` holds for it."""

    def __init__(self, objects: Mapping[str, Any]) -> None:
        self.objects = objects
        self.calls: list[tuple[str, ...]] = []

    def run(
        self, argv: Sequence[str], *, timeout_s: float | None = None, stdin: str | None = None
    ) -> Completed:
        self.calls.append(tuple(argv))
        what = argv[argv.index("get") + 1]
        key = f"{what}/{argv[argv.index('get') + 2]}" if what == "configmap" else what
        if key not in self.objects:
            return Completed(tuple(argv), 1, "", f'Error from server (NotFound): "{key}"')
        return Completed(tuple(argv), 0, json.dumps(self.objects[key]), "")


def _detect(objects: Mapping[str, Any], tmp_path: Path) -> Any:
    return detect(Cluster(objects), functools.partial(kubectl, Workdir(tmp_path)))


CALICO = daemonset("calico-system", "calico-node", "calico-node", "quay.io/calico/node:v3.32.1")


def pool(vxlan: str, ipip: str = "Never") -> dict[str, Any]:
    spec = {"cidr": "192.168.0.0/16", "vxlanMode": vxlan, "ipipMode": ipip}
    v6 = {"cidr": "fd00::/48", "vxlanMode": "Always"}
    named = [("v6", v6), ("default", spec)]
    return {"items": [{"metadata": {"name": n}, "spec": s} for n, s in named]}


@pytest.mark.parametrize(
    ("vxlan", "ipip", "mode", "overhead"),
    [
        ("Always", "Never", "vxlan", 50),
        ("Never", "Never", "none", 0),
        ("Never", "Always", "ipip", 20),
    ],
)
def test_calico_with_its_pool_mode_and_the_overhead_it_implies(
    tmp_path: Path, vxlan: str, ipip: str, mode: str, overhead: int
) -> None:
    found = _detect(
        {"daemonsets": {"items": [CALICO]}, "ippools.crd.projectcalico.org": pool(vxlan, ipip)},
        tmp_path,
    )
    assert (found.cni, found.version, found.encapsulation) == ("calico", "v3.32.1", mode)
    assert found.facts.overhead_bytes == overhead and found.facts.configured_mtu is None
    assert found.capabilities is not None and "networkpolicy" in found.capabilities.available
    assert found.evidence == (
        "daemonset calico-system/calico-node (container calico-node: v3.32.1)",
        f"ippool default: vxlanMode={vxlan}, ipipMode={ipip}",
        "crd clusternetworkpolicies.policy.networking.k8s.io: not installed",
    )
    # Calico can, but without the CRD the cluster cannot: the reason says which
    why = found.capabilities.why_missing({"cluster-network-policy"})
    assert why == "clusternetworkpolicies.policy.networking.k8s.io is not installed"


CNP_CRD_V020 = {  # as Calico v3.32.1's bundle has it: only v1alpha2, standard channel
    "metadata": {
        "annotations": {
            "policy.networking.k8s.io/bundle-version": "v0.2.0",
            "policy.networking.k8s.io/channel": "standard",
        }
    },
    "spec": {"versions": [{"name": "v1alpha2", "served": True, "storage": True}]},
}


@pytest.mark.parametrize(("flag", "enforced"), [("true", True), ("false", False), (None, False)])
def test_cilium_enforces_cluster_network_policy_only_with_its_flag_and_the_crd(
    tmp_path: Path, flag: str | None, enforced: bool
) -> None:
    agent = daemonset("kube-system", "cilium", "cilium-agent", "quay.io/cilium/cilium:v1.20.0")
    data = {"enable-k8s-cluster-network-policy": flag} if flag else {}
    found = _detect(
        {
            "daemonsets": {"items": [agent]},
            "configmap/cilium-config": {"data": data},
            "crd": CNP_CRD_V020,
        },
        tmp_path,
    )
    assert found.capabilities is not None
    assert ("cluster-network-policy" in found.capabilities.available) is enforced
    # the standard channel admits no experimental peers, whatever the CNI does
    assert "cluster-network-policy-experimental" not in found.capabilities.available
    assert "standard-channel CRD (bundle v0.2.0)" in str(
        found.capabilities.why_missing({"cluster-network-policy-experimental"})
    )
    assert found.evidence[-1].endswith("served ['v1alpha2'], bundle v0.2.0, standard")


def test_cilium_lends_its_relabel_time_and_reads_its_tunnel(tmp_path: Path) -> None:
    agent = daemonset(
        "kube-system", "cilium", "cilium-agent", "quay.io/cilium/cilium:v1.20.0@sha256:ab"
    )
    config = {"data": {"routing-mode": "tunnel", "tunnel-protocol": "geneve"}}
    found = _detect({"daemonsets": {"items": [agent]}, "configmap/cilium-config": config}, tmp_path)
    assert (found.cni, found.version, found.encapsulation) == ("cilium", "v1.20.0", "geneve")
    assert found.facts.label_change_s == 30 and found.facts.overhead_bytes == 50
    assert found.to_json()["from"][1] == (
        "kube-system/cilium-config: routing-mode=tunnel, tunnel-protocol=geneve"
    )


def test_flannel_and_its_backend(tmp_path: Path) -> None:
    ds = daemonset(
        "kube-flannel", "kube-flannel-ds", "kube-flannel", "ghcr.io/flannel-io/flannel:v0.28.9"
    )
    net_conf = json.dumps({"Network": "10.244.0.0/16", "Backend": {"Type": "host-gw"}})
    found = _detect(
        {
            "daemonsets": {"items": [ds]},
            "configmap/kube-flannel-cfg": {"data": {"net-conf.json": net_conf}},
        },
        tmp_path,
    )
    assert (found.cni, found.encapsulation, found.facts.overhead_bytes) == ("flannel", "none", 0)
    assert found.capabilities is not None and "networkpolicy" not in found.capabilities.available


def test_a_named_cni_without_a_profile_runs_with_no_facts(tmp_path: Path) -> None:
    kindnet = daemonset("kube-system", "kindnet", "kindnet-cni", "docker.io/kindest/kindnetd:v2")
    found = _detect({"daemonsets": {"items": [kindnet]}}, tmp_path)
    assert (found.cni, found.version, found.facts) == ("kindnet", "v2", UNKNOWN_CNI)
    assert found.capabilities is None and found.to_json()["profiled"] is False


def test_nothing_known_or_nothing_readable_is_unknown_and_says_why(tmp_path: Path) -> None:
    assert _detect({"daemonsets": {"items": []}}, tmp_path).evidence == (
        "no DaemonSet of a known CNI",
    )
    unreadable = _detect({}, tmp_path)
    assert (unreadable.cni, unreadable.evidence) == ("unknown", ("daemonsets unreadable",))
    found = _detect({"daemonsets": {"items": [CALICO]}}, tmp_path)  # no pools readable
    assert found.encapsulation is None and found.facts.overhead_bytes is None


def test_the_scenario_states_the_cni_where_detection_cannot(tmp_path: Path) -> None:
    """An unrecognised CNI (here kindnet, which has no profile) run as the user states it:
    Cilium over VXLAN, with Cilium's profile; what detection found stays in the evidence."""
    kindnet = daemonset("kube-system", "kindnet", "kindnet-cni", "docker.io/kindest/kindnetd:v2")
    found = _detect({"daemonsets": {"items": [kindnet]}}, tmp_path)
    stated = overridden(found, "cilium", "vxlan")
    assert (stated.cni, stated.version, stated.encapsulation) == ("cilium", None, "vxlan")
    assert stated.facts.overhead_bytes == 50 and stated.facts.label_change_s is not None
    assert stated.capabilities is not None and stated.to_json()["profiled"] is True
    assert stated.evidence[:2] == (
        "set by the scenario's cni field (cilium, vxlan)",
        "detection found kindnet v2",
    )


def test_a_scenario_cni_off_platform_cluster_is_refused(tmp_path: Path) -> None:
    scenario = tmp_path / "k.yaml"
    text = (REPO / "scenarios" / "kubernetes.yaml").read_text()
    scenario.write_text(text.replace("cni: null", "cni: {name: cilium}"))
    proc = subprocess.run(
        [sys.executable, "-m", "netconform.cli", "run", "--platform", "kind-flannel",
         "--scenario", str(scenario), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == (
        f"netconform: {scenario}: cni: only for platform cluster "
        "(kind-flannel installs its own CNI)\n"
    )
    assert not (tmp_path / "out").exists()
