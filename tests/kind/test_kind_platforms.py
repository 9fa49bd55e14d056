"""The kind platforms for real on the offline kit (the CNIs it has built: NETCONFORM_KIT_CNIS):
a 3-node cluster, the CNI from its pinned manifest or chart, the probe image, a smoke subset
(reachability, DNS, MTU, the NetworkPolicy canary, a few NetworkPolicy cases on an enforcing
CNI); then nothing left behind (cluster, node containers, kind network, work files), also
after Ctrl-C. The full catalogue runs in `tox -e flannel|cilium` and benchmarks/."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from netconform.k8s.external_target import TARGET_LABEL
from netconform.platforms.kind import state_root
from netconform.results import Measure

NETCONFORM = [sys.executable, "-m", "netconform.cli"]
SUBSET = "reach or dns or mtu or enforcement"
# NetworkPolicy cases of the smoke subset: an ingress and an egress default-deny, a port
# rule, a namespace selector and an ipBlock with except (the whole catalogue is the full run)
NETPOL_SMOKE = (
    "upstream.tcp.default-deny-ingress or upstream.tcp.egress-cidr-except"
    " or generated.ports.ingress.81-tcp or upstream.tcp.allow-from-namespace"
    " or generated.action.deny-then-allow"
)
ENFORCING = {"cilium", "calico", "calico-manifest", "calico-bgp", "calico-bpf"}
EXTERNAL = "k8s.reach.external."


def kit_cnis() -> list[str]:
    return [c for c in os.environ.get("NETCONFORM_KIT_CNIS", "flannel").split(",") if c]


def cni_param(cni: str) -> object:
    missing = cni not in kit_cnis()
    reason = f"the offline kit has no {cni} (NETCONFORM_KIT_CNIS={kit_cnis()})"
    return pytest.param(cni, marks=pytest.mark.skipif(missing, reason=reason))


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False).stdout


def assert_nothing_left(cluster: str) -> None:
    clusters = subprocess.run(
        ["kind", "get", "clusters"], capture_output=True, text=True, check=False
    )
    assert cluster not in clusters.stdout.split()
    nodes = docker("ps", "-a", "--filter", f"label=io.x-k8s.kind.cluster={cluster}", "-q")
    assert nodes.strip() == ""
    assert "kind" not in docker("network", "ls", "--format", "{{.Name}}").split()
    assert not (state_root() / cluster).exists()


# One Calico smoke: the seed's manifest install (the operator install and BGP are full runs,
# `tox -e calico`, and benchmarks/); it runs when its images are in the kit's Docker.
@pytest.mark.parametrize(
    "cni", [cni_param("flannel"), cni_param("cilium"), cni_param("calico-manifest")]
)
def test_run_end_to_end(cni: str, tmp_path: Path) -> None:
    # kind's network may be left by an earlier cluster; a run removes it only if it made it
    docker("network", "rm", "kind")
    out = tmp_path / cni
    subset = SUBSET if cni not in ENFORCING else f"{SUBSET} or {NETPOL_SMOKE}"
    proc = subprocess.run(
        [*NETCONFORM, "run", "--platform", f"kind-{cni}", "--out", str(out), "-k", subset],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    results = json.loads((out / "results.json").read_text())
    assert results["complete"] is True
    info = results["platform_info"]
    assert info["node_image"] == os.environ["NETCONFORM_KIND_NODE_IMAGE"]
    assert info["kubernetes"] == "v1.36.1" and len(info["nodes"]) == 3
    checks = {c["id"]: c for c in results["checks"]}
    by_area: dict[str, list[str]] = {}
    for check in checks.values():
        by_area.setdefault(check["area"], []).append(check["verdict"])
    for area in ("reachability", "dns", "mtu"):
        assert by_area[area] and set(by_area[area]) <= {"pass", "skip"}, (area, by_area[area])
        assert by_area[area].count("pass") >= 3, area
    canary = checks["k8s.netpol.enforcement"]
    assert canary["verdict"] == "pass"
    if cni in ENFORCING:
        assert canary["measurements"][Measure.ENFORCED] is True
        cases = [c for i, c in checks.items() if i.startswith("k8s.netpol.") and c is not canary]
        # -k matches by substring: egress-cidr-except also selects egress-cidr-except-overlap
        named = {f"k8s.netpol.{case}" for case in NETPOL_SMOKE.split(" or ")}
        assert named <= {c["id"] for c in cases} and len(cases) == len(named) + 1, sorted(checks)
        for case in cases:
            assert case["verdict"] == "pass", (case["id"], case["reason"])
            assert case["measurements"][Measure.TOOK_EFFECT_S] >= 0
    else:  # Flannel enforces nothing: one profile finding, measured, not a failure
        assert canary["profile"] is True
        assert canary["measurements"][Measure.ENFORCED] is False
        assert "no enforcement" in canary["reason"]
    cross = checks["k8s.reach.pod-to-pod.cross-node.tcp"]
    assert cross["verdict"] == "pass"
    assert (out / "allure-results").is_dir() and (out / "junit.xml").is_file()
    assert_nothing_left(f"netconform-{cni}")


def test_ctrl_c_during_provisioning_leaves_nothing(tmp_path: Path) -> None:
    cluster = "netconform-flannel"
    docker("network", "rm", "kind")  # an earlier cluster's: a run removes only its own
    proc = subprocess.Popen(
        [*NETCONFORM, "run", "--platform", "kind-flannel", "--out", str(tmp_path / "r")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if docker("ps", "--filter", f"label=io.x-k8s.kind.cluster={cluster}", "-q").strip():
            break
        time.sleep(1)
    time.sleep(5)  # inside kind create / the install steps
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=300) == 130  # the shell's code for SIGINT
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    assert (results["status"], results["phase"]) == ("interrupted", "provisioning")
    assert_nothing_left(cluster)


def _kubectl(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.skipif("flannel" not in kit_cnis(), reason="the offline kit has no flannel")
def test_cluster_platform_through_the_shipped_rbac_only(tmp_path: Path) -> None:
    """A kind cluster used only through a ServiceAccount kubeconfig bound to the shipped
    RBAC and admission policy (as a platform engineer would be given): the CNI is detected,
    the verdicts are the kind platform's own, writes outside the run's namespaces are denied,
    and nothing of the run is left."""
    cluster = "netconform-flannel"
    docker("network", "rm", "kind")
    own, env = tmp_path / "kind", dict(os.environ)
    try:
        argv = [*NETCONFORM, "run", "--platform", "kind-flannel", "--keep", "--out", str(own)]
        kind = subprocess.run(
            [*argv, "-k", SUBSET], capture_output=True, text=True, timeout=1200, check=False
        )
        assert kind.returncode == 0, kind.stdout[-3000:] + kind.stderr[-2000:]
        admin = tmp_path / "admin.kubeconfig"
        admin.write_text(
            subprocess.run(
                ["kind", "get", "kubeconfig", "--name", cluster],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        assert _kubectl(admin, "create", "namespace", "netconform-system").returncode == 0
        rbac = subprocess.run(
            [*NETCONFORM, "cluster", "rbac"], capture_output=True, text=True, check=True
        )
        applied = subprocess.run(
            ["kubectl", "--kubeconfig", str(admin), "apply", "-f", "-"],
            input=rbac.stdout,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert applied.returncode == 0, applied.stderr
        env |= {"NETCONFORM_KUBECONFIG": str(admin), "KUBECONFIG": str(admin)}
        env.pop("NETCONFORM_KUBE_CONTEXT", None)
        made = subprocess.run(
            [*NETCONFORM, "cluster", "kubeconfig", "--duration", "1h"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert made.returncode == 0, made.stderr
        account = tmp_path / "sa.kubeconfig"
        account.write_text(made.stdout)
        probe = json.loads((own / "results.json").read_text())["platform_info"]["probe_image"]
        # RBAC lets it create pods anywhere; the admission policy (enforced a moment after it
        # is created) only in its own namespaces
        outside = ("-n", "default", "run", "x", f"--image={probe}", "--dry-run=server")
        denied = _kubectl(account, *outside)
        for _ in range(30):
            if "netconform may write only in its own namespaces" in denied.stderr:
                break
            time.sleep(1)
            denied = _kubectl(account, *outside)
        assert "netconform may write only in its own namespaces" in denied.stderr, denied
        env |= {"NETCONFORM_KUBECONFIG": str(account), "NETCONFORM_PROBE_IMAGE": probe}
        as_account = [*NETCONFORM, "run", "--platform", "cluster", "--out", str(tmp_path / "c")]
        run = subprocess.run(
            [*as_account, "-k", SUBSET],
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
            env=env,
        )
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
        theirs = json.loads((tmp_path / "c" / "results.json").read_text())
        ours = json.loads((own / "results.json").read_text())
        detected = theirs["platform_info"]["cni_detected"]
        assert (detected["cni"], detected["encapsulation"], detected["profiled"]) == (
            "flannel",
            "vxlan",
            True,
        )
        # The external checks need a target outside the cluster: kind starts its own, on a
        # user's cluster they run only with --external-target, and skip saying so without it.
        external = {c["id"] for c in theirs["checks"] if c["id"].startswith(EXTERNAL)}
        assert external and all(
            c["verdict"] == "skip" and "--external-target" in c["reason"]
            for c in theirs["checks"]
            if c["id"] in external
        )
        verdicts = {c["id"]: c["verdict"] for c in theirs["checks"] if c["id"] not in external}
        assert verdicts == {
            c["id"]: c["verdict"] for c in ours["checks"] if c["id"] not in external
        }
        left = set(_kubectl(admin, "get", "namespaces", "-o", "name").stdout.split())
        assert not {f"namespace/{n}" for n in theirs["platform_info"]["namespaces"]} & left
    finally:
        subprocess.run(["kind", "delete", "cluster", "--name", cluster], check=False)
        kept = docker("ps", "-aq", "--filter", f"label={TARGET_LABEL}").split()  # --keep's
        if kept:
            docker("rm", "--force", *kept)
        docker("network", "rm", "kind")  # kind leaves it; the kind platform removes its own
        shutil.rmtree(state_root() / cluster, ignore_errors=True)  # --keep kept its work files
    assert_nothing_left(cluster)


def test_calico_without_its_pinned_files_is_exit_3_naming_them_and_creates_nothing(
    tmp_path: Path,
) -> None:
    """A user's machine with no download and no NETCONFORM_ARTIFACTS holding Calico's
    manifests: one line naming every missing file and how to provide it, up front, before
    any cluster (the images are looked for after the files; their exit 3 is a unit test)."""
    out, empty = tmp_path / "calico", tmp_path / "no-artifacts"
    empty.mkdir()
    proc = subprocess.run(
        [*NETCONFORM, "run", "--platform", "kind-calico", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "NETCONFORM_ARTIFACTS": str(empty)},
    )
    assert proc.returncode == 3, proc.stdout[-2000:] + proc.stderr[-2000:]
    (line,) = proc.stderr.strip().splitlines()
    for name in ("operator-crds.yaml", "tigera-operator.yaml", "custom-resources.yaml"):
        assert name in line
    assert "NETCONFORM_ARTIFACTS" in line
    results = json.loads((out / "results.json").read_text())
    assert results["complete"] is False and results["checks"] == []
    assert "tigera-operator.yaml" in results["platform_info"]["provisioning_error"]
    assert_nothing_left("netconform-calico")
