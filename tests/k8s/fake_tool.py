"""A thin fake of kind, kubectl, helm and docker: records every call as one JSON line in
$FAKE_STATE/calls.jsonl and keeps just enough state (which clusters exist, the install
marker) for lifecycle decisions. $FAKE_FAIL: a call whose command line contains it fails."""

import json
import os
import sys
from pathlib import Path

state = Path(os.environ["FAKE_STATE"])
tool = Path(sys.argv[0]).name
argv = [tool, *sys.argv[1:]]
line = " ".join(argv)
with (state / "calls.jsonl").open("a") as log:
    log.write(json.dumps(argv) + "\n")

fail = os.environ.get("FAKE_FAIL")
if fail and fail in line:
    sys.stderr.write(f"error: fake failure of {fail!r}\n")
    sys.exit(1)

clusters_file = state / "clusters"
clusters = clusters_file.read_text().split() if clusters_file.exists() else []
marker = state / "marker"


def arg(flag: str) -> str:
    return argv[argv.index(flag) + 1]


if tool == "kind" and argv[1:3] == ["get", "clusters"]:
    print("\n".join(clusters))
elif tool == "kind" and argv[1:3] == ["create", "cluster"]:
    clusters_file.write_text("\n".join([*clusters, arg("--name")]))
    if "--kubeconfig" in argv:  # as kind does
        Path(arg("--kubeconfig")).write_text("apiVersion: v1\nkind: Config\n")
elif tool == "kind" and argv[1:3] == ["delete", "cluster"]:
    clusters_file.write_text("\n".join(c for c in clusters if c != arg("--name")))
    marker.unlink(missing_ok=True)
elif tool == "kubectl" and "cilium-config" in argv:  # $FAKE_CILIUM_CONFIG: its data, JSON
    print(json.dumps({"data": json.loads(os.environ.get("FAKE_CILIUM_CONFIG", "{}"))}))
elif tool == "kubectl" and "configmap" in argv and "get" in argv:
    if not marker.exists():
        sys.stderr.write(
            'Error from server (NotFound): configmaps "netconform-cluster" not found\n'
        )
        sys.exit(1)
    print(marker.read_text(), end="")
elif tool == "kubectl" and "configmap" in argv and "create" in argv:
    marker.write_text(
        next(a for a in argv if a.startswith("--from-literal=profile=")).split("=", 2)[2]
    )
elif tool == "kubectl" and "pods" in argv and "-o" in argv and arg("-o") == "json":
    # $FAKE_CRASHLOOP=<ns>/<pod>/<container>: that container is crash-looping
    ns, pod, container = (os.environ.get("FAKE_CRASHLOOP") or "//").split("/")
    status = {
        "name": container,
        "restartCount": 5,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 2, "reason": "Error"}},
    }
    items = [{"metadata": {"name": pod}, "status": {"containerStatuses": [status]}}]
    print(json.dumps({"items": items if "-n" in argv and arg("-n") == ns else []}))
elif tool == "kubectl" and "logs" in argv and "--previous" in argv:
    print("starting\npanic: runtime error: makeslice: len out of range\ngoroutine 1")
elif tool == "kubectl" and "version" in argv:
    print(json.dumps({"serverVersion": {"gitVersion": "v1.36.1"}}))
elif tool == "docker" and argv[1] == "exec" and argv[3:] == ["ip", "-4", "route"]:
    print(  # a Calico BGP node: a peer's block learned from BIRD, its own blackhole and pod
        "default via 172.18.0.1 dev eth0\n"
        "172.18.0.0/16 dev eth0 proto kernel scope link src 172.18.0.3\n"
        "192.168.33.0/26 via 172.18.0.4 dev eth0 proto bird\n"
        "blackhole 192.168.186.128/26 proto bird\n"
        "192.168.186.129 dev cali1234 scope link"
    )
elif tool == "docker" and argv[1:3] == ["network", "inspect"]:
    print("1500")
elif tool == "docker" and argv[1] == "run" and "CapBnd" in argv:  # $FAKE_CAPBND: the mask
    print("CapBnd:\t" + os.environ.get("FAKE_CAPBND", "000001ffffffffff"))
elif tool == "docker" and argv[1] == "info" and "{{.CgroupVersion}}" in argv:
    print(os.environ.get("FAKE_CGROUP_VERSION", "2"))
elif tool == "docker" and argv[1] == "info":
    print("29.0.0")
elif tool == "docker" and argv[1:3] == ["image", "inspect"]:
    image = argv[-1]
    if image in os.environ.get("FAKE_ABSENT_IMAGES", "").split(","):
        sys.stderr.write(f"Error: No such image: {image}\n")
        sys.exit(1)
    if "--format" in argv:
        print(os.environ.get("FAKE_IMAGE_LABELS", "null"))
