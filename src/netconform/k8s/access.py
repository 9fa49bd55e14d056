"""What the `cluster` platform may do in a cluster the user has, as one table: the RBAC
manifest shipped in fixtures/rbac/cluster-run.yaml grants exactly these rows (a test holds
the two equal), and preflight asks the API server, for every row, whether the kubeconfig's
user may (one batch of SelfSubjectAccessReviews, as `kubectl auth can-i` asks one by one)
before anything is created.

RBAC cannot narrow a verb to labelled namespaces, so the manifest's
ValidatingAdmissionPolicy does: the writes marked OWN below are admitted only to the run's
own namespaces (named nc-*, annotated netconform.io/run when created)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from netconform.errors import EnvironmentUnfit
from netconform.k8s import manifests
from netconform.k8s.profiles import fixtures_dir
from netconform.k8s.tools import Runner

SERVICE_ACCOUNT = "netconform"
SERVICE_ACCOUNT_NAMESPACE = "netconform-system"
SERVICE_ACCOUNT_USER = f"system:serviceaccount:{SERVICE_ACCOUNT_NAMESPACE}:{SERVICE_ACCOUNT}"
REVIEW_TIMEOUT_S = 60.0

Kubectl = Callable[..., tuple[str, ...]]


def rbac_manifest() -> Path:
    return fixtures_dir() / "rbac" / "cluster-run.yaml"


def user_kubectl(kubeconfig: str, context: str | None) -> Kubectl:
    """kubectl as the user's kubeconfig and context (before the run has its own copy)."""
    chosen = ("--context", context) if context else ()

    def argv(*args: str) -> tuple[str, ...]:
        return ("kubectl", "--kubeconfig", kubeconfig, *chosen, *args)

    return argv


class Scope(StrEnum):
    CLUSTER = "cluster-scoped"  # nodes, namespaces (reads), Calico's IP pools
    ANY_NAMESPACE = "any namespace"  # reads: detection, discovery, diagnostics
    OWN = "netconform's namespaces"  # writes: admitted only there by the admission policy


@dataclass(frozen=True)
class Permission:
    verb: str
    resource: str  # plural, as RBAC names it
    why: str
    scope: Scope
    group: str = ""  # "" is the core group
    subresource: str = ""
    # a namespaced resource; for OWN, False means the namespace objects themselves
    namespaced: bool = True

    @property
    def rbac_resource(self) -> str:
        """As a ClusterRole rule names it: pods/exec."""
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource

    @property
    def named(self) -> str:
        """As kubectl names it: networkpolicies.networking.k8s.io, pods/exec."""
        return f"{self.rbac_resource}.{self.group}" if self.group else self.rbac_resource

    def review(self, run_namespace: str) -> dict[str, Any]:
        """A SelfSubjectAccessReview for this row; OWN writes are asked in one of the run's
        namespaces (the binding is cluster-wide; admission narrows it, not RBAC)."""
        attributes = {"verb": self.verb, "group": self.group, "resource": self.resource}
        if self.subresource:
            attributes["subresource"] = self.subresource
        if self.namespaced and self.scope == Scope.OWN:
            attributes["namespace"] = run_namespace
        return {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": attributes},
        }


def _reads(resource: str, verbs: Sequence[str], why: str, **kw: Any) -> list[Permission]:
    scope = Scope.ANY_NAMESPACE if kw.get("namespaced", True) else Scope.CLUSTER
    return [Permission(v, resource, why, scope, **kw) for v in verbs]


def _writes(resource: str, verbs: Sequence[str], why: str, **kw: Any) -> list[Permission]:
    return [Permission(v, resource, why, Scope.OWN, **kw) for v in verbs]


NETWORKING = "networking.k8s.io"
POLICY_API = "policy.networking.k8s.io"
PERMISSIONS: tuple[Permission, ...] = (
    *_reads("nodes", ("get", "list"), "the schedulable nodes, their addresses; diagnostics",
            namespaced=False),
    *_reads("namespaces", ("get", "list"),
            "kube-system's labels for the cluster DNS cases; leftovers and teardown",
            namespaced=False),
    *_writes("namespaces", ("create", "patch", "delete"),
             "the run's namespaces: created, applied, relabelled by cases, deleted",
             namespaced=False),
    *_reads("pods", ("get", "list", "watch"), "the run's pods, kube-dns; `kubectl wait`"),
    *_writes("pods", ("create", "patch"), "the probe pods (server-side apply), pod labels"),
    *_writes("pods", ("create", "get"), "the probes: one exec per batch (websocket: get)",
             subresource="exec"),
    *_reads("services", ("get",), "kube-system/kube-dns, the run's Services"),
    *_writes("services", ("create", "patch"), "the run's Services (server-side apply)"),
    *_writes("networkpolicies", ("create", "update", "delete", "deletecollection"),
             "the NetworkPolicy cases", group=NETWORKING),
    *_writes("clusternetworkpolicies", ("create", "update", "delete"),
             "the ClusterNetworkPolicy cases (nc-*, annotated as the run's)", group=POLICY_API,
             namespaced=False),
    *_reads("clusternetworkpolicies", ("get", "list"),
            "a case's policy replaced; a lane's removed by its label", group=POLICY_API,
            namespaced=False),
    *_reads("customresourcedefinitions", ("get",),
            "whether and which ClusterNetworkPolicy versions the cluster serves",
            group="apiextensions.k8s.io", namespaced=False),
    *_reads("daemonsets", ("list",), "which CNI runs (its DaemonSet)", group="apps"),
    *_reads("configmaps", ("get",), "the CNI's mode (cilium-config, kube-flannel-cfg)"),
    *_reads("ippools", ("list",), "Calico's encapsulation (its IP pools)",
            group="crd.projectcalico.org", namespaced=False),
    *_reads("events", ("list",), "diagnostics of a failed run"),
    *_reads("leases", ("get",), "diagnostics: `kubectl describe nodes` reads node leases",
            group="coordination.k8s.io"),
)  # fmt: skip


def _answers(stdout: str) -> list[dict[str, Any]]:
    """The reviews kubectl printed: one JSON document per object, or one List."""
    decoder, at = json.JSONDecoder(), 0
    found: list[dict[str, Any]] = []
    text = stdout.strip()
    while at < len(text):
        document, end = decoder.raw_decode(text, at)
        listed = document.get("kind") == "List"
        found += (document.get("items") or []) if listed else [document]
        at = end
        while at < len(text) and text[at].isspace():
            at += 1
    return found


def _key(attributes: Mapping[str, Any]) -> str:
    """Attributes as the API server echoes them back (empty fields left out)."""
    return json.dumps({k: v for k, v in attributes.items() if v}, sort_keys=True)


def denied(
    runner: Runner,
    kubectl: Kubectl,
    run_namespace: str,
    permissions: Sequence[Permission] = PERMISSIONS,
) -> list[Permission]:
    """The rows the kubeconfig's user may not do: one `kubectl create` of every review."""
    reviews = [p.review(run_namespace) for p in permissions]
    batch = {"apiVersion": "v1", "kind": "List", "items": reviews}
    result = runner.run(
        kubectl("create", "-f", "-", "-o", "json"),
        timeout_s=REVIEW_TIMEOUT_S,
        stdin=json.dumps(batch),
    )
    if result.returncode != 0:
        raise EnvironmentUnfit(
            f"cannot ask the cluster what this kubeconfig may do: {result.tail()}"
        )
    try:
        answers = {
            _key(a["spec"]["resourceAttributes"]): a.get("status", {}).get("allowed") is True
            for a in _answers(result.stdout)
        }
    except (ValueError, AttributeError, KeyError, TypeError) as exc:
        raise EnvironmentUnfit(f"unreadable access reviews from the cluster: {exc}") from exc
    keys = [_key(r["spec"]["resourceAttributes"]) for r in reviews]
    unanswered = [p for p, k in zip(permissions, keys, strict=True) if k not in answers]
    if unanswered:
        raise EnvironmentUnfit(
            f"the cluster did not answer whether this kubeconfig may "
            f"{unanswered[0].verb} {unanswered[0].named}"
        )
    return [p for p, k in zip(permissions, keys, strict=True) if not answers[k]]


def require_access(runner: Runner, kubectl: Kubectl, run_namespace: str) -> None:
    """EnvironmentUnfit (exit 3), one line naming each verb and resource refused."""
    refused = denied(runner, kubectl, run_namespace)
    if refused:
        named = ", ".join(f"{p.verb} {p.named}" for p in refused)
        raise EnvironmentUnfit(
            f"platform cluster: this kubeconfig may not {named}; apply {rbac_manifest()} "
            "and run with `netconform cluster kubeconfig` (docs/existing-cluster.md)"
        )


def service_account_kubeconfig(runner: Runner, kubectl: Kubectl, duration: str) -> str:
    """A kubeconfig for the netconform ServiceAccount: the admin context's cluster entry
    (server, CA) and a token `kubectl create token` issues for `duration`."""
    view = runner.run(
        kubectl("config", "view", "--minify", "--flatten", "-o", "json"), timeout_s=60
    )
    if view.returncode != 0:
        raise EnvironmentUnfit(f"cannot read the admin kubeconfig: {view.tail()}")
    try:
        cluster = json.loads(view.stdout)["clusters"][0]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise EnvironmentUnfit(f"the admin kubeconfig's context names no cluster: {exc}") from exc
    token = runner.run(
        kubectl(
            "-n",
            SERVICE_ACCOUNT_NAMESPACE,
            "create",
            "token",
            SERVICE_ACCOUNT,
            f"--duration={duration}",
        ),
        timeout_s=60,
    )
    if token.returncode != 0 or not token.stdout.strip():
        raise EnvironmentUnfit(
            f"no token for {SERVICE_ACCOUNT_NAMESPACE}/{SERVICE_ACCOUNT}: {token.tail()} "
            f"(kubectl create namespace {SERVICE_ACCOUNT_NAMESPACE}; "
            f"kubectl apply -f {rbac_manifest()})"
        )
    name = "netconform"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster["name"], "cluster": cluster["cluster"]}],
        "users": [{"name": name, "user": {"token": token.stdout.strip()}}],
        "contexts": [{"name": name, "context": {"cluster": cluster["name"], "user": name}}],
        "current-context": name,
    }
    return manifests.dump(config)
