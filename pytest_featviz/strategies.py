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
Every generated constraint set is non-empty.

This module imports no TensorFlow.
"""

from __future__ import annotations

import math
import numbers
from functools import reduce
from operator import and_
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.strategies import DrawFn, SearchStrategy

from .constraints import Box, Constraint, LpBall, Mask
from .errors import closest

__all__ = ["KINDS", "starting_points", "from_examples", "boxes", "lp_balls", "masks", "constraint_sets",
           "class_indices", "channel_indices"]

Shape = int | tuple[int, ...]

_RESOLUTION = 2**24
_SEED = st.integers(0, 2**32 - 1)
_F32_MAX = float(np.finfo(np.float32).max)
_MASK_PATTERNS = ("all", "patch", "random")


def _fraction(draw: DrawFn) -> float:
    """A number in [0, 1] on a fine grid; it shrinks toward 0 by the smallest steps.

    (Hypothesis shrinks floats toward "simple" values such as 1.0; an integer
    numerator shrinks to the smallest failing value.)
    """
    return draw(st.integers(0, _RESOLUTION)) / _RESOLUTION


def _between(draw: DrawFn, low: float, high: float) -> float:
    """A number in ``[low, high]`` that shrinks toward ``low``."""
    return min(low + (high - low) * _fraction(draw), high)


# -- argument checks ------------------------------------------------------------------------
def _check_shape(shape: Shape) -> tuple[int, ...]:
    dims = (shape,) if isinstance(shape, (int, np.integer)) else shape
    try:
        dims = tuple(dims)
    except TypeError:
        raise InvalidArgument(f"shape={shape!r} must be an int or a tuple of ints, such as (28, 28, 1)") from None
    if not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 1 for d in dims):
        raise InvalidArgument(f"shape={shape!r} must contain only ints >= 1, such as (28, 28, 1)")
    return tuple(int(d) for d in dims)


def _check_real(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidArgument(f"{name}={value!r} must be a real number")
    if not math.isfinite(value) or abs(value) > _F32_MAX:
        raise InvalidArgument(f"{name}={value!r} must be finite and within the float32 range")
    return float(value)


def _check_interval(low: Any, high: Any, names: tuple[str, str] = ("min_value", "max_value")) -> tuple[float, float]:
    lo, hi = _check_real(low, names[0]), _check_real(high, names[1])
    if lo > hi:
        raise InvalidArgument(f"{names[0]}={low!r} is larger than {names[1]}={high!r}; swap them")
    return lo, hi


def _finite_array(value: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidArgument(f"{name} must be an array of numbers; got {type(value).__name__}") from None
    if not np.isfinite(arr).all():
        raise InvalidArgument(f"{name} contains NaN or inf values; every entry must be finite")
    return arr


def _f32_interval(lo: float, hi: float) -> tuple[np.float32, np.float32]:
    """The float32 numbers closest to ``[lo, hi]`` from inside."""
    lo32, hi32 = np.float32(lo), np.float32(hi)
    if float(lo32) < lo:  # compare as float64: numpy would compare a float32 with a float as float32
        lo32 = np.nextafter(lo32, np.float32(np.inf))
    if float(hi32) > hi:
        hi32 = np.nextafter(hi32, np.float32(-np.inf))
    if lo32 > hi32:
        raise InvalidArgument(f"no float32 number lies in [min_value={lo!r}, max_value={hi!r}]; widen the interval")
    return lo32, hi32


def _check_kinds(kinds: Any) -> list[Any]:
    """Named kinds in shrink order (simplest first), then strategies in the given order."""
    if isinstance(kinds, (str, SearchStrategy)) or not hasattr(kinds, "__iter__"):
        raise InvalidArgument(f"kinds={kinds!r} must be a sequence, such as kinds=({kinds!r},)")
    given = list(kinds)
    if not given:
        raise InvalidArgument(f"kinds is empty; choose at least one of {KINDS} or a strategy such as from_examples(x)")
    for kind in given:
        if isinstance(kind, str) and kind not in KINDS:
            raise InvalidArgument(f"unknown kind {kind!r}{closest(kind, KINDS)}; kinds are {KINDS}")
        if not isinstance(kind, (str, SearchStrategy)):
            raise InvalidArgument(f"kinds may hold names from {KINDS} or strategies of arrays; got {kind!r}")
    return [k for k in KINDS if k in given] + [k for k in given if isinstance(k, SearchStrategy)]


# -- patterns: a few drawn numbers in, a deterministic array in [0, 1] out --------------------
def _checkerboard(draw: DrawFn, shape: tuple[int, ...]) -> np.ndarray:
    """Squares of ``cell`` entries over the first two axes (stripes for 1-D inputs)."""
    cell = draw(st.integers(1, 8))
    parity = sum(i // cell for i in np.indices(shape, sparse=True)[:2]) % 2
    return np.broadcast_to(parity, shape).astype(np.float64)


def _smooth(draw: DrawFn, shape: tuple[int, ...]) -> np.ndarray:
    """A sum of three cosines of at most two periods per axis, rescaled to [0, 1]."""
    rng = np.random.default_rng(draw(_SEED))
    grids = np.meshgrid(*(np.arange(n) / n for n in shape), indexing="ij", sparse=True)
    field = np.zeros(shape)
    for _ in range(3):
        freqs = rng.integers(0, 3, size=len(shape))
        phase = sum((f * g for f, g in zip(freqs, grids)), np.zeros(()))
        field = field + rng.uniform(0.5, 1.0) * np.cos(2 * np.pi * phase + rng.uniform(0, 2 * np.pi))
    spread = float(field.max() - field.min())
    return (field - field.min()) / spread if spread > 1e-12 else np.zeros(shape)


def _uniform(draw: DrawFn, shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(draw(_SEED)).random(shape)


def _gaussian(draw: DrawFn, shape: tuple[int, ...]) -> np.ndarray:
    """Normal noise, mean 0.5 and standard deviation 0.25, clipped to [0, 1]."""
    return np.clip(0.5 + 0.25 * np.random.default_rng(draw(_SEED)).standard_normal(shape), 0.0, 1.0)


_PATTERNS = {"checkerboard": _checkerboard, "smooth": _smooth, "uniform": _uniform, "gaussian": _gaussian}
KINDS: tuple[str, ...] = ("constant", *_PATTERNS)
"""The named kinds of starting points, simplest first (the order shrinking follows)."""


def _named_kind(draw: DrawFn, kind: str, shape: tuple[int, ...]) -> np.ndarray:
    """Fractions in [0, 1]: ``top * (1 - depth * pattern)``.

    Every kind draws ``top`` first and means the same by it (its largest value),
    so a failing example can shrink to the constant ``top``: lowering ``depth``
    flattens any pattern into that constant.
    """
    top = _fraction(draw)
    if kind == "constant":
        return np.full(shape, top)
    depth = _fraction(draw)
    return top * (1.0 - depth * _PATTERNS[kind](draw, shape))


def _draw_point(draw: DrawFn, kinds: list[Any], shape: tuple[int, ...], lo: float, hi: float) -> np.ndarray:
    kind = kinds[draw(st.integers(0, len(kinds) - 1))]
    if isinstance(kind, str):
        values = lo + _named_kind(draw, kind, shape) * (hi - lo)
    else:
        values = _finite_array(draw(kind), f"the array drawn from {kind!r}")
        if values.shape != shape:
            raise InvalidArgument(f"{kind!r} drew an array of shape {values.shape}; starting_points needs {shape}")
        if values.min() < lo or values.max() > hi:
            raise InvalidArgument(
                f"{kind!r} drew values in [{values.min():g}, {values.max():g}], outside "
                f"[min_value={lo!r}, max_value={hi!r}]; widen the bounds to cover the examples"
            )
    lo32, hi32 = _f32_interval(lo, hi)
    return np.clip(values.astype(np.float32), lo32, hi32)


@st.composite
def starting_points(
    draw: DrawFn, shape: Shape, *, min_value: float = 0.0, max_value: float = 1.0, batch: int | None = None,
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
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1):
        raise InvalidArgument(f"batch={batch!r} must be None or an int >= 1")
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
        raise InvalidArgument(f"from_examples needs an array of shape (N, *input_shape) with N >= 1; got shape {arr.shape}")
    return st.integers(0, arr.shape[0] - 1).map(_Example(arr.astype(np.float32)))


@st.composite
def boxes(draw: DrawFn, shape: Shape, *, min_value: float = 0.0, max_value: float = 1.0, min_width: float = 0.0) -> Box:
    """Boxes ``low <= x <= high`` inside ``[min_value, max_value]``, scalar or per-element.

    Every width ``high - low`` is at least ``min_width`` (up to float rounding).

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
    return Box(low, np.minimum(low + width, hi))


def _check_p(p: Any) -> list[float]:
    choices = list(p) if isinstance(p, (tuple, list)) else [p]
    parsed = []
    for value in choices:
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = None
        if number not in (2.0, np.inf):
            raise InvalidArgument(f"p={p!r} may only hold 2 and np.inf (the supported balls)")
        parsed.append(number)
    if not parsed:
        raise InvalidArgument("p=() is empty; give p=2, p=np.inf or p=(2, np.inf)")
    return parsed


@st.composite
def lp_balls(
    draw: DrawFn, center: Any, *, min_radius: float = 0.0, max_radius: float = 1.0, p: Any = (2, np.inf)
) -> LpBall:
    """Balls ``||x - center||_p <= radius``; the radius shrinks toward ``min_radius``.

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
    min_radius, max_radius = _check_interval(min_radius, max_radius, ("min_radius", "max_radius"))
    if min_radius < 0:
        raise InvalidArgument(f"min_radius={min_radius!r} must be >= 0")
    norms = _check_p(p)
    value = draw(center) if isinstance(center, SearchStrategy) else center
    arr = _finite_array(value, "center")
    radius = _between(draw, min_radius, max_radius)
    return LpBall(arr, radius=radius, p=norms[draw(st.integers(0, len(norms) - 1))])


def _patch(shape: tuple[int, ...], fraction: float, rng: np.random.Generator) -> np.ndarray:
    """A free rectangle over the first two axes, spanning the others."""
    free = np.zeros(shape, dtype=bool)
    region = []
    for n in shape[:2]:
        size = max(1, round(fraction * n))
        offset = int(rng.integers(0, n - size + 1))
        region.append(slice(offset, offset + size))
    free[tuple(region)] = True
    return free


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
    if isinstance(min_free, bool) or not isinstance(min_free, (int, np.integer)) or not 0 <= min_free <= size:
        raise InvalidArgument(f"min_free={min_free!r} must be an int in [0, {size}] (the mask has {size} entries)")
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


def _centered(draw: DrawFn, center: Any, box: Box, shape: tuple[int, ...], lo: float, hi: float,
              max_radius: float) -> tuple[Box, np.ndarray, float, float]:
    """The box (grown to meet the centre's nearest point) and the smallest feasible radii."""
    low, high = np.broadcast_to(box.low, shape), np.broadcast_to(box.high, shape)
    if center is None:
        c = np.clip(low + draw(starting_points(shape)) * (high - low), low, high)
        return box, c, 0.0, 0.0
    value = _finite_array(draw(center) if isinstance(center, SearchStrategy) else center, "center")
    try:
        c = np.broadcast_to(value, shape).astype(np.float64)
    except ValueError:
        raise InvalidArgument(f"center has shape {value.shape}, which does not broadcast to shape={shape}") from None
    nearest = np.clip(c, lo, hi)
    gap = np.abs(c - nearest)
    slack = 1e-12 * (1.0 + float(np.abs(c).max())) if gap.any() else 0.0
    d_inf, d_2 = float(gap.max()) + slack, float(np.sqrt((gap**2).sum())) + slack
    if d_2 > max_radius:
        raise InvalidArgument(
            f"center lies {d_2:g} (L2) outside [min_value={lo!r}, max_value={hi!r}], farther than "
            f"max_radius={max_radius!r}, so no ball around it meets the box; pass max_radius >= {d_2:g} "
            "or a center inside the bounds"
        )
    return Box(np.minimum(low, nearest), np.maximum(high, nearest)), c, d_inf, d_2


@st.composite
def constraint_sets(
    draw: DrawFn, shape: Shape, *, min_value: float = 0.0, max_value: float = 1.0, center: Any = None,
    max_radius: float = 1.0,
) -> Constraint:
    """Non-empty constraint sets: a box, and maybe an L-inf ball, an L2 ball and a mask.

    The parts are joined with ``&`` (at most one L2 ball); both balls share one
    centre. Shrinks toward a lone box. Without ``center`` the centre is drawn
    inside the box; with one, the box grows to meet the centre's nearest point of
    ``[min_value, max_value]`` and each radius is at least the distance to it.

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
    max_radius = _check_real(max_radius, "max_radius")
    if max_radius < 0:
        raise InvalidArgument(f"max_radius={max_radius!r} must be >= 0")
    box = draw(boxes(shape, min_value=lo, max_value=hi))
    use_linf, use_l2, use_mask = draw(st.booleans()), draw(st.booleans()), draw(st.booleans())
    if center is not None or use_linf or use_l2:  # a given centre is checked even without balls
        box, c, d_inf, d_2 = _centered(draw, center, box, shape, lo, hi, max_radius)
    parts: list[Constraint] = [box]
    if use_linf:
        parts.append(LpBall(c, radius=_between(draw, d_inf, max_radius), p=np.inf))
    if use_l2:
        parts.append(LpBall(c, radius=_between(draw, d_2, max_radius), p=2))
    if use_mask:
        parts.append(draw(masks(shape)))
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
    from .models import load_model, model_info

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
    from .models import load_model, model_info

    shape = model_info(load_model(model)).output_shape(layer)
    if not shape or shape[-1] < 1:
        raise InvalidArgument(f"layer {layer!r} has output shape {shape}, with no known channel axis")
    return st.integers(min_value=0, max_value=shape[-1] - 1)
