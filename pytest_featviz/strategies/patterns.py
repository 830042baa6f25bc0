"""Array patterns for the Hypothesis strategies (used by :mod:`.starts` and :mod:`.sets`; ``KINDS`` is re-exported by ``strategies``).

A few drawn numbers (a kind, a level, a depth, a seed) in, a deterministic numpy
array out: arrays are never drawn element by element, and shrinking moves toward
the simplest kind (a constant array). This module imports no TensorFlow.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.strategies import DrawFn, SearchStrategy

from .._validation import check_choice
from .args import f32_interval, finite_array, invalid_argument

_RESOLUTION = 2**24
SEED = st.integers(0, 2**32 - 1)


def draw_fraction(draw: DrawFn) -> float:
    """A number in [0, 1] on a fine grid; it shrinks toward 0 by the smallest steps.

    (Hypothesis shrinks floats toward "simple" values such as 1.0; an integer
    numerator shrinks to the smallest failing value.)
    """
    return draw(st.integers(0, _RESOLUTION)) / _RESOLUTION


def draw_between(draw: DrawFn, low: float, high: float) -> float:
    """A number in ``[low, high]`` that shrinks toward ``low``."""
    return min(low + (high - low) * draw_fraction(draw), high)


# -- patterns: a few drawn numbers in, a deterministic array in [0, 1] out --------------------
def _checkerboard(draw: DrawFn, shape: tuple[int, ...]) -> np.ndarray:
    """Squares of ``cell`` entries over the first two axes (stripes for 1-D inputs)."""
    cell = draw(st.integers(1, 8))
    parity = sum(i // cell for i in np.indices(shape, sparse=True)[:2]) % 2
    return np.broadcast_to(parity, shape).astype(np.float64)


def _smooth(draw: DrawFn, shape: tuple[int, ...]) -> np.ndarray:
    """A sum of three cosines of at most two periods per axis, rescaled to [0, 1]."""
    rng = np.random.default_rng(draw(SEED))
    grids = np.meshgrid(*(np.arange(n) / n for n in shape), indexing="ij", sparse=True)
    field = np.zeros(shape)
    for _ in range(3):
        freqs = rng.integers(0, 3, size=len(shape))
        phase = sum((f * g for f, g in zip(freqs, grids)), np.zeros(()))
        field = field + rng.uniform(0.5, 1.0) * np.cos(2 * np.pi * phase + rng.uniform(0, 2 * np.pi))
    spread = float(field.max() - field.min())
    return (field - field.min()) / spread if spread > 1e-12 else np.zeros(shape)


def _uniform(draw: DrawFn, shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(draw(SEED)).random(shape)


def _gaussian(draw: DrawFn, shape: tuple[int, ...]) -> np.ndarray:
    """Normal noise, mean 0.5 and standard deviation 0.25, clipped to [0, 1]."""
    return np.clip(0.5 + 0.25 * np.random.default_rng(draw(SEED)).standard_normal(shape), 0.0, 1.0)


_PATTERNS = {"checkerboard": _checkerboard, "smooth": _smooth, "uniform": _uniform, "gaussian": _gaussian}
KINDS: tuple[str, ...] = ("constant", *_PATTERNS)
"""The named kinds of starting points, simplest first (the order shrinking follows)."""


def check_kinds(kinds: Any) -> list[Any]:
    """Named kinds in shrink order (simplest first), then strategies in the given order."""
    if isinstance(kinds, (str, SearchStrategy)) or not hasattr(kinds, "__iter__"):
        raise InvalidArgument(f"kinds={kinds!r} must be a sequence, such as kinds=({kinds!r},)")
    given = list(kinds)
    if not given:
        raise InvalidArgument(f"kinds is empty; choose at least one of {KINDS} or a strategy such as from_examples(x)")
    for kind in given:
        if isinstance(kind, str):
            with invalid_argument():
                check_choice(kind, "kind", KINDS)
        if not isinstance(kind, (str, SearchStrategy)):
            raise InvalidArgument(f"kinds may hold names from {KINDS} or strategies of arrays; got {kind!r}")
    return [k for k in KINDS if k in given] + [k for k in given if isinstance(k, SearchStrategy)]


def _named_kind(draw: DrawFn, kind: str, shape: tuple[int, ...]) -> np.ndarray:
    """Fractions in [0, 1]: ``top * (1 - depth * pattern)``.

    Every kind draws ``top`` first and means the same by it (its largest value),
    so a failing example can shrink to the constant ``top``: lowering ``depth``
    flattens any pattern into that constant.
    """
    top = draw_fraction(draw)
    if kind == "constant":
        return np.full(shape, top)
    depth = draw_fraction(draw)
    return top * (1.0 - depth * _PATTERNS[kind](draw, shape))


def draw_point(draw: DrawFn, kinds: list[Any], shape: tuple[int, ...], lo: float, hi: float) -> np.ndarray:
    kind = kinds[draw(st.integers(0, len(kinds) - 1))]
    if isinstance(kind, str):
        values = lo + _named_kind(draw, kind, shape) * (hi - lo)
    else:
        values = finite_array(draw(kind), f"the array drawn from {kind!r}")
        if values.shape != shape:
            raise InvalidArgument(f"{kind!r} drew an array of shape {values.shape}; starting_points needs {shape}")
        if values.min() < lo or values.max() > hi:
            raise InvalidArgument(
                f"{kind!r} drew values in [{values.min():g}, {values.max():g}], outside "
                f"[min_value={lo!r}, max_value={hi!r}]; widen the bounds to cover the examples"
            )
    lo32, hi32 = f32_interval(lo, hi)
    return np.clip(values.astype(np.float32), lo32, hi32)


def patch(shape: tuple[int, ...], fraction: float, rng: np.random.Generator) -> np.ndarray:
    """A free rectangle over the first two axes, spanning the others."""
    free = np.zeros(shape, dtype=bool)
    region = []
    for n in shape[:2]:
        size = max(1, round(fraction * n))
        offset = int(rng.integers(0, n - size + 1))
        region.append(slice(offset, offset + size))
    free[tuple(region)] = True
    return free
