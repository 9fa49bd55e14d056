"""Walking a lab's cgroups while the container cgroups under it come and go."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from netconform.lab import cgroups


@pytest.fixture
def cgroup_fs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A v1-shaped tree: two hierarchies, the lab's cgroup with a container cgroup in each."""
    for hierarchy in ("pids", "blkio"):
        (tmp_path / hierarchy).mkdir()
        (tmp_path / hierarchy / "cgroup.procs").write_text("")
        lab = tmp_path / hierarchy / "netconform-x"
        (lab / "daemons").mkdir(parents=True)
        (lab / "daemons" / "cgroup.procs").write_text("101\n102\n")
        (lab / "c0ffee").mkdir()
        (lab / "c0ffee" / "cgroup.procs").write_text("201\n")
    monkeypatch.setattr(cgroups, "CGROUP_FS", tmp_path)
    # what each process itself says: 101 and 201 are the lab's, 102 left it (PID reused)
    proc = tmp_path / "proc"
    for pid, path in (
        (101, "/netconform-x/daemons"),
        (102, "/user.slice"),
        (201, "/netconform-x/c0ffee"),
    ):
        (proc / str(pid)).mkdir(parents=True)
        (proc / str(pid) / "cgroup").write_text(f"12:pids:{path}\n1:blkio:{path}\n")
    monkeypatch.setattr(cgroups, "PROC", proc)
    return tmp_path


def test_pids_reads_every_cgroup_of_the_lab(cgroup_fs: Path) -> None:
    assert cgroups.pids("netconform-x") == {101, 201}  # 102 is listed but not a member
    assert cgroups.pids("netconform-other") == set()


def test_a_container_cgroup_vanishing_mid_walk_is_skipped(
    cgroup_fs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Docker removes a container's cgroup when the container exits; here that happens right
    # after the lab's directory was listed (seen in CI on cgroup v1): the first cgroup read
    # makes its siblings vanish, whichever order the directory lists them in.
    real_read = Path.read_text

    def read_then_siblings_exit(self: Path, *args: object, **kwargs: object) -> str:
        text = real_read(self, *args, **kwargs)  # type: ignore[arg-type]
        lab = self.parent.parent
        if lab.name == "netconform-x":
            for sibling in lab.iterdir():
                if sibling.is_dir() and sibling != self.parent:
                    shutil.rmtree(sibling)
        return text

    monkeypatch.setattr(Path, "read_text", read_then_siblings_exit)
    assert cgroups.pids("netconform-x") in ({101}, {201})


def test_remove_goes_bottom_up_and_leaves_other_cgroups(cgroup_fs: Path) -> None:
    # rmdir on a real cgroupfs removes a cgroup with its control files; here they are files
    for path in cgroup_fs.rglob("netconform-x/**/cgroup.procs"):
        path.unlink()
    (cgroup_fs / "pids" / "kept").mkdir()
    cgroups.remove("netconform-x")
    assert not cgroups.exists("netconform-x")
    assert (cgroup_fs / "pids" / "kept").is_dir()
