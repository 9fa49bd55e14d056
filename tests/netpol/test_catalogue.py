"""The catalogue loads, is in sync with its generator, and resolves on any cluster."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from netconform.errors import InputError
from netconform.netpol import variations
from netconform.netpol.catalogue import (
    SetPodLabels,
    default_catalogue_dir,
    load_cases_file,
    load_catalogue,
    select,
)

CASES = load_catalogue()


def test_generated_files_are_in_sync_with_the_generator() -> None:
    for group in variations.GROUPS:
        path = default_catalogue_dir() / f"generated-{group}.yaml"
        assert path.read_text(encoding="utf-8") == variations.render(group), (
            f"{path} is stale: run python -m netconform.netpol.variations scenarios/netpol"
        )


def test_catalogue_size_and_tags() -> None:
    tags = Counter(t for c in CASES for t in c.tags)
    assert tags["upstream-e2e"] == 48
    assert tags["generated"] >= 80
    for tag in ("named-port", "end-port", "ip-block", "conflict", "action", "sctp", "udp"):
        assert tags[tag] > 0, tag


def test_every_case_resolves_and_probes_something() -> None:
    for case in CASES:
        steps = case.resolve().steps
        assert steps, case.id
        assert all(s.step.probes for s in steps), case.id
        assert all(s.expected() for s in steps), case.id


def test_cases_are_selectable_by_tag() -> None:
    named = select(CASES, ["named-port"])
    assert named
    assert all("named-port" in c.tags for c in named)
    both = select(CASES, ["named-port", "egress"])
    assert both
    assert len(both) < len(named)
    assert all("egress" in c.tags for c in both)


def test_ip_placeholders_follow_the_cluster_the_case_runs_on() -> None:
    case = next(c for c in CASES if c.id == "upstream.tcp.egress-cidr")
    model = case.model()
    pods = tuple(replace(p, ip=f"172.16.0.{i + 1}") for i, p in enumerate(model.pods))
    real = replace(model, pods=pods)
    step = case.resolve(real).steps[0]
    y_b = real.pod("y/b").ip
    assert step.manifests[0]["spec"]["egress"][0]["to"][0]["ipBlock"]["cidr"] == f"{y_b}/32"
    allowed = {(v.probe.source, v.probe.destination) for v in step.expected() if v.allowed}
    assert ("x/a", "y/b") in allowed
    assert ("x/a", "y/a") not in allowed


def test_label_actions_change_the_state_of_later_steps() -> None:
    case = next(c for c in CASES if c.id == "upstream.tcp.ingress-from-updated-pod")
    assert isinstance(case.steps[1].actions[0], SetPodLabels)
    first, second = case.resolve().steps
    assert first.cluster.pod("x/b").labels == {"pod": "b"}
    assert second.cluster.pod("x/b").labels == {"pod": "b", "pod2": "updated"}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            "cases: [{id: a.b, steps: [{actions: [{create-policy: {metadata: "
            "{name: p, namespace: x}, spec: {ingress: [{ports: [{port: 80, endPort: 1}]}]}}}], "
            "probes: [80/TCP]}]}]",
            "cases[0] (a.b).steps[0].actions[0] spec.ingress[0].ports[0].endPort",
        ),
        ("cases: [{id: a.b, pods: [x/q], steps: [{probes: [80/TCP]}]}]", "cases[0] (a.b).pods"),
        ("cases: [{id: a.b, steps: [{probes: [80/ICMP]}]}]", "cases[0] (a.b).steps[0].probes[0]"),
        (
            "cases: [{id: a.b, steps: [{actions: [{explode: {}}]}]}]",
            "actions[0].explode: unknown action",
        ),
        ("cases: [{id: a.b, colour: red, steps: []}]", "cases[0].colour: unknown field"),
        ("nothing: here", "cases: expected a top-level"),
    ],
)
def test_bad_case_files_name_the_file_case_and_field(
    tmp_path: Path, text: str, fragment: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_cases_file(path)
    assert str(info.value).startswith(f"{path}: ")
    assert fragment in str(info.value)


def test_the_catalogue_is_parsed_once_per_process_while_its_files_stay(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from netconform.netpol import catalogue

    parsed: list[Path] = []
    real = catalogue.load_cases_file

    def counting(path: Path) -> list[catalogue.Case]:
        parsed.append(path)
        return real(path)

    monkeypatch.setattr(catalogue, "load_cases_file", counting)
    catalogue._parsed.cache_clear()
    files = sorted(catalogue.default_catalogue_dir().glob("*.yaml"))
    first = catalogue.load_catalogue()
    for _ in range(3):  # the aspect table, the NetworkPolicy checks, the plan
        assert catalogue.load_catalogue() == first
    assert parsed == files  # each file once
    own = tmp_path / "cases"
    own.mkdir()
    (own / "a.yaml").write_bytes(files[0].read_bytes())
    catalogue.load_catalogue(own)
    (own / "a.yaml").write_bytes(files[0].read_bytes() + b"\n")  # changed: parsed again
    catalogue.load_catalogue(own)
    assert parsed[len(files) :] == [own / "a.yaml", own / "a.yaml"]
