"""The kit's own dockerd: its own data root (the image cache, kept), socket, exec root and
pidfile, and a default OCI runtime that drops capabilities the bounding set lacks, so kind's
privileged node containers start. Nothing in the lab or the product depends on it: the product
only sees DOCKER_HOST."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from kit.core import BIN, CACHE, KIT_DIR, RUN_DIR, BuildFailed, say

SOCKET = RUN_DIR / "docker.sock"
PIDFILE = RUN_DIR / "docker.pid"
EXEC_ROOT = RUN_DIR / "exec"
DATA_ROOT = CACHE / "docker"
LOG = CACHE / "logs" / "dockerd.log"
RUNTIME = BIN / "caps-runc"
# the capability table the runtime imports, from the product (standard library only)
CAPABILITY_TABLE = KIT_DIR.parent / "src" / "netconform" / "k8s" / "capabilities.py"
DOCKER_HOST = f"unix://{SOCKET}"


def docker_env() -> dict[str, str]:
    return {**os.environ, "DOCKER_HOST": DOCKER_HOST}


def pid() -> int | None:
    try:
        value = int(PIDFILE.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(value, 0)
    except ProcessLookupError:
        return None
    cmdline = Path(f"/proc/{value}/cmdline").read_bytes().split(b"\0")
    # only our own daemon: the pid must be a dockerd started with our socket
    ours = b"dockerd" in cmdline[0] and str(SOCKET).encode() in b" ".join(cmdline)
    return value if ours else None


def responds() -> bool:
    proc = subprocess.run(
        ["docker", "version", "--format", "{{.Server.Version}}"],
        env=docker_env(),
        capture_output=True,
        check=False,
    )
    return proc.returncode == 0


def install_runtime(bin_dir: Path = BIN) -> Path:
    """The runtime wrapper and the capability table it imports, in bin_dir."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(CAPABILITY_TABLE, bin_dir / "netconform_capabilities.py")
    runtime = bin_dir / RUNTIME.name
    tmp = runtime.with_suffix(".tmp")
    shutil.copyfile(KIT_DIR / "caps_runc.py", tmp)
    tmp.chmod(0o755)
    tmp.replace(runtime)
    return runtime


def start() -> None:
    if pid() is not None and responds():
        return
    missing = [t for t in ("dockerd", "docker", "runc") if shutil.which(t) is None]
    if missing:
        raise BuildFailed(f"missing {', '.join(missing)}: run `bash .ci/setup` (docker.io, runc)")
    install_runtime()
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    DATA_ROOT.mkdir(parents=True, exist_ok=True)
    LOG.parent.mkdir(parents=True, exist_ok=True)
    config = RUN_DIR / "daemon.json"
    config.write_text(
        json.dumps(
            {
                "runtimes": {"caps-runc": {"path": str(RUNTIME)}},
                "default-runtime": "caps-runc",
                # kind makes its own network; no docker0 on the host
                "bridge": "none",
                "storage-driver": "overlay2",
                "log-driver": "json-file",
                "log-opts": {"max-size": "10m", "max-file": "2"},
            },
            indent=2,
        )
    )
    with LOG.open("a") as log:
        proc = subprocess.Popen(
            [
                "dockerd",
                "--config-file",
                str(config),
                "--host",
                DOCKER_HOST,
                "--data-root",
                str(DATA_ROOT),
                "--exec-root",
                str(EXEC_ROOT),
                "--pidfile",
                str(PIDFILE),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BuildFailed(f"the kit's dockerd exited ({proc.returncode}); log: {LOG}")
        if responds():
            say(f"dockerd up (pid {proc.pid}, {DOCKER_HOST})")
            return
        time.sleep(0.5)
    raise BuildFailed(f"the kit's dockerd did not answer within 60 s; log: {LOG}")


def stop() -> None:
    """Stop the daemon `up` started (by its recorded pid) and wait for it to exit."""
    value = pid()
    if value is None:
        return
    os.kill(value, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.kill(value, 0)
        except ProcessLookupError:
            break
        time.sleep(0.5)
    else:
        os.kill(value, signal.SIGKILL)
    say(f"dockerd stopped (pid {value})")
