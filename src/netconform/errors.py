"""The two error kinds a user can be shown, each tied to the CLI exit code contract.

Anything raised from the library that is one of these is printed as one line by the CLI;
so is an OSError (the machine refused a file, socket or cgroup: exit 3); anything else is a
bug and keeps its traceback.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

# Control characters shown escaped: a field name or value from a user's file may hold a
# newline, and the message must stay one line (and not move the terminal's cursor).
_ESCAPED = {c: repr(chr(c))[1:-1] for c in (*range(32), 127)}


class NetconformError(Exception):
    """Base of the errors that end a command with a one-line message."""

    exit_code = 2

    def __init__(self, message: object = "", *args: object) -> None:
        super().__init__(str(message).translate(_ESCAPED), *args)


class InputError(NetconformError):
    """Bad usage or a bad input file (exit 2). The message names the file and field."""

    exit_code = 2


class EnvironmentUnfit(NetconformError):
    """The machine cannot host the platform (exit 3). The message names what is missing."""

    exit_code = 3


def file_field_error(path: object, field: str, problem: str) -> InputError:
    """The one-line form every input error takes: `FILE: FIELD: PROBLEM`."""
    where = f"{path}: {field}" if field else f"{path}"
    return InputError(f"{where}: {problem}")


def exit_code_of(exc: NetconformError | OSError) -> int:
    """A NetconformError carries its code; an OSError is the machine refusing something."""
    return exc.exit_code if isinstance(exc, NetconformError) else EnvironmentUnfit.exit_code


@contextlib.contextmanager
def said_not_raised(what: str) -> Iterator[None]:
    """Cleanup on a failure path: its own error is printed as one line, never raised over
    the error that is already on its way to the user; a signal during it is said, never
    allowed to abandon it (interrupts.shielded)."""
    from netconform.interrupts import shielded

    try:
        with shielded(what):
            yield
    except (NetconformError, OSError) as exc:
        sys.stderr.write(f"netconform: {what}: {exc}\n")
