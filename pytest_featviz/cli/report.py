"""``featviz report merge DIR... -o report.html``: one report of the shards of a run split across CI jobs.

Each DIR is a shard's artifacts folder (or a run file itself): every ``featviz-run*.json`` in it, at any
depth, is read, so downloaded CI artifacts can be passed as they are; so is every ``record.json`` outside
their folders (the artifacts of versions that wrote no run file: test outcomes unknown). The merged report lists the records
of all shards as if they had run at once; ``--summary`` writes the Markdown summary, ``--records`` the
merged run file. Exit code 0, or 1 when a shard holds a real failure (``--exit-zero`` always 0).
"""

from __future__ import annotations

import argparse

from ..report import find_runs, merge_runs, read_run, write_report, write_run, write_summary

__all__ = ["add_command", "run"]


def run(args: argparse.Namespace) -> int:
    """Merge the run files under ``args.paths`` and write the report (and the summary and merged records)."""
    from ..report import assertion_outcome

    files = find_runs(args.paths)
    merged = merge_runs(read_run(path) for path in files)
    older = sum(path.name == "record.json" for path in files)
    read = f"{len(files) - older} run files" + (
        f" and {older} record.json files (test outcomes unknown)" if older else ""
    )
    print(f"merged {read}: {len(merged.records)} featviz assertions in {len(merged.tests)} tests")
    print(f"report: {write_report(args.out, merged, title=args.title)}")
    if args.summary:
        print(f"summary: {write_summary(args.summary, merged)}")
    if args.records:
        print(f"records: {write_run(args.records, merged)}")
    failures = sum(assertion_outcome(r) == "failed" for r in merged.records)
    if failures:
        print(f"{failures} real featviz failures")
    return 1 if failures and not args.exit_zero else 0


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``report`` (``report merge``) to the ``featviz`` command's subparsers."""
    report = sub.add_parser(
        "report",
        help="merge the records of shards of a run into one HTML report",
        epilog="example:\n  featviz report merge shard-1/ shard-2/ -o report.html --summary summary.md",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = report.add_subparsers(dest="action", required=True, metavar="{merge}")
    merge = actions.add_parser("merge", help="one report of the featviz-run*.json files under each DIR")
    merge.add_argument(
        "paths", nargs="+", metavar="DIR", help="a shard's artifacts folder (featviz-run*.json, record.json), or a file"
    )
    merge.add_argument("-o", "--out", required=True, metavar="FILE.html", help="the merged HTML report")
    merge.add_argument("--summary", metavar="FILE.md", help="also write the Markdown summary")
    merge.add_argument("--records", metavar="FILE.json", help="also write the merged run file")
    merge.add_argument("--title", default="featviz report", help="the report's title")
    merge.add_argument("--exit-zero", action="store_true", help="exit 0 even when a shard has real failures")
    merge.set_defaults(run=run)
