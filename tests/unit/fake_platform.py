"""A pytest plugin (`-p fake_platform`) adding platform `fake` to the platform table: no
daemons, three checks, and a log of every lifecycle call (FAKE_PLATFORM_LOG), so the run's
plumbing (CLI, plugin, xdist workers) is tested end to end without root.

FAKE_SIGNAL=PHASE:SIGNAL (`provision:SIGINT`, `check:SIGTERM`) makes the process send itself
that signal while provisioning, or from check `reachability.fake.interrupt`, as a user's
Ctrl-C or a CI runner's kill would arrive."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from netconform.checks.base import CATALOGUE, CheckSpec, Outcome
from netconform.core import Capabilities
from netconform.platforms import registry
from netconform.results import Area
from netconform.vocab import Capability, Family


def signal_at(phase: str) -> None:
    """Send this process the signal FAKE_SIGNAL names for `phase`, and give it time to land."""
    at, _, name = os.environ.get("FAKE_SIGNAL", "").partition(":")
    if at == phase:
        log("signal", phase=phase, signal=name)
        os.kill(os.getpid(), signal.Signals[name])
        time.sleep(5)  # the handler raises long before this ends
        log("signal not delivered", phase=phase)


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
        try:
            signal_at("provision")
        except BaseException:  # the Platform contract: an interrupted provision cleans up
            self.teardown()
            raise
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


@CATALOGUE.register(
    CheckSpec("reachability.fake.interrupt", Area.REACHABILITY, "interrupt", "https://x",
              "swarm", "reachability.pod-to-pod.same-host.tcp", not_catchable="fake")
)  # fmt: skip
def interrupt(ctx: FakeContext) -> Outcome:
    signal_at("check")
    return Outcome.passed("no signal asked for")
