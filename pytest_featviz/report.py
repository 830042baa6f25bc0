"""The HTML report of a run: one self-contained page listing every featviz assertion.

The page has no external resources: pictures are embedded as ``data:`` URIs, the
style sheet is inline, and a Content-Security-Policy forbids the browser from
fetching anything else, so the file can be mailed, archived as a CI artifact or
opened offline. Failed assertions are rows with the CSS class ``failed`` and the
text marker ``FAILED``.

This module takes the records the plugin collects (:class:`pytest_featviz.claims.Record`,
as they travel between pytest-xdist workers as JSON), or their dicts (``Record.to_dict``,
read back through ``Record.from_dict``), and knows nothing about TensorFlow.
"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._io import write_atomic
from .errors import FeatvizTypeError

if TYPE_CHECKING:
    from .claims.record import Record

__all__ = ["render_report", "write_report", "embed_png"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; margin: 0 0 .3em; }
dl.environment { display: flex; flex-wrap: wrap; gap: .2em 1.5em; margin: 0 0 .8em; }
dl.environment dt { font-weight: 600; } dl.environment dd { margin: 0 0 0 .3em; }
dl.environment div { display: flex; }
p.summary { font-size: 1.1em; } p.summary .failed-count { color: #b00020; font-weight: 700; }
table.assertions { border-collapse: collapse; width: 100%; }
table.assertions th, table.assertions td { border: 1px solid #ccc; padding: .35em .5em; vertical-align: top;
  text-align: left; }
table.assertions th { background: #eee; position: sticky; top: 0; }
tr.passed td.outcome { color: #1b5e20; }
tr.failed { background: #fdecea; } tr.failed td.outcome { color: #b00020; font-weight: 700; }
td code, td pre { font: 12px/1.3 ui-monospace, monospace; white-space: pre-wrap; word-break: break-word; }
td.pictures figure { display: inline-block; margin: 0 .5em .5em 0; }
td.pictures img { image-rendering: pixelated; max-width: 480px; border: 1px solid #999; }
td.pictures figcaption { font-size: 12px; color: #555; }
table.metrics td, table.metrics th { border: none; padding: 0 .6em 0 0; font-size: 12px; }
td.test { min-width: 14em; max-width: 22em; } td.details { max-width: 26em; }
td.objective, td.constraints { min-width: 9em; }
.missing { color: #b00020; font-style: italic; }
"""
# keys with a column of their own (or none); every other key a record carries is listed under "Details"
_COLUMN_KEYS = frozenset(
    {
        "test",
        "outcome",
        "passed",
        "kind",
        "objective",
        "constraints",
        "threshold",
        "best_value",
        "picture",
        "pictures",
        "metrics",
    }
)
_DETAILS_FIRST = ("claim", "model", "seed", "steps", "status", "values")


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value)
    if isinstance(value, (int, float)):
        return f"{value:.6g}"
    return str(value)


def _summary_of(values: Any) -> str:
    """A short text of a per-item list: every value when there are few, else min / max."""
    if not isinstance(values, Sequence) or isinstance(values, str):
        return _number(values)
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if len(numbers) != len(values) or len(values) <= 6:
        return "[" + ", ".join(_number(v) for v in values) + "]"
    return f"{len(values)} items, min {_number(min(numbers))}, max {_number(max(numbers))}"


def embed_png(path: str | os.PathLike[str]) -> str | None:
    """The ``data:image/png;base64,...`` URI of a PNG file, or None when it is missing or not a PNG.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from pytest_featviz.render import save_png
    >>> png = save_png(pathlib.Path(tempfile.mkdtemp()) / "a.png", np.zeros((2, 2), np.uint8))
    >>> embed_png(png)[:30]
    'data:image/png;base64,iVBORw0K'
    >>> embed_png(png.with_name("missing.png")) is None
    True
    """
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    if not data.startswith(PNG_SIGNATURE):
        return None
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _pictures(record: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """``(caption, path)`` pairs: ``pictures`` (a mapping, e.g. baseline/obtained/difference), then ``picture``."""
    found: list[tuple[str, Any]] = []
    many = record.get("pictures")
    if isinstance(many, Mapping):
        found += [(str(name), path) for name, path in many.items() if path]
    if record.get("picture"):
        found.append(("inputs found", record["picture"]))
    return found


def _pictures_cell(record: Mapping[str, Any]) -> str:
    parts = []
    for caption, path in _pictures(record):
        uri = embed_png(path)
        if uri is None:
            parts.append(f'<p class="missing">picture missing or not a PNG: {_esc(path)}</p>')
            continue
        label = _esc(caption)
        parts.append(f'<figure><img src="{uri}" alt="{label}"><figcaption>{label}</figcaption></figure>')
    return "".join(parts) or "-"


def _metrics_table(metrics: Any) -> str:
    """Structure metrics: a dict (one image) or a list of dicts (one per image)."""
    rows = [metrics] if isinstance(metrics, Mapping) else list(metrics) if isinstance(metrics, Sequence) else []
    rows = [row for row in rows if isinstance(row, Mapping)]
    if not rows:
        return ""
    names = list(dict.fromkeys(name for row in rows for name in row))
    # one row per metric, one column per image: stays narrow for many metrics
    head = "<tr><th>metric</th>" + "".join(f"<th>image {i}</th>" for i in range(len(rows))) + "</tr>"
    body = "".join(
        f"<tr><td>{_esc(n)}</td>" + "".join(f"<td>{_esc(_number(row.get(n)))}</td>" for row in rows) + "</tr>"
        for n in names
    )
    return f'<table class="metrics">{head}{body}</table>'


def _details_cell(record: Mapping[str, Any]) -> str:
    keys = [k for k in _DETAILS_FIRST if k in record] + [k for k in record if k not in _DETAILS_FIRST]
    lines = []
    for key in keys:
        value = record[key]
        if key in _COLUMN_KEYS or value is None:
            continue
        text = _summary_of(value) if isinstance(value, Sequence) and not isinstance(value, str) else str(value)
        lines.append(f"<div><b>{_esc(key)}</b> <code>{_esc(text)}</code></div>")
    if record.get("metrics"):
        lines.append(_metrics_table(record["metrics"]))
    return "".join(lines) or "-"


def _row(index: int, record: Mapping[str, Any]) -> str:
    passed = bool(record.get("passed", True))
    state, marker = ("passed", "passed") if passed else ("failed", "FAILED")
    outcome = record.get("outcome")
    test_outcome = f'<div class="test-outcome">test {_esc(outcome)}</div>' if outcome else ""
    cells = [
        f'<td class="outcome"><span class="marker">{marker}</span>{test_outcome}</td>',
        f'<td class="test"><code>{_esc(record.get("test", "-"))}</code></td>',
        f'<td class="kind">{_esc(record.get("kind", "-"))}</td>',
        f'<td class="objective"><code>{_esc(record.get("objective", "-"))}</code></td>',
        f'<td class="constraints"><code>{_esc(record.get("constraints", "-"))}</code></td>',
        f'<td class="threshold">{_esc(_number(record.get("threshold")))}</td>',
        f'<td class="best-value">{_esc(_number(record.get("best_value")))}</td>',
        f'<td class="details">{_details_cell(record)}</td>',
        f'<td class="pictures">{_pictures_cell(record)}</td>',
    ]
    return f'<tr class="assertion {state}" id="assertion-{index}">{"".join(cells)}</tr>'


_COLUMNS = (
    "Outcome",
    "Test",
    "Assertion",
    "Objective",
    "Constraints",
    "Threshold",
    "Best value",
    "Details",
    "Pictures",
)


def _check_records(records: Any) -> list[Mapping[str, Any]]:
    """Each record (a Record, or a dict read through ``Record.from_dict``) as the plain dict a row shows."""
    from .claims.record import Record

    if isinstance(records, (str, bytes, Mapping)) or not isinstance(records, Iterable):
        raise FeatvizTypeError(f"records must be a list of dicts (one per assertion); got {type(records).__name__}")
    checked: list[Mapping[str, Any]] = []
    for i, record in enumerate(records):
        if not isinstance(record, (Mapping, Record)):
            raise FeatvizTypeError(f"record {i} must be a Record or a dict; got {type(record).__name__}: {record!r}")
        checked.append((record if isinstance(record, Record) else Record.from_dict(record)).to_dict())
    return checked


def render_report(
    records: Iterable[Record | Mapping[str, Any]],
    *,
    header: Mapping[str, Any] | None = None,
    title: str = "featviz report",
) -> str:
    """The HTML text of the report of ``records``, one table row per assertion.

    Parameters
    ----------
    records : iterable of Record or dict
        One per assertion, as the plugin collects them (a dict needs ``kind``): ``test``, ``kind``,
        ``passed``, ``objective``, ``constraints``, ``threshold``, ``best_value``,
        ``claim``, ``model``, ``seed``, ``steps``, ``status``, ``values``,
        ``metrics``, ``bounds``, ``outcome`` (the test's) and ``picture`` (a PNG
        path) or ``pictures`` (caption -> PNG path, e.g. baseline / obtained /
        difference). Missing keys show as ``-``; any other key (``ssim``, ``name``,
        ...) is listed in the row's details. Rows are sorted by test id, in the
        order of the assertions within a test.
    header : mapping, optional
        Shown at the top, e.g. library versions and the base seed.
    title : str
        The page's title.

    Returns
    -------
    str

    Examples
    --------
    >>> page = render_report([{"test": "t.py::a", "kind": "assert_reaches", "passed": False}],
    ...                      header={"seed": 0})
    >>> '<tr class="assertion failed"' in page and "FAILED" in page
    True
    """
    rows = sorted(_check_records(records), key=lambda r: str(r.get("test", "")))
    failed = sum(not r.get("passed", True) for r in rows)
    tests = len({r.get("test") for r in rows})
    env = "".join(f"<div><dt>{_esc(k)}</dt><dd>{_esc(v)}</dd></div>" for k, v in (header or {}).items())
    count = f'<span class="failed-count">{failed} failed</span>' if failed else "0 failed"
    summary = f"{len(rows)} featviz assertions in {tests} tests, {count}" if rows else "no featviz assertions ran"
    head = "".join(f"<th>{c}</th>" for c in _COLUMNS)
    body = "\n".join(_row(i, r) for i, r in enumerate(rows))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_POLICY}">\n'
        f"<title>{_esc(title)}</title><style>{_STYLE}</style></head>\n<body>\n"
        f'<header><h1>{_esc(title)}</h1><dl class="environment">{env}</dl>'
        f'<p class="summary">{summary}</p></header>\n'
        f'<table class="assertions"><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>\n'
        "</body></html>\n"
    )


def write_report(
    path: str | os.PathLike[str],
    records: Iterable[Record | Mapping[str, Any]],
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
    target = Path(path)
    return write_atomic(target, text.encode("utf-8"))  # renamed into place: never half a page
