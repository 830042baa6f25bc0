"""Tangent and chord lines that bound a smooth monotone activation on an interval (CROWN, DeepPoly).

A function ``f`` here is non-decreasing, convex on ``(-inf, c]`` and concave on
``[c, inf)`` for its inflection point ``c`` (``c = inf``: convex everywhere, like softplus;
``c = -inf``: concave everywhere; sigmoid and tanh: ``c = 0``). Kinks are allowed where
``df`` returns a sub-gradient on the convex side and a super-gradient on the concave side.

:func:`upper_line` returns, per neuron, a line above ``f`` on ``[l, u]``, chosen among the
valid candidates by the smallest area between line and ``f`` (the line's value at the
midpoint ``m``):

- the chord through ``(l, f(l))`` and ``(u, f(u))``: valid when ``[l, u]`` is convex, or
  when it straddles ``c`` and the chord's slope is at most ``f'(u)``; it lies below every
  other valid line, so it wins whenever it is valid;
- a tangent at a point ``d`` of the concave part: valid for every ``d >= d*``, where ``d*``
  is the tangent point whose line passes through ``(l, f(l))`` (``d* = l`` on a concave
  interval; found by bisection when the interval straddles ``c``); the area is smallest
  at ``d = clip(m, d*, u)``;
- the constant ``f(u)``, always valid, which keeps the line from being looser than
  interval propagation on lopsided intervals (``l = -8, u = 0.5`` for sigmoid), where the
  tangent through ``(l, f(l))`` is steep.

:func:`lower_line` is the same construction for ``-f(-x)`` (convex and concave swap).

Each line is then made sound in floating point: its largest violation on ``[l, u]`` is
bounded above (on the convex part ``f - line`` is convex, so its maximum is at an end of
the part; on the concave part ``f - line`` is concave, so it lies below its tangent at
any point ``p``: ``g(x) <= g(p) + g'(p)(x - p)``) and the intercept is raised by that bound
(when positive) plus a float64 tolerance, so an approximate tangent point never costs
soundness, only at most a few ulps of tightness.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["upper_line", "lower_line", "tangent_point", "line_violation", "BISECTIONS"]

Fn = Callable[[np.ndarray], np.ndarray]

BISECTIONS = 48
"""Bisection steps for the tangent point (the search interval shrinks to ``2**-48`` of its width)."""
_TOLERANCE = 64 * np.finfo(np.float64).eps


def tangent_point(f: Fn, df: Fn, low: np.ndarray, high: np.ndarray, inflection: float) -> np.ndarray:
    """The smallest ``d`` in ``[c, high]`` whose tangent passes above ``(low, f(low))``.

    For ``low < c < high`` (``c``: the inflection point), ``h(d) = f(d) + f'(d)(low - d) - f(low)``
    is non-decreasing on ``[c, inf)`` and ``h(c) <= 0``; the result is the bisection's end with
    ``h >= 0`` (``high`` itself where ``h(high) < 0``: no tangent of the concave part is valid, the
    chord is).

    Parameters
    ----------
    f, df : callable
        The function and its derivative, element-wise on float64 arrays.
    low, high : ndarray
        The intervals, ``low < inflection < high``.
    inflection : float
        ``c``.

    Returns
    -------
    ndarray
        ``d``, shaped like ``low``.

    Examples
    --------
    >>> d = tangent_point(np.tanh, lambda x: 1 - np.tanh(x) ** 2, np.array([-1.0]), np.array([3.0]), 0.0)
    >>> bool(0.0 < d[0] < 3.0)
    True
    """
    fl = f(low)

    def h(d: np.ndarray) -> np.ndarray:
        return f(d) + df(d) * (low - d) - fl

    lo = np.full_like(low, inflection)
    hi = np.array(high, dtype=np.float64)
    for _ in range(BISECTIONS):
        mid = 0.5 * (lo + hi)
        ok = h(mid) >= 0
        hi, lo = np.where(ok, mid, hi), np.where(ok, lo, mid)
    return hi


def line_violation(
    f: Fn,
    df: Fn,
    low: np.ndarray,
    high: np.ndarray,
    inflection: float,
    slope: np.ndarray,
    intercept: np.ndarray,
    touch: np.ndarray,
) -> np.ndarray:
    """An upper bound on ``max(f(x) - slope*x - intercept)`` over ``[low, high]``.

    On the convex part ``[low, e]`` (``e = clip(c, low, high)``) the gap is convex: its
    largest value is at ``low`` or ``e``. On the concave part ``[e, high]`` it is concave, so
    it lies below its tangent at each of ``e``, ``high`` and ``touch`` (clipped to the part);
    the smallest of those three bounds is taken.

    Examples
    --------
    >>> one, zero = np.array([1.0]), np.array([0.0])
    >>> bound = line_violation(np.tanh, lambda v: 1 - np.tanh(v) ** 2, -one, one, 0.0, zero, one / 2, zero)
    >>> round(float(bound[0]), 4), round(float(np.tanh(1.0) - 0.5), 4)  # the line y = 0.5 on [-1, 1]
    (0.2616, 0.2616)
    """
    e = np.clip(inflection, low, high)

    def gap(x: np.ndarray) -> np.ndarray:
        return f(x) - (slope * x + intercept)

    convex = np.maximum(gap(low), gap(e))
    concave = np.full_like(convex, np.inf)
    for p in (e, high, np.clip(touch, e, high)):
        dg = df(p) - slope
        concave = np.minimum(concave, gap(p) + np.maximum(dg * (e - p), dg * (high - p)))
    return np.maximum(convex, concave)


def upper_line(f: Fn, df: Fn, low: np.ndarray, high: np.ndarray, inflection: float) -> tuple[np.ndarray, np.ndarray]:
    """``(slope, intercept)`` of a line above ``f`` on each ``[low, high]`` (see the module docstring).

    Parameters
    ----------
    f, df : callable
        The function (non-decreasing, convex then concave) and a derivative, element-wise.
    low, high : ndarray
        Finite interval ends, ``low < high`` element-wise.
    inflection : float
        Where ``f`` turns from convex to concave (``inf``: convex everywhere; ``-inf``: concave).

    Returns
    -------
    tuple of ndarray
        Slopes and intercepts, shaped like ``low``.

    Examples
    --------
    >>> def sigmoid(x):
    ...     return 0.5 * (1 + np.tanh(0.5 * x))
    >>> s, b = upper_line(sigmoid, lambda x: sigmoid(x) * (1 - sigmoid(x)), np.array([-1.0]), np.array([2.0]), 0.0)
    >>> x = np.linspace(-1.0, 2.0, 101)
    >>> bool(np.all(s * x + b >= sigmoid(x))), bool(s[0] * 0.5 + b[0] < sigmoid(2.0))  # below f(u) at the midpoint
    (True, True)
    """
    low, high = np.asarray(low, np.float64), np.asarray(high, np.float64)
    fl, fu = f(low), f(high)
    mid = 0.5 * (low + high)
    chord = (fu - fl) / (high - low)
    convex, concave = high <= inflection, low >= inflection
    straddle = ~convex & ~concave
    reach_u = fu + df(high) * (low - high) - fl  # h(u): >= 0 where the tangent at u passes above f(l)
    chord_ok = convex | (straddle & (reach_u <= 0))
    tangent_ok = concave | (straddle & (reach_u > 0))
    start = np.array(low)  # d*: the first valid tangent point
    search = straddle & tangent_ok
    if search.any():
        start[search] = tangent_point(f, df, low[search], high[search], inflection)
    touch = np.clip(mid, start, high)
    t_slope = df(touch)
    t_icpt = f(touch) - t_slope * touch
    at_mid = np.stack(
        [
            np.where(chord_ok, 0.5 * (fl + fu), np.inf),
            np.where(tangent_ok, t_slope * mid + t_icpt, np.inf),
            fu,
        ]
    )
    pick = np.argmin(at_mid, axis=0)
    slope = np.choose(pick, [chord, t_slope, np.zeros_like(fu)])
    intercept = np.choose(pick, [fl - chord * low, t_icpt, fu])
    touch = np.choose(pick, [high, touch, high])
    excess = line_violation(f, df, low, high, inflection, slope, intercept, touch)
    scale = 1.0 + np.abs(fl) + np.abs(fu) + np.abs(slope) * np.maximum(np.abs(low), np.abs(high)) + np.abs(intercept)
    return slope, intercept + np.maximum(excess, 0.0) + _TOLERANCE * scale


def lower_line(f: Fn, df: Fn, low: np.ndarray, high: np.ndarray, inflection: float) -> tuple[np.ndarray, np.ndarray]:
    """``(slope, intercept)`` of a line below ``f`` on each ``[low, high]``: :func:`upper_line`
    of ``-f(-x)`` (concave where ``f`` is convex) on ``[-high, -low]``, reflected back.

    Examples
    --------
    >>> s, b = lower_line(np.tanh, lambda x: 1 - np.tanh(x) ** 2, np.array([-2.0]), np.array([1.0]), 0.0)
    >>> x = np.linspace(-2.0, 1.0, 101)
    >>> bool(np.all(s * x + b <= np.tanh(x)))
    True
    """
    slope, intercept = upper_line(
        lambda x: -f(-x), lambda x: df(-x), -np.asarray(high, np.float64), -np.asarray(low, np.float64), -inflection
    )
    return slope, -intercept
