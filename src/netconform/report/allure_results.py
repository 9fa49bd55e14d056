"""Allure metadata written at run time: per-result labels and the run-wide files.

Every result carries a non-excluded `platform` parameter: without it, runs of different
platforms collapse into retries of one test when merged (historyId ignores labels).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from netconform.results import CheckResult

CATEGORIES = [
    {
        "name": "Provisioning failed",
        "matchedStatuses": ["broken"],
        "messageRegex": ".*(provision|not ready|EnvironmentUnfit).*",
    },
    {
        "name": "NetworkPolicy not enforced",
        "matchedStatuses": ["failed", "skipped"],
        "messageRegex": ".*not enforc.*",
    },
    {
        "name": "PMTU blackhole",
        "matchedStatuses": ["failed"],
        "messageRegex": ".*(DF payload|PMTU|blackhole|stalled).*",
    },
    {
        "name": "DNS timeout",
        "matchedStatuses": ["failed"],
        "messageRegex": ".*(timeout|unresolved).*",
    },
    {"name": "Check crashed", "matchedStatuses": ["broken"]},
]


def label_result(platform: str, result: CheckResult) -> None:
    """Attach identity, labels and measurements of one check to the current Allure test."""
    import allure

    # allure-pytest ships untyped; one Any keeps the rest of this module strictly typed
    dynamic: Any = allure.dynamic
    dynamic.parameter("platform", platform)
    dynamic.title(f"{result.id}: {result.title}")
    dynamic.label("platform", platform)
    dynamic.parent_suite(platform)
    dynamic.suite(str(result.area))
    dynamic.feature(str(result.area))
    dynamic.story(result.aspect)  # the family-neutral aspect: platforms line up under it
    dynamic.description(f"{result.reason}\n\nSpec: {result.spec}")
    if result.spec.startswith("http"):
        dynamic.link(result.spec.split()[0], name="spec")
    allure.attach(
        json.dumps(result.to_json(), indent=2, default=str),
        name="result",
        attachment_type=allure.attachment_type.JSON,
    )


def write_run_files(alluredir: Path, platform: str, info: Mapping[str, Any]) -> None:
    """environment.properties, categories.json and executor.json: once per run, by the
    controller (allure-pytest writes none of them)."""
    alluredir.mkdir(parents=True, exist_ok=True)
    lines = [f"platform={platform}"]
    for key, value in sorted(info.items()):
        text = value if isinstance(value, str | int | float) else json.dumps(value, sort_keys=True)
        lines.append(f"{key}={str(text).replace(chr(10), ' ')}")
    (alluredir / "environment.properties").write_text("\n".join(lines) + "\n")
    (alluredir / "categories.json").write_text(json.dumps(CATEGORIES, indent=2))
    (alluredir / "executor.json").write_text(
        json.dumps({"name": "netconform", "type": "netconform", "buildName": platform})
    )
