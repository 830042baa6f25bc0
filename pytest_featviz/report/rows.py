"""One assertion of the report: its row of facts and, beneath it, its pictures at a readable size."""

from __future__ import annotations

import base64
import html
import os
import struct
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..claims import Record

__all__ = ["embed_png", "png_size", "assertion_rows", "COLUMNS", "esc", "number"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLUMNS = ("outcome", "kind", "claim", "threshold", "deciding", "details")
HEADINGS = ("Outcome", "Assertion", "Claim", "Threshold", "Deciding value", "Details")
MARKERS = {"failed": "FAILED", "caught": "caught", "expected": "expected", "passed": "passed"}
# fields with a cell of their own (or shown elsewhere); every other one goes to the details
_OWN = frozenset(
    {"test", "outcome", "passed", "kind", "claim", "objective", "constraints", "threshold", "deciding_value"}
    | {"picture", "pictures", "metrics", "shard", "host"}
)
_DETAILS_FIRST = ("model", "seed", "steps", "status", "values", "best_value")
_ORDER = ("obtained", "expected", "baseline", "difference")  # a baseline's pictures side by side, in this order
_WIDTH, _HEIGHT, _ZOOM = 1100, 420, 8  # the room for one row of pictures, the tallest, the largest upscaling


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _summary_of(values: Any) -> str:
    """A short text of a per-item list: every value when there are few, else min / max."""
    if not isinstance(values, Sequence) or isinstance(values, str):
        return number(values)
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if len(numbers) != len(values) or len(values) <= 6:
        return "[" + ", ".join(number(v) for v in values) + "]"
    return f"{len(values)} items, min {number(min(numbers))}, max {number(max(numbers))}"


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


def png_size(uri: str) -> tuple[int, int]:
    """``(width, height)`` of the PNG in a ``data:`` URI, read from its header.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from pytest_featviz.render import save_png
    >>> png_size(embed_png(save_png(pathlib.Path(tempfile.mkdtemp()) / "a.png", np.zeros((3, 5), np.uint8))))
    (5, 3)
    """
    head = base64.b64decode(uri.split(",", 1)[1][:44])  # signature, IHDR length and type, width, height
    width, height = struct.unpack(">II", head[16:24])
    return int(width), int(height)


def _display_size(width: int, height: int, share: int) -> tuple[int, int]:
    """The size to show a ``width`` x ``height`` picture at when ``share`` pictures share a row.

    Small pictures are enlarged by a whole factor (sharp pixels), large ones shrunk to fit.
    """
    room = _WIDTH // max(1, min(share, 3)) - 12
    zoom = min(_ZOOM, room // max(width, 1), _HEIGHT // max(height, 1))
    if zoom >= 1:
        return width * zoom, height * zoom
    shrink = min(room / width, _HEIGHT / height)
    return max(1, round(width * shrink)), max(1, round(height * shrink))


def _pictures(record: Record) -> list[tuple[str, str]]:
    """``(caption, path)`` pairs: named pictures (obtained / expected / difference first), then ``picture``."""
    named = [(str(name), path) for name, path in (record.pictures or {}).items() if path]
    named.sort(key=lambda pair: _ORDER.index(pair[0]) if pair[0] in _ORDER else len(_ORDER))
    return named + ([("inputs found", record.picture)] if record.picture else [])


def _figures(record: Record) -> str:
    pictures = _pictures(record)
    parts = []
    for caption, path in pictures:
        uri = embed_png(path)
        if uri is None:
            parts.append(f'<p class="missing">picture missing or not a PNG: {esc(path)}</p>')
            continue
        width, height = png_size(uri)
        shown = _display_size(width, height, len(pictures))
        label = esc(caption)
        parts.append(
            f'<figure><label class="zoom" title="click to enlarge"><input type="checkbox" hidden>'
            f'<img src="{uri}" alt="{label}" width="{shown[0]}" height="{shown[1]}"></label>'
            f"<figcaption>{label} ({width}&times;{height} px)</figcaption></figure>"
        )
    return f'<div class="group">{"".join(parts)}</div>' if parts else ""


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
        f"<tr><td>{esc(n)}</td>" + "".join(f"<td>{esc(number(row.get(n)))}</td>" for row in rows) + "</tr>"
        for n in names
    )
    return f'<details class="metrics"><summary>structure metrics</summary><table class="metrics">{head}{body}</table></details>'


def _details(data: Mapping[str, Any]) -> str:
    keys = [k for k in _DETAILS_FIRST if k in data] + [k for k in data if k not in _DETAILS_FIRST]
    lines = []
    for key in keys:
        value = data[key]
        if key in _OWN or value is None:
            continue
        text = _summary_of(value) if isinstance(value, Sequence) and not isinstance(value, str) else number(value)
        lines.append(f"<div><b>{esc(key)}</b> <code>{esc(text)}</code></div>")
    if data.get("metrics"):
        lines.append(_metrics_table(data["metrics"]))
    return "".join(lines) or "-"


def _claim(record: Record) -> str:
    parts = [f'<div class="claim-text">{esc(record.claim)}</div>'] if record.claim else []
    parts += [
        f"<div><b>{name}</b> <code>{esc(value)}</code></div>"
        for name, value in (("objective", record.objective), ("constraints", record.constraints))
        if value
    ]
    return "".join(parts) or "-"


def assertion_rows(index: int, record: Record, outcome: str) -> str:
    """The ``<tbody>`` of one assertion: its facts and (in a row of its own) its pictures."""
    data = record.to_dict()
    cells = [
        f'<td class="outcome"><span class="marker">{MARKERS[outcome]}</span></td>',
        f'<td class="kind">{esc(record.kind)}</td>',
        f'<td class="claim">{_claim(record)}</td>',
        f'<td class="threshold">{esc(number(record.threshold))}</td>',
        f'<td class="deciding">{esc(number(record.decided_by()))}</td>',
        f'<td class="details">{_details(data)}</td>',
    ]
    text = " ".join(
        str(data.get(k, ""))
        for k in ("test", "kind", "claim", "objective", "constraints", "model", "name", "shard", "host")
    )
    figures = _figures(record)
    below = f'<tr class="figures"><td class="figures" colspan="{len(COLUMNS)}">{figures}</td></tr>' if figures else ""
    return (
        f'<tbody class="assertion {outcome}" id="assertion-{index}" data-outcome="{outcome}" '
        f'data-kind="{esc(record.kind)}" data-text="{esc(text.lower())}">'
        f'<tr class="facts">{"".join(cells)}</tr>{below}</tbody>'
    )
