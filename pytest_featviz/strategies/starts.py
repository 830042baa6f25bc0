"""Hypothesis strategies for starting points: named patterns (:func:`starting_points`) and real examples (:func:`from_examples`).

Arrays are never drawn element by element: a strategy draws a few numbers (a kind, a
top level, a depth, a seed) and builds the array with numpy, so drawing is fast and
shrinking moves toward the simplest kind (a constant array at ``min_value``).
This module imports no TensorFlow.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.strategies import DrawFn, SearchStrategy

from .args import Shape, check_shape, finite_array, strategy_int, strategy_interval
from .patterns import KINDS, check_kinds, draw_point

__all__ = ["starting_points", "from_examples"]


@st.composite
def starting_points(
    draw: DrawFn,
    shape: Shape,
    *,
    min_value: float = 0.0,
    max_value: float = 1.0,
    batch: int | None = None,
    kinds: Any = KINDS,
) -> np.ndarray:
    """Starting points for an ascent: float32 arrays inside ``[min_value, max_value]``.

    Each array is built with numpy from a few drawn numbers (its kind, its top
    level, a depth and a seed), never element by element; a batch draws each item
    alone. A named kind spans ``[top * (1 - depth), top]`` of the range.

    Parameters
    ----------
    shape : int or tuple of int
        The input shape (a value, not a strategy).
    min_value, max_value : float
        Bounds of every entry (values); ``min_value <= max_value``.
    batch : int, optional
        ``None`` draws arrays of ``shape``; an int draws ``(batch, *shape)`` (a value).
    kinds : sequence of str or SearchStrategy
        A value: names from ``KINDS`` -- 'constant', 'checkerboard' (two levels in
        squares over the first two axes), 'smooth' (a low-frequency field), 'uniform'
        noise, 'gaussian' noise (clipped) -- and/or strategies of arrays of ``shape``
        such as :func:`from_examples`, whose draws must lie inside the bounds.
        Shrinking follows ``KINDS`` order, then the strategies in the order given,
        so a failing example shrinks toward a constant start.

    Returns
    -------
    SearchStrategy of ndarray, float32

    Examples
    --------
    >>> starting_points((28, 28, 1), max_value=255.0)
    starting_points((28, 28, 1), max_value=255.0)
    >>> from hypothesis import find
    >>> find(starting_points((2, 3)), lambda x: True)  # the simplest start
    array([[0., 0., 0.],
           [0., 0., 0.]], dtype=float32)
    """
    shape = check_shape(shape)
    lo, hi = strategy_interval(min_value, max_value)
    batch = None if batch is None else strategy_int(batch, "batch", min_value=1)
    choices = check_kinds(kinds)
    items = [draw_point(draw, choices, shape, lo, hi) for _ in range(1 if batch is None else int(batch))]
    return items[0] if batch is None else np.stack(items)


class _Example:
    """Picks example ``i``; its repr keeps strategy reprs short."""

    def __init__(self, examples: np.ndarray):
        self.examples = examples

    def __call__(self, i: int) -> np.ndarray:
        return self.examples[i].copy()

    def __repr__(self) -> str:
        return f"from_examples(<{len(self.examples)} examples of shape {self.examples.shape[1:]}>)"


def from_examples(array: Any) -> SearchStrategy[np.ndarray]:
    """Real examples, ``array[i]`` as float32, shrinking toward ``array[0]``.

    Use it on its own, or as a kind of :func:`starting_points`.
    The array is checked when this function is called.

    Parameters
    ----------
    array : array_like, shape (N, *input_shape)
        At least one finite example (a value, not a strategy).

    Returns
    -------
    SearchStrategy of ndarray, float32

    Examples
    --------
    >>> import numpy as np
    >>> from hypothesis import find
    >>> digits = np.arange(6.0).reshape(3, 2)
    >>> find(from_examples(digits), lambda x: x[0] > 1)
    array([2., 3.], dtype=float32)
    >>> starts = starting_points((2,), max_value=5.0, kinds=("constant", from_examples(digits)))
    >>> find(starts, lambda x: x[0] != x[1])  # examples come after the named kinds
    array([0., 1.], dtype=float32)
    """
    arr = finite_array(array, "from_examples array")
    if arr.ndim < 1 or arr.shape[0] == 0:
        raise InvalidArgument(
            f"from_examples needs an array of shape (N, *input_shape) with N >= 1; got shape {arr.shape}"
        )
    return st.integers(0, arr.shape[0] - 1).map(_Example(arr.astype(np.float32)))
