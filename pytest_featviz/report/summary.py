"""The Markdown summary of a run for CI job summaries: the counts, then every real failure with its account."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from .._io import write_atomic
from .rows import number
from .run import OUTCOMES, Run, assertion_outcome

__all__ = ["render_summary", "write_summary"]


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_summary(run: Run, *, title: str = "featviz") -> str:
    """Markdown: the assertions by outcome, then one entry per real failure (caught and expected ones only counted).

    Each entry names the test, the assertion, its claim, the deciding value against the threshold,
    where it ran, and the test's failure message (the account) in a code block.

    Examples
    --------
    >>> from pytest_featviz.claims import Record
    >>> run = Run.of([Record("assert_reaches", False, claim="x reaches >= 2", test="t::a", outcome="failed"),
    ...               Record("assert_reaches", False, test="t::b", outcome="xfailed")])
    >>> text = render_summary(run)
    >>> "1 real featviz failure" in text, "t::a" in text, "t::b" in text
    (True, True, False)
    """
    counts = Counter(assertion_outcome(r) for r in run.records)
    failures = [r for r in run.records if assertion_outcome(r) == "failed"]
    tests = len({r.test for r in run.records})
    head = (
        f"{len(failures)} real featviz failure{'s' if len(failures) != 1 else ''}" if failures else "every claim held"
    )
    lines = [
        f"## {title}: {head}",
        "",
        f"{len(run.records)} featviz assertion{'s' * (len(run.records) != 1)} in {tests} test{'s' * (tests != 1)}.",
        "",
        "| " + " | ".join(OUTCOMES) + " |",
        "|" + " --- |" * len(OUTCOMES),
        "| " + " | ".join(str(counts[o]) for o in OUTCOMES) + " |",
        "",
        "caught: failed inside a test that passed (pytest.raises, a warning); expected: in an xfail test.",
    ]
    shown_messages: set[str] = set()
    for record in failures:
        info = run.tests.get(str(record.test), {})
        where = " ".join(f"{k} {v}" for k, v in (("shard", record.shard), ("on", record.host)) if v)
        lines += [
            "",
            f"### FAILED `{record.test}`",
            "",
            f"- **{record.kind}**: {_cell(record.claim or record.objective or '-')}",
            f"- deciding value {number(record.decided_by())}, threshold {number(record.threshold)}"
            + (f" ({where})" if where else ""),
        ]
        if info.get("outcome") == "unknown":
            lines.append("- test outcome unknown (read from a record.json): it may have been caught or expected")
        message = info.get("message")
        if message and str(record.test) not in shown_messages:  # one account per test
            shown_messages.add(str(record.test))
            fence = "````" if "```" in str(message) else "```"
            lines += ["", f"{fence}text", str(message).rstrip(), fence]
    return "\n".join(lines) + "\n"


def write_summary(path: str | os.PathLike[str], run: Run, *, title: str = "featviz") -> Path:
    """Write :func:`render_summary` of ``run`` to ``path`` (atomically); return the path.

    Examples
    --------
    >>> import tempfile
    >>> out = write_summary(Path(tempfile.mkdtemp()) / "summary.md", Run())
    >>> out.read_text().splitlines()[0]
    '## featviz: every claim held'
    """
    return write_atomic(Path(path), render_summary(run, title=title).encode("utf-8"))
