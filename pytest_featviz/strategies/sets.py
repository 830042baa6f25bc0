"""Hypothesis strategies for constraint sets: :func:`boxes`, :func:`lp_balls`, :func:`masks` and their
intersections (:func:`constraint_sets`).

Every generated set is non-empty and holds a float32 point, at any scale, so
:func:`~pytest_featviz.ascend` accepts it. This module imports no TensorFlow.
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
    check_norms,
    check_shape,
    f32_interval,
    finite_array,
    float32_box,
    float32_need,
    float32_point,
    strategy_int,
    strategy_interval,
    strategy_real,
)
from .patterns import SEED, draw_between, draw_fraction, patch
from .starts import starting_points

__all__ = ["boxes", "lp_balls", "masks", "constraint_sets"]

_MASK_PATTERNS = ("all", "patch", "random")


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
    shape = check_shape(shape)
    lo, hi = strategy_interval(min_value, max_value)
    min_width = strategy_real(min_width, "min_width")
    span = hi - lo
    if not 0.0 <= min_width <= span:
        raise InvalidArgument(
            f"min_width={min_width!r} must lie in [0, max_value - min_value] = [0, {span!r}]; "
            "lower min_width or widen [min_value, max_value]"
        )
    width: float | np.ndarray = draw_between(draw, min_width, span)
    offset: float | np.ndarray = draw_fraction(draw)
    if draw(st.booleans()):  # per element: widths in [min_width, width], offsets anywhere
        rng = np.random.default_rng(draw(SEED))
        width = min_width + rng.random(shape) * (width - min_width)
        offset = rng.random(shape)
    low = lo + offset * (span - width)
    return Box(*float32_box(low, np.minimum(low + width, hi), lo, hi))


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
    min_radius, max_radius = strategy_interval(min_radius, max_radius, ("min_radius", "max_radius"), min_value=0)
    norms = check_norms(p)
    value = draw(center) if isinstance(center, SearchStrategy) else center
    arr = finite_array(value, "center")
    norm = norms[draw(st.integers(0, len(norms) - 1))]
    need = float32_need(arr, norm, max_radius)
    return LpBall(arr, radius=draw_between(draw, max(min_radius, need), max_radius), p=norm)


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
    shape = check_shape(shape)
    size = math.prod(shape)
    min_free = strategy_int(min_free, "min_free (free entries of the mask)", min_value=0, max_value=size)
    pattern = _MASK_PATTERNS[draw(st.integers(0, len(_MASK_PATTERNS) - 1))]
    if pattern == "all":
        return Mask(np.ones(shape, dtype=bool))
    rng = np.random.default_rng(draw(SEED))
    fraction = draw_fraction(draw)
    free = patch(shape, fraction, rng) if pattern == "patch" else rng.random(shape) < fraction
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
        c = float32_point(low + draw(starting_points(shape)) * (high - low), low, high)
        return box, c, c, 0.0, 0.0
    value = finite_array(draw(center) if isinstance(center, SearchStrategy) else center, "center")
    try:
        c = np.broadcast_to(value, shape).astype(np.float64)
    except ValueError:
        raise InvalidArgument(f"center has shape {value.shape}, which does not broadcast to shape={shape}") from None
    nearest = float32_point(c, *f32_interval(lo, hi))
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
    shape = check_shape(shape)
    lo, hi = strategy_interval(min_value, max_value)
    max_radius = strategy_real(max_radius, "max_radius", min_value=0)
    box = draw(boxes(shape, min_value=lo, max_value=hi))
    use_linf, use_l2, use_mask = draw(st.booleans()), draw(st.booleans()), draw(st.booleans())
    if center is not None or use_linf or use_l2:  # a given centre is checked even without balls
        box, c, point, d_inf, d_2 = _centered(draw, center, box, shape, lo, hi, max_radius)
    parts: list[Constraint] = [box]
    if use_linf:
        parts.append(LpBall(c, radius=draw_between(draw, d_inf, max_radius), p=np.inf))
    if use_l2:
        parts.append(LpBall(c, radius=draw_between(draw, d_2, max_radius), p=2))
    if use_mask:
        m = draw(masks(shape))
        # frozen entries stay at the start, which may lie outside an L2 ball: pin them at the
        # centre's nearest float32 box point, inside both balls, so the set is non-empty for every start
        parts.append(Mask(m.mask, values=point) if use_l2 else m)
    return reduce(and_, parts)
