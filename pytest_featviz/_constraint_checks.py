"""Argument checks of the constraint sets (private; used by ``constraints``).

Turning user values into float arrays (naming the bad one), broadcasting them to a
batch, parsing ``p``, and the checks that refuse an empty set while the canonical
form is built: a box whose low exceeds its high, Mask values that clash or lie
outside the box, an L2 ball out of reach of the box. Also the inward rounding of bounds
to float32 (shared with the strategies' intervals).

Examples
--------
>>> import numpy as np
>>> _parse_p("inf")
inf
>>> _radii(np.array(0.5), 3)
array([0.5, 0.5, 0.5])
>>> _broadcast(np.array([1.0, 2.0]), (2, 2), "Box low")
array([[1., 2.],
       [1., 2.]])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ConfigurationError, FeatvizTypeError

if TYPE_CHECKING:
    from .constraints import Canonical, Constraint


def _float32_inward(low: Any, high: Any) -> tuple[np.ndarray, np.ndarray]:
    """The float32 bounds closest to ``[low, high]`` from inside, element by element.

    Where no float32 number lies in the interval the result has ``low > high``; the
    caller decides what that means.

    Examples
    --------
    >>> lo, hi = _float32_inward(0.1, 254.9)
    >>> bool(lo >= 0.1 and hi <= 254.9), lo.dtype.name
    (True, 'float32')
    """
    low64, high64 = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        lo, hi = low64.astype(np.float32), high64.astype(np.float32)
        lo = np.where(lo < low64, np.nextafter(lo, np.float32(np.inf)), lo)  # compared in float64
        hi = np.where(hi > high64, np.nextafter(hi, np.float32(-np.inf)), hi)
    return lo, hi


def _as_float_array(value: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise FeatvizTypeError(f"{name} must be a number or an array of numbers; got {value!r}") from exc
    if np.isnan(arr).any():
        raise ConfigurationError(f"{name} contains NaN; got {value!r}")
    return arr


def _as_points(x: Any, name: str = "x") -> np.ndarray:
    """Inputs to project or check: finite numbers, at least one axis."""
    arr = _as_float_array(x, name)
    if arr.ndim == 0 or arr.size == 0:
        raise ConfigurationError(f"{name} must be a non-empty array of inputs; got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ConfigurationError(f"{name} contains inf values; give finite inputs")
    return arr


def _describe_value(arr: np.ndarray) -> str:
    if arr.ndim == 0:
        return repr(float(arr))
    return f"array(shape={arr.shape})"


def _broadcast(arr: np.ndarray, shape: tuple[int, ...], name: str) -> np.ndarray:
    """Broadcast ``arr`` to ``(B, *S)``; ``arr`` may be a scalar, ``S``-shaped or ``(B, *S)``."""
    try:
        return np.broadcast_to(arr, shape).astype(np.float64)
    except ValueError:
        raise ConfigurationError(
            f"{name} has shape {arr.shape}, which does not broadcast to the input shape "
            f"{shape[1:]} (or the batch shape {shape})"
        ) from None


def _check_box(low: np.ndarray, high: np.ndarray, where: Constraint) -> None:
    bad = low > high
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ConfigurationError(
            f"the constraint set {where!r} is empty: at index {idx} the lower bound "
            f"{low[idx]:g} is larger than the upper bound {high[idx]:g}"
        )


def _radii(radius: np.ndarray, batch: int) -> np.ndarray:
    """An LpBall's radius as one per batch item: a scalar, or exactly ``batch`` radii."""
    if radius.ndim == 1 and radius.shape[0] not in (1, batch):
        raise ConfigurationError(
            f"LpBall has {radius.shape[0]} radii for {batch} items; give one radius, or one per batch item"
        )
    return np.broadcast_to(radius, (batch,)).astype(np.float64)


def _mask_values(masks: list, shape: tuple[int, ...], low: np.ndarray, high: np.ndarray, ref: np.ndarray,
                 where: Constraint) -> np.ndarray:
    """``ref`` with each Mask's ``values`` on that mask's own frozen entries (checked against the box)."""
    fixed = np.full(shape, np.nan)
    for m in masks:
        if m.values is None:
            continue
        frozen = ~_broadcast(m.mask, shape, "Mask").astype(bool)
        vals = _broadcast(m.values, shape, "Mask values")
        clash = frozen & ~np.isnan(fixed) & (fixed != vals)
        if clash.any():
            idx = tuple(int(i) for i in np.argwhere(clash)[0])
            raise ConfigurationError(
                f"the constraint set {where!r} is empty: two Masks freeze index {idx} at different "
                f"values {fixed[idx]:g} and {vals[idx]:g}"
            )
        fixed = np.where(frozen, vals, fixed)
    given = ~np.isnan(fixed)
    outside = given & ((fixed < low) | (fixed > high))
    if outside.any():
        idx = tuple(int(i) for i in np.argwhere(outside)[0])
        raise ConfigurationError(
            f"the constraint set {where!r} is empty: the Mask value {fixed[idx]:g} at index {idx} lies "
            f"outside the bounds [{low[idx]:g}, {high[idx]:g}]; give values inside the box"
        )
    return np.where(given, fixed, ref)


def _check_ball(canon: Canonical, where: Constraint, masked: bool = False) -> None:
    if not canon.has_ball:
        return
    axes = tuple(range(1, canon.low.ndim))
    nearest = np.clip(canon.center, canon.low, canon.high)
    dist = np.sqrt(((nearest - canon.center) ** 2).sum(axis=axes))
    bad = dist > canon.radius * (1 + 1e-9) + 1e-12
    if bad.any():
        i = int(np.argmax(bad))
        frozen = " with the Mask's frozen entries (at the start, clipped to the box)" if masked else ""
        raise ConfigurationError(
            f"the constraint set {where!r} is empty for batch item {i}: the L2 ball of radius "
            f"{canon.radius[i]:g} is {dist[i]:g} away from the box{frozen}; use a larger radius"
            + (" or a start whose frozen entries lie inside the ball" if masked else "")
        )


def _parse_p(p: Any) -> float:
    if isinstance(p, str) and p.lower() in {"inf", "linf"}:
        return np.inf
    try:
        val = float(p)
    except (TypeError, ValueError):
        val = None
    if val in (2.0, np.inf):
        return val
    raise ConfigurationError(f"LpBall p={p!r} is not supported; choose p=2 or p=np.inf")
