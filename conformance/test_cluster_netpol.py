"""Conformance: ClusterNetworkPolicy cases of the selected platform (see `netconform checks`)."""

from collections.abc import Callable
from typing import Any

from netconform.checks.base import Check
from netconform.results import Area

AREA = Area.CLUSTER_NETPOL


def test_check(netconform_check: Check[Any], run_check: Callable[[Check[Any]], object]) -> None:
    run_check(netconform_check)
