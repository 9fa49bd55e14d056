"""From a platform handle to the check context of its family (in any process)."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from netconform import checks
from netconform.platforms.base import Handle
from netconform.platforms.registry import PlatformOptions, family_of


def load_checks(family: str) -> None:
    """Import the check modules of a family, which registers them in the catalogue."""
    prefix = "swarm" if family == "swarm" else "k8s_"
    for module in pkgutil.iter_modules(checks.__path__):
        if module.name.startswith(prefix):
            importlib.import_module(f"{checks.__name__}.{module.name}")


def context_from_handle(handle: Handle, options: PlatformOptions) -> Any:
    if family_of(handle.platform) == "swarm":
        from netconform.catalog.scenario import load_swarm_scenario
        from netconform.platforms.swarm import context_from_handle as swarm_context

        return swarm_context(handle, load_swarm_scenario(options.scenario))
    from netconform.catalog.scenario import load_kubernetes_scenario
    from netconform.platforms.kind import context_from_handle as k8s_context

    return k8s_context(handle, load_kubernetes_scenario(options.scenario))
