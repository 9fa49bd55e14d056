"""The pytest plugin: every option, hook and fixture of netconform, in one place.

Inactive unless `--platform` is given, so it never disturbs other test suites. The
controller process owns the platform lifecycle (pytest-xdist workers attach through the
handle), writes results.json as checks finish (complete=false until the end) and the Allure
run files once.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import allure
import pytest

from netconform.checks.base import CATALOGUE, Check, execute
from netconform.contexts import context_from_handle, load_checks
from netconform.errors import NetconformError, exit_code_of
from netconform.platforms.base import Handle, Platform
from netconform.platforms.registry import PlatformOptions, family_of, make_platform
from netconform.progress import StreamProgress
from netconform.report.allure_results import label_result, write_run_files
from netconform.results import Area, CheckResult, RunResults, Verdict, write_results

RESULT_PROPERTY = "netconform_result"
HANDLE_KEY = "netconform_handle"
STATE = pytest.StashKey["RunState"]()


class RunState:
    def __init__(self, platform_name: str, options: PlatformOptions, out: Path) -> None:
        self.platform_name = platform_name
        self.options = options
        self.out = out
        self.platform: Platform | None = None
        self.handle: Handle | None = None
        self.started = _now()
        self.results: list[CheckResult] = []
        self.info: dict[str, Any] = {}

    def write(self, complete: bool) -> None:
        run = RunResults(
            platform=self.platform_name,
            platform_info=self.info,
            started=self.started,
            finished=_now() if complete else None,
            checks=tuple(sorted(self.results, key=lambda r: r.id)),
            complete=complete,
        )
        write_results(self.out / "results.json", run)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("netconform", "netconform conformance run")
    group.addoption("--platform", default=None, help="platform to run the conformance suite on")
    group.addoption(
        "--netconform-out", default=None, help="results directory (default reports/<platform>)"
    )
    group.addoption("--keep", action="store_true", help="keep the platform up after the run")
    group.addoption(
        "--scenario", default=None, help="scenario file overriding scenarios/<family>.yaml"
    )
    group.addoption("--lab-hosts", type=int, default=3, help="swarm-lab: number of hosts")
    group.addoption("--underlay-mtu", type=int, default=1500, help="swarm-lab: underlay MTU")
    group.addoption("--lab-name", default="default", help="swarm-lab: lab name")


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    name = config.getoption("--platform")
    if not name:
        return
    try:
        family = family_of(name)
    except NetconformError as exc:
        raise pytest.UsageError(str(exc)) from None
    options = PlatformOptions(
        keep=config.getoption("--keep"),
        scenario=Path(s) if (s := config.getoption("--scenario")) else None,
        hosts=config.getoption("--lab-hosts"),
        underlay_mtu=config.getoption("--underlay-mtu"),
        lab_name=config.getoption("--lab-name"),
    )
    out = Path(config.getoption("--netconform-out") or f"reports/{name}")
    state = RunState(name, options, out)
    config.stash[STATE] = state
    load_checks(family)
    if not _is_worker(config):
        config.pluginmanager.register(ControllerHooks(state), "netconform-controller")


def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    if STATE not in config.stash:
        return
    state = config.stash[STATE]
    if _is_worker(config):
        raw = json.loads(config.workerinput[HANDLE_KEY])  # type: ignore[attr-defined]
        state.handle = Handle(raw["platform"], raw["data"])
        return
    progress = StreamProgress()
    try:
        platform = make_platform(state.platform_name, state.options, progress)
        platform.preflight()
        state.platform = platform
        state.handle = platform.provision()
    except (NetconformError, OSError) as exc:
        # An incomplete results.json says why, so a nightly report shows the platform as
        # not provisioned instead of silently missing.
        state.info = {"platform": state.platform_name, "provisioning_error": str(exc)}
        state.write(complete=False)
        pytest.exit(f"netconform: {exc}", returncode=exit_code_of(exc))
    state.info = dict(state.handle.data.get("info", {}))
    state.info["platform"] = state.platform_name
    state.out.mkdir(parents=True, exist_ok=True)
    state.write(complete=False)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    state = node.config.stash.get(STATE, None)
    if state is not None and state.handle is not None:
        node.workerinput[HANDLE_KEY] = json.dumps(
            {"platform": state.handle.platform, "data": state.handle.data}
        )


@dataclass(frozen=True)
class NoChecks:
    """Stands for an area without checks on this platform."""

    reason: str


class ControllerHooks:
    """Hooks only the controlling process runs: collect results as they come (also from
    xdist workers), write results.json, tear the platform down."""

    def __init__(self, state: RunState) -> None:
        self.state = state

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        for key, value in report.user_properties:
            if key == RESULT_PROPERTY:
                self.state.results.append(CheckResult.from_json(json.loads(str(value))))
                self.state.write(complete=False)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        state = self.state
        try:
            if state.handle is not None:
                state.write(complete=True)
                alluredir = session.config.getoption("--alluredir", None)
                if alluredir:
                    write_run_files(Path(alluredir), state.platform_name, state.info)
        finally:
            if state.platform is not None:
                StreamProgress().step("removing what the run created")
                try:
                    state.platform.teardown()
                except (NetconformError, OSError) as exc:
                    # Said, never swallowed; failed checks keep exit 1, a clean run becomes 3.
                    sys.stderr.write(f"netconform: teardown: {exc}\n")
                    if session.exitstatus == 0:
                        session.exitstatus = exit_code_of(exc)


def checks_for(area: Area, config: pytest.Config) -> list[Check[Any]]:
    """The checks of an area for the configured platform's family, in id order."""
    state = config.stash.get(STATE, None)
    if state is None:
        return []
    family = family_of(state.platform_name)
    return sorted(
        (c for c in CATALOGUE.for_family(family) if c.spec.area == area), key=lambda c: c.spec.id
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "netconform_check" not in metafunc.fixturenames:
        return
    area = getattr(metafunc.module, "AREA", None)
    if area is None:
        raise pytest.UsageError(
            f"{metafunc.module.__name__} needs AREA = netconform.results.Area.X"
        )
    found = checks_for(area, metafunc.config)
    state = metafunc.config.stash.get(STATE, None)
    if not found:
        why = (
            f"no {area} checks for platform {state.platform_name}"
            if state is not None
            else "no --platform given"
        )
        # Skipped when run (not at collection), so it still carries its platform in Allure.
        metafunc.parametrize("netconform_check", [NoChecks(why)], ids=[f"no-{area}-checks"])
        return
    metafunc.parametrize("netconform_check", found, ids=[c.spec.id for c in found])


@pytest.fixture(scope="session")
def platform_context(pytestconfig: pytest.Config) -> Iterator[Any]:
    state = pytestconfig.stash[STATE]
    assert state.handle is not None, "platform was not provisioned"
    ctx = context_from_handle(state.handle, state.options)
    yield ctx
    close = getattr(ctx, "close", None)
    if close is not None:
        close()


@pytest.fixture
def run_check(platform_context: Any, request: pytest.FixtureRequest) -> Any:
    """Run a check, record its result for results.json and Allure, and turn the verdict
    into the pytest outcome (fail -> assertion, skip -> skip with the reason)."""
    state = request.config.stash[STATE]

    def run(check: Check[Any] | NoChecks) -> CheckResult | None:
        if isinstance(check, NoChecks):
            allure.dynamic.parameter("platform", state.platform_name)
            pytest.skip(check.reason)
        result = execute(check, platform_context)
        request.node.user_properties.append(
            (RESULT_PROPERTY, json.dumps(result.to_json(), default=str))
        )
        label_result(state.platform_name, result)
        if result.verdict == Verdict.SKIP:
            pytest.skip(result.reason)
        if result.verdict == Verdict.ERROR:
            raise RuntimeError(f"{result.id}: {result.reason}")
        assert result.verdict == Verdict.PASS, f"{result.id}: {result.reason}"
        return result

    return run
