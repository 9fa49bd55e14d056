"""Multi-document YAML in and out, as plain dicts (the form kubectl and the validators take)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import yaml

Manifest = dict[str, Any]

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_all(text: str | bytes) -> list[Manifest]:
    """Every non-empty document; a document that is not a mapping is a ValueError."""
    docs = []
    for doc in yaml.load_all(text, Loader=_Loader):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ValueError(f"expected a mapping per document, got {type(doc).__name__}")
        docs.append(doc)
    return docs


def dump_all(docs: Iterable[Mapping[str, Any]]) -> str:
    return yaml.safe_dump_all([dict(d) for d in docs], sort_keys=False, default_flow_style=False)


def dump(doc: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(doc), sort_keys=False, default_flow_style=False)


def find(docs: Iterable[Manifest], kind: str, name: str) -> Manifest:
    for doc in docs:
        if doc.get("kind") == kind and doc.get("metadata", {}).get("name") == name:
            return doc
    raise KeyError(f"{kind}/{name}")
