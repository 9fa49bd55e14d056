"""`netconform report RUN_DIR... --out DIR`: the comparison files and the Allure report."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from netconform.errors import NetconformError
from netconform.report.allure_report import generate_allure_report
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
        help="a run directory holding results.json (or the results.json itself)",
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
    comparison = merge_runs(load_runs(args.run_dirs))
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / HTML_FILE).write_text(render_html(comparison), encoding="utf-8")
    (out / MARKDOWN_FILE).write_text(render_markdown(comparison), encoding="utf-8")
    (out / JSON_FILE).write_text(
        json.dumps(comparison_to_json(comparison), indent=1) + "\n", encoding="utf-8"
    )
    for name in (HTML_FILE, MARKDOWN_FILE, JSON_FILE):
        print(f"wrote {out / name}")
    crashed = [c.label for c in comparison.columns if c.crashed]
    if crashed:
        print(f"note: incomplete (crashed) runs shown as such: {', '.join(crashed)}")
    if not args.no_allure:
        # A missing Node or a failed Allure build never costs the comparison files.
        print(generate_allure_report(comparison, out, args.history).message)
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
