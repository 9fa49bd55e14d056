"""`netconform report RUN_DIR... --out DIR`: the comparison files and the Allure report."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from netconform.errors import NetconformError
from netconform.inputs import finite, output_dir
from netconform.report import approaches, netpol_summary, selftest_section
from netconform.report.allure_report import checked_history, generate_allure_report
from netconform.report.compare import comparison_to_json, load_runs, merge_runs
from netconform.report.html import render_html
from netconform.report.markdown import render_markdown

HTML_FILE = "comparison.html"
MARKDOWN_FILE = "comparison.md"
JSON_FILE = "comparison.json"


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "run_dirs",
        metavar="RUN_DIR",
        nargs="+",
        type=Path,
        help="a run directory holding results.json (or the results.json itself), or a "
        "`netconform selftest` output directory (selftest.json)",
    )
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output directory")
    parser.add_argument(
        "--history",
        type=Path,
        metavar="DIR",
        help="a previous report's history directory (history.jsonl) to carry the Allure trend on",
    )
    parser.add_argument("--no-allure", action="store_true", help="write only the comparison files")


def run_report(args: argparse.Namespace) -> int:
    selftest_dirs = [d for d in args.run_dirs if selftest_section.is_selftest_dir(d)]
    selftests = [selftest_section.load_selftest(d) for d in selftest_dirs]
    comparison = merge_runs(load_runs([d for d in args.run_dirs if d not in selftest_dirs]))
    history = checked_history(args.history) if args.history else None
    out = output_dir(args.out, "--out")  # exit 2 naming --out, before any work
    (out / HTML_FILE).write_text(render_html(comparison, selftests=selftests), encoding="utf-8")
    markdown = render_markdown(comparison) + selftest_section.render_markdown(selftests)
    (out / MARKDOWN_FILE).write_text(markdown, encoding="utf-8")
    merged = comparison_to_json(comparison) | {
        **{
            section.json_key: netpol_summary.summary_json(comparison, section)
            for section in netpol_summary.SECTIONS
        },
        "approaches": approaches.summary_json(comparison),
        "selftests": selftests,
    }
    (out / JSON_FILE).write_text(
        json.dumps(finite(merged), indent=1, allow_nan=False) + "\n", encoding="utf-8"
    )
    for name in (HTML_FILE, MARKDOWN_FILE, JSON_FILE):
        print(f"wrote {out / name}")
    unprovisioned = [c.label for c in comparison.columns if c.provisioning_error]
    stopped = [
        f"{c.label} ({c.ending})"
        for c in comparison.columns
        if c.incomplete and not c.provisioning_error
    ]
    if unprovisioned:
        print(f"note: platforms not provisioned, shown with the reason: {', '.join(unprovisioned)}")
    if stopped:
        print(f"note: runs that stopped early, shown as such: {', '.join(stopped)}")
    if not args.no_allure:
        # A missing Node or a failed Allure build never costs the comparison files.
        print(generate_allure_report(comparison, out, history).message)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="netconform report", description="Compare runs of netconform across platforms."
    )
    add_report_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_report(args)
    except NetconformError as exc:
        print(f"netconform report: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
