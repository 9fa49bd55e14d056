"""A pytest plugin (`-p fake_platform`) adding platform `fake` to the platform table: no
daemons, two checks, and a log of every lifecycle call (FAKE_PLATFORM_LOG), so the run's
plumbing (CLI, plugin, xdist workers) is tested end to end without root."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from netconform.checks.base import CATALOGUE, CheckSpec, Outcome
from netconform.core import Capabilities
from netconform.platforms import registry
from netconform.results import Area
from netconform.vocab import Capability, Family


def log(event: str, **data: Any) -> None:
    with open(os.environ["FAKE_PLATFORM_LOG"], "a") as out:
        out.write(json.dumps({"event": event, "pid": os.getpid(), **data}) + "\n")


@dataclass(frozen=True)
class FakeHandle:
    platform: str
    token: str
    capabilities: Capabilities
    info: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        caps = self.capabilities.to_json()
        return {"platform": self.platform, "token": self.token, "capabilities": caps}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FakeHandle:
        return cls(data["platform"], data["token"], Capabilities.from_json(data["capabilities"]))


class FakePlatform:
    name = "fake"
    family = Family.SWARM

    def __init__(self, options: Any, scenario: Any) -> None:
        log(
            "build",
            keep=options.keep,
            lab=options.lab.name,
            probe_timeout_s=scenario.probe_timeout_s,
        )

    def prepare_host(self) -> None:
        log("prepare_host")

    def preflight(self) -> None:
        log("preflight")

    def provision(self) -> FakeHandle:
        log("provision")
        caps = Capabilities(frozenset({Capability.VXLAN}), {Capability.ESP: "no ESP here"})
        return FakeHandle("fake", "t0k3n", caps, {"engine": "fake"})

    def teardown(self) -> None:
        log("teardown")


class FakeContext:
    def __init__(self, handle: FakeHandle) -> None:
        self.handle = handle

    @property
    def capabilities(self) -> Capabilities:
        return self.handle.capabilities

    def platform_info(self) -> dict[str, Any]:
        return dict(self.handle.info)

    # core.RunContext: nothing to start early, nothing to release
    def plan_checks(self, check_ids: Sequence[str]) -> None:
        pass

    def close(self) -> None:
        pass


def _attach(handle: FakeHandle, scenario: Any, options: Any) -> FakeContext:
    log("attach", token=handle.token)
    return FakeContext(handle)


registry.PLATFORMS["fake"] = registry.PlatformEntry(
    "fake",
    Family.SWARM,
    lambda options, scenario, settings, progress: FakePlatform(options, scenario),
    _attach,
    FakeHandle.from_json,
    (__name__,),
)


@CATALOGUE.register(
    CheckSpec("reachability.fake.token", Area.REACHABILITY, "token", "https://x", "swarm",
              "reachability.pod-to-pod.cross-host.tcp", not_catchable="fake")
)  # fmt: skip
def token(ctx: FakeContext) -> Outcome:
    return Outcome.passed(f"attached with {ctx.handle.token}")


@CATALOGUE.register(
    CheckSpec("dns.fake.esp", Area.DNS, "esp", "https://x", "swarm",
              "dns.service.a", requires=frozenset({Capability.ESP}),
              not_catchable="fake")
)  # fmt: skip
def esp(ctx: FakeContext) -> Outcome:
    raise AssertionError("skipped: the platform has no ESP")
