"""The catalogue of NetworkPolicy cases (scenarios/netpol/*.yaml) and their expectations.

A case names the pods it needs from the standard model (namespaces x, y, z; pods a, b, c
labelled `pod=<name>`; one container port per port/protocol, named like `serve-80-tcp`),
then ordered steps. Each step applies actions (create, update or delete a policy; change
pod or namespace labels) and lists the port/protocols to probe between every ordered pair
of the case's pods. Expected matrices are never stored: `expectations()` asks the oracle.

A policy manifest is a NetworkPolicy or a ClusterNetworkPolicy (by its `kind`). A
ClusterNetworkPolicy's subject is confined to the case's namespaces x, y, z
(`manifest.confine_subject`): what the oracle judges is what a run applies, and a run's
cluster-scoped policy never acts on pods it did not make.

Manifests may say `${ip:y/b}` (a pod's IP) or `${cidr:x/b:4}` (the /4 network holding it);
`Case.resolve(cluster)` substitutes the IPs of the cluster the case runs on.

A case may also list `kube-system/kube-dns`: the cluster's DNS server (a pod labelled
`k8s-app=kube-dns` in namespace kube-system, serving 53/UDP and 53/TCP), so DNS egress rules
(namespaceSelector + podSelector) can be probed. It is a destination only: it never sends
probes, its labels are never changed and no policy may be placed in its namespace.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netconform.errors import file_field_error
from netconform.inputs import files_dir
from netconform.netpol.cluster_policy import KIND as CLUSTER_KIND
from netconform.netpol.cluster_policy import AnyPolicy
from netconform.netpol.document import read_structured
from netconform.netpol.manifest import confine_subject, manifest_kind, parse_manifest
from netconform.netpol.model import Cluster, ContainerPort, Namespace, Pod, Protocol
from netconform.netpol.oracle import Oracle, Probe, ProbeVerdict, Profile
from netconform.netpol.policy import NetworkPolicy
from netconform.netpol.validation import InvalidPolicy, is_dns_subdomain

NAMESPACES = ("x", "y", "z")
POD_NAMES = ("a", "b", "c")
# The cluster's DNS server as a case names it; bound to a real CoreDNS pod on a cluster.
DNS_NAMESPACE = "kube-system"
CLUSTER_DNS = f"{DNS_NAMESPACE}/kube-dns"
CLUSTER_DNS_LABELS = {"k8s-app": "kube-dns"}  # what kubeadm's CoreDNS pods carry
CLUSTER_DNS_PORTS = (
    ContainerPort(53, Protocol.UDP, "dns"),
    ContainerPort(53, Protocol.TCP, "dns-tcp"),
    ContainerPort(9153, Protocol.TCP, "metrics"),
)
_PLACEHOLDER = re.compile(r"\$\{(ip|cidr):([a-z0-9-]+/[a-z0-9-]+)(?::(\d+))?\}")


def port_name(port: int, protocol: Protocol) -> str:
    return f"serve-{port}-{protocol.lower()}"


def standard_cluster(
    ports: Iterable[int] = (80, 81),
    protocols: Iterable[Protocol] = (Protocol.TCP, Protocol.UDP, Protocol.SCTP),
) -> Cluster:
    """The upstream e2e model: namespaces x, y, z; pods a, b, c; stand-in IPs 10.244.N.P."""
    container_ports = tuple(
        ContainerPort(port, protocol, port_name(port, protocol))
        for port in ports
        for protocol in protocols
    )
    pods = tuple(
        Pod(ns, name, {"pod": name}, f"10.244.{n + 1}.{p + 10}", container_ports)
        for n, ns in enumerate(NAMESPACES)
        for p, name in enumerate(POD_NAMES)
    )
    return Cluster(tuple(Namespace(ns) for ns in NAMESPACES), pods)


def cluster_dns_pod(ip: str = "10.244.0.10", labels: Mapping[str, str] | None = None) -> Pod:
    """The cluster DNS server as the oracle sees it (stand-in IP unless a cluster's)."""
    name = CLUSTER_DNS.split("/")[1]
    return Pod(DNS_NAMESPACE, name, labels or CLUSTER_DNS_LABELS, ip, CLUSTER_DNS_PORTS)


def with_cluster_dns(cluster: Cluster, dns: Pod, namespace: Namespace | None = None) -> Cluster:
    """`cluster` plus kube-system and its DNS pod."""
    return Cluster(
        (*cluster.namespaces, namespace or Namespace(DNS_NAMESPACE)), (*cluster.pods, dns)
    )


@dataclass(frozen=True)
class CreatePolicy:
    """A NetworkPolicy or ClusterNetworkPolicy manifest, as the case wrote it."""

    manifest: Mapping[str, Any] = field(hash=False)


@dataclass(frozen=True)
class UpdatePolicy:
    """Replaces the policy of the same key (namespace/name, or a cluster policy's name)."""

    manifest: Mapping[str, Any] = field(hash=False)


@dataclass(frozen=True)
class DeletePolicy:
    """`namespace` is "" for a ClusterNetworkPolicy (cluster-scoped: a name alone)."""

    namespace: str
    name: str

    @property
    def cluster_scoped(self) -> bool:
        return not self.namespace

    @property
    def key(self) -> str:
        """The deleted policy's key, as `NetworkPolicy.key`/`ClusterNetworkPolicy.key`."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


@dataclass(frozen=True)
class DeleteAllPolicies:
    pass


@dataclass(frozen=True)
class SetPodLabels:
    """Adds (or, with `replace`, replaces all) labels of a pod."""

    pod: str
    labels: Mapping[str, str] = field(hash=False)
    replace: bool = False


@dataclass(frozen=True)
class SetNamespaceLabels:
    """Adds (or, with `replace`, replaces all but the name label) labels of a namespace."""

    namespace: str
    labels: Mapping[str, str] = field(hash=False)
    replace: bool = False


Action = (
    CreatePolicy
    | UpdatePolicy
    | DeletePolicy
    | DeleteAllPolicies
    | SetPodLabels
    | SetNamespaceLabels
)


@dataclass(frozen=True)
class Step:
    name: str
    actions: tuple[Action, ...]
    probes: tuple[tuple[int, Protocol], ...]


@dataclass(frozen=True)
class Case:
    id: str
    title: str
    tags: tuple[str, ...]
    pods: tuple[str, ...]
    ports: tuple[int, ...]
    protocols: tuple[Protocol, ...]
    steps: tuple[Step, ...]
    upstream: str = ""
    source: str = ""

    @property
    def model_pods(self) -> tuple[str, ...]:
        """The case's pods of the standard model (its own pods, which send and receive)."""
        return tuple(p for p in self.pods if p != CLUSTER_DNS)

    @property
    def uses_cluster_dns(self) -> bool:
        return CLUSTER_DNS in self.pods

    @property
    def writes_cluster_policies(self) -> bool:
        """Whether a step creates, updates or deletes a ClusterNetworkPolicy."""
        return any(
            (
                isinstance(a, CreatePolicy | UpdatePolicy)
                and manifest_kind(a.manifest) == CLUSTER_KIND
            )
            or (isinstance(a, DeletePolicy) and a.cluster_scoped)
            for step in self.steps
            for a in step.actions
        )

    def model(self) -> Cluster:
        """The standard model reduced to this case's pods, ports and protocols (plus
        kube-system and the cluster DNS pod when the case names it)."""
        base = standard_cluster(self.ports, self.protocols).subset(self.model_pods)
        return with_cluster_dns(base, cluster_dns_pod()) if self.uses_cluster_dns else base

    def resolve(self, cluster: Cluster | None = None) -> ResolvedCase:
        """Steps with IP placeholders filled in and the cluster/policy state after each."""
        cluster = cluster or self.model()
        state: dict[str, AnyPolicy] = {}
        manifests: dict[str, Mapping[str, Any]] = {}
        resolved = []
        for step in self.steps:
            for action in step.actions:
                if isinstance(action, CreatePolicy | UpdatePolicy):
                    manifest = case_manifest(action.manifest, cluster)
                    policy = parse_manifest(manifest)
                    state[policy.key] = policy
                    manifests[policy.key] = manifest
                elif isinstance(action, DeletePolicy):
                    state.pop(action.key, None)
                    manifests.pop(action.key, None)
                elif isinstance(action, DeleteAllPolicies):
                    state.clear()
                    manifests.clear()
                elif isinstance(action, SetPodLabels):
                    pod = cluster.pod(action.pod)
                    labels = (
                        dict(action.labels) if action.replace else {**pod.labels, **action.labels}
                    )
                    cluster = cluster.with_pod_labels(action.pod, labels)
                else:
                    ns = cluster.namespace(action.namespace)
                    labels = (
                        dict(action.labels) if action.replace else {**ns.labels, **action.labels}
                    )
                    cluster = cluster.with_namespace_labels(action.namespace, labels)
            resolved.append(
                ResolvedStep(step, cluster, tuple(state.values()), tuple(manifests.values()))
            )
        return ResolvedCase(self, tuple(resolved))


@dataclass(frozen=True)
class ResolvedStep:
    """The state after a step's actions: what a platform applies and the oracle judges."""

    step: Step
    cluster: Cluster
    policies: tuple[AnyPolicy, ...]
    manifests: tuple[Mapping[str, Any], ...] = field(hash=False)

    def probes(self) -> list[Probe]:
        """Per probed port/protocol, every ordered pair of a source (any pod but the cluster
        DNS) and a destination serving it (every model pod serves the case's ports)."""
        sources = [p for p in self.cluster.pods if p.key != CLUSTER_DNS]
        return [
            Probe(src.key, dst.key, port, protocol)
            for port, protocol in self.step.probes
            for src in sources
            for dst in self.cluster.pods
            if dst.serves(port, protocol)
        ]

    def expected(self, profile: Profile | None = None) -> list[ProbeVerdict]:
        return Oracle(self.cluster, self.policies, profile).verdicts(self.probes())


@dataclass(frozen=True)
class ResolvedCase:
    case: Case
    steps: tuple[ResolvedStep, ...]


def case_manifest(manifest: Mapping[str, Any], cluster: Cluster) -> dict[str, Any]:
    """What a case's manifest means on `cluster`: IPs filled in and, for a
    ClusterNetworkPolicy, its subject confined to the case's namespaces."""
    return confine_subject(substitute_ips(manifest, cluster), NAMESPACES)


def substitute_ips(manifest: Mapping[str, Any], cluster: Cluster) -> dict[str, Any]:
    """A deep copy with `${ip:ns/pod}` and `${cidr:ns/pod:prefix}` filled in."""

    def fill(match: re.Match[str]) -> str:
        ip = cluster.pod(match.group(2)).ip
        if match.group(1) == "ip":
            return ip
        prefix = int(match.group(3) or 32)
        return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return _PLACEHOLDER.sub(fill, value)
        if isinstance(value, Mapping):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    result = walk(manifest)
    assert isinstance(result, dict)
    return result


# -- loading ---------------------------------------------------------------------------


class _CaseProblem(Exception):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(problem)
        self.field = field
        self.problem = problem


def _parse_probe_spec(text: Any, field: str) -> tuple[int, Protocol]:
    match = re.fullmatch(r"(\d+)/(TCP|UDP|SCTP)", str(text))
    if not match:
        raise _CaseProblem(field, f"{text!r}: expected PORT/PROTOCOL like 80/TCP")
    return int(match.group(1)), Protocol(match.group(2))


def _only(value: Mapping[str, Any], field: str, allowed: set[str]) -> None:
    unknown = sorted(str(k) for k in value if k not in allowed)
    if unknown:
        known = ", ".join(sorted(allowed))
        raise _CaseProblem(f"{field}.{unknown[0]}", f"unknown field (known: {known})")


def _labels_action(value: Any, field: str, target_key: str) -> tuple[str, dict[str, str], bool]:
    if not isinstance(value, Mapping) or target_key not in value:
        raise _CaseProblem(field, f"expected {{{target_key}: ..., labels: {{...}}}}")
    _only(value, field, {target_key, "labels", "replace"})
    labels = value.get("labels") or {}
    if not isinstance(labels, Mapping):
        raise _CaseProblem(f"{field}.labels", "must be an object")
    return (
        str(value[target_key]),
        {str(k): str(v) for k, v in labels.items()},
        bool(value.get("replace", False)),
    )


ACTIONS = (
    "create-policy",
    "update-policy",
    "delete-policy",
    "delete-all-policies",
    "set-pod-labels",
    "set-namespace-labels",
)


def _parse_action(value: Any, field: str) -> Action:
    if not isinstance(value, Mapping) or len(value) != 1:
        raise _CaseProblem(
            field, f"an action is an object with exactly one of {', '.join(ACTIONS)}"
        )
    kind, body = next(iter(value.items()))
    where = f"{field}.{kind}"
    if kind in ("create-policy", "update-policy"):
        if not isinstance(body, Mapping):
            raise _CaseProblem(where, "must be a NetworkPolicy or ClusterNetworkPolicy manifest")
        manifest = dict(body)
        return CreatePolicy(manifest) if kind == "create-policy" else UpdatePolicy(manifest)
    if kind == "delete-policy":
        # NAMESPACE/NAME is a NetworkPolicy; a bare NAME the cluster-scoped kind.
        ns, slash, name = str(body).rpartition("/")
        if not name or (slash and not ns) or not is_dns_subdomain(name) or "/" in ns:
            raise _CaseProblem(
                where, "expected NAMESPACE/NAME (a NetworkPolicy) or NAME (a ClusterNetworkPolicy)"
            )
        return DeletePolicy(ns, name)
    if kind == "delete-all-policies":
        return DeleteAllPolicies()
    if kind == "set-pod-labels":
        pod, labels, replace = _labels_action(body, where, "pod")
        return SetPodLabels(pod, labels, replace)
    if kind == "set-namespace-labels":
        ns, labels, replace = _labels_action(body, where, "namespace")
        return SetNamespaceLabels(ns, labels, replace)
    raise _CaseProblem(where, f"unknown action (known: {', '.join(ACTIONS)})")


_CASE_FIELDS = {"id", "title", "tags", "pods", "ports", "protocols", "steps", "upstream"}
_STEP_FIELDS = {"name", "actions", "probes"}


def _list(value: Any, field: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _CaseProblem(field, f"must be a list, not {type(value).__name__}")
    return value


def _ports(value: Any, field: str) -> tuple[int, ...]:
    ports = []
    for i, raw in enumerate(_list(value, field) or [80, 81]):
        if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= 65535:
            raise _CaseProblem(f"{field}[{i}]", f"{raw!r}: must be a port number 1-65535")
        ports.append(raw)
    return tuple(ports)


def _pods(value: Any, field: str) -> tuple[str, ...]:
    raw = _list(value, field)
    if not raw:
        return tuple(f"{n}/{p}" for n in NAMESPACES for p in POD_NAMES)
    pods = []
    for i, pod in enumerate(raw):
        if pod != CLUSTER_DNS and (
            not isinstance(pod, str)
            or pod.partition("/")[0] not in NAMESPACES
            or pod.partition("/")[2] not in POD_NAMES
        ):
            raise _CaseProblem(
                f"{field}[{i}]",
                f"{pod!r}: not a pod of the model (x, y or z / a, b or c, or {CLUSTER_DNS})",
            )
        if pod in pods:
            raise _CaseProblem(f"{field}[{i}]", f"{pod} is listed twice")
        pods.append(pod)
    if all(p == CLUSTER_DNS for p in pods):
        raise _CaseProblem(field, "at least one pod of the model is needed to send probes")
    return tuple(pods)


def parse_case(value: Any, field: str, source: str = "") -> Case:
    if not isinstance(value, Mapping):
        raise _CaseProblem(field, "a case is an object")
    _only(value, field, _CASE_FIELDS)
    case_id = value.get("id")
    if not isinstance(case_id, str) or not is_dns_subdomain(case_id):
        raise _CaseProblem(f"{field}.id", f"{case_id!r}: must be a lowercase dotted id")
    field = f"{field} ({case_id})"
    pods = _pods(value.get("pods"), f"{field}.pods")
    ports = _ports(value.get("ports"), f"{field}.ports")
    try:
        protocols = tuple(
            Protocol(p) for p in _list(value.get("protocols"), f"{field}.protocols") or ("TCP",)
        )
    except ValueError:
        raise _CaseProblem(f"{field}.protocols", "each must be TCP, UDP or SCTP") from None
    served = {(p, proto) for p in ports for proto in protocols}
    if CLUSTER_DNS in pods:
        served |= {(c.port, c.protocol) for c in CLUSTER_DNS_PORTS}
    steps = []
    raw_steps = value.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise _CaseProblem(f"{field}.steps", "at least one step is required")
    for i, raw in enumerate(raw_steps):
        sfield = f"{field}.steps[{i}]"
        if not isinstance(raw, Mapping):
            raise _CaseProblem(sfield, "a step is an object")
        _only(raw, sfield, _STEP_FIELDS)
        actions = tuple(
            _parse_action(a, f"{sfield}.actions[{j}]")
            for j, a in enumerate(_list(raw.get("actions"), f"{sfield}.actions"))
        )
        probes = tuple(
            _parse_probe_spec(p, f"{sfield}.probes[{j}]")
            for j, p in enumerate(_list(raw.get("probes"), f"{sfield}.probes"))
        )
        for j, (port, protocol) in enumerate(probes):
            if (port, protocol) not in served:
                raise _CaseProblem(
                    f"{sfield}.probes[{j}]", f"{port}/{protocol} is not served by the case's pods"
                )
        steps.append(Step(str(raw.get("name", f"step {i + 1}")), actions, probes))
    case = Case(
        id=case_id,
        title=str(value.get("title", "")),
        tags=tuple(str(t) for t in _list(value.get("tags"), f"{field}.tags")),
        pods=pods,
        ports=ports,
        protocols=protocols,
        steps=tuple(steps),
        upstream=str(value.get("upstream", "")),
        source=source,
    )
    _check_resolves(case, field)
    return case


def _check_resolves(case: Case, field: str) -> None:
    """Every manifest must be valid and live in a model namespace, and every label change
    must name an object of the case."""
    cluster = case.model()
    for i, step in enumerate(case.steps):
        for j, action in enumerate(step.actions):
            where = f"{field}.steps[{i}].actions[{j}]"
            if isinstance(action, CreatePolicy | UpdatePolicy):
                try:
                    policy = parse_manifest(case_manifest(action.manifest, cluster))
                except InvalidPolicy as exc:
                    first = exc.errors[0]
                    raise _CaseProblem(f"{where} {first.field}", first.problem) from None
                except KeyError as exc:
                    raise _CaseProblem(
                        where, f"IP placeholder names a pod the case does not list: {exc}"
                    ) from None
                if isinstance(policy, NetworkPolicy) and policy.namespace not in NAMESPACES:
                    # Policies live in the run's own namespaces: never in kube-system/default.
                    raise _CaseProblem(
                        f"{where} metadata.namespace",
                        f"{policy.namespace!r}: a case's policies live in x, y or z",
                    )
            elif (
                isinstance(action, DeletePolicy)
                and not action.cluster_scoped
                and action.namespace not in NAMESPACES
            ):
                raise _CaseProblem(where, f"namespace {action.namespace} is not x, y or z")
            elif isinstance(action, SetPodLabels) and action.pod == CLUSTER_DNS:
                raise _CaseProblem(where, f"{CLUSTER_DNS} is the cluster's: its labels stay")
            elif isinstance(action, SetPodLabels) and action.pod not in case.pods:
                raise _CaseProblem(where, f"pod {action.pod} is not among the case's pods")
            elif isinstance(action, SetNamespaceLabels) and action.namespace not in NAMESPACES:
                raise _CaseProblem(where, f"namespace {action.namespace} is not x, y or z")


def load_cases_file(path: Path) -> list[Case]:
    doc = read_structured(path)
    if not isinstance(doc, Mapping) or not isinstance(doc.get("cases"), list):
        raise file_field_error(path, "cases", "expected a top-level `cases:` list")
    extra = sorted(str(k) for k in doc if k != "cases")
    if extra:
        raise file_field_error(path, extra[0], "unknown field (a case file holds only `cases:`)")
    if not doc["cases"]:
        raise file_field_error(path, "cases", "the list is empty: a case file holds cases")
    try:
        return [parse_case(c, f"cases[{i}]", str(path)) for i, c in enumerate(doc["cases"])]
    except _CaseProblem as exc:
        raise file_field_error(path, exc.field, exc.problem) from None


def default_catalogue_dir() -> Path:
    """scenarios/netpol in a source checkout, or the copy packaged in the wheel."""
    here = Path(__file__).resolve()
    for candidate in (
        here.parents[3] / "scenarios" / "netpol",
        here.parents[1] / "scenarios" / "netpol",
    ):
        if candidate.is_dir():
            return candidate
    return here.parents[3] / "scenarios" / "netpol"


def load_catalogue(directory: Path | None = None) -> list[Case]:
    """Every case of every *.yaml file, sorted by file then order; ids must be unique.
    Parsed once per process while the files stay as they are (the built-in catalogue is
    read by the aspect table, the NetworkPolicy checks and the plan: one parse serves all)."""
    directory = directory or default_catalogue_dir()
    files = tuple(
        (path, path.stat().st_mtime_ns, path.stat().st_size)
        for path in sorted(directory.glob("*.yaml"))
    )
    return list(_parsed(files))


@functools.lru_cache(maxsize=16)
def _parsed(files: tuple[tuple[Path, int, int], ...]) -> tuple[Case, ...]:
    cases: list[Case] = []
    seen: dict[str, str] = {}
    for path, _, _ in files:
        for case in load_cases_file(path):
            if case.id in seen:
                raise file_field_error(
                    path, case.id, f"duplicate case id (also in {seen[case.id]})"
                )
            seen[case.id] = str(path)
            cases.append(case)
    return tuple(cases)


@dataclass(frozen=True)
class CaseSelection:
    """The NetworkPolicy cases a run runs: a user's directory instead of the built-in
    catalogue (`--netpol-cases DIR`) or beside it (`--netpol-cases +DIR`)."""

    directory: Path | None = None  # None: the built-in catalogue only
    with_catalogue: bool = True

    @classmethod
    def parse(cls, text: str | None) -> CaseSelection:
        """From the option's value: `DIR` replaces the catalogue, `+DIR` adds to it."""
        if text is None:
            return cls()
        if text.startswith("+"):
            return cls(Path(text[1:]), with_catalogue=True)
        return cls(Path(text), with_catalogue=False)

    def __str__(self) -> str:
        if self.directory is None:
            return ""
        return f"{'+' if self.with_catalogue else ''}{self.directory}"

    def user_cases(self, option: str = "--netpol-cases") -> list[Case]:
        """The user's cases, validated; a missing or empty directory or a bad file is an
        InputError naming it (and the case and field)."""
        if self.directory is None:
            return []
        directory = files_dir(self.directory, option, "*.yaml")
        cases = load_catalogue(directory)
        if self.with_catalogue:
            builtin = {c.id: c.source for c in load_catalogue()}
            for case in cases:
                if case.id in builtin:
                    raise file_field_error(
                        case.source,
                        case.id,
                        f"the built-in catalogue has this case id ({builtin[case.id]}): "
                        "rename the case, or run it instead of the catalogue (no '+')",
                    )
        return cases

    def cases(self, option: str = "--netpol-cases") -> list[Case]:
        builtin = load_catalogue() if self.with_catalogue else []
        return [*builtin, *self.user_cases(option)]


def select(cases: Sequence[Case], tags: Iterable[str] = ()) -> list[Case]:
    """Cases carrying every tag given."""
    wanted = set(tags)
    return [c for c in cases if wanted <= set(c.tags)]


def iter_expectations(
    case: Case, cluster: Cluster | None = None, profile: Profile | None = None
) -> Iterator[tuple[ResolvedStep, list[ProbeVerdict]]]:
    """Each step's resolved state and the oracle's verdicts for its probes."""
    for step in case.resolve(cluster).steps:
        yield step, step.expected(profile)
