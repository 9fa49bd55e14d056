"""Importing this registers every Kubernetes check (family "kubernetes") in CATALOGUE: the
modules every Kubernetes platform loads (platforms.registry.KUBERNETES_CHECKS), so tests see
exactly what a run does."""

from __future__ import annotations

import importlib
from types import ModuleType

from netconform.platforms.registry import KUBERNETES_CHECKS

MODULES: tuple[ModuleType, ...] = tuple(importlib.import_module(m) for m in KUBERNETES_CHECKS)
