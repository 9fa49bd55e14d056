"""The pytest plugin: every option, hook and fixture of netconform, in one place.

Inactive unless `--platform` is given, so it never disturbs other test suites. The
controller process owns the platform lifecycle (pytest-xdist workers attach through the
handle), writes results.json as checks finish (complete=false until the end) and the Allure
run files once. However the run ends, results.json says how (`status`) and which planned
checks never ran (`not_run`); SIGINT and SIGTERM end it through teardown with 130 and 143.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import allure
import pytest

from netconform.catalog.scenario import Scenario, scenario_from_json
from netconform.checks.base import CATALOGUE, Check, execute
from netconform.core import Handle, Platform, running
from netconform.errors import NetconformError, exit_code_of
from netconform.interrupts import Interruption, terminate_as_interrupt
from netconform.options import OPTIONS, RunOptions, add_pytest_options, normalise
from netconform.platforms import registry
from netconform.platforms.registry import PreparedRun, prepare_run
from netconform.progress import StreamProgress
from netconform.report.allure_results import label_result, write_run_files
from netconform.results import (
    PROVISIONING_ERROR,
    Area,
    CheckResult,
    Phase,
    ResultsWriter,
    RunStatus,
    Verdict,
)
from netconform.settings import Settings

RESULT_PROPERTY = "netconform_result"
RUN_KEY = "netconform_run"  # workerinput: options, scenario and handle, as JSON
STATE = pytest.StashKey["RunState"]()


class ProvidedRun:
    """Registered by `netconform run` (pytest.main(plugins=[...])): the run it prepared, so
    the plugin neither parses the options and the scenario nor preflights again."""

    def __init__(self, run: PreparedRun) -> None:
        self.run = run


class RunState:
    def __init__(
        self,
        options: RunOptions,
        provided: PreparedRun | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.options = options
        self.settings = settings or Settings()  # read once, where the options were
        self.entry = registry.entry(options.platform)
        self.provided = provided
        self.scenario: Scenario | None = None
        self.handle: Handle | None = None
        self.platform: Platform | None = None  # the controller's, for diagnostics
        self.lifecycle = contextlib.ExitStack()  # running(platform) from start to finish
        self.started = _now()
        self.results: list[CheckResult] = []  # in the order they finished
        self.info: dict[str, Any] = {}
        self.writer = ResultsWriter(options.out / "results.json", options.platform, self.started)
        self.planned: list[str] = []  # ids of the checks collected to run, in order
        self.interruption: Interruption | None = None  # the signal that ended the checks
        self.signals = contextlib.ExitStack()  # SIGTERM as an interrupt, for the session

    @property
    def platform_name(self) -> str:
        return self.options.platform

    def progress(self) -> None:
        """results.json as the run stands: only what changed (platform_info, the checks
        finished since); `end` writes the whole document once."""
        self.writer.progress(self.info, self.results)

    def end(self, status: RunStatus, phase: Phase | None = None) -> None:
        """The whole results.json, once: how the run ended, where, and the planned checks
        that never finished."""
        if not self.info:
            self.info = {"platform": self.platform_name}
        recorded = {r.id for r in self.results}
        not_run = [i for i in self.planned if i not in recorded]
        # a platform never provisioned has no run time: finished stays null, as it always was
        finished = None if status is RunStatus.NOT_PROVISIONED else _now()
        self.writer.finish(self.info, self.results, finished, status, phase, not_run)

    def not_provisioned(self, exc: BaseException) -> None:
        """A results.json that says why, so a nightly report shows the platform as not
        provisioned instead of silently missing."""
        self.info = {"platform": self.platform_name, PROVISIONING_ERROR: str(exc)}
        self.end(RunStatus.NOT_PROVISIONED, Phase.PROVISIONING)

    def worker_input(self) -> str:
        assert self.scenario is not None
        assert self.handle is not None
        return json.dumps(
            {
                "options": self.options.to_json(),
                "scenario": self.scenario.model_dump(by_alias=True, mode="json"),
                "handle": self.handle.to_json(),
            }
        )

    @classmethod
    def for_worker(cls, raw: str) -> RunState:
        data = json.loads(raw)
        state = cls(RunOptions.from_json(data["options"]))
        state.scenario = scenario_from_json(state.entry.family, data["scenario"])
        state.handle = state.entry.handle_from_json(data["handle"])
        return state


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("netconform", "netconform conformance run")
    add_pytest_options(group.addoption, registry.names())


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _state(config: pytest.Config) -> RunState | None:
    """From the CLI's prepared run, the controller's worker input, or the pytest options."""
    if _is_worker(config):
        raw = config.workerinput.get(RUN_KEY)  # type: ignore[attr-defined]
        return None if raw is None else RunState.for_worker(raw)
    for plugin in config.pluginmanager.get_plugins():
        if isinstance(plugin, ProvidedRun):
            return RunState(plugin.run.options, plugin.run)
    if not config.getoption("platform"):
        return None
    given = {o.dest: config.getoption(o.dest) for o in OPTIONS}
    settings = Settings.from_env()
    return RunState(normalise(given, settings), settings=settings)


def pytest_configure(config: pytest.Config) -> None:
    try:
        state = _state(config)
    except NetconformError as exc:
        raise pytest.UsageError(str(exc)) from None
    if state is None:
        return
    config.stash[STATE] = state
    try:
        registry.load_checks(state.platform_name, state.options)
    except NetconformError as exc:
        raise pytest.UsageError(str(exc)) from None
    if not _is_worker(config):
        state.signals.enter_context(terminate_as_interrupt())
        config.pluginmanager.register(ControllerHooks(state), "netconform-controller")


def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    state = config.stash.get(STATE, None)
    if state is None or _is_worker(config) or config.option.collectonly:
        return  # --collect-only: what a selection keeps, nothing provisioned
    progress = StreamProgress()
    phase = Phase.PREPARING
    try:
        run = state.provided or prepare_run(state.options, state.settings, progress)
        state.scenario = run.scenario
        state.platform = run.platform
        phase = Phase.PROVISIONING
        provisioning = time.monotonic()
        # a platform's provision removes what it made when interrupted (core.Platform)
        state.handle = state.lifecycle.enter_context(running(run.platform))
        provision_s = round(time.monotonic() - provisioning, 1)
    except (NetconformError, OSError) as exc:
        state.not_provisioned(exc)
        pytest.exit(f"netconform: {exc}", returncode=exit_code_of(exc))
    except KeyboardInterrupt as exc:  # SIGTERM too (interrupts.Terminated)
        interruption = Interruption.of(exc)
        state.end(RunStatus.INTERRUPTED, phase)
        pytest.exit(
            f"netconform: {interruption.name} while {phase}", returncode=interruption.exit_code
        )
    except Exception:
        state.end(RunStatus.CRASHED, phase)
        raise
    # provision_s: the comparison of approaches' complexity (time to provision)
    state.info = {**state.handle.info, "platform": state.platform_name, "provision_s": provision_s}
    state.options.out.mkdir(parents=True, exist_ok=True)
    state.progress()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    state = node.config.stash.get(STATE, None)
    if state is not None and state.handle is not None:
        node.workerinput[RUN_KEY] = state.worker_input()


@dataclass(frozen=True)
class NoChecks:
    """Stands for an area without checks on this platform."""

    reason: str


class ControllerHooks:
    """Hooks only the controlling process runs: collect results as they come (also from
    xdist workers), write results.json, tear the platform down."""

    def __init__(self, state: RunState) -> None:
        self.state = state

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.state.planned = _planned(session)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: Sequence[str]) -> None:
        """Under xdist the controller collects nothing: the workers' node ids say the plan."""
        if not self.state.planned:
            known = {c.spec.id for c in CATALOGUE.for_family(self.state.entry.family)}
            self.state.planned = [i for i in map(_param_id, ids) if i in known]

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        if isinstance(excinfo.value, KeyboardInterrupt):  # not pytest.exit
            self.state.interruption = Interruption.of(excinfo.value)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.state.signals.close()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        for key, value in report.user_properties:
            if key == RESULT_PROPERTY:
                self.state.results.append(CheckResult.from_json(json.loads(str(value))))
                self.state.progress()

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        state = self.state
        try:
            if state.handle is not None:
                state.end(*_ending(state, exitstatus))
                alluredir = session.config.getoption("--alluredir", None)
                if alluredir:
                    write_run_files(Path(alluredir), state.platform_name, state.info)
            failed = [r for r in state.results if r.verdict in (Verdict.FAIL, Verdict.ERROR)]
            if failed and state.platform is not None and state.interruption is None:
                # before teardown: what a person debugging the failure needs
                state.platform.collect_diagnostics(state.options.out / "diagnostics")
        finally:
            if state.handle is not None:
                StreamProgress().step("removing what the run created")
                try:
                    state.lifecycle.close()
                except (NetconformError, OSError) as exc:
                    # Said, never swallowed; failed checks keep exit 1, a clean run becomes 3.
                    sys.stderr.write(f"netconform: teardown: {exc}\n")
                    if session.exitstatus == 0:
                        session.exitstatus = exit_code_of(exc)
            if state.interruption is not None:
                session.exitstatus = state.interruption.exit_code


def _ending(state: RunState, exitstatus: int) -> tuple[RunStatus, Phase | None]:
    """How a provisioned run's checks ended."""
    if state.interruption is not None:
        return RunStatus.INTERRUPTED, Phase.CHECKS
    if exitstatus == pytest.ExitCode.INTERNAL_ERROR:
        return RunStatus.CRASHED, Phase.CHECKS
    return RunStatus.COMPLETE, None


def _param_id(node_id: str) -> str:
    """`test_dns.py::test_check[dns.service.a]` -> `dns.service.a`."""
    return node_id.rpartition("[")[2].removesuffix("]")


def checks_for(area: Area, config: pytest.Config) -> list[Check[Any]]:
    """The checks of an area for the configured platform's family, in id order."""
    state = config.stash.get(STATE, None)
    if state is None:
        return []
    family = state.entry.family
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


def _planned(session: pytest.Session) -> list[str]:
    """The ids of the checks this process collected (after -k and deselection), in order."""
    ids = []
    for item in session.items:
        callspec = getattr(item, "callspec", None)
        check = callspec.params.get("netconform_check") if callspec is not None else None
        if isinstance(check, Check):
            ids.append(check.spec.id)
    return ids


@pytest.fixture(scope="session")
def platform_context(pytestconfig: pytest.Config, request: pytest.FixtureRequest) -> Iterator[Any]:
    state = pytestconfig.stash[STATE]
    assert state.handle is not None, "platform was not provisioned"
    ctx = state.entry.attach(state.handle, state.scenario, state.options)
    # told which checks are to come, so it can start some early (NetworkPolicy cases)
    ctx.plan_checks(_planned(request.session))
    yield ctx
    ctx.close()


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
