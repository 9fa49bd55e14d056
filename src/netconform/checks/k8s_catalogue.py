"""Importing this registers every Kubernetes check (family "kubernetes") in CATALOGUE."""

from __future__ import annotations

from netconform.checks import (
    k8s_dns,
    k8s_external,
    k8s_mtu,
    k8s_netpol,
    k8s_perf,
    k8s_reachability,
    k8s_services,
)

k8s_mtu.register_sweep()

MODULES = (
    k8s_reachability,
    k8s_services,
    k8s_external,
    k8s_dns,
    k8s_mtu,
    k8s_netpol,
    k8s_perf,
)
