"""`netconform plan`: render every object and step of a Kubernetes platform, run nothing."""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Sequence
from pathlib import Path

from netconform.errors import InputError
from netconform.inputs import output_dir
from netconform.k8s import plan, profiles


def add_plan_arguments(parser: argparse.ArgumentParser, platforms: Sequence[str]) -> None:
    """`platforms`: the Kubernetes platforms of the platform table (the CLI checks the name)."""
    parser.add_argument("--platform", required=True, help=f"one of {', '.join(platforms)}")
    parser.add_argument("--out", required=True, type=Path, help="directory to render into")
    parser.add_argument(
        "--artifacts",
        type=Path,
        default=None,
        help="read the pinned CNI files from this directory instead of downloading them "
        "(still sha256-verified)",
    )
    parser.add_argument("--run-id", default=None, help="run id to render (default: random)")
    parser.add_argument(
        "--nodes",
        default="node-1,node-2,node-3",
        help="cluster platform: the node names to place pods on",
    )
    parser.add_argument("--image", default="", help="cluster platform: the probe image")
    parser.add_argument("--dns-ip", default="10.96.0.10", help="cluster platform: kube-dns IP")


def run_plan(args: argparse.Namespace) -> int:
    """Render every object and step of the platform into --out; runs nothing."""
    run_id = args.run_id or uuid.uuid4().hex[:6]
    out = output_dir(args.out, "--out")
    if args.platform == "cluster":
        nodes = [n for n in args.nodes.split(",") if n]
        image = args.image or plan.probe_image_tag()
        rendered = plan.render_cluster(run_id, out, nodes, image, args.dns_ip)
    else:
        profile = profiles.load_profile(args.platform.removeprefix("kind-"))
        source = (
            plan.directory_source(args.artifacts, plan.reference_copies(profile))
            if args.artifacts
            else plan.artifact_source()
        )
        try:
            rendered = plan.render_kind(args.platform, profile, run_id, out, source)
        except FileNotFoundError as exc:
            raise InputError(f"--artifacts: {exc}") from None
    steps = len(rendered.steps) + len(rendered.teardown)
    print(f"{len(rendered.files)} files and {steps} steps in {out}")
    return 0
