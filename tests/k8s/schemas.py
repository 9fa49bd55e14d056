"""Validation of rendered objects: built-in kinds against the official OpenAPI schemas
(kubernetes-validate, strict), custom resources against the CRD schemas of the pinned
manifests, made strict the way the API server's field validation is (unknown fields are
errors, except under x-kubernetes-preserve-unknown-fields)."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate

from netconform.k8s import manifests

KUBERNETES_VERSION = "1.36"  # the pinned kindest/node v1.36.1


def validate_builtin(doc: Mapping[str, Any]) -> None:
    kubernetes_validate.validate(dict(doc), KUBERNETES_VERSION, strict=True)


def _strict(schema: Any) -> Any:
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if "properties" in out and not schema.get("x-kubernetes-preserve-unknown-fields"):
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@cache
def crd_schemas(crd_file: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> strict schema of the served version."""
    out = {}
    for crd in manifests.load_all(crd_file.read_bytes()):
        if crd.get("kind") != "CustomResourceDefinition":
            continue
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])
            # apiVersion/kind/metadata are the API server's, not the CRD's to describe.
            schema.setdefault("properties", {}).update(
                {
                    "apiVersion": {"type": "string"},
                    "kind": {"type": "string"},
                    "metadata": {"type": "object"},
                }
            )
            out[(f"{group}/{version['name']}", kind)] = _strict(schema)
    return out


def validate_custom(doc: Mapping[str, Any], crd_file: Path) -> None:
    schema = crd_schemas(crd_file)[(doc["apiVersion"], doc["kind"])]
    jsonschema.Draft7Validator(schema).validate(dict(doc))


def validate_all(docs: Iterable[Mapping[str, Any]], crd_file: Path | None = None) -> int:
    count = 0
    for doc in docs:
        if crd_file is not None and (doc["apiVersion"], doc["kind"]) in crd_schemas(crd_file):
            validate_custom(doc, crd_file)
        else:
            validate_builtin(doc)
        count += 1
    return count
