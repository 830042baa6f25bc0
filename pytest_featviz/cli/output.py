"""What the ``featviz`` command shows: a progress bar on stderr, and plain-text tables on stdout."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

__all__ = ["progress", "table"]


@contextmanager
def progress(phases: int) -> Iterator[Callable[[str], None]]:
    """A progress bar on stderr over ``phases`` named phases; silent when stderr is not a terminal."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task("starting", total=phases)
        done = [-1]

        def phase(text: str) -> None:
            bar.update(task, description=text, completed=max(done[0], 0))
            done[0] += 1

        yield phase


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns under a rule of dashes.

    Examples
    --------
    >>> print(table(("index", "value"), [("0", "1.5"), ("12", "-3")]))
    index  value
    -----  -----
    0      1.5
    12     -3
    """
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    lines = ["  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [headers, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
