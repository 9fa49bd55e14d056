"""The closed sets every layer names: platform families, capabilities a platform can host,
and the lab fault kinds a check declares it catches.

StrEnum values are the strings results.json, handles and scenario files always used, so a
value read back from JSON compares equal to its member; a typo in a check's declaration is
an AttributeError at import instead of a check that silently never runs or never catches.
This module imports nothing from netconform: every layer may use it.
"""

from __future__ import annotations

from enum import StrEnum


class Family(StrEnum):
    """Which catalogue and which check context a platform uses."""

    SWARM = "swarm"
    KUBERNETES = "kubernetes"


class Capability(StrEnum):
    """Something a platform may or may not host; a check requiring a missing one is skipped
    with the platform's reason."""

    # Kernel features, detected in a scratch namespace on the lab host (lab/kernel.py).
    VXLAN = "vxlan"
    IPVS = "ipvs"
    ESP = "esp"
    SCTP = "sctp"
    NETEM = "netem"
    NFTABLES = "nftables"
    NFT_BRIDGE = "nft-bridge"
    # Swarm platforms.
    HOST_ACCESS = "host-access"  # probes from each host's own network namespace
    UNDERLAY_CAPTURE = "underlay-capture"  # the wire between the hosts is ours to watch
    # Kubernetes platforms (CNI profiles, platform cluster).
    NETWORKPOLICY = "networkpolicy"
    L7_POLICY = "l7-policy"
    NODEPORT = "nodeport"
    HOSTNETWORK = "hostnetwork"
    ICMP = "icmp"
    # a pod's hostPort published on its node (the CNI's portmap plugin, or an eBPF datapath)
    HOST_PORT = "host-port"
    # SIG Network's ClusterNetworkPolicy (policy.networking.k8s.io): its CRD served and the
    # CNI enforcing it (Calico v3.32 by default, Cilium v1.20 behind a flag).
    CLUSTER_NETWORK_POLICY = "cluster-network-policy"
    # its experimental channel (nodes and domainNames peers, named ports): the CRD must allow them
    CLUSTER_NETWORK_POLICY_EXPERIMENTAL = "cluster-network-policy-experimental"


class Fault(StrEnum):
    """A way a real network breaks, injected into a running lab (lab/faults.py)."""

    MTU_MISMATCH = "mtu-mismatch"
    VXLAN_BLOCKED = "vxlan-blocked"
    DNS_BROKEN = "dns-broken"
    ISOLATION_BREACH = "isolation-breach"
    LOSSY_UNDERLAY = "lossy-underlay"
    HOST_LOSS = "host-loss"
