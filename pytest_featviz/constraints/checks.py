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

from decimal import ROUND_CEILING, Decimal
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigurationError, FeatvizTypeError

if TYPE_CHECKING:
    from .sets import Canonical, Constraint


def float32_inward(low: Any, high: Any) -> tuple[np.ndarray, np.ndarray]:
    """The float32 bounds closest to ``[low, high]`` from inside, element by element.

    Where no float32 number lies in the interval the result has ``low > high``; the
    caller decides what that means.

    Examples
    --------
    >>> lo, hi = float32_inward(0.1, 254.9)
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


def _as_float32_values(value: Any, name: str) -> np.ndarray:
    """Input values (a Mask's), which the model holds in float32: each rounded to the nearest float32.

    Examples
    --------
    >>> bool(_as_float32_values(0.1, "Mask values") == np.float32(0.1))
    True
    """
    arr = _as_float_array(value, name)
    with np.errstate(over="ignore"):
        arr32 = arr.astype(np.float32).astype(np.float64)
    if not np.isfinite(arr32).all():
        raise ConfigurationError(f"{name} must be finite and within the float32 range (|v| <= 3.4e38); got {value!r}")
    return arr32


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


def _mask_values(
    masks: list, shape: tuple[int, ...], low: np.ndarray, high: np.ndarray, ref: np.ndarray, where: Constraint
) -> np.ndarray:
    """``ref`` with each Mask's ``values`` on that mask's own frozen entries (checked against the box).

    ``ref`` (the start, clipped to the box) is clipped again to the box's float32 bounds, so a
    float32 start freezes its entries at float32 numbers inside the box.
    """
    lo32, hi32 = float32_inward(low, high)
    ref = np.where(lo32 <= hi32, np.clip(ref, lo32, hi32), ref)
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


# -- float32: the engine's set must hold a float32 point ---------------------------------------


def _round_up(value: float) -> str:
    """``value`` rounded up to three significant digits (a radius to suggest).

    Examples
    --------
    >>> _round_up(3.5401e-06), _round_up(1.0), _round_up(1.0000000001)
    ('3.55e-06', '1', '1.01')
    """
    exact = Decimal(float(value))
    if exact <= 0:
        return "0"
    up = exact.quantize(Decimal(1).scaleb(exact.adjusted() - 2), rounding=ROUND_CEILING)
    return f"{float(up):.3g}"


def _entry(arr: Any, shape: tuple[int, ...], at: tuple[int, ...]) -> float:
    return float(np.broadcast_to(np.asarray(arr, dtype=np.float64), shape)[at])


def _interval_parts(
    source: Constraint, shape: tuple[int, ...], at: tuple[int, ...]
) -> list[tuple[int, Any, float, float]]:
    """``(k, part, low, high)`` of each box-like part of ``source`` at the entry ``at`` of ``(B, *S)``."""
    from .sets import Box, LpBall

    out: list[tuple[int, Any, float, float]] = []
    for k, part in enumerate(source._parts()):
        if isinstance(part, Box):
            out.append((k, part, _entry(part.low, shape, at), _entry(part.high, shape, at)))
        elif isinstance(part, LpBall) and part.p == np.inf:
            c, r = _entry(part.center, shape, at), float(np.broadcast_to(part.radius, shape[:1])[at[0]])
            out.append((k, part, c - r, c + r))
    return out


def _entry_fixes(
    source: Constraint, shape: tuple[int, ...], at: tuple[int, ...], low: float, high: float, below: float, above: float
) -> list[str]:
    """How to give the entry ``at`` a float32 number: one line per part that binds it."""
    from .sets import LpBall

    parts = _interval_parts(source, shape, at)
    fixes = []
    for k, part, lo, hi in parts:
        if lo != low and hi != high:
            continue
        if isinstance(part, LpBall):
            others = [(o_lo, o_hi) for j, _, o_lo, o_hi in parts if j != k]
            o_lo32, o_hi32 = float32_inward(
                max([-np.inf] + [o[0] for o in others]), min([np.inf] + [o[1] for o in others])
            )
            if o_lo32 <= o_hi32:
                c = 0.5 * (lo + hi)
                nearest = float(np.clip(np.clip(c, o_lo32, o_hi32).astype(np.float32), o_lo32, o_hi32))
                need = abs(nearest - c) * (1 + 1e-9) + 4 * np.spacing(abs(c))  # c -/+ radius rounds in float64
                fixes.append(f"widen the radius of part {k} {part!r} to at least {_round_up(need)}")
        else:
            fixes.append(f"widen part {k} {part!r} at this entry to hold {below!r} or {above!r} (float32 numbers)")
    return fixes


def _check_float32_box(canon: Canonical, low32: np.ndarray, high32: np.ndarray) -> None:
    """Refuse an entry whose interval holds no float32 number (one number is fine: the entry is fixed)."""
    empty = low32 > high32
    if not empty.any():
        return
    at = tuple(int(i) for i in np.argwhere(empty)[0])
    low, high = float(canon.low[at]), float(canon.high[at])
    below, above = float(high32[at]), float(low32[at])  # inward rounding crossed: the neighbours
    where = repr(canon.source) if canon.source is not None else "the constraint set"
    fixes = _entry_fixes(canon.source, canon.low.shape, at, low, high, below, above) if canon.source is not None else []
    raise ConfigurationError(
        f"{where} holds no float32 number at batch item {at[0]}, index {at[1:]}: the entry must lie in "
        f"[{low!r}, {high!r}] (width {high - low:.3g}), strictly between the float32 neighbours {below!r} and "
        f"{above!r}, and the model runs in float32. An interval that holds one float32 number fixes the entry "
        "at it; one that holds none is refused. Fix: " + ("; or ".join(fixes) or "widen the interval")
    )


def _check_float32_ball(canon: Canonical, low32: np.ndarray, high32: np.ndarray, center32: np.ndarray) -> None:
    """Refuse an L2 ball that holds no float32 point of the float32 box.

    The float32 box point nearest to the centre is the rounded centre clipped to the float32
    box; the ball holds a float32 point of the box exactly when it holds that one (and the
    compiled projection, failing every other point, returns it).
    """
    axes = tuple(range(1, center32.ndim))
    nearest = np.clip(center32, low32, high32).astype(np.float64)
    dist = np.sqrt(((nearest - canon.center) ** 2).sum(axis=axes))
    bad = dist > canon.radius
    if not bad.any():
        return
    from .sets import LpBall

    i = int(np.argmax(bad))
    parts = canon.source._parts() if canon.source is not None else ()
    ball = next((f"part {k} {p!r}" for k, p in enumerate(parts) if isinstance(p, LpBall) and p.p == 2), "the L2 ball")
    where = repr(canon.source) if canon.source is not None else "the constraint set"
    raise ConfigurationError(
        f"{where} holds no float32 point for batch item {i}: {ball} has radius {float(canon.radius[i])!r}, but "
        f"the nearest float32 point of the box lies {float(dist[i])!r} from its centre; the model runs in "
        f"float32. Fix: widen the radius to at least {_round_up(dist[i])}"
    )


# -- which part a point breaks (for assert_within) --------------------------------------------
def _worst_entry(x: np.ndarray, low: np.ndarray, high: np.ndarray) -> str:
    excess = np.maximum(low - x, x - high)
    at = np.unravel_index(int(np.argmax(excess)), excess.shape)
    return f"entry {tuple(map(int, at))} = {x[at]:.9g}, allowed [{low[at]:.9g}, {high[at]:.9g}]"


def part_breaches(constraint: Constraint, x: np.ndarray, ref: np.ndarray, i: int, atol: float) -> list[str]:
    """One line per part of ``constraint`` that item ``i`` of ``x`` breaks by more than ``atol``.

    Each line names the part (index and repr), the violation, the tolerance and where.
    ``ref`` pins the Masks' frozen entries, as in ``violation``.
    """
    from .sets import LpBall, Mask

    whole = constraint._canonical(x.shape, ref, check=False)
    lines = []
    for k, part in enumerate(constraint._parts()):
        if isinstance(part, Mask):
            frozen = ~_broadcast(part.mask, x.shape, "Mask").astype(bool)[i]
            low = np.where(frozen, whole.low[i], -np.inf)
            high = np.where(frozen, whole.high[i], np.inf)
            amount = float(np.maximum(np.maximum(low - x[i], x[i] - high), 0).max())
            where = _worst_entry(x[i], low, high)
        else:
            own = part._canonical(x.shape, None, check=False)
            amount = float(own.violation(x)[i])
            if isinstance(part, LpBall) and part.p == 2:
                dist = float(np.sqrt(((x[i] - own.center[i]) ** 2).sum()))
                where = f"distance {dist:.9g} from its centre, radius {float(own.radius[i]):.9g}"
            else:
                where = _worst_entry(x[i], own.low[i], own.high[i])
        if amount > atol:
            lines.append(f"  item {i}: breaks part {k} {part!r} by {amount:.3g} (atol={atol:g}); {where}")
    return lines
