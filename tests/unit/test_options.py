"""Options normalised once: defaults in one place, the environment merged (the command line
wins), named directories checked; settings parsed from the environment in one place;
handles and options survive the trip to an xdist worker."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from netconform.core import Capabilities
from netconform.errors import EnvironmentUnfit, InputError
from netconform.k8s.handle import KubeHandle
from netconform.lab import setup
from netconform.lab.config import LabConfig
from netconform.netpol.catalogue import CaseSelection
from netconform.options import OPTIONS, RunOptions, add_cli_options, normalise
from netconform.platforms.swarm_deploy import Node
from netconform.platforms.swarm_platforms import SwarmHandle, SwarmLabPlatform
from netconform.settings import Settings
from netconform.vocab import Capability


def _given(*argv: str) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    add_cli_options(parser, ("swarm-lab", "kind-calico"))
    args = parser.parse_args(list(argv))
    return {o.dest: getattr(args, o.dest) for o in OPTIONS}


def test_nothing_given_is_the_defaults_of_lab_config_and_run_options() -> None:
    options = normalise(_given("--platform", "swarm-lab"), Settings())
    assert options == RunOptions("swarm-lab", Path("reports/swarm-lab"))
    assert options.lab == LabConfig() == LabConfig("default", 3, 1500)


def test_given_options_are_kept() -> None:
    options = normalise(
        _given("--platform", "swarm-lab", "--out", "o", "--hosts", "4", "--lab-name", "x"),
        Settings(),
    )
    assert (options.out, options.lab) == (Path("o"), LabConfig("x", 4, 1500))


def test_the_environment_fills_what_the_command_line_did_not_give() -> None:
    env = Settings.from_env({"NETCONFORM_KIND_NODE_IMAGE": "node:env", "NETCONFORM_OFFLINE": "1"})
    options = normalise(_given("--platform", "kind-calico"), env)
    assert (options.node_image, options.offline) == ("node:env", True)
    given = _given("--platform", "kind-calico", "--node-image", "node:cli")
    assert normalise(given, env).node_image == "node:cli"
    assert normalise(_given("--platform", "kind-calico"), Settings()).node_image is None


def test_netpol_cases_must_be_a_directory_of_case_files(tmp_path: Path) -> None:
    argv = ("--platform", "kind-calico", "--netpol-cases")
    with pytest.raises(InputError, match=r"--netpol-cases .*: no such directory"):
        normalise(_given(*argv, str(tmp_path / "none")), Settings())
    with pytest.raises(InputError, match=r"holds no \*.yaml files"):
        normalise(_given(*argv, str(tmp_path)), Settings())
    (tmp_path / "mine.yaml").write_text("cases: []\n")
    with pytest.raises(InputError, match=r"mine.yaml: cases: the list is empty"):
        normalise(_given(*argv, str(tmp_path)), Settings())
    (tmp_path / "mine.yaml").write_text(MINIMAL_CASE)
    replaced = normalise(_given(*argv, str(tmp_path)), Settings()).netpol_cases
    assert replaced == CaseSelection(tmp_path, with_catalogue=False)
    added = normalise(_given(*argv, f"+{tmp_path}"), Settings()).netpol_cases
    assert added == CaseSelection(tmp_path, with_catalogue=True)
    assert normalise(_given("--platform", "kind-calico"), Settings()).netpol_cases == (
        CaseSelection()
    )


MINIMAL_CASE = """cases:
- id: mine.deny
  pods: [x/a, x/b]
  steps:
  - actions:
    - create-policy: {metadata: {name: deny, namespace: x}, spec: {podSelector: {}}}
    probes: [80/TCP]
"""


def test_settings_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "HOME": "/home/u",
            "KUBECONFIG": "/a/kc:/b/kc",
            "NETCONFORM_DOCKER_HOSTS": "unix:///a.sock, tcp://b:2375,",
            "NETCONFORM_SWARM_CAPABILITIES": "vxlan",
            "NETCONFORM_STATE_DIR": "/s",
        }
    )
    assert settings.kubeconfig == Path("/a/kc")  # the first of a KUBECONFIG list
    assert settings.docker_hosts == ("unix:///a.sock", "tcp://b:2375")
    assert settings.swarm_capabilities == ("vxlan",)
    assert settings.lab_state_dir == Path("/s")
    assert settings.lab_cache_dir == Path("/var/cache/netconform")
    assert settings.state_home == Path("/home/u/.local/state")
    empty = Settings.from_env({"HOME": "/h"})
    assert (empty.kubeconfig, empty.swarm_capabilities, empty.offline) == (
        Path("/h/.kube/config"),
        None,
        False,
    )
    assert Settings.from_env(
        {"NETCONFORM_KUBECONFIG": "/n", "KUBECONFIG": "/k"}
    ).kubeconfig == Path("/n")


@pytest.mark.parametrize(("value", "offline"), [("1", True), ("yes", True), ("0", False),
                                                ("", False), ("Off", False)])  # fmt: skip
def test_offline_flag_values(value: str, offline: bool) -> None:
    assert Settings.from_env({"NETCONFORM_OFFLINE": value}).offline is offline


def test_an_unreadable_flag_is_an_input_error_naming_the_variable() -> None:
    with pytest.raises(InputError, match="NETCONFORM_OFFLINE='maybe'"):
        Settings.from_env({"NETCONFORM_OFFLINE": "maybe"})


def test_run_options_survive_json(tmp_path: Path) -> None:
    options = RunOptions(
        "kind-calico",
        tmp_path,
        keep=True,
        scenario=tmp_path / "s.yaml",
        lab=LabConfig("l", 2, 9000),
        node_image="n:1",
        offline=True,
        netpol_cases=CaseSelection(tmp_path, with_catalogue=False),
    )
    assert RunOptions.from_json(options.to_json()) == options
    assert RunOptions.from_json(RunOptions("x", tmp_path).to_json()) == RunOptions("x", tmp_path)


CAPS = Capabilities(frozenset({Capability.VXLAN, Capability.ESP}), {Capability.SCTP: "no sctp"})


def test_capabilities_survive_json_as_enums() -> None:
    back = Capabilities.from_json(CAPS.to_json())
    assert back == CAPS and all(isinstance(c, Capability) for c in back.available)
    assert back.why_missing(frozenset({"sctp", "vxlan"})) == "no sctp"
    assert back.why_missing({Capability.IPVS}) == "platform lacks capability 'ipvs'"


def test_handles_survive_json() -> None:
    swarm = SwarmHandle(
        "swarm-lab",
        (Node("h1", "unix:///h1.sock", "10.0.0.11", "nc-h1"), Node("h2", "tcp://h2", "10.0.0.12")),
        "r1",
        "probe:1",
        CAPS,
        {"lab": "default"},
        "nc-ul",
    )
    assert SwarmHandle.from_json(swarm.to_json()) == swarm
    kube = KubeHandle("cluster", "/kc", "r2", ("n1", "n2"), "probe:2", "10.96.0.10", CAPS, {})
    assert KubeHandle.from_json(kube.to_json()) == kube
    assert kube.workload_spec().nodes == ("n1", "n2")


def test_swarm_lab_preflight_installs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    installs: list[list[str]] = []
    monkeypatch.setattr(setup.os, "geteuid", lambda: 0)
    monkeypatch.setattr(setup, "missing_packages", lambda: {"mmdebstrap": "mmdebstrap"})
    monkeypatch.setattr(setup.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(
        setup.subprocess, "run", lambda argv, **kw: installs.append(argv) or _Done()
    )
    platform = SwarmLabPlatform()
    with pytest.raises(EnvironmentUnfit, match="missing mmdebstrap: install mmdebstrap"):
        platform.preflight()
    assert installs == []
    platform.prepare_host()  # its own step: apt-get, where it ran before
    assert [argv[:2] for argv in installs] == [["apt-get", "update"], ["apt-get", "install"]]


class _Done:
    returncode = 0
    stderr = ""


@pytest.mark.parametrize("name", ["NETCONFORM_STATE_DIR", "NETCONFORM_CACHE_DIR"])
def test_a_relative_lab_directory_is_refused(name: str) -> None:
    """The lab's state and cache are removed by path: never relative to the working directory."""
    with pytest.raises(InputError, match=f"{name}='labs': expected an absolute path"):
        Settings.from_env({name: "labs", "HOME": "/root"})


def test_a_relative_xdg_directory_is_ignored_as_the_spec_says() -> None:
    settings = Settings.from_env({"XDG_STATE_HOME": "state", "HOME": "/home/u"})
    assert settings.state_home == Path("/home/u/.local/state")
    assert Settings.from_env({"XDG_STATE_HOME": "/s", "HOME": "/h"}).state_home == Path("/s")
