#!/usr/bin/python3
"""OCI runtime wrapper for the kit's dockerd: removes from the container's capability sets
every capability this machine's bounding set lacks (here CAP_SYS_RESOURCE), then execs runc.

Docker 20.10 asks for every capability it knows for a privileged container, and runc fails
with "unable to apply caps" when one is outside the bounding set. kind starts its nodes
privileged, so this is what lets them start here. Installed by `kit up` as a runtime."""

import json
import os
import sys

# `kit up` installs netconform's capability table beside this script (one source for both)
sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from netconform_capabilities import NAMES, from_status

RUNC = os.environ.get("NETCONFORM_KIT_RUNC", "/usr/sbin/runc")


def allowed():
    with open("/proc/self/status") as status:
        names = from_status(status.read())
    return {"CAP_" + n for n in (NAMES if names is None else names)}


def filter_caps(caps, keep):
    changed = False
    for key in ("bounding", "effective", "inheritable", "permitted", "ambient"):
        if isinstance(caps.get(key), list):
            kept = [c for c in caps[key] if c in keep]
            changed = changed or kept != caps[key]
            caps[key] = kept
    return changed


def rewrite(path, pick):
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return
    caps = pick(doc)
    if isinstance(caps, dict) and filter_caps(caps, allowed()):
        tmp = path + ".caps-runc"
        with open(tmp, "w") as f:
            json.dump(doc, f)
        os.replace(tmp, path)


def option(args, *names):
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def main(args):
    # global options take values (--root PATH, --log PATH): the subcommand is the first
    # argument that names one, not the first without a dash
    command = next((a for a in args if a in ("create", "run", "exec")), "")
    if command in ("create", "run"):
        bundle = option(args, "--bundle", "-b") or os.getcwd()
        config = os.path.join(bundle, "config.json")
        rewrite(config, lambda d: d.get("process", {}).get("capabilities"))
    elif command == "exec":
        process = option(args, "--process", "-p")
        if process:
            rewrite(process, lambda d: d.get("capabilities"))
    os.execv(RUNC, [RUNC, *args])


if __name__ == "__main__":
    main(sys.argv[1:])
