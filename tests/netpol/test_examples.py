"""The shipped example case directory (examples/netpol-microservices): it loads as a user's
--netpol-cases directory would, and the oracle's verdicts for its key cells are what the
Kubernetes NetworkPolicy documentation says. Every expected cell below is derived from the
documentation's rules (quoted), not from running the oracle:

  D1 "By default, a pod is non-isolated for egress/ingress; all connections are allowed."
  D2 A pod is isolated for a direction when a policy in its namespace selects it and has
     that direction in policyTypes; "the only allowed connections ... are those allowed by
     the [union of the] egress/ingress list[s] of some NetworkPolicy that applies to the pod".
  D3 "For a connection from a source pod to a destination pod to be allowed, both the egress
     policy on the source pod and the ingress policy on the destination pod need to allow the
     connection."
  D4 namespaceSelector and podSelector in one `to`/`from` element select "particular Pods
     within particular namespaces"; an empty namespaceSelector selects all namespaces.
  D5 ipBlock selects "particular IP CIDR ranges"; `except` removes ranges from it.
  D6 A rule with `ports` allows only those ports/protocols.
https://kubernetes.io/docs/concepts/services-networking/network-policies/
"""

from __future__ import annotations

from pathlib import Path

import pytest

from netconform.netpol.catalogue import CLUSTER_DNS, CaseSelection, iter_expectations
from netconform.netpol.model import Protocol
from netconform.netpol.oracle import Probe, ProbeVerdict, Profile

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "netpol-microservices"
FRONTEND, API, DATABASE, CLIENT, OUTSIDE, FORBIDDEN = "x/a", "x/b", "x/c", "y/a", "z/a", "z/b"
DNS = CLUSTER_DNS
TCP, UDP = Protocol.TCP, Protocol.UDP
A, D = True, False  # allowed, denied

# step index -> (source, destination, port, protocol) -> expected, with the rule it follows
KEY_CELLS: dict[int, dict[tuple[str, str, int, Protocol], bool]] = {
    0: {  # D1: no policy, everything open (also DNS)
        (CLIENT, FRONTEND, 80, TCP): A,
        (FRONTEND, DATABASE, 81, TCP): A,
        (DATABASE, DNS, 53, UDP): A,
    },
    1: {  # default-deny-all: every x pod isolated both ways, with no rules (D2)
        (CLIENT, FRONTEND, 80, TCP): D,  # frontend's ingress
        (FRONTEND, API, 81, TCP): D,
        (API, OUTSIDE, 80, TCP): D,  # api's egress
        (FRONTEND, DNS, 53, UDP): D,  # DNS egress too
        (API, DNS, 53, TCP): D,
        (CLIENT, DNS, 53, UDP): A,  # y/a is in no policy's namespace (D1)
        (CLIENT, OUTSIDE, 80, TCP): A,
    },
    2: {  # allow-dns: kube-system's k8s-app=kube-dns pods on 53 UDP and TCP (D4, D6)
        (FRONTEND, DNS, 53, UDP): A,
        (DATABASE, DNS, 53, TCP): A,
        (FRONTEND, CLIENT, 80, TCP): D,  # the DNS rule allows nothing else
    },
    3: {
        # frontend: ingress 80 from any pod of any namespace (D4 empty namespaceSelector)
        (CLIENT, FRONTEND, 80, TCP): A,
        (OUTSIDE, FRONTEND, 80, TCP): A,
        (CLIENT, FRONTEND, 81, TCP): D,  # D6: port 80 only
        # frontend -> api on 81: frontend's egress and api's ingress both allow it (D3)
        (FRONTEND, API, 81, TCP): A,
        (FRONTEND, API, 80, TCP): D,  # D6 on both sides
        (CLIENT, API, 81, TCP): D,  # api's ingress: the frontend only
        (FRONTEND, DATABASE, 81, TCP): D,  # frontend's egress: the api only
        (FRONTEND, OUTSIDE, 80, TCP): D,
        # api -> database on 81 (D3)
        (API, DATABASE, 81, TCP): A,
        (CLIENT, DATABASE, 81, TCP): D,  # database's ingress: the api only
        # database: egress is DNS only (default-deny-all + allow-dns, D2)
        (DATABASE, API, 81, TCP): D,
        (DATABASE, CLIENT, 80, TCP): D,
        (DATABASE, DNS, 53, UDP): A,
        # api's ipBlock 0.0.0.0/0 except z/b, on TCP 80 (D5, D6); z is not isolated
        (API, OUTSIDE, 80, TCP): A,
        (API, FORBIDDEN, 80, TCP): D,  # the `except`
        (API, OUTSIDE, 81, TCP): D,  # the rule's port is 80
        (API, CLIENT, 80, TCP): A,  # y/a's IP is in 0.0.0.0/0 too
        (API, DNS, 53, UDP): A,
        (API, DNS, 53, TCP): A,
        (OUTSIDE, DATABASE, 81, TCP): D,
    },
}


@pytest.fixture(scope="module")
def steps() -> list[dict[Probe, ProbeVerdict]]:
    cases = CaseSelection(EXAMPLE, with_catalogue=False).user_cases()
    assert [c.id for c in cases] == ["example.microservices"]
    return [{v.probe: v for v in verdicts} for _, verdicts in iter_expectations(cases[0])]


def test_the_example_has_the_steps_the_cells_are_about(
    steps: list[dict[Probe, ProbeVerdict]],
) -> None:
    assert len(steps) == len(KEY_CELLS)


@pytest.mark.parametrize(
    ("step", "cell", "allowed"),
    [(s, cell, want) for s, cells in KEY_CELLS.items() for cell, want in cells.items()],
    ids=lambda v: f"{v[0]}->{v[1]}:{v[2]}/{v[3]}" if isinstance(v, tuple) else str(v),
)
def test_the_oracle_agrees_with_the_documentation(
    steps: list[dict[Probe, ProbeVerdict]],
    step: int,
    cell: tuple[str, str, int, Protocol],
    allowed: bool,
) -> None:
    verdict = steps[step][Probe(*cell)]
    assert verdict.allowed is allowed, verdict.reason
    assert not verdict.ignored


def test_dns_cells_go_only_to_the_dns_server_and_it_never_sends(
    steps: list[dict[Probe, ProbeVerdict]],
) -> None:
    final = steps[-1]
    dns = [p for p in final if p.port == 53]
    assert dns and all(p.destination == DNS for p in dns)
    assert all(p.source != DNS for p in final)
    assert {p.protocol for p in dns} == {UDP, TCP}


def test_a_cni_whose_ipblock_never_matches_pods_denies_the_api_calling_out() -> None:
    """The legitimate profile (Cilium): ipBlock selects only cluster-external addresses, so
    the api's 0.0.0.0/0 rule admits no pod (D5 says ipBlock ranges "should be
    cluster-external")."""
    case = CaseSelection(EXAMPLE, with_catalogue=False).user_cases()[0]
    *_, (_, verdicts) = iter_expectations(case, profile=Profile(ipblock_matches_pods=False))
    final = {v.probe: v for v in verdicts}
    assert not final[Probe(API, OUTSIDE, 80, TCP)].allowed
    assert final[Probe(API, DATABASE, 81, TCP)].allowed  # selectors are unaffected


def _dns_case(tmp_path: Path, peers: str) -> dict[Probe, ProbeVerdict]:
    """x/a's egress allowed to `peers` only, with x/b labelled like the DNS pods."""
    (tmp_path / "c.yaml").write_text(
        f"""cases:
- id: dns.egress
  pods: [x/a, x/b, kube-system/kube-dns]
  steps:
  - actions:
    - set-pod-labels: {{pod: x/b, labels: {{k8s-app: kube-dns}}}}
    - create-policy:
        metadata: {{name: dns, namespace: x}}
        spec:
          podSelector: {{matchLabels: {{pod: a}}}}
          policyTypes: [Egress]
          egress: [{{to: {peers}}}]
    probes: [53/UDP, 80/TCP]
"""
    )
    case = CaseSelection(tmp_path, with_catalogue=False).user_cases()[0]
    (_, verdicts), *_ = iter_expectations(case)
    return {v.probe: v for v in verdicts}


def test_namespace_and_pod_selector_in_one_peer_is_and_in_two_peers_or(tmp_path: Path) -> None:
    """The documentation's "Be careful to use correct YAML syntax": one element with both
    selectors allows pods matching both (kube-system's k8s-app=kube-dns pods); two elements
    allow either (then the podSelector alone selects in the policy's own namespace)."""
    selector = "{matchLabels: {kubernetes.io/metadata.name: kube-system}}"
    pods = "{matchLabels: {k8s-app: kube-dns}}"
    both = _dns_case(tmp_path, f"[{{namespaceSelector: {selector}, podSelector: {pods}}}]")
    assert both[Probe("x/a", DNS, 53, UDP)].allowed
    assert not both[Probe("x/a", "x/b", 80, TCP)].allowed
    either = _dns_case(tmp_path, f"[{{namespaceSelector: {selector}}}, {{podSelector: {pods}}}]")
    assert either[Probe("x/a", DNS, 53, UDP)].allowed
    assert either[Probe("x/a", "x/b", 80, TCP)].allowed
