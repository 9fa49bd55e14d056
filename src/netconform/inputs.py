"""Reading what a user hands the CLI: files and directories in, a directory out.

Whatever is wrong with one (missing, a directory where a file belongs, unreadable, not
UTF-8 text, an output directory that cannot be made) is one InputError naming the file or
the option: exit 2 and one line, never a traceback."""

from __future__ import annotations

import errno
import json
import math
import os
import stat
from pathlib import Path
from typing import Any

import yaml

from netconform.errors import InputError

_WHY = {
    errno.ENOENT: "no such file",
    errno.EISDIR: "is a directory, expected a file",
    errno.EACCES: "permission denied",
    errno.ENOTDIR: "a parent is not a directory",
}


# Larger than any scenario, case file or results.json a run writes (a 138-case kind run's
# results.json is about 1 MB): past it the file is refused instead of read into memory.
MAX_INPUT_BYTES = 256 * 1024 * 1024


def read_text(path: Path) -> str:
    """The UTF-8 text of an input file: a regular file (a FIFO or a device such as
    /dev/zero would never end) of at most MAX_INPUT_BYTES."""
    try:
        # O_NONBLOCK: opening a FIFO would otherwise wait for a writer (no effect on files)
        with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise InputError(f"{path}: cannot read: not a regular file (a FIFO or a device?)")
            if info.st_size > MAX_INPUT_BYTES:
                raise InputError(
                    f"{path}: cannot read: {info.st_size} bytes, over {MAX_INPUT_BYTES}"
                )
            data = handle.read()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {_why(exc)}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: cannot read: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start}); expected YAML or JSON"
        ) from None


# Integers a netconform document can hold (byte counts, nanoseconds): a longer digit string
# is no measurement, and Python would spend quadratic time converting it.
MAX_INT_DIGITS = 20


class _NotJson(ValueError):
    """What Python's json accepts and JSON does not (NaN, Infinity) or we refuse."""


def _constant(name: str) -> Any:
    raise _NotJson(f"{name} is not JSON (browsers and other readers refuse it)")


def _integer(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise _NotJson(f"an integer of {len(digits)} digits (at most {MAX_INT_DIGITS})")
    return int(digits)


def load_json(text: str, where: Path | str) -> Any:
    """JSON as every reader reads it: NaN, Infinity, absurd integers and nesting too deep
    for the parser are one InputError naming `where`, never a traceback."""
    try:
        return json.loads(text, parse_constant=_constant, parse_int=_integer)
    except _NotJson as exc:
        raise InputError(f"{where}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: not valid JSON (truncated?): {exc}") from None
    except RecursionError:
        raise InputError(f"{where}: nested too deeply to be a netconform document") from None


# YAML bounds: a netconform document (a scenario, a case file, a profile, a Kubernetes
# manifest) is nowhere near them; past them the file is refused, not built. Aliases are
# counted expanded: nine aliases of nine aliases, eleven levels down, are 3e10 nodes.
MAX_YAML_DEPTH = 100
MAX_YAML_NODES = 2_000_000
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlRefused(yaml.YAMLError):
    """YAML that parses but that we will not build: too deep, too large once its aliases are
    expanded, or an integer too long to be a measurement."""


def _too_long_integer(event: yaml.ScalarEvent) -> bool:
    digits = event.value.lstrip("+-").replace("_", "")
    plain = not event.style  # None from the Python parser, "" from libyaml
    return plain and digits.isdigit() and len(digits) > MAX_INT_DIGITS


def _check_bounds(text: str | bytes) -> None:
    """Walk the parser's events (iterative: no recursion, nothing built) measuring depth and
    the expanded node count, each alias counted as the size of what it names."""
    sizes: list[int] = [0]  # the node count of each open collection, the stream's first
    anchors: list[str | None] = [None]
    named: dict[str, int] = {}
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.CollectionStartEvent):
            if len(sizes) > MAX_YAML_DEPTH:
                raise YamlRefused(f"nested deeper than {MAX_YAML_DEPTH} levels")
            sizes.append(1)
            anchors.append(event.anchor)
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            size, anchor = sizes.pop(), anchors.pop()
        elif isinstance(event, yaml.AliasEvent):
            size, anchor = named.get(event.anchor or "", 1), None
        elif isinstance(event, yaml.ScalarEvent):
            if _too_long_integer(event):
                raise YamlRefused(
                    f"an integer of {len(event.value)} digits (at most {MAX_INT_DIGITS})"
                )
            size, anchor = 1, event.anchor
        else:
            continue
        if anchor is not None:
            named[anchor] = size
        sizes[-1] += size
        if sizes[-1] > MAX_YAML_NODES:
            raise YamlRefused(f"over {MAX_YAML_NODES} values once its aliases are expanded")


def yaml_problem(exc: yaml.YAMLError) -> tuple[str, str]:
    """Where a YAML text is wrong ("line N", or "" when PyYAML does not say) and what is, on
    one line (PyYAML's messages span several)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return (f"line {mark.line + 1}" if mark is not None else ""), " ".join(str(problem).split())


def load_yaml(text: str | bytes) -> Any:
    """One YAML document, bounded (YamlRefused, a yaml.YAMLError, past the bounds)."""
    _check_bounds(text)
    return yaml.load(text, Loader=_Loader)


def load_yaml_all(text: str | bytes) -> list[Any]:
    """Every document of a YAML stream, bounded as load_yaml."""
    _check_bounds(text)
    return list(yaml.load_all(text, Loader=_Loader))


def finite(value: Any) -> Any:
    """`value` with every NaN or infinite float made null: json.dumps would write them as
    NaN/Infinity, which no JSON reader accepts (a measurement that could not be computed is
    no measurement)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def input_dir(path: Path, option: str) -> Path:
    """A directory the user named (`option` is how: a flag or an argument name)."""
    if not path.exists():
        raise InputError(f"{option} {path}: no such directory")
    if not path.is_dir():
        raise InputError(f"{option} {path}: not a directory")
    return path


def files_dir(path: Path, option: str, pattern: str) -> Path:
    """A directory the user named that must hold files matching `pattern` (*.yaml)."""
    if not any(input_dir(path, option).glob(pattern)):
        raise InputError(f"{option} {path}: holds no {pattern} files")
    return path


def check_output_dir(path: Path, option: str) -> None:
    """Refuse, without creating anything, an output directory that could not be made or
    written: a command checks it with its other input, and makes it only once the rest
    of that input is known to be good (a refused run leaves no empty --out behind)."""
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing == path and not path.is_dir():
        raise InputError(f"{option} {path}: exists and is not a directory")
    if existing != path and not existing.is_dir():
        raise InputError(f"{option} {path}: cannot create the directory: not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        why = "the directory is not writable" if existing == path else "permission denied"
        raise InputError(f"{option} {path}: {why}")


def output_dir(path: Path, option: str) -> Path:
    """The directory `option` names for output, created if need be, and writable."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise InputError(f"{option} {path}: exists and is not a directory") from None
    except OSError as exc:
        why = (exc.strerror or str(exc)).lower()
        raise InputError(f"{option} {path}: cannot create the directory: {why}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise InputError(f"{option} {path}: the directory is not writable")
    return path


def _why(exc: OSError) -> str:
    return _WHY.get(exc.errno or 0) or exc.strerror or str(exc)
