"""The kit's OCI runtime wrapper, installed as `kit up` installs it and run for real on a
bundle: it keeps exactly the capabilities this machine's bounding set has, then execs the
runtime it wraps with the same arguments."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from kit import dockerd

from netconform.k8s import capabilities

PROCESS_CAPS = ["CAP_CHOWN", "CAP_NET_ADMIN", "CAP_SYS_RESOURCE", "CAP_BPF", "CAP_NOT_ONE"]


def _bounding() -> set[str]:
    names = capabilities.from_status(Path("/proc/self/status").read_text())
    assert names is not None
    return {"CAP_" + n for n in names}


def _fake_runc(tmp_path: Path) -> Path:
    runc = tmp_path / "runc"
    runc.write_text(f'#!/bin/sh\necho "$@" > {tmp_path / "argv"}\n')
    runc.chmod(0o755)
    return runc


def _run(runtime: Path, runc: Path, *args: str) -> None:
    env = {**os.environ, "NETCONFORM_KIT_RUNC": str(runc)}
    subprocess.run([sys.executable, str(runtime), *args], env=env, check=True, timeout=30)


def test_create_keeps_only_the_bounding_set(tmp_path: Path) -> None:
    runtime = dockerd.install_runtime(tmp_path / "bin")
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    sets = {key: list(PROCESS_CAPS) for key in ("bounding", "effective", "permitted")}
    (bundle / "config.json").write_text(json.dumps({"process": {"capabilities": sets}}))
    _run(runtime, _fake_runc(tmp_path), "--root", "/x", "create", "--bundle", str(bundle), "c1")
    kept = json.loads((bundle / "config.json").read_text())["process"]["capabilities"]
    expected = [c for c in PROCESS_CAPS if c in _bounding()]
    assert "CAP_NOT_ONE" not in expected
    assert kept == {key: expected for key in sets}
    argv = (tmp_path / "argv").read_text().split()
    assert argv == ["--root", "/x", "create", "--bundle", str(bundle), "c1"]


def test_exec_rewrites_the_process_file(tmp_path: Path) -> None:
    runtime = dockerd.install_runtime(tmp_path / "bin")
    process = tmp_path / "process.json"
    process.write_text(json.dumps({"capabilities": {"effective": PROCESS_CAPS}}))
    _run(runtime, _fake_runc(tmp_path), "exec", "--process", str(process), "c1")
    kept = json.loads(process.read_text())["capabilities"]["effective"]
    assert kept == [c for c in PROCESS_CAPS if c in _bounding()]
