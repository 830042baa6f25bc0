"""A small progress bar on stderr for long runs (ascent; reusable by bounds and the CLI).

Shown only when asked for (``progress=True``) or, by default, when stderr is a
terminal; never in CI logs unless asked. The environment variable
``FEATVIZ_PROGRESS=1`` (or ``0``) forces it on (or off) where the caller leaves the
choice automatic (``progress=None``).

Examples
--------
>>> import io
>>> out = io.StringIO()
>>> with Progress(4, "ascent", enabled=True, stream=out) as bar:
...     bar.update(2)
...     bar.update(2)
>>> bar.done, bar.total
(4, 4)
"""

from __future__ import annotations

import os
import sys
import time
from typing import IO, Any

from ._validation import check_bool

__all__ = ["Progress", "progress_enabled"]

ENV = "FEATVIZ_PROGRESS"
_WIDTH = 24


def progress_enabled(progress: bool | None, stream: IO[str] | None = None) -> bool:
    """Whether to show progress: ``progress`` itself, else ``$FEATVIZ_PROGRESS``, else whether ``stream`` is a terminal.

    Examples
    --------
    >>> import io
    >>> progress_enabled(True), progress_enabled(None, io.StringIO())
    (True, False)
    """
    progress = check_bool(progress, "progress", allow_none=True)  # None: automatic (stderr is a terminal)
    if progress is not None:
        return progress
    env = os.environ.get(ENV, "").strip().lower()
    if env in ("1", "true", "yes", "on"):
        return True
    if env in ("0", "false", "no", "off"):
        return False
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Progress:
    """A one-line bar ``desc [####......] done/total  elapsed`` redrawn in place on ``stream``.

    Parameters
    ----------
    total : int
        Units of work (for the ascent: iterations of every chunk of items).
    desc : str
        What is running, shown before the bar.
    enabled : bool, optional
        ``None``: see :func:`progress_enabled`. When off, every method does nothing.
    stream : file, optional
        Default ``sys.stderr``.
    """

    def __init__(self, total: int, desc: str, enabled: bool | None = None, stream: IO[str] | None = None):
        self.stream = sys.stderr if stream is None else stream
        self.enabled = progress_enabled(enabled, self.stream)
        self.total, self.desc, self.done = max(int(total), 1), desc, 0
        self._start = time.perf_counter()
        if self.enabled:
            self._draw()

    def update(self, n: int) -> None:
        """Count ``n`` more units done and redraw."""
        self.done = min(self.done + int(n), self.total)
        if self.enabled:
            self._draw()

    def close(self) -> None:
        """End the line (the bar stays as the run's summary)."""
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _draw(self) -> None:
        filled = int(_WIDTH * self.done / self.total)
        elapsed = time.perf_counter() - self._start
        self.stream.write(
            f"\r{self.desc} [{'#' * filled}{'.' * (_WIDTH - filled)}] {self.done}/{self.total}  {elapsed:.1f}s"
        )
        self.stream.flush()
