"""SIG Network's ClusterNetworkPolicy as the cluster serves it: which versions of the CRD the
API server serves (Calico v3.32.1 bundles v0.2.0: v1alpha2 only; network-policy-api v0.3.x
serves v1beta1 and v1alpha2, the same schema), and creating, replacing and deleting the
run's policies through whichever it serves. Cluster-scoped: the run's policies carry its
labels so one call removes them all."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

GROUP = "policy.networking.k8s.io"
PLURAL = "clusternetworkpolicies"
KIND = "ClusterNetworkPolicy"
CRD_NAME = f"{PLURAL}.{GROUP}"
PREFERRED_VERSIONS = ("v1beta1", "v1alpha2")  # the schema is identical: newest first
BUNDLE_ANNOTATION = f"{GROUP}/bundle-version"
CHANNEL_ANNOTATION = f"{GROUP}/channel"


@dataclass(frozen=True)
class ServedApi:
    """What the cluster's CRD says: the versions served, the one stored, its bundle."""

    served: tuple[str, ...]
    storage: str
    bundle_version: str
    channel: str

    @property
    def version(self) -> str | None:
        """The version the run writes: the newest it knows that the cluster serves."""
        return next((v for v in PREFERRED_VERSIONS if v in self.served), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "crd": CRD_NAME,
            "served": list(self.served),
            "storage": self.storage,
            "bundle_version": self.bundle_version,
            "channel": self.channel,
            "writes": self.version,
        }

    def unusable(self) -> str:
        """Why the run cannot write these policies ("" when it can)."""
        if self.version is None:
            known = ", ".join(PREFERRED_VERSIONS)
            return f"{CRD_NAME} serves {', '.join(self.served) or 'no version'}; not {known}"
        return ""


def served_api(crd: Mapping[str, Any]) -> ServedApi:
    """From the CRD object (as `kubectl get crd -o json` or the API returns it)."""
    annotations = (crd.get("metadata") or {}).get("annotations") or {}
    versions = (crd.get("spec") or {}).get("versions") or []
    return ServedApi(
        served=tuple(str(v.get("name")) for v in versions if v.get("served")),
        storage=next((str(v.get("name")) for v in versions if v.get("storage")), ""),
        bundle_version=str(annotations.get(BUNDLE_ANNOTATION, "")),
        channel=str(annotations.get(CHANNEL_ANNOTATION, "")),
    )


class ClusterPolicies:
    """The run's ClusterNetworkPolicies through the custom objects API."""

    def __init__(self, api_client: Any) -> None:
        from kubernetes import client

        self._custom = client.CustomObjectsApi(api_client)
        self._extensions = client.ApiextensionsV1Api(api_client)
        self._served: ServedApi | None = None

    def served(self) -> ServedApi | None:
        """The CRD as served (None: not installed); read once."""
        from kubernetes.client.exceptions import ApiException

        if self._served is None:
            try:
                crd = self._extensions.read_custom_resource_definition(CRD_NAME)
            except ApiException as exc:
                if exc.status == 404:
                    return None
                raise
            self._served = served_api(crd.to_dict())
        return self._served

    def _version(self) -> str:
        served = self.served()
        if served is None:
            raise LookupError(f"{CRD_NAME} is not installed")
        if why := served.unusable():
            raise LookupError(why)
        assert served.version is not None
        return served.version

    def apply(self, manifest: Mapping[str, Any]) -> None:
        """Create, or replace (an update step): written as the version the cluster serves."""
        from kubernetes.client.exceptions import ApiException

        version = self._version()
        body = {**manifest, "apiVersion": f"{GROUP}/{version}", "kind": KIND}
        name = body["metadata"]["name"]
        try:
            self._custom.create_cluster_custom_object(GROUP, version, PLURAL, body)
        except ApiException as exc:
            if exc.status != 409:
                raise
            current: Any = self._custom.get_cluster_custom_object(GROUP, version, PLURAL, name)
            metadata = {**body["metadata"]}
            metadata["resourceVersion"] = current["metadata"]["resourceVersion"]
            body = {**body, "metadata": metadata}
            self._custom.replace_cluster_custom_object(GROUP, version, PLURAL, name, body)

    def delete(self, name: str) -> None:
        from kubernetes.client.exceptions import ApiException

        try:
            self._custom.delete_cluster_custom_object(GROUP, self._version(), PLURAL, name)
        except ApiException as exc:
            if exc.status != 404:
                raise

    def delete_labelled(self, label_selector: str) -> int:
        """Every policy the selector matches (a run's, a lane's); how many there were."""
        if self.served() is None:
            return 0
        version = self._version()
        listed: Any = self._custom.list_cluster_custom_object(
            GROUP, version, PLURAL, label_selector=label_selector
        )
        names = [item["metadata"]["name"] for item in listed.get("items", [])]
        for name in names:
            self.delete(name)
        return len(names)
