"""A lab's state is validated before it is trusted: a crafted file is refused in one line
naming the file and field, and nothing is deleted or killed; a corrupt one is reclaimed from
what is on the system, found by the lab's name."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from lab_fakes import FakeLabEnv, fake_lab_env, sleeper, valid_state

from netconform.lab import cgroups, lab, state
from netconform.lab.state import StateCorrupt, StateNotConfined


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeLabEnv:
    return fake_lab_env(tmp_path, monkeypatch)


def _write(name: str, data: object) -> Path:
    path = state.state_file(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def _crafted(lab_name: str, **fields: object) -> dict[str, object]:
    data = valid_state(lab_name).to_json()
    data.update(fields)
    return data


def test_a_saved_state_loads_back_equal(env: FakeLabEnv) -> None:
    saved = valid_state("x")
    state.save(saved)
    assert state.load("x") == saved


def test_a_lab_dir_outside_the_root_is_refused_and_nothing_is_deleted(
    env: FakeLabEnv, tmp_path: Path
) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep").write_text("precious")
    path = _write("x", _crafted("x", dir=str(victim)))
    (env.netns_dir / "nc-x-ul").touch()
    with pytest.raises(StateNotConfined) as refused:
        lab.down("x")
    assert str(refused.value).startswith(f"{path}: dir: ")
    assert "\n" not in str(refused.value)
    assert (victim / "keep").read_text() == "precious"
    assert path.exists() and env.removed_netns == []  # the lab itself is left alone too


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("dir", "{root}/x/../y"),
        ("name", "y"),
        ("underlay_netns", "nc-x-../../etc"),
        ("underlay_netns", "nc-xy-ul"),
        ("hosts", [{"name": "h1", "netns": "nc-x-h1", "address": "a", "dir": "/etc"}]),
        ("hosts", [{"name": "h1", "netns": "nc-x-h1", "address": "a", "dir": "{root}/x"}]),
    ],
)
def test_every_path_and_namespace_must_be_the_labs_own(
    env: FakeLabEnv, field: str, value: object
) -> None:
    text = json.dumps(_crafted("x", **{field: value})).replace("{root}", str(env.root))
    path = _write("x", text)
    with pytest.raises(StateNotConfined, match=rf"^{re.escape(f'{path}: {field}')}(\.0\.dir)?: "):
        state.load("x")


def test_a_foreign_cgroup_is_refused_and_nothing_is_killed(env: FakeLabEnv) -> None:
    with sleeper() as victim:
        foreign = env.add_cgroup("system.slice", (victim.pid,))
        path = _write("x", _crafted("x", cgroup="system.slice"))
        with pytest.raises(StateNotConfined, match=rf"^{path}: cgroup: 'system.slice' is not"):
            lab.down("x")
        assert victim.poll() is None
        assert foreign.is_dir()


def test_a_pid_listed_in_the_labs_cgroup_but_not_in_it_is_not_killed(env: FakeLabEnv) -> None:
    with sleeper() as victim:
        # The listing says the lab's cgroup; the process's own /proc/<pid>/cgroup does not.
        listed = env.add_cgroup(state.cgroup_name("x") + "/daemons", (victim.pid,))
        state.save(valid_state("x"))
        report = lab.down("x")
        assert report is not None and report.killed == 0
        assert victim.poll() is None
        assert not state.lab_dir("x").exists()  # the rest of the lab is reclaimed
        assert listed.is_dir()  # rmdir leaves a cgroup that still lists processes


def test_membership_is_what_the_process_itself_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proc = tmp_path / "proc"
    for pid, lines in {
        1: "0::/netconform-x/daemons\n",  # v2
        2: "12:pids:/netconform-x/abc\n3:cpu:/\n",  # v1, a container cgroup
        3: "0::/netconform-xy/daemons\n",  # another lab whose name starts the same
        4: "0::/user.slice/netconform-x\n",  # the name deeper in someone else's tree
    }.items():
        (proc / str(pid)).mkdir(parents=True)
        (proc / str(pid) / "cgroup").write_text(lines)
    monkeypatch.setattr(cgroups, "PROC", proc)
    members = {pid for pid in (1, 2, 3, 4, 5) if cgroups.is_member(pid, "netconform-x")}
    assert members == {1, 2}


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("{not json", "(document)"),
        ("[]", "(document)"),
        (json.dumps(_crafted("x", underlay_mtu="1500")), "underlay_mtu"),
        (json.dumps(_crafted("x", unknown=1)), "unknown"),
        (json.dumps(_crafted("x", phase="whatever")), "phase"),
    ],
)
def test_a_corrupt_state_is_one_line_and_lab_down_reclaims_from_the_system(
    env: FakeLabEnv, text: str, field: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write("x", text)
    with pytest.raises(StateCorrupt, match=rf"^{re.escape(f'{path}: {field}: ')}"):
        state.load("x")
    (state.lab_dir("x") / "h1").mkdir()
    (env.netns_dir / "nc-x-ul").touch()
    (env.netns_dir / "nc-x-h1").touch()
    (env.netns_dir / "nc-xy-ul").touch()  # another lab's
    # a real cgroup's files go with rmdir: here the directory has none
    (env.cgroup_fs / "pids" / state.cgroup_name("x") / "daemons").mkdir(parents=True)
    report = lab.down("x")
    assert report is not None and report.namespaces == ("nc-x-h1", "nc-x-ul")
    assert env.removed_netns == ["nc-x-h1", "nc-x-ul"]
    assert (env.netns_dir / "nc-xy-ul").exists()
    assert not state.lab_dir("x").exists()
    assert not (env.cgroup_fs / "pids" / state.cgroup_name("x")).exists()
    said = capsys.readouterr().err.splitlines()
    assert len(said) == 1 and said[0].startswith(f"netconform: {path}: {field}: ")
    assert "reclaiming lab 'x' from what is on the system" in said[0]


def test_a_state_written_before_owners_existed_still_loads(env: FakeLabEnv) -> None:
    old = dataclasses.asdict(valid_state("x"))
    del old["owner"]
    _write("x", old)
    loaded = state.load("x")
    assert loaded is not None and loaded.owner is None


def test_an_owner_stored_by_earlier_versions_still_loads(env: FakeLabEnv) -> None:
    # the owner's keys as state.json has stored them since owners were recorded
    old = dataclasses.asdict(valid_state("x"))
    old["owner"] = {"pid": 4242, "start_time": 987654, "hostname": "box"}
    _write("x", old)
    loaded = state.load("x")
    assert loaded is not None and loaded.owner is not None
    assert (loaded.owner.pid, loaded.owner.start_time, loaded.owner.hostname) == (
        4242,
        987654,
        "box",
    )
    assert loaded.owner.describe() == "PID 4242 on box"
