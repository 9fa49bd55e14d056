"""Multi-document YAML in and out, as plain dicts (the form kubectl and the validators take)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from netconform.inputs import load_yaml_all

Manifest = dict[str, Any]

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_all(text: str | bytes) -> list[Manifest]:
    """Every non-empty document; a document that is not a mapping is a ValueError."""
    docs = []
    for doc in load_yaml_all(text):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ValueError(f"expected a mapping per document, got {type(doc).__name__}")
        docs.append(doc)
    return docs


# Strings that a YAML 1.2 reader (kubectl's) takes for numbers, although PyYAML's YAML 1.1
# resolver does not, so it writes them plain: `1e5432`, a run id, became a float label value
# and the API server refused the manifest. Such strings are written quoted.
_YAML12_NUMBER = re.compile(
    r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|0x[0-9a-fA-F]+|0o[0-7]+"
    r"|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)"
)


class _Dumper(yaml.SafeDumper):
    pass


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "'" if _YAML12_NUMBER.fullmatch(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_all(docs: Iterable[Mapping[str, Any]]) -> str:
    return yaml.dump_all(
        [dict(d) for d in docs], Dumper=_Dumper, sort_keys=False, default_flow_style=False
    )


def dump(doc: Mapping[str, Any]) -> str:
    return yaml.dump(dict(doc), Dumper=_Dumper, sort_keys=False, default_flow_style=False)


def find(docs: Iterable[Manifest], kind: str, name: str) -> Manifest:
    for doc in docs:
        if doc.get("kind") == kind and doc.get("metadata", {}).get("name") == name:
            return doc
    raise KeyError(f"{kind}/{name}")
