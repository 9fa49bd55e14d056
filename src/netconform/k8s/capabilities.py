"""Linux capabilities by name, and the bounding set a node container has.

A container asking for a capability outside its runtime's bounding set cannot start (runc:
"unable to apply caps"). Docker 20.10 on a host whose bounding set lacks one starts kind's
privileged nodes only through a runtime that drops it, and the nodes then lack it too.

Standard library only at run time: the kit's OCI runtime wrapper (kit/caps_runc.py) runs
under the system Python with a copy of this module beside it, so the table has one source."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from netconform.k8s.tools import Runner

# capabilities(7), in bit order
NAMES = (  # noqa: SIM905 - one line per row of the man page
    "CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP "
    "LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER "
    "SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE "
    "SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP "
    "MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF "
    "CHECKPOINT_RESTORE"
).split()


def from_status(status: str) -> frozenset[str] | None:
    """The CapBnd line of a /proc/PID/status, as names; None when there is none."""
    for line in status.splitlines():
        if line.startswith("CapBnd:"):
            mask = int(line.split()[1], 16)
            return frozenset(name for bit, name in enumerate(NAMES) if mask >> bit & 1)
    return None


def node_bounding_set(runner: Runner, node_image: str) -> frozenset[str] | None:
    """The bounding set of a privileged container of the node image, as kind starts its
    nodes (None when it cannot be found: then nothing is trimmed)."""
    argv = ("docker", "run", "--rm", "--privileged", "--entrypoint", "grep", node_image)
    done = runner.run((*argv, "CapBnd", "/proc/self/status"), timeout_s=120)
    return from_status(done.stdout) if done.returncode == 0 else None
