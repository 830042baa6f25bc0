"""The report of a run: the self-contained HTML page, the JSON run file, the merge of shards, the Markdown summary.

Records come from the plugin (:class:`pytest_featviz.claims.Record`); nothing here knows TensorFlow.
"""

from __future__ import annotations

from .page import render_report, sections, write_report
from .rows import embed_png, png_size
from .run import RUN_FORMAT, RUN_SCHEMA, Run, assertion_outcome, find_runs, merge_runs, read_run, write_run
from .summary import render_summary, write_summary

__all__ = [
    "render_report",
    "write_report",
    "sections",
    "embed_png",
    "png_size",
    "Run",
    "RUN_FORMAT",
    "RUN_SCHEMA",
    "assertion_outcome",
    "find_runs",
    "merge_runs",
    "read_run",
    "write_run",
    "render_summary",
    "write_summary",
]
