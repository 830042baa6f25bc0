"""Hypothesis strategies for starting points, constraint sets and targets.

Each public function returns a strategy, in Hypothesis's own style: options are
keyword-only, bounds are named ``min_value``/``max_value``, and each argument is
either a value or a strategy (the docstrings say which). Impossible arguments
raise :class:`hypothesis.errors.InvalidArgument` naming the values and the fix
when the strategy is first drawn from (as Hypothesis's strategies do); the
model-based strategies check the model when they are called.

Arrays are never drawn element by element: a strategy draws a few numbers (a
kind, a seed, a level) and builds the array with numpy, so drawing is fast and
shrinking moves toward the simplest kind (a constant array at ``min_value``).
Every generated constraint set is non-empty and holds a float32 point, at any scale.

This module imports no TensorFlow.
"""

from __future__ import annotations

import math
from functools import reduce
from operator import and_
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.strategies import DrawFn, SearchStrategy

from ..constraints import Box, Constraint, LpBall, Mask
from .args import (
    Shape,
    _check_int,
    _check_interval,
    _check_p,
    _check_real,
    _check_shape,
    _f32_interval,
    _finite_array,
    _float32_box,
    _float32_need,
    _float32_point,
)
from .patterns import _SEED, KINDS, _between, _check_kinds, _draw_point, _fraction, _patch

__all__ = [
    "KINDS",
    "starting_points",
    "from_examples",
    "boxes",
    "lp_balls",
    "masks",
    "constraint_sets",
    "class_indices",
    "channel_indices",
]

_MASK_PATTERNS = ("all", "patch", "random")


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
    shape = _check_shape(shape)
    lo, hi = _check_interval(min_value, max_value)
    batch = None if batch is None else _check_int(batch, "batch", min_value=1)
    choices = _check_kinds(kinds)
    items = [_draw_point(draw, choices, shape, lo, hi) for _ in range(1 if batch is None else int(batch))]
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
    arr = _finite_array(array, "from_examples array")
    if arr.ndim < 1 or arr.shape[0] == 0:
        raise InvalidArgument(
            f"from_examples needs an array of shape (N, *input_shape) with N >= 1; got shape {arr.shape}"
        )
    return st.integers(0, arr.shape[0] - 1).map(_Example(arr.astype(np.float32)))


@st.composite
def boxes(draw: DrawFn, shape: Shape, *, min_value: float = 0.0, max_value: float = 1.0, min_width: float = 0.0) -> Box:
    """Boxes ``low <= x <= high`` inside ``[min_value, max_value]``, scalar or per-element.

    Every width ``high - low`` is at least ``min_width`` (up to float rounding); an entry
    holding no float32 number is drawn zero-width at the nearest one (the engine refuses it).

    Parameters
    ----------
    shape : int or tuple of int
        The input shape; per-element bounds have this shape (a value).
    min_value, max_value : float
        The range the boxes lie in (values).
    min_width : float
        Smallest width, ``0 <= min_width <= max_value - min_value`` (a value).

    Returns
    -------
    SearchStrategy of Box

    Examples
    --------
    >>> from hypothesis import find
    >>> find(boxes((4, 4), min_width=0.5), lambda b: True)
    Box(0.0, 0.5)
    """
    shape = _check_shape(shape)
    lo, hi = _check_interval(min_value, max_value)
    min_width = _check_real(min_width, "min_width")
    span = hi - lo
    if not 0.0 <= min_width <= span:
        raise InvalidArgument(
            f"min_width={min_width!r} must lie in [0, max_value - min_value] = [0, {span!r}]; "
            "lower min_width or widen [min_value, max_value]"
        )
    width = _between(draw, min_width, span)
    offset = _fraction(draw)
    if draw(st.booleans()):  # per element: widths in [min_width, width], offsets anywhere
        rng = np.random.default_rng(draw(_SEED))
        width = min_width + rng.random(shape) * (width - min_width)
        offset = rng.random(shape)
    low = lo + offset * (span - width)
    return Box(*_float32_box(low, np.minimum(low + width, hi), lo, hi))


@st.composite
def lp_balls(
    draw: DrawFn, center: Any, *, min_radius: float = 0.0, max_radius: float = 1.0, p: Any = (2, np.inf)
) -> LpBall:
    """Balls ``||x - center||_p <= radius``; the radius shrinks toward ``min_radius``.

    Each ball holds a float32 point: around a centre that is not a float32 array the
    radius is at least the distance to the nearest float32 point.

    Parameters
    ----------
    center : array_like or SearchStrategy of arrays
        The centre: a value, or a strategy drawing it (e.g. :func:`from_examples`).
    min_radius, max_radius : float
        Radius bounds, ``0 <= min_radius <= max_radius`` (values).
    p : {2, np.inf} or tuple of them
        The norms to choose from (a value); shrinks toward the first.

    Returns
    -------
    SearchStrategy of LpBall

    Examples
    --------
    >>> import numpy as np
    >>> from hypothesis import find
    >>> find(lp_balls(np.zeros(3), max_radius=0.1, p=np.inf), lambda b: b.radius >= 0.05)
    LpBall(radius=0.05, p=inf)
    """
    min_radius, max_radius = _check_interval(min_radius, max_radius, ("min_radius", "max_radius"), min_value=0)
    norms = _check_p(p)
    value = draw(center) if isinstance(center, SearchStrategy) else center
    arr = _finite_array(value, "center")
    norm = norms[draw(st.integers(0, len(norms) - 1))]
    need = _float32_need(arr, norm, max_radius)
    return LpBall(arr, radius=_between(draw, max(min_radius, need), max_radius), p=norm)


@st.composite
def masks(draw: DrawFn, shape: Shape, *, min_free: int = 1) -> Mask:
    """Masks with at least ``min_free`` free entries: all free, a free patch, or scattered.

    Shrinks toward the all-free mask.

    Parameters
    ----------
    shape : int or tuple of int
        The mask's shape (a value).
    min_free : int
        How many entries at least may change, ``0 <= min_free <= size`` (a value).

    Returns
    -------
    SearchStrategy of Mask

    Examples
    --------
    >>> from hypothesis import find
    >>> find(masks((4, 4), min_free=3), lambda m: not m.mask.all())
    Mask(free=3/16)
    """
    shape = _check_shape(shape)
    size = math.prod(shape)
    min_free = _check_int(min_free, "min_free (free entries of the mask)", min_value=0, max_value=size)
    pattern = _MASK_PATTERNS[draw(st.integers(0, len(_MASK_PATTERNS) - 1))]
    if pattern == "all":
        return Mask(np.ones(shape, dtype=bool))
    rng = np.random.default_rng(draw(_SEED))
    fraction = _fraction(draw)
    free = _patch(shape, fraction, rng) if pattern == "patch" else rng.random(shape) < fraction
    missing = int(min_free) - int(free.sum())
    if missing > 0:
        free.flat[rng.permutation(np.flatnonzero(~free))[:missing]] = True
    return Mask(free)


def _centered(
    draw: DrawFn, center: Any, box: Box, shape: tuple[int, ...], lo: float, hi: float, max_radius: float
) -> tuple[Box, np.ndarray, np.ndarray, float, float]:
    """The box (grown to meet the centre's nearest float32 point), the centre, that point (inside every
    part: the engine's float32 set holds it) and the smallest radii."""
    low, high = np.broadcast_to(box.low, shape), np.broadcast_to(box.high, shape)
    if center is None:  # a float32 centre inside the box: every radius >= 0 holds it
        c = _float32_point(low + draw(starting_points(shape)) * (high - low), low, high)
        return box, c, c, 0.0, 0.0
    value = _finite_array(draw(center) if isinstance(center, SearchStrategy) else center, "center")
    try:
        c = np.broadcast_to(value, shape).astype(np.float64)
    except ValueError:
        raise InvalidArgument(f"center has shape {value.shape}, which does not broadcast to shape={shape}") from None
    nearest = _float32_point(c, *_f32_interval(lo, hi))
    gap = np.abs(c - nearest)
    slack = 1e-12 * (1.0 + float(np.abs(c).max())) if gap.any() else 0.0
    d_inf, d_2 = float(gap.max()) + slack, float(np.sqrt((gap**2).sum())) + slack
    if d_2 > max_radius:
        raise InvalidArgument(
            f"center lies {d_2:g} (L2) from its nearest float32 point in [min_value={lo!r}, max_value={hi!r}], "
            f"farther than max_radius={max_radius!r}, so no ball around it meets the box; pass max_radius >= "
            f"{d_2:g} or a float32 center inside the bounds"
        )
    return Box(np.minimum(low, nearest), np.maximum(high, nearest)), c, nearest, d_inf, d_2


@st.composite
def constraint_sets(
    draw: DrawFn,
    shape: Shape,
    *,
    min_value: float = 0.0,
    max_value: float = 1.0,
    center: Any = None,
    max_radius: float = 1.0,
) -> Constraint:
    """Non-empty constraint sets: a box, and maybe an L-inf ball, an L2 ball and a mask.

    The parts are joined with ``&`` (at most one L2 ball); both balls share one
    centre. Shrinks toward a lone box. Without ``center`` the centre is a float32
    point drawn inside the box; with one, the box grows to meet the centre's nearest
    float32 point of ``[min_value, max_value]`` and each radius is at least the
    distance to it. A mask drawn with an L2 ball freezes its entries at that nearest
    point (a mask alone freezes them at the start), so the set is non-empty whatever
    the start. Every set holds a float32 point at any scale, so :func:`~pytest_featviz.ascend`
    accepts it (it refuses sets narrower than one float32 step that hold none).

    Parameters
    ----------
    shape : int or tuple of int
        The input shape (a value).
    min_value, max_value : float
        The range the box lies in (values).
    center : array_like or SearchStrategy of arrays, optional
        The balls' centre (a value, or a strategy drawing it); broadcasts to ``shape``.
    max_radius : float
        Largest radius of either ball (a value); it must reach the box from ``center``.

    Returns
    -------
    SearchStrategy of Constraint

    Examples
    --------
    >>> from hypothesis import find
    >>> find(constraint_sets((4, 4)), lambda c: True)
    Box(0.0, 0.0)
    >>> find(constraint_sets((4, 4)), lambda c: "&" in repr(c) and "p=2" in repr(c))
    Box(0.0, 0.0) & LpBall(radius=0.0, p=2)
    """
    shape = _check_shape(shape)
    lo, hi = _check_interval(min_value, max_value)
    max_radius = _check_real(max_radius, "max_radius", min_value=0)
    box = draw(boxes(shape, min_value=lo, max_value=hi))
    use_linf, use_l2, use_mask = draw(st.booleans()), draw(st.booleans()), draw(st.booleans())
    if center is not None or use_linf or use_l2:  # a given centre is checked even without balls
        box, c, point, d_inf, d_2 = _centered(draw, center, box, shape, lo, hi, max_radius)
    parts: list[Constraint] = [box]
    if use_linf:
        parts.append(LpBall(c, radius=_between(draw, d_inf, max_radius), p=np.inf))
    if use_l2:
        parts.append(LpBall(c, radius=_between(draw, d_2, max_radius), p=2))
    if use_mask:
        m = draw(masks(shape))
        # frozen entries stay at the start, which may lie outside an L2 ball: pin them at the
        # centre's nearest float32 box point, inside both balls, so the set is non-empty for every start
        parts.append(Mask(m.mask, values=point) if use_l2 else m)
    return reduce(and_, parts)


def class_indices(model: Any) -> SearchStrategy[int]:
    """Class indices valid for ``model``: ``0 .. num_classes - 1``, shrinking toward 0.

    The model is read when this function is called.

    Parameters
    ----------
    model : keras.Model or str
        The model, or anything :func:`pytest_featviz.load_model` accepts (a value).

    Returns
    -------
    SearchStrategy of int

    Examples
    --------
    >>> import keras
    >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="head")])
    >>> class_indices(m)
    integers(min_value=0, max_value=2)
    """
    from ..models import load_model, model_info

    info = model_info(load_model(model))
    return st.integers(min_value=0, max_value=info.num_classes - 1)


def channel_indices(model: Any, layer: str) -> SearchStrategy[int]:
    """Channel indices (last axis) valid for ``layer`` of ``model``, shrinking toward 0.

    The layer is looked up when this function is called; an unknown name raises
    :class:`pytest_featviz.errors.LayerNotFoundError` listing the layers.

    Parameters
    ----------
    model : keras.Model or str
        The model, or anything :func:`pytest_featviz.load_model` accepts (a value).
    layer : str
        The layer's name (a value).

    Returns
    -------
    SearchStrategy of int

    Examples
    --------
    >>> import keras
    >>> m = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(5, 3, name="conv")])
    >>> channel_indices(m, "conv")
    integers(min_value=0, max_value=4)
    """
    from ..models import load_model, model_info

    shape = model_info(load_model(model)).output_shape(layer)
    if not shape or shape[-1] < 1:
        raise InvalidArgument(f"layer {layer!r} has output shape {shape}, with no known channel axis")
    return st.integers(min_value=0, max_value=shape[-1] - 1)
