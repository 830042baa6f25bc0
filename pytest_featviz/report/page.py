"""The HTML report of a run: a summary, then one section per test, real failures first.

The page has no external resources: pictures are embedded as ``data:`` URIs, the style
sheet and the filter script are inline, and a Content-Security-Policy forbids the browser
from fetching anything else, so the file can be mailed, archived as a CI artifact or opened
offline. Without JavaScript every test and assertion is shown and the filter bar is absent.

An assertion is ``failed`` (a real failure: its test failed), ``caught`` (its test passed:
``pytest.raises``, a warning), ``expected`` (its test xfailed) or ``passed``; each is a
``<tbody class="assertion OUTCOME">`` with the marker ``FAILED``, ``caught``, ``expected``
or ``passed``.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from .._io import write_atomic
from ..claims import Record
from ..errors import FeatvizTypeError
from .assets import POLICY, SCRIPT, STYLE
from .rows import COLUMNS, HEADINGS, assertion_rows, esc
from .run import OUTCOMES, Run, assertion_outcome

__all__ = ["render_report", "write_report", "sections"]

_TEST_OUTCOMES = ("failed", "error", "xpassed", "xfailed", "skipped", "passed", "unknown")  # unknown: record.json


def sections(run: Run) -> list[tuple[str, str, list[tuple[Record, str]]]]:
    """``(test, state, [(record, outcome), ...])`` per test, in the report's order: real failures first.

    A test's state is its worst assertion's outcome (``failed`` < ``caught`` < ``expected`` < ``passed``);
    a test that failed for another reason comes right after the real failures. Ties go by test id;
    within a test the assertions keep the order they ran in.

    Examples
    --------
    >>> run = Run.of([{"kind": "k", "test": "a", "outcome": "passed"},
    ...               {"kind": "k", "passed": False, "test": "b", "outcome": "failed"}])
    >>> [(test, state) for test, state, _ in sections(run)]
    [('b', 'failed'), ('a', 'passed')]
    """
    by_test: dict[str, list[tuple[Record, str]]] = {}
    for record in run.records:
        by_test.setdefault(str(record.test or "-"), []).append((record, assertion_outcome(record)))
    found = []
    for test, rows in by_test.items():
        state = min((outcome for _, outcome in rows), key=OUTCOMES.index)
        test_failed = run.tests.get(test, {}).get("outcome") in ("failed", "error")
        rank = OUTCOMES.index(state) * 2 + (0 if state == "failed" or test_failed else 1)
        found.append((rank, test, state, rows))
    return [(test, state, rows) for _, test, state, rows in sorted(found, key=lambda f: (f[0], f[1]))]


def _plural(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def _counts_table(counts: Counter[str]) -> str:
    head = "".join(f"<th>{o}</th>" for o in OUTCOMES)
    cells = "".join(f'<td class="{o}">{counts[o]}</td>' for o in OUTCOMES)
    return (
        f'<table class="counts"><tr><th></th>{head}<th>total</th></tr>'
        f"<tr><th>assertions</th>{cells}<td>{sum(counts.values())}</td></tr></table>"
    )


def _when(started: Any, finished: Any) -> str:
    """``2026-12-01 06:19:30 UTC, 35 s`` from ISO times (as they are when they do not parse)."""
    try:
        start, end = datetime.fromisoformat(str(started)), datetime.fromisoformat(str(finished))
    except ValueError:
        return " to ".join(str(t) for t in (started, finished) if t)
    return f"{start:%Y-%m-%d %H:%M:%S} {start.tzname() or ''}, {(end - start).total_seconds():.0f} s".replace(" ,", ",")


def _metadata(run: Run) -> str:
    """The environment (once where every shard agrees, per shard where they differ) and each shard's host and time."""
    environments = [dict(s.get("environment") or {}) for s in run.shards]
    keys = list(dict.fromkeys(k for e in environments for k in e))
    same = [k for k in keys if all(e.get(k) == environments[0].get(k) for e in environments)]
    items: list[tuple[str, Any]] = [(k, environments[0][k]) for k in same]
    for shard, environment in zip(run.shards, environments):
        where = " on ".join(str(v) for v in (shard.get("shard"), shard.get("host")) if v)
        when = _when(shard.get("started"), shard.get("finished"))
        if where or when:
            items.append(("shard" if shard.get("shard") else "host", f"{where} {when}".strip()))
        items += [(f"{where or 'shard'}: {k}", v) for k, v in environment.items() if k not in same]
    return "".join(f"<div><dt>{esc(k)}</dt><dd>{esc(v)}</dd></div>" for k, v in items)


def _summary(run: Run) -> str:
    counts = Counter(assertion_outcome(r) for r in run.records)
    tests = Counter(str(t.get("outcome", "passed")) for t in run.tests.values())
    with_records = len({r.test for r in run.records})
    if not run.records:
        verdict = '<p class="verdict">no featviz assertions ran</p>'
    elif counts["failed"]:
        verdict = f'<p class="verdict failed">{_plural(counts["failed"], "real featviz failure")}</p>'
    else:
        verdict = '<p class="verdict ok">every featviz claim held</p>'
    apart = counts["caught"] + counts["expected"]
    aside = f"; {apart} failures caught or expected in tests that passed or xfailed (counted apart)" if apart else ""
    named = {"unknown": "of unknown outcome"}
    by_outcome = ", ".join(f"{tests[o]} {named.get(o, o)}" for o in _TEST_OUTCOMES if tests[o])
    line = (
        f'<p class="tests">{_plural(len(run.records), "featviz assertion")} in {_plural(with_records, "test")}; '
        f"{_plural(sum(tests.values()), 'test')} ran ({by_outcome or 'none'}){aside}</p>"
    )
    return (
        f'<section id="summary">{verdict}{_counts_table(counts)}{line}'
        f'<dl class="environment">{_metadata(run)}</dl></section>'
    )


def _filters(run: Run) -> str:
    counts = Counter(assertion_outcome(r) for r in run.records)
    kinds = Counter(r.kind for r in run.records)

    def box(name: str, value: str, n: int) -> str:
        return f'<label><input type="checkbox" name="{name}" value="{esc(value)}" checked> {esc(value)} ({n})</label>'

    outcomes = "".join(box("outcome", o, counts[o]) for o in OUTCOMES)
    kind_boxes = "".join(box("kind", k, n) for k, n in sorted(kinds.items()))
    return (
        '<nav id="filters" hidden>'
        f"<fieldset><legend>outcome</legend>{outcomes}</fieldset>"
        f"<fieldset><legend>assertion</legend>{kind_boxes}</fieldset>"
        '<input type="search" id="search" placeholder="search tests, claims, objectives" aria-label="search">'
        '<span id="shown"></span></nav>'
    )


def _section(index: int, first: int, test: str, state: str, rows: list[tuple[Record, str]], run: Run) -> str:
    info = run.tests.get(test, {})
    shard, host = info.get("shard") or rows[0][0].shard, info.get("host") or rows[0][0].host
    where = " ".join(f"{k} {v}" for k, v in (("shard", shard), ("on", host)) if v)
    outcome = info.get("outcome") or rows[0][0].outcome or "-"
    meta = ("test outcome unknown (record.json)" if outcome == "unknown" else f"test {esc(outcome)}") + (
        f" &middot; {esc(where)}" if where else ""
    )
    message = info.get("message")
    account = (
        f'<details class="message"{" open" if state == "failed" else ""}><summary>failure message</summary>'
        f"<pre>{esc(message)}</pre></details>"
        if message
        else ""
    )
    cols = "".join(f'<col class="{c}">' for c in COLUMNS)
    head = "".join(f"<th>{h}</th>" for h in HEADINGS)
    body = "".join(assertion_rows(first + i, record, outcome) for i, (record, outcome) in enumerate(rows))
    return (
        f'<section class="test {state}" id="test-{index}"><h2><span class="badge {state}">{state.upper()}</span>'
        f'<code class="test-id">{esc(test)}</code><span class="test-meta">{meta}</span></h2>'
        f'<table class="assertions"><colgroup>{cols}</colgroup><thead><tr>{head}</tr></thead>{body}</table>'
        f"{account}</section>"
    )


def render_report(
    records: Run | Iterable[Record | Mapping[str, Any]],
    *,
    header: Mapping[str, Any] | None = None,
    title: str = "featviz report",
) -> str:
    """The HTML text of the report of a run (or of bare ``records``): a summary, then one section per test.

    Parameters
    ----------
    records : Run, or iterable of Record or dict
        A :class:`~pytest_featviz.report.Run` (records, test outcomes and failure messages, shards),
        or one record per assertion as the plugin collects them (a dict needs ``kind``). Missing
        fields show as ``-``; fields without a cell of their own are listed in the row's details.
    header : mapping, optional
        The run's environment (library versions, the base seed), for bare ``records``.
    title : str
        The page's title.

    Returns
    -------
    str

    Examples
    --------
    >>> page = render_report([{"test": "t.py::a", "kind": "assert_reaches", "passed": False}],
    ...                      header={"seed": 0})
    >>> '<tbody class="assertion failed"' in page and "FAILED" in page
    True
    """
    run = records if isinstance(records, Run) else Run.of(records, header)
    parts, first = [], 0
    for index, (test, state, rows) in enumerate(sections(run)):
        parts.append(_section(index, first, test, state, rows, run))
        first += len(rows)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head>\n<body>\n"
        f"<header><h1>{esc(title)}</h1>{_summary(run)}{_filters(run)}</header>\n"
        f"<main>\n{chr(10).join(parts)}\n</main>\n<script>{SCRIPT}</script>\n</body></html>\n"
    )


def write_report(
    path: str | os.PathLike[str],
    records: Run | Iterable[Record | Mapping[str, Any]],
    *,
    header: Mapping[str, Any] | None = None,
    title: str = "featviz report",
) -> Path:
    """Write the self-contained HTML report of ``records`` to ``path``; return the path.

    Pictures are read from their PNG files now and embedded, so the page does not
    depend on them afterwards. The file is written to a temporary file in the same
    folder and renamed into place (missing folders are created).

    Parameters
    ----------
    path : str or os.PathLike
        The ``.html`` file to write.
    records, header, title
        As in :func:`render_report`.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = write_report(pathlib.Path(tempfile.mkdtemp()) / "report.html", [], header={"seed": 0})
    >>> "no featviz assertions ran" in out.read_text()
    True
    """
    if not isinstance(path, (str, os.PathLike)):
        raise FeatvizTypeError(f"path must be a str or os.PathLike; got {type(path).__name__}")
    text = render_report(records, header=header, title=title)
    return write_atomic(Path(path), text.encode("utf-8"))  # renamed into place: never half a page
