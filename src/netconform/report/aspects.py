"""The aspects the report's summaries read a platform's figures from: one place, so the
key measurements, the comparison of approaches and the NetworkPolicy summary read the same
check for the same figure."""

from __future__ import annotations

THROUGHPUT = "perf.tcp.cross-host.1-stream"  # iperf3, 1 stream, across hosts
LATENCY = "perf.rr.cross-host"  # TCP request/response on one connection
BRIDGE = "perf.reference.bridge"  # Swarm's plain bridge on one host, a reference row
CANARY = "netpol.default-deny.canary"  # does the platform enforce NetworkPolicy at all
# The effective MTU of the platform's default network: its interface, else what a DF probe
# found. Not a network created with another MTU on purpose (Swarm's mtu.interface.option).
MTU = ("mtu.interface.overlay-rule", "mtu.pmtu.df-at-limit")
