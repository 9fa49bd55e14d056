"""Telling Docker's phantom attachment tasks (moby/moby#31066) from tasks still going away."""

from __future__ import annotations

from typing import Any

import docker.errors

from netconform.platforms.swarm_deploy import _phantom_task

IN_USE = "network pn3g is in use by task 1s3kxo5qky5t6if3hqwfe24y1"


class FakeApi:
    def __init__(self, task: dict[str, Any]) -> None:
        self.task = task

    def inspect_task(self, task_id: str) -> dict[str, Any]:
        assert task_id == "1s3kxo5qky5t6if3hqwfe24y1"
        return self.task


class FakeContainers:
    def __init__(self, ids: set[str]) -> None:
        self.ids = ids

    def get(self, container_id: str) -> object:
        if container_id not in self.ids:
            raise docker.errors.NotFound(f"no such container {container_id}")
        return object()


class FakeClient:
    def __init__(self, task: dict[str, Any], containers: set[str]) -> None:
        self.api = FakeApi(task)
        self.containers = FakeContainers(containers)


def _attachment(container: str, service: str | None = None) -> dict[str, Any]:
    spec = {"NetworkAttachmentSpec": {"ContainerID": container}, "Runtime": "attachment"}
    return {"ID": "1s3kxo5qky5t6if3hqwfe24y1", "ServiceID": service, "Spec": spec}


def _verdict(
    task: dict[str, Any], on_h1: set[str], on_h2: frozenset[str] = frozenset()
) -> str | None:
    clients = {"h1": FakeClient(task, on_h1), "h2": FakeClient(task, set(on_h2))}
    return _phantom_task(clients, clients["h1"], IN_USE)


def test_an_attachment_whose_container_is_gone_everywhere_is_a_phantom() -> None:
    assert _verdict(_attachment("3aa8f8"), set()) == "1s3kxo5qky5t6if3hqwfe24y1"


def test_an_attachment_whose_container_still_exists_is_waited_for() -> None:
    assert _verdict(_attachment("3aa8f8"), set(), frozenset({"3aa8f8"})) is None


def test_a_service_task_is_waited_for() -> None:
    service_task = {"ID": "1s3kxo5qky5t6if3hqwfe24y1", "ServiceID": "svc", "Spec": {}}
    assert _verdict(service_task, set()) is None


def test_other_errors_are_not_phantoms() -> None:
    clients = {"h1": FakeClient(_attachment("x"), set())}
    assert _phantom_task(clients, clients["h1"], "500 Server Error: busy") is None
