"""NetworkPolicy and ClusterNetworkPolicy: model, validation, oracle (expected matrix with
explanations) and catalogue.

Everything here is a frozen dataclass or a pure function; nothing talks to a cluster.

Model (`netconform.netpol.model`)
    `Cluster(namespaces, pods)`, `Namespace(name, labels)` (the automatic
    `kubernetes.io/metadata.name` label is always set), `Pod(namespace, name, labels, ip,
    ports, host_network)` with `ContainerPort(port, protocol, name)` and `Protocol`
    (TCP, UDP, SCTP). `Pod.key` is `namespace/name`.

Policies (`netconform.netpol.validation`, `netconform.netpol.policy`)
    `parse_policy(manifest) -> NetworkPolicy` validates like the API server and raises
    `InvalidPolicy` (with `.errors`, each a `FieldError(field, problem)`) otherwise.
    `NetworkPolicy` holds the defaulted `policy_types`, `ingress`/`egress` `Rule`s of `Peer`s
    and `PolicyPort`s; absent and empty lists both become empty tuples (= everything).

Cluster policies (`netconform.netpol.cluster_policy`, `.cluster_validation`, `.manifest`)
    `parse_cluster_policy(manifest) -> ClusterNetworkPolicy` (policy.networking.k8s.io
    v1beta1, v1alpha2 read as the same schema) validates like the CRD (schema and CEL rules)
    and raises the same `InvalidPolicy`. A `ClusterNetworkPolicy` has `name` (its `key`),
    `tier` (`Tier.ADMIN`/`Tier.BASELINE`), `priority` (0-1000, lower first), `subject`
    (`Subject(namespaces | pods)`) and `ingress`/`egress` `ClusterRule`s (`action`
    `Action.ACCEPT/DENY/PASS`, `peers` of `ClusterPeer`, `ports` as `PolicyPort`s, `name`).
    `parse_manifest(manifest) -> NetworkPolicy | ClusterNetworkPolicy` (`AnyPolicy`)
    dispatches on `kind` (absent: NetworkPolicy); every caller that reads policies uses it.
    `confine_subject(manifest, namespaces)` and `cluster_namespace_selectors(manifest)` are
    what a run needs to keep a cluster-scoped policy on its own namespaces.

Oracle (`netconform.netpol.oracle`)
    `Oracle(cluster, policies, profile)` takes policies of both kinds and compiles once;
    `.verdict(Probe(src, dst, port, protocol, service=False)) -> ProbeVerdict`,
    `.verdicts(probes)`, `.matrix(port, protocol, pods)`.
    `evaluate(cluster, policies, probes=None, profile=None)` does all at once (default
    probes: every ordered pod pair x every served port/protocol). A `ProbeVerdict` has
    `allowed`, `served`, `ignored` ("loopback", "hostNetwork", "same-priority",
    "unsupported" or ""), `reason`, and an `egress` and an `ingress` `DirectionVerdict`
    (`allowed`; `tier` that decided: "Admin", "NetworkPolicy", "Baseline" or "";
    `decided_by` the cluster rule, `passed` the Pass rules on the way, `ambiguous_with` and
    `ambiguous` for same-priority ties, `unsupported`; for the NetworkPolicy tier
    `isolated_by`, `allowed_by` rule refs, `closest` `RuleMiss` naming the failed part;
    `reason`). A `RuleRef` names policy, direction and index, and for a cluster rule its
    tier, priority, name and action.
    `Profile(ipblock_matches_pods=True, ignore_loopback=True, host_network=IGNORE,
    cnp_service_hairpin=True)`.

Catalogue (`netconform.netpol.catalogue`)
    `load_catalogue(dir=None) -> list[Case]` reads scenarios/netpol/*.yaml; `select(cases,
    tags)`. A `Case` has `id`, `title`, `tags`, `pods`, `ports`, `protocols` and `steps`
    (`Step(name, actions, probes)`; actions are `CreatePolicy`, `UpdatePolicy`,
    `DeletePolicy`, `DeleteAllPolicies`, `SetPodLabels`, `SetNamespaceLabels`).
    `case.model()` is its share of the standard x/y/z x a/b/c model; `case.resolve(cluster)`
    fills `${ip:ns/pod}` placeholders with the cluster's IPs and returns, per step, the
    cluster state, the parsed policies, the manifests to apply and `expected(profile)`.

Rendering and CLI: `netconform.netpol.render` (JSON, truth tables) and
`netconform.netpol.cli.add_netpol_subcommands` (`expect`, `cases`, `show`).
"""

from netconform.netpol.catalogue import Case, ResolvedCase, ResolvedStep, Step, load_catalogue
from netconform.netpol.cluster_policy import (
    Action,
    AnyPolicy,
    ClusterNetworkPolicy,
    ClusterPeer,
    ClusterRule,
    NamespacedPods,
    Subject,
    Tier,
)
from netconform.netpol.cluster_validation import parse_cluster_policy
from netconform.netpol.manifest import cluster_namespace_selectors, confine_subject, parse_manifest
from netconform.netpol.model import Cluster, ContainerPort, Namespace, Pod, Protocol
from netconform.netpol.oracle import (
    DirectionVerdict,
    HostNetworkMode,
    Oracle,
    Probe,
    ProbeVerdict,
    Profile,
    RuleMiss,
    RuleRef,
    evaluate,
)
from netconform.netpol.policy import Direction, NetworkPolicy
from netconform.netpol.validation import FieldError, InvalidPolicy, parse_policy

__all__ = [
    "Action",
    "AnyPolicy",
    "Case",
    "Cluster",
    "ClusterNetworkPolicy",
    "ClusterPeer",
    "ClusterRule",
    "ContainerPort",
    "Direction",
    "DirectionVerdict",
    "FieldError",
    "HostNetworkMode",
    "InvalidPolicy",
    "Namespace",
    "NamespacedPods",
    "NetworkPolicy",
    "Oracle",
    "Pod",
    "Probe",
    "ProbeVerdict",
    "Profile",
    "Protocol",
    "ResolvedCase",
    "ResolvedStep",
    "RuleMiss",
    "RuleRef",
    "Step",
    "Subject",
    "Tier",
    "cluster_namespace_selectors",
    "confine_subject",
    "evaluate",
    "load_catalogue",
    "parse_cluster_policy",
    "parse_manifest",
    "parse_policy",
]
