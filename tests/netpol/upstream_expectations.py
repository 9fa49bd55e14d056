"""The upstream e2e expectations, transcribed call by call from network_policy.go.

Each entry rebuilds the hand-written truth table of one upstream spec with the same helpers
upstream uses (Expect, ExpectPeer, ExpectAllIngress, ExpectAllEgress on a table whose cells
default to allowed). Nothing here comes from the oracle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence


class Reachability:
    """Upstream's Reachability: every cell starts allowed."""

    def __init__(self, pods: Sequence[str]) -> None:
        self.pods = list(pods)
        self.cells = {(a, b): True for a in self.pods for b in self.pods}

    def expect(self, src: str, dst: str, allowed: bool) -> Reachability:
        self.cells[(src, dst)] = allowed
        return self

    def expect_peer(
        self, src: tuple[str, str], dst: tuple[str, str], allowed: bool
    ) -> Reachability:
        """ExpectPeer: a peer is (namespace, pod); an empty part is a wildcard."""

        def matches(pod: str, peer: tuple[str, str]) -> bool:
            ns, name = pod.split("/")
            return peer[0] in ("", ns) and peer[1] in ("", name)

        for a in self.pods:
            for b in self.pods:
                if matches(a, src) and matches(b, dst):
                    self.cells[(a, b)] = allowed
        return self

    def expect_all_ingress(self, pod: str, allowed: bool) -> Reachability:
        for a in self.pods:
            self.cells[(a, pod)] = allowed
        return self

    def expect_all_egress(self, pod: str, allowed: bool) -> Reachability:
        for b in self.pods:
            self.cells[(pod, b)] = allowed
        return self


Builder = Callable[[Reachability], Reachability]
ANY = ("", "")


def ns(name: str) -> tuple[str, str]:
    return (name, "")


def pod(key: str) -> tuple[str, str]:
    namespace, name = key.split("/")
    return (namespace, name)


def allow_all(r: Reachability) -> Reachability:
    return r


def deny_ingress_to_namespace_x(r: Reachability) -> Reachability:
    return r.expect_peer(ANY, ns("x"), False)


def only_y_to_x_a(r: Reachability) -> Reachability:
    return r.expect_peer(ns("x"), pod("x/a"), False).expect_peer(ns("z"), pod("x/a"), False)


def x_b_only_to_x_a(r: Reachability) -> Reachability:
    return r.expect_all_ingress("x/a", False).expect("x/b", "x/a", True)


def y_a_only_to_x_a(r: Reachability) -> Reachability:
    return r.expect_all_ingress("x/a", False).expect("y/a", "x/a", True)


def y_to_x_a_on_81(r: Reachability) -> Reachability:
    return (
        r.expect_peer(ns("x"), pod("x/a"), False)
        .expect_peer(ns("y"), pod("x/a"), True)
        .expect_peer(ns("z"), pod("x/a"), False)
    )


def deny_all_to_x_a(r: Reachability) -> Reachability:
    return r.expect_all_ingress("x/a", False)


def deny_all_from_x(r: Reachability) -> Reachability:
    return r.expect_peer(ns("x"), ANY, False)


# (case id, step index, "PORT/PROTOCOL") -> how upstream builds the expected table.
EXPECTATIONS: dict[tuple[str, int, str], Builder] = {
    ("upstream.tcp.default-deny-ingress", 0, "80/TCP"): deny_ingress_to_namespace_x,
    ("upstream.tcp.default-deny-all", 0, "80/TCP"): lambda r: r.expect_peer(
        ANY, ns("x"), False
    ).expect_peer(ns("x"), ANY, False),
    ("upstream.tcp.allow-from-pod-in-namespace", 0, "80/TCP"): x_b_only_to_x_a,
    ("upstream.tcp.allow-ingress-for-target", 0, "80/TCP"): lambda r: r.expect_all_ingress(
        "x/a", True
    ).expect_all_ingress("x/b", False),
    ("upstream.tcp.allow-from-all-namespaces", 0, "80/TCP"): allow_all,
    ("upstream.tcp.allow-from-namespace", 0, "80/TCP"): only_y_to_x_a,
    ("upstream.tcp.pod-selector-match-expressions", 0, "80/TCP"): x_b_only_to_x_a,
    ("upstream.tcp.namespace-selector-match-expressions", 0, "80/TCP"): only_y_to_x_a,
    ("upstream.tcp.pod-selector-or-namespace-selector", 0, "80/TCP"): lambda r: r.expect(
        "x/a", "x/a", False
    ).expect("x/c", "x/a", False),
    ("upstream.tcp.pod-selector-and-namespace-selector", 0, "80/TCP"): lambda r: (
        r.expect_all_ingress("x/a", False).expect("y/b", "x/a", True).expect("z/b", "x/a", True)
    ),
    ("upstream.tcp.multiple-pod-and-namespace-selectors", 0, "80/TCP"): lambda r: r.expect_peer(
        ns("x"), pod("x/a"), False
    ).expect("y/a", "x/a", False),
    ("upstream.tcp.any-pod-selectors", 0, "80/TCP"): lambda r: (
        r.expect_all_ingress("x/a", False).expect("x/b", "x/a", True).expect("x/c", "x/a", True)
    ),
    ("upstream.tcp.pod-in-other-namespace", 0, "80/TCP"): y_a_only_to_x_a,
    ("upstream.tcp.ports", 0, "81/TCP"): y_to_x_a_on_81,
    ("upstream.tcp.stacked-policies", 0, "81/TCP"): y_to_x_a_on_81,
    ("upstream.tcp.stacked-policies", 0, "80/TCP"): deny_all_to_x_a,
    ("upstream.tcp.stacked-policies", 1, "80/TCP"): y_to_x_a_on_81,
    ("upstream.tcp.allow-all", 0, "80/TCP"): allow_all,
    ("upstream.tcp.allow-all", 0, "81/TCP"): allow_all,
    ("upstream.tcp.ingress-named-port", 0, "81/TCP"): allow_all,
    ("upstream.tcp.ingress-named-port", 0, "80/TCP"): deny_ingress_to_namespace_x,
    ("upstream.tcp.ingress-named-port-from-namespace", 0, "80/TCP"): only_y_to_x_a,
    ("upstream.tcp.ingress-named-port-from-namespace", 0, "81/TCP"): deny_all_to_x_a,
    ("upstream.tcp.egress-named-port", 0, "80/TCP"): allow_all,
    ("upstream.tcp.egress-named-port", 0, "81/TCP"): deny_all_from_x,
    ("upstream.tcp.updated-policy", 0, "81/TCP"): allow_all,
    ("upstream.tcp.updated-policy", 1, "81/TCP"): deny_ingress_to_namespace_x,
    ("upstream.tcp.ingress-from-updated-namespace", 0, "80/TCP"): deny_all_to_x_a,
    ("upstream.tcp.ingress-from-updated-namespace", 1, "80/TCP"): lambda r: r.expect_all_ingress(
        "x/a", False
    ).expect_peer(ns("y"), ANY, True),
    ("upstream.tcp.ingress-from-updated-pod", 0, "80/TCP"): deny_all_to_x_a,
    ("upstream.tcp.ingress-from-updated-pod", 1, "80/TCP"): x_b_only_to_x_a,
    ("upstream.tcp.deny-ingress-from-other-namespaces", 0, "80/TCP"): lambda r: r.expect_peer(
        ns("y"), ns("x"), False
    ).expect_peer(ns("z"), ns("x"), False),
    ("upstream.tcp.deny-ingress-to-updated-pod", 0, "80/TCP"): allow_all,
    ("upstream.tcp.deny-ingress-to-updated-pod", 1, "80/TCP"): deny_all_to_x_a,
    ("upstream.tcp.deny-egress-pod-selector", 0, "80/TCP"): lambda r: r.expect_all_egress(
        "x/a", False
    ),
    ("upstream.tcp.deny-egress-namespace", 0, "80/TCP"): deny_all_from_x,
    ("upstream.tcp.ingress-and-egress-together", 0, "80/TCP"): x_b_only_to_x_a,
    ("upstream.tcp.ingress-and-egress-together", 0, "81/TCP"): lambda r: (
        r.expect_all_ingress("x/a", False)
        .expect_all_egress("x/a", False)
        .expect("x/b", "x/a", True)
    ),
    ("upstream.tcp.deny-egress-client-side", 0, "80/TCP"): lambda r: (
        r.expect_peer(pod("x/a"), ANY, False)
        .expect_peer(ANY, pod("y/a"), False)
        .expect_peer(pod("x/a"), pod("y/a"), True)
        .expect_peer(ANY, pod("y/b"), False)
    ),
    ("upstream.tcp.egress-to-pod-in-other-namespace", 0, "80/TCP"): lambda r: r.expect_all_egress(
        "x/a", False
    ).expect("x/a", "y/a", True),
    ("upstream.tcp.ingress-any-port-protocol", 0, "80/TCP"): allow_all,
    ("upstream.tcp.ingress-any-port-protocol", 0, "80/UDP"): lambda r: r.expect_peer(
        ANY, pod("x/a"), False
    ),
    ("upstream.tcp.ingress-allow-all-precedence", 0, "81/TCP"): deny_ingress_to_namespace_x,
    ("upstream.tcp.ingress-allow-all-precedence", 1, "81/TCP"): allow_all,
    ("upstream.tcp.egress-allow-all-precedence", 0, "81/TCP"): deny_all_from_x,
    ("upstream.tcp.egress-allow-all-precedence", 1, "81/TCP"): allow_all,
    ("upstream.tcp.stop-enforcing-after-delete", 0, "80/TCP"): lambda r: r.expect_peer(
        ns("x"), ANY, False
    ).expect_peer(ANY, ns("x"), False),
    ("upstream.tcp.stop-enforcing-after-delete", 1, "80/TCP"): allow_all,
    ("upstream.tcp.egress-cidr", 0, "80/TCP"): lambda r: r.expect_all_egress("x/a", False).expect(
        "x/a", "y/b", True
    ),
    ("upstream.tcp.egress-cidr-except", 0, "80/TCP"): lambda r: r.expect("x/a", "x/b", False),
    ("upstream.tcp.egress-cidr-except-overlap", 0, "80/TCP"): lambda r: r.expect(
        "x/a", "x/b", False
    ),
    ("upstream.tcp.egress-cidr-except-overlap", 1, "80/TCP"): lambda r: r.expect_all_egress(
        "x/a", False
    ).expect("x/a", "x/b", True),
    ("upstream.tcp.ingress-egress-independent", 0, "80/TCP"): allow_all,
    ("upstream.tcp.ingress-egress-independent", 1, "80/TCP"): deny_all_to_x_a,
    ("upstream.tcp.sctp-is-not-tcp", 0, "81/TCP"): deny_ingress_to_namespace_x,
    ("upstream.tcp.sctp-rule-isolates", 0, "81/TCP"): deny_all_to_x_a,
    ("upstream.tcp.udp-is-not-tcp", 0, "81/TCP"): deny_all_to_x_a,
    ("upstream.tcp.default-namespace-label-match-labels", 0, "80/TCP"): only_y_to_x_a,
    ("upstream.tcp.default-namespace-label-match-expressions", 0, "80/TCP"): lambda r: (
        r.expect_peer(pod("x/a"), ns("y"), False)
    ),
    ("upstream.udp.default-deny-ingress", 0, "80/UDP"): deny_ingress_to_namespace_x,
    ("upstream.udp.ports", 0, "81/UDP"): only_y_to_x_a,
    ("upstream.udp.pod-in-other-namespace", 0, "80/UDP"): y_a_only_to_x_a,
    ("upstream.sctp.default-deny-ingress", 0, "80/SCTP"): deny_ingress_to_namespace_x,
    ("upstream.sctp.ports", 0, "81/SCTP"): only_y_to_x_a,
    ("upstream.sctp.pod-in-other-namespace", 0, "80/SCTP"): y_a_only_to_x_a,
}
