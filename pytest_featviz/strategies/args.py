"""Argument checks for the Hypothesis strategies (used by :mod:`.starts`, :mod:`.sets` and :mod:`.patterns`).

Each check turns a user's value into the plain form the strategies build with, or
raises :class:`hypothesis.errors.InvalidArgument` naming the value and the fix.
This module imports no TensorFlow.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from hypothesis.errors import InvalidArgument

from .. import _validation
from ..constraints import float32_inward
from ..errors import ConfigurationError, FeatvizTypeError

Shape = int | tuple[int, ...]

_F32_MAX = float(np.finfo(np.float32).max)


@contextmanager
def invalid_argument() -> Iterator[None]:
    """Run a shared check from ``_validation``; its error becomes Hypothesis' ``InvalidArgument`` (its convention)."""
    try:
        yield
    except (ConfigurationError, FeatvizTypeError) as exc:
        raise InvalidArgument(str(exc)) from None


def check_shape(shape: Shape) -> tuple[int, ...]:
    dims = (shape,) if isinstance(shape, (int, np.integer)) else shape
    try:
        dims = tuple(dims)
    except TypeError:
        raise InvalidArgument(f"shape={shape!r} must be an int or a tuple of ints, such as (28, 28, 1)") from None
    with invalid_argument():
        return tuple(_validation.check_int(d, f"each entry of shape={shape!r}", min_value=1) for d in dims)


def strategy_int(value: Any, name: str, **limits: Any) -> int:
    with invalid_argument():
        return _validation.check_int(value, name, **limits)


def strategy_real(value: Any, name: str, **limits: Any) -> float:
    with invalid_argument():
        number = _validation.check_real(value, name, **limits)
    if abs(number) > _F32_MAX:
        raise InvalidArgument(f"{name}={value!r} must be within the float32 range")
    return number


def strategy_interval(
    low: Any, high: Any, names: tuple[str, str] = ("min_value", "max_value"), **limits: Any
) -> tuple[float, float]:
    lo, hi = strategy_real(low, names[0], **limits), strategy_real(high, names[1], **limits)
    with invalid_argument():
        _validation.check_interval(low, high, names)
    return lo, hi


def finite_array(value: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidArgument(f"{name} must be an array of numbers; got {type(value).__name__}") from None
    if not np.isfinite(arr).all():
        raise InvalidArgument(f"{name} contains NaN or inf values; every entry must be finite")
    return arr


def f32_interval(lo: float, hi: float) -> tuple[np.float32, np.float32]:
    """The float32 numbers closest to ``[lo, hi]`` from inside."""
    lo32, hi32 = float32_inward(lo, hi)
    if lo32 > hi32:
        raise InvalidArgument(f"no float32 number lies in [min_value={lo!r}, max_value={hi!r}]; widen the interval")
    return np.float32(lo32), np.float32(hi32)


def float32_point(value: Any, low: Any, high: Any) -> np.ndarray:
    """The float32 number nearest to ``value`` inside ``[low, high]``, element by element (as float64).

    ``[low, high]`` must hold a float32 number in every entry.
    """
    lo32, hi32 = float32_inward(low, high)
    with np.errstate(over="ignore"):
        near = np.clip(np.asarray(value, dtype=np.float64), lo32, hi32).astype(np.float32)
    return np.clip(near, lo32, hi32).astype(np.float64)


def float32_box(low: float | np.ndarray, high: float | np.ndarray, lo: float, hi: float) -> tuple[Any, Any]:
    """``[low, high]`` where it holds a float32 number, else the float32 number of ``[lo, hi]`` nearest to it.

    The engine refuses an interval between two float32 neighbours; this keeps a box drawn in
    ``[lo, hi]`` narrower than one float32 step (at any scale) as a zero-width box it accepts.
    """
    lo32, hi32 = float32_inward(low, high)
    empty = lo32 > hi32
    if not empty.any():
        return low, high
    point = float32_point(low, lo, hi)
    return np.where(empty, point, low), np.where(empty, point, high)


def float32_need(center: np.ndarray, p: float, max_radius: float) -> float:
    """The smallest radius of a p-ball around ``center`` that holds a float32 point (0 for float32 centres).

    Raises InvalidArgument when it exceeds ``max_radius``.
    """
    with np.errstate(over="ignore"):
        gap = np.abs(center.astype(np.float32).astype(np.float64) - center)
    if not gap.any():
        return 0.0
    need = float(gap.max()) if p == np.inf else float(np.sqrt((gap**2).sum()))
    need = need * (1 + 1e-9) + 4 * float(np.spacing(np.abs(center).max()))  # c -/+ r rounds in float64
    if need > max_radius:
        raise InvalidArgument(
            f"center is not a float32 array: a p={p:g} ball around it holds a float32 point (what the "
            f"model runs on) only with radius >= {need:.9g}; pass max_radius >= {need:.9g} or a float32 center"
        )
    return need


def check_norms(p: Any) -> list[float]:
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
