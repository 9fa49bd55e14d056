"""The `cluster` platform's least privilege and cleanup: the shipped RBAC manifest grants
exactly the access table, and the table covers every API call and kubectl command the run
makes; preflight refuses a kubeconfig that lacks a row, one line naming it, creating nothing;
the run annotates its namespaces with their owner, reclaims what dead runs of this host left
(and nothing else), and waits, bounded, for its own to be gone, naming what holds one."""

from __future__ import annotations

import argparse
import ast
import io
import itertools
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.unit.test_deadline_loops import FakeClock

from netconform.cli import main
from netconform.core import running
from netconform.errors import EnvironmentUnfit
from netconform.k8s import access, cluster_cli, kube, leftovers, manifests
from netconform.k8s.mesh import MeshNode
from netconform.k8s.tools import Completed
from netconform.k8s.workloads import (
    MANAGED_BY,
    NAMESPACE_PREFIX,
    OWNER_ANNOTATION,
    RUN_ANNOTATION,
    RUN_LABEL,
)
from netconform.owner import LocalProcesses, ProcessOwner
from netconform.platforms.cluster import ClusterPlatform
from netconform.settings import Settings

from . import schemas

CLUSTER_POLICIES = "clusternetworkpolicies.policy.networking.k8s.io"

HOST = "runner-1"
ADMIN_SERVER = "https://10.0.0.1:6443"
TOKEN = "eyJ.fake.token"
Row = tuple[str, str, str]  # (verb, group, resource[/subresource])


def manifest_docs() -> list[dict[str, Any]]:
    return manifests.load_all(access.rbac_manifest().read_bytes())


def of_kind(kind: str) -> dict[str, Any]:
    return next(d for d in manifest_docs() if d["kind"] == kind)


def table_rows(permissions: Sequence[access.Permission] = access.PERMISSIONS) -> list[Row]:
    return [(p.verb, p.group, p.rbac_resource) for p in permissions]


# --- the manifest and the table -------------------------------------------------------------


def test_the_manifest_grants_exactly_the_table() -> None:
    granted = [
        (verb, group, resource)
        for rule in of_kind("ClusterRole")["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    ]
    assert len(granted) == len(set(granted)), "a rule grants something twice"
    assert len(table_rows()) == len(set(table_rows())), "the table names a row twice"
    assert sorted(granted) == sorted(table_rows())
    assert "*" not in {x for row in granted for x in row}


def test_the_manifest_validates_strictly_and_binds_the_service_account() -> None:
    docs = manifest_docs()
    assert schemas.validate_all(docs) == len(docs) == 5
    assert "Namespace" not in {d["kind"] for d in docs}
    account = of_kind("ServiceAccount")["metadata"]
    assert (account["namespace"], account["name"]) == (
        access.SERVICE_ACCOUNT_NAMESPACE,
        access.SERVICE_ACCOUNT,
    )
    binding = of_kind("ClusterRoleBinding")
    assert binding["roleRef"]["name"] == of_kind("ClusterRole")["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["name"], "namespace": account["namespace"]}
    ]
    policy_binding = of_kind("ValidatingAdmissionPolicyBinding")["spec"]
    assert policy_binding["policyName"] == of_kind("ValidatingAdmissionPolicy")["metadata"]["name"]
    assert policy_binding["validationActions"] == ["Deny"]


ADMISSION_OPERATION = {
    "create": "CREATE",
    "patch": "UPDATE",
    "update": "UPDATE",
    "delete": "DELETE",
    "deletecollection": "DELETE",
}


def test_admission_narrows_every_write_to_netconforms_namespaces() -> None:
    spec = of_kind("ValidatingAdmissionPolicy")["spec"]
    # only the ServiceAccount's requests, and all of them
    (condition,) = spec["matchConditions"]
    assert condition["expression"] == (
        f"request.userInfo.username == '{access.SERVICE_ACCOUNT_USER}'"
    )
    (rule,) = spec["matchConstraints"]["resourceRules"]
    assert rule["resources"] == ["*/*"] and rule["apiGroups"] == ["*"]
    # every write of the table is an operation the policy sees (an exec is a CONNECT)
    needed = {
        "CONNECT" if p.subresource == "exec" else ADMISSION_OPERATION[p.verb]
        for p in access.PERMISSIONS
        if p.scope == access.Scope.OWN
    }
    assert needed <= set(rule["operations"])
    assert not any(
        p.verb in ADMISSION_OPERATION and p.scope != access.Scope.OWN for p in access.PERMISSIONS
    ), "a write that admission would not narrow"
    # what makes a namespace netconform's is what the run sets and the cleanup reads
    variables = {v["name"]: v["expression"] for v in spec["variables"]}
    for name in ("newIsOurs", "oldIsOurs", "inOurs"):
        assert f"startsWith('{NAMESPACE_PREFIX}')" in variables[name]
        assert f"'{RUN_ANNOTATION}' in" in variables[name]
    expressions = [v["expression"] for v in spec["validations"]]
    assert expressions == [
        "!variables.isNamespace || (variables.newIsOurs && variables.oldIsOurs)",
        "!variables.isClusterPolicy || (variables.newIsOurs && variables.oldIsOurs)",
        "variables.isNamespace || variables.isClusterPolicy || variables.inOurs",
    ]


# What each Kubernetes client method the run calls needs, by its name's prefix.
CLIENT_VERBS = (
    ("list_", "list"),
    ("read_", "get"),
    ("patch_", "patch"),
    ("create_", "create"),
    ("replace_", "update"),
    ("delete_collection_", "deletecollection"),
    ("delete_", "delete"),
)
CLIENT_RESOURCES = {
    "node": ("", "nodes"),
    "namespace": ("", "namespaces"),
    "pod": ("", "pods"),
    "service": ("", "services"),
    "network_policy": ("networking.k8s.io", "networkpolicies"),
}


def _client_row(method: str) -> list[Row]:
    if method == "connect_get_namespaced_pod_exec":  # a websocket GET; create where authorized so
        return [("get", "", "pods/exec"), ("create", "", "pods/exec")]
    verb, rest = next((v, method.removeprefix(p)) for p, v in CLIENT_VERBS if method.startswith(p))
    rest = rest.removeprefix("namespaced_").removesuffix("_for_all_namespaces")
    group, resource = CLIENT_RESOURCES[rest]
    return [(verb, group, resource)]


def test_every_api_call_of_the_run_is_in_the_table() -> None:
    tree = ast.parse(Path(kube.__file__).read_text())
    methods = {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Attribute)
        and node.func.value.attr in {"core", "networking", "_core"}
    }
    # and the exec, passed to stream() by reference
    methods |= {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr.startswith("connect_")
    }
    assert {"list_node", "patch_namespaced_pod", "connect_get_namespaced_pod_exec"} <= methods
    needed = {row for m in methods for row in _client_row(m)}
    assert needed - set(table_rows()) == set()


# What each kubectl command the run makes needs (resource words as the run writes them).
KUBECTL_RESOURCES = {
    "namespace": ("", "namespaces"),
    "namespaces": ("", "namespaces"),
    "nodes": ("", "nodes"),
    "pods": ("", "pods"),
    "events": ("", "events"),
    "configmap": ("", "configmaps"),
    "daemonsets": ("apps", "daemonsets"),
    "ippools.crd.projectcalico.org": ("crd.projectcalico.org", "ippools"),
    "crd": ("apiextensions.k8s.io", "customresourcedefinitions"),
    "clusternetworkpolicies.policy.networking.k8s.io": (
        "policy.networking.k8s.io",
        "clusternetworkpolicies",
    ),
}
KINDS = {"Namespace": ("", "namespaces"), "Pod": ("", "pods"), "Service": ("", "services")}


def _kinds(text: bytes) -> set[tuple[str, str]]:
    return {KINDS[d["kind"]] for d in manifests.load_all(text)}


def kubectl_rows(argv: Sequence[str], files: Mapping[str, bytes]) -> set[Row]:
    """The permissions one kubectl command needs (`files`: the manifests it was given, as
    they were when it ran: a run removes its work files at teardown)."""
    args = list(argv[3:])
    if args[:2] == ["--context", "ctx"]:
        args = args[2:]
    if args[:1] == ["-n"]:
        args = args[2:]
    words = [a for a in args if not a.startswith("-")]
    if words[:2] == ["config", "view"] or args[:3] == ["create", "-f", "-"]:
        return set()  # the local kubeconfig; the access reviews (anyone may ask)
    if args[:2] == ["create", "-f"]:
        return {("create", g, r) for g, r in _kinds(files[args[2]])}
    if args[:1] == ["apply"] and "--server-side" in args:  # creates or patches
        path = args[args.index("-f") + 1]
        return {(v, g, r) for g, r in _kinds(files[path]) for v in ("create", "patch")}
    if words[:2] == ["describe", "nodes"]:
        return {("get", "", "nodes"), ("list", "", "nodes"), ("list", "", "pods"),
                ("list", "", "events"), ("get", "coordination.k8s.io", "leases")}  # fmt: skip
    if words[:1] == ["wait"]:
        return {("list", "", "pods"), ("watch", "", "pods")}
    group, resource = KUBECTL_RESOURCES[words[1]]
    if words[0] == "delete":
        return {("delete", group, resource)}
    assert words[0] == "get", argv
    # named objects are got, the rest listed (`-o name` of named ones is a get too)
    named = [w for w in words[2:] if w not in {"json", "name", "wide"}]
    return {("get" if named else "list", group, resource)}


def test_every_kubectl_command_of_a_run_is_in_the_table(tmp_path: Path, on_path: None) -> None:
    class Calico(FakeCluster):
        def _answer(self, args: list[str], stdin: str | None) -> str | None:
            if args[:2] == ["get", "daemonsets"]:
                node = {"name": "calico-node", "image": "calico/node:v3.31.0"}
                ds = {
                    "metadata": {"name": "calico-node", "namespace": "kube-system"},
                    "spec": {"template": {"spec": {"containers": [node]}}},
                }
                return json.dumps({"items": [ds]})
            return super()._answer(args, stdin)

    cluster, clock = Calico(), FakeClock()
    p = cluster_platform(tmp_path, cluster, FakeProcesses({os.getpid(): 1}), clock)
    p.preflight()
    with running(p) as handle:
        p.collect_diagnostics(tmp_path / "diagnostics")
    assert handle.info["cni"] == "calico"
    needed = {row for argv in cluster.seen for row in kubectl_rows(argv, cluster.files)}
    assert ("list", "crd.projectcalico.org", "ippools") in needed
    assert ("delete", "", "namespaces") in needed and ("watch", "", "pods") in needed
    assert needed - set(table_rows()) == set()


# --- a scripted cluster ---------------------------------------------------------------------


def namespace_doc(
    name: str,
    run: str | None = None,
    owner: str | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    annotations = {}
    if run is not None:
        annotations[RUN_ANNOTATION] = run
    if owner is not None:
        annotations[OWNER_ANNOTATION] = owner
    meta: dict[str, Any] = {"name": name, "labels": labels or {}}
    if annotations:
        meta["annotations"] = annotations
    return {"metadata": meta, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}


@dataclass
class FakeCluster:
    """kubectl as a Runner over a few namespaces: access reviews answered from `refused`,
    namespaces created from files, deleted (gone after `linger` looks, never if `stuck`)."""

    namespaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    refused: set[Row] = field(default_factory=set)
    stuck: set[str] = field(default_factory=set)
    linger: int = 1
    seen: list[tuple[str, ...]] = field(default_factory=list)
    stdins: list[str] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # each `-f PATH` as it was read
    deleting: dict[str, int] = field(default_factory=dict)
    reviews_as_list: bool = False
    # ClusterNetworkPolicies by name; None: the CRD is not installed
    cluster_policies: dict[str, dict[str, Any]] | None = field(default_factory=dict)

    def run(
        self, argv: Sequence[str], *, timeout_s: float | None = None, stdin: str | None = None
    ) -> Completed:
        argv = tuple(argv)
        self.seen.append(argv)
        self.stdins.append(stdin or "")
        for flag, path in itertools.pairwise(argv):
            if flag == "-f" and path != "-" and Path(path).is_file():
                self.files[path] = Path(path).read_bytes()
        args = list(argv[argv.index("--kubeconfig") + 2 :])
        if args[:2] == ["--context", "ctx"]:
            args = args[2:]
        if args[:2] == ["get", CLUSTER_POLICIES] and self.cluster_policies is None:
            unknown = 'error: the server doesn\'t have a resource type "clusternetworkpolicies"'
            return Completed(argv, 1, "", unknown)
        out = self._answer(args, stdin)
        return Completed(argv, 0 if out is not None else 1, out or "", "" if out else "error")

    def _answer(self, args: list[str], stdin: str | None) -> str | None:
        if args[:3] == ["create", "-f", "-"]:
            return self._reviews(json.loads(stdin or "{}"))
        if args[:2] == ["create", "-f"]:
            for doc in manifests.load_all(Path(args[2]).read_bytes()):
                self.namespaces[doc["metadata"]["name"]] = {
                    **doc,
                    "spec": {"finalizers": ["kubernetes"]},  # as the API server sets it
                    "status": {"phase": "Active"},
                }
            return ""
        if args[:2] == ["delete", "namespace"]:
            for name in args[2:]:
                if name in self.namespaces:
                    self.namespaces[name]["status"]["phase"] = "Terminating"
                    self.deleting.setdefault(name, 0)
            return ""
        if args[:2] == ["get", CLUSTER_POLICIES]:
            return json.dumps({"items": list((self.cluster_policies or {}).values())})
        if args[:2] == ["delete", CLUSTER_POLICIES] and self.cluster_policies is not None:
            for name in args[2:]:
                self.cluster_policies.pop(name, None)
            return ""
        if args[:3] == ["get", "namespaces", "-o"]:
            return json.dumps({"kind": "NamespaceList", "items": list(self.namespaces.values())})
        if args[:2] == ["get", "namespace"] and args[-2:] == ["-o", "name"]:
            self._progress()
            return "".join(f"namespace/{n}\n" for n in args[2:-3] if n in self.namespaces)
        if args[:2] == ["get", "namespace"] and args[-2:] == ["-o", "json"]:
            doc = self.namespaces.get(args[2])
            return None if doc is None else json.dumps(doc)
        if args[:1] == ["-n"] and args[2:4] == ["get", "pods"]:
            pods = []
            if args[1] in self.stuck:
                meta = {"name": "a", "finalizers": ["example.com/hold"]}
                pods = [{"metadata": meta, "status": {"phase": "Running"}}]
            return json.dumps({"items": pods})
        if args[:2] == ["config", "view"]:
            config = {
                "clusters": [
                    {
                        "name": "admin-cluster",
                        "cluster": {
                            "server": ADMIN_SERVER,
                            "certificate-authority-data": "Q0EK",
                        },
                    }
                ],
                "users": [{"name": "admin", "user": {"client-key-data": "secret"}}],
            }
            return json.dumps(config) if "json" in args else yaml.safe_dump(config)
        if args[:3] == ["-n", access.SERVICE_ACCOUNT_NAMESPACE, "create"]:
            return TOKEN + "\n"
        if args[:2] == ["get", "daemonsets"]:
            return json.dumps({"items": []})
        return ""  # apply, wait: done

    def _progress(self) -> None:
        for name in list(self.deleting):
            self.deleting[name] += 1
            if name not in self.stuck and self.deleting[name] > self.linger:
                del self.namespaces[name], self.deleting[name]
        for name in self.stuck & set(self.namespaces):
            self.namespaces[name]["metadata"]["finalizers"] = ["example.com/hold"]
            self.namespaces[name]["status"]["conditions"] = [
                {
                    "type": "NamespaceFinalizersRemaining",
                    "status": "True",
                    "message": "Some content in the namespace has finalizers remaining",
                }
            ]

    def _reviews(self, batch: dict[str, Any]) -> str:
        answered = []
        for review in batch["items"]:
            asked = dict(review["spec"]["resourceAttributes"])
            resource = asked["resource"] + (
                f"/{asked['subresource']}" if "subresource" in asked else ""
            )
            allowed = (asked["verb"], asked["group"], resource) not in self.refused
            # the API server leaves empty fields out of what it echoes back
            echoed = {k: v for k, v in asked.items() if v}
            answered.append(
                {**review, "spec": {"resourceAttributes": echoed}, "status": {"allowed": allowed}}
            )
        if self.reviews_as_list:
            return json.dumps({"kind": "List", "items": answered})
        return "\n".join(json.dumps(a, indent=2) for a in answered)  # one document each

    def calls(self, *words: str) -> list[tuple[str, ...]]:
        return [c for c in self.seen if all(w in c for w in words)]


@dataclass
class FakeProcesses:
    """This host's processes: pid -> start (None: it runs, its start unreadable)."""

    running: dict[int, int | None]
    host: str = HOST

    def runs(self, pid: int) -> bool:
        return pid in self.running

    def start_time(self, pid: int) -> int | None:
        return self.running.get(pid)


class FakeApi:
    def __init__(self, kubeconfig: str) -> None:
        self.kubeconfig = kubeconfig

    def schedulable_nodes(self) -> list[MeshNode]:
        return [MeshNode(n) for n in ["w1", "w2", "w3"]]

    def cluster_dns_ip(self) -> str:
        return "10.43.0.10"

    def close(self) -> None:
        pass


def cluster_platform(
    tmp_path: Path, cluster: FakeCluster, processes: FakeProcesses, clock: FakeClock, **kw: Any
) -> ClusterPlatform:
    kubeconfig = tmp_path / "admin.kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    settings = Settings(probe_image="example/probe:1", kubeconfig=kubeconfig, kube_context="ctx")
    return ClusterPlatform(
        runner=cluster,
        state_dir=tmp_path / "work",
        run_id="r1",
        api_factory=FakeApi,  # type: ignore[arg-type]
        settings=settings,
        processes=processes,
        clock=clock,
        sleep=clock.sleep,
        **kw,
    )


@pytest.fixture
def on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A kubectl on PATH for require_tools (the FakeCluster answers every call)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubectl").write_text("#!/bin/sh\nexit 99\n")
    (bin_dir / "kubectl").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


# --- preflight ------------------------------------------------------------------------------


def test_preflight_asks_every_row_in_one_batch(tmp_path: Path, on_path: None) -> None:
    cluster = FakeCluster(reviews_as_list=True)
    cluster_platform(tmp_path, cluster, FakeProcesses({}), FakeClock()).preflight()
    (call,) = cluster.seen
    (batch,) = cluster.stdins
    assert len(json.loads(batch)["items"]) == len(access.PERMISSIONS)
    assert call[:5] == (
        "kubectl",
        "--kubeconfig",
        str(tmp_path / "admin.kubeconfig"),
        "--context",
        "ctx",
    )
    assert call[5:] == ("create", "-f", "-", "-o", "json")


@pytest.mark.parametrize(
    "refused",
    [("create", "", "namespaces"), ("create", "", "pods/exec"), ("list", "apps", "daemonsets")],
)
def test_a_missing_permission_is_one_line_naming_verb_and_resource_and_creates_nothing(
    tmp_path: Path, on_path: None, refused: Row
) -> None:
    cluster = FakeCluster(refused={refused})
    verb, group, resource = refused
    with pytest.raises(EnvironmentUnfit) as err:
        cluster_platform(tmp_path, cluster, FakeProcesses({}), FakeClock()).preflight()
    message = str(err.value)
    named = f"{resource}.{group}" if group else resource
    assert f"may not {verb} {named};" in message and "\n" not in message
    assert str(access.rbac_manifest()) in message and err.value.exit_code == 3
    assert [c[5:8] for c in cluster.seen] == [("create", "-f", "-")]  # the reviews, nothing else
    assert cluster.namespaces == {} and not (tmp_path / "work").exists()


def test_the_reviews_ask_writes_in_the_runs_namespace_and_reads_everywhere() -> None:
    by_row = {
        (p.verb, p.rbac_resource): p.review("nc-r1-probe")["spec"]["resourceAttributes"]
        for p in access.PERMISSIONS
    }
    assert by_row[("create", "pods/exec")] == {
        "verb": "create",
        "group": "",
        "resource": "pods",
        "subresource": "exec",
        "namespace": "nc-r1-probe",
    }
    assert "namespace" not in by_row[("list", "pods")]  # any namespace
    assert "namespace" not in by_row[("create", "namespaces")]  # cluster-scoped


def test_an_unanswered_review_is_said(tmp_path: Path) -> None:
    class Silent(FakeCluster):
        def _reviews(self, batch: dict[str, Any]) -> str:
            return ""

    with pytest.raises(
        EnvironmentUnfit, match="did not answer whether this kubeconfig may get nodes"
    ):
        access.require_access(Silent(), access.user_kubectl("kc", None), "nc-r1-probe")


# --- owners and cleanup ---------------------------------------------------------------------


def test_an_owner_is_this_process_with_its_start_time() -> None:
    owner = ProcessOwner.current()
    assert owner.pid == os.getpid() and owner.start_time is not None
    assert owner.encode() == f"{owner.hostname}/{owner.pid}/{owner.start_time}"
    assert ProcessOwner.decode(owner.encode()) == owner
    assert ProcessOwner.decode("garbage") is None
    assert ProcessOwner.decode("h/5/") == ProcessOwner(5, None, "h")  # start was unreadable
    assert ProcessOwner.decode("h/5/x") is None  # a start is a number of clock ticks
    assert ProcessOwner(5, None, "h").encode() == "h/5/"
    assert LocalProcesses().start_time(os.getpid()) == owner.start_time
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not LocalProcesses().runs(child.pid)  # reaped: gone
    assert LocalProcesses().start_time(child.pid) is None


@pytest.mark.parametrize(
    ("pids", "standing"),
    [
        ({5: 9}, leftovers.Standing.LIVE),
        ({5: None}, leftovers.Standing.LIVE),  # runs; its start unreadable (another user's)
        ({5: 10}, leftovers.Standing.DEAD),  # the PID now another process's
        ({}, leftovers.Standing.DEAD),
    ],
)
def test_a_run_is_live_only_while_its_owner_process_runs(
    pids: dict[int, int | None], standing: leftovers.Standing
) -> None:
    namespace = leftovers.RunNamespace("nc-a-x", "a", ProcessOwner(5, 9, HOST), False)
    assert namespace.standing(FakeProcesses(pids)) == standing
    assert namespace.standing(FakeProcesses(pids, host="elsewhere")) == (leftovers.Standing.FOREIGN)


def leftover_cluster() -> FakeCluster:
    mine = {MANAGED_BY: "netconform", RUN_LABEL: "x"}
    return FakeCluster(
        namespaces={
            d["metadata"]["name"]: d
            for d in (
                namespace_doc("nc-dead-x", "dead", f"{HOST}/100/5"),
                namespace_doc("nc-live-x", "live", f"{HOST}/200/7"),
                namespace_doc("nc-reused-x", "reused", f"{HOST}/300/9"),  # pid 300 is another
                namespace_doc("nc-away-x", "away", "runner-2/100/5"),
                namespace_doc("nc-old-x", labels=mine),  # made before owners were recorded
                namespace_doc("nc-theirs"),  # named like ours, not ours
                namespace_doc("kube-system", labels=mine),  # labelled like ours, not ours
                namespace_doc("team-a", "x", f"{HOST}/100/5"),
            )
        }
    )


PROCESSES = FakeProcesses({200: 7, 300: 1})


def deleted(cluster: FakeCluster) -> list[str]:
    return sorted(n for c in cluster.calls("delete", "namespace") for n in c if n.startswith("nc-"))


def test_cleanup_deletes_only_netconforms_namespaces_of_dead_runs_of_this_host() -> None:
    cluster = leftover_cluster()
    done = leftovers.clean(cluster, access.user_kubectl("kc", None), PROCESSES)
    assert deleted(cluster) == ["nc-dead-x", "nc-reused-x"]
    assert {n.name: str(why) for n, why in done.left} == {
        "nc-live-x": "its run is live",
        "nc-away-x": "made by a run on another host",
        "nc-old-x": "no owner recorded",
    }
    assert done.lines()[0] == (f"deleted nc-dead-x (run dead, owner {HOST}/100/5: its run is gone)")


def test_cleanup_all_takes_other_hosts_runs_but_never_a_live_one() -> None:
    cluster = leftover_cluster()
    leftovers.clean(cluster, access.user_kubectl("kc", None), PROCESSES, everything=True)
    assert deleted(cluster) == ["nc-away-x", "nc-dead-x", "nc-old-x", "nc-reused-x"]


def test_the_cleanup_command_deletes_and_waits(tmp_path: Path, on_path: None) -> None:
    cluster, clock, out = leftover_cluster(), FakeClock(), io.StringIO()
    args = argparse.Namespace(everything=False, wait_s=60.0)
    settings = Settings(kubeconfig=tmp_path / "kc")
    code = cluster_cli.cleanup(args, cluster, settings, PROCESSES, out, clock, clock.sleep)
    assert code == 0 and "nc-dead-x" not in cluster.namespaces
    assert out.getvalue().splitlines()[:2] == [
        f"deleted nc-dead-x (run dead, owner {HOST}/100/5: its run is gone)",
        f"deleted nc-reused-x (run reused, owner {HOST}/300/9: its run is gone)",
    ]
    assert cluster.calls("get", "namespace", "nc-dead-x", "nc-reused-x", "-o", "name")


def policy_doc(name: str, run: str) -> dict[str, Any]:
    labels = {MANAGED_BY: "netconform", RUN_LABEL: run}
    return {"metadata": {"name": name, "labels": labels, "annotations": {RUN_ANNOTATION: run}}}


def with_cluster_policies() -> FakeCluster:
    cluster = leftover_cluster()
    cluster.cluster_policies = {
        n: policy_doc(n, run)
        for n, run in (
            ("nc-dead-l0-deny", "dead"),  # its run's namespaces are being deleted
            ("nc-gone-l1-deny", "gone"),  # its run left no namespace at all
            ("nc-live-l0-deny", "live"),
            ("nc-away-l0-deny", "away"),
            ("nc-old-l0-deny", "x"),  # the run of nc-old-x, which has no owner
        )
    }
    return cluster


def test_cleanup_deletes_the_cluster_network_policies_of_runs_that_are_gone() -> None:
    """A ClusterNetworkPolicy is cluster-scoped: deleting its run's namespaces leaves it, so
    a killed run's policy would go on governing the cluster's traffic."""
    cluster = with_cluster_policies()
    done = leftovers.clean(cluster, access.user_kubectl("kc", None), PROCESSES)
    assert sorted(cluster.cluster_policies or {}) == [
        "nc-away-l0-deny",
        "nc-live-l0-deny",
        "nc-old-l0-deny",
    ]
    assert "deleted ClusterNetworkPolicy nc-gone-l1-deny (run gone: its run is gone)" in (
        done.lines()
    )
    assert "left ClusterNetworkPolicy nc-live-l0-deny (run live: its run is live)" in done.lines()
    leftovers.clean(cluster, access.user_kubectl("kc", None), PROCESSES, everything=True)
    assert sorted(cluster.cluster_policies or {}) == ["nc-live-l0-deny"]


def test_cleanup_without_the_cluster_network_policy_crd_cleans_namespaces_only() -> None:
    cluster = leftover_cluster()
    cluster.cluster_policies = None
    done = leftovers.clean(cluster, access.user_kubectl("kc", None), PROCESSES)
    assert deleted(cluster) == ["nc-dead-x", "nc-reused-x"] and not done.policies_left


# --- the run: claim, reclaim, teardown --------------------------------------------------------


def test_a_run_reclaims_dead_leftovers_claims_its_namespaces_and_waits_them_gone(
    tmp_path: Path,
) -> None:
    cluster, clock = leftover_cluster(), FakeClock()
    me = FakeProcesses({**PROCESSES.running, os.getpid(): 42})
    p = cluster_platform(tmp_path, cluster, me, clock)
    with running(p) as handle:
        ours = sorted(n for n in cluster.namespaces if n.startswith("nc-r1-"))
        owners = {cluster.namespaces[n]["metadata"]["annotations"][OWNER_ANNOTATION] for n in ours}
        runs = {cluster.namespaces[n]["metadata"]["annotations"][RUN_ANNOTATION] for n in ours}
        labels = {cluster.namespaces[n]["metadata"]["labels"][RUN_LABEL] for n in ours}
        # the plan on disk says so too
        steps = json.loads((tmp_path / "work/r1/plan.json").read_text())["steps"]
    assert steps[0]["argv"][-2:] == ["-f", str(tmp_path / "work/r1/namespaces.yaml")]
    assert ours == sorted(handle.info["namespaces"])
    assert owners == {f"{HOST}/{os.getpid()}/42"} and runs == labels == {"r1"}
    seen = cluster.seen
    reclaim = seen.index(cluster.calls("delete", "namespace", "nc-dead-x")[0])
    claim = seen.index(cluster.calls("create", "-f", str(tmp_path / "work/r1/namespaces.yaml"))[0])
    apply = seen.index(cluster.calls("apply", "--server-side")[0])
    teardown = seen.index(cluster.calls("delete", "namespace", "nc-r1-probe")[0])
    assert reclaim < claim < apply < teardown
    # every run namespace gone, the others' untouched, the live run's too
    assert not any(n.startswith("nc-r1-") for n in cluster.namespaces)
    assert {"nc-live-x", "nc-away-x", "nc-old-x", "nc-theirs", "team-a"} <= set(cluster.namespaces)
    # an interrupted case's ClusterNetworkPolicies go too, by the run's label; then its files
    assert cluster.calls("delete", CLUSTER_POLICIES, "-l", f"{RUN_LABEL}=r1")
    assert not (tmp_path / "work/r1").exists()


def test_a_stuck_namespace_is_named_with_what_holds_it(tmp_path: Path) -> None:
    cluster, clock = FakeCluster(stuck={"nc-r1-x1"}), FakeClock()
    p = cluster_platform(tmp_path, cluster, FakeProcesses({}), clock, gone_deadline_s=30)
    with pytest.raises(leftovers.NamespacesStuck) as err, running(p):
        pass
    message = str(err.value)
    assert message.startswith("namespaces still there 30s after their deletion: nc-r1-x1 (")
    assert "finalizers example.com/hold, kubernetes" in message
    assert "pods a Running held by example.com/hold" in message
    assert "NamespaceFinalizersRemaining" in message and "\n" not in message
    assert err.value.stuck == (message.split(": ", 1)[1],) and err.value.exit_code == 3
    assert 28 <= clock.now <= 32  # waited out the deadline, in 2 s looks


# --- the kubeconfig command -------------------------------------------------------------------


def test_the_kubeconfig_command_prints_a_service_account_kubeconfig(
    tmp_path: Path, on_path: None
) -> None:
    cluster, out = FakeCluster(), io.StringIO()
    settings = Settings(kubeconfig=tmp_path / "admin", kube_context="ctx")
    args = argparse.Namespace(duration="2h")
    assert cluster_cli.print_kubeconfig(args, cluster, settings, out) == 0
    config = yaml.safe_load(out.getvalue())
    context = next(c for c in config["contexts"] if c["name"] == config["current-context"])
    user = next(u for u in config["users"] if u["name"] == context["context"]["user"])
    server = next(c for c in config["clusters"] if c["name"] == context["context"]["cluster"])
    assert user == {"name": "netconform", "user": {"token": TOKEN}}
    assert server["cluster"] == {"server": ADMIN_SERVER, "certificate-authority-data": "Q0EK"}
    assert "secret" not in out.getvalue()  # nothing of the admin's credentials
    (token,) = cluster.calls("create", "token")
    assert token[-4:] == ("create", "token", "netconform", "--duration=2h")
    assert token[-6:-4] == ("-n", "netconform-system") and "--context" in token


def test_the_cli_prints_the_manifest(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cluster", "rbac"]) == 0
    assert manifests.load_all(capsys.readouterr().out.encode()) == manifest_docs()


def test_the_kubeconfig_command_without_a_cluster_is_one_line_exit_3(
    tmp_path: Path,
    on_path: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("NETCONFORM_KUBECONFIG", str(tmp_path / "admin"))
    assert main(["cluster", "kubeconfig", "--duration", "1h"]) == 3
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("netconform: cannot read the admin kubeconfig")
    assert captured.err.count("\n") == 1


def test_the_docs_table_is_the_table() -> None:
    page = Path(__file__).resolve().parents[2] / "docs" / "existing-cluster.md"
    documented = []
    for line in page.read_text().splitlines():
        if line.startswith("| `"):
            resource, verbs, scope, why = (c.strip() for c in line.strip("|").split("|"))
            documented += [(v, resource.strip("`"), scope, why) for v in verbs.split(", ")]
    assert documented == [(p.verb, p.named, str(p.scope), p.why) for p in access.PERMISSIONS]
