"""The exact Euclidean projection onto ``low <= x <= high`` and ``||x - center||_2 <= radius``: one algorithm.

The projection is ``clip(x)`` when that lies in the ball, else ``clip((1 - t) x + t c)``
with the smallest ``t`` in [0, 1] that lands inside, found by bisection (the distance to
``c`` is monotone in ``t``). :func:`project_box_ball` is written once against a small
array namespace: :data:`NUMPY` here (float64, used by :meth:`Canonical.project`) and the
TensorFlow one of the compiled loop (float32 points, float64 distances). The number of
bisection steps and the ball's safety margin depend only on the working precision
(:data:`BISECTIONS`): enough halvings to pin ``t`` to that precision, and in float32 a
relative margin that covers the rounding of the summed distances.

Examples
--------
>>> import numpy as np
>>> x = np.array([[3.0, 4.0]])
>>> project_box_ball(NUMPY, x, np.full((1, 2), -9.0), np.full((1, 2), 9.0), np.zeros((1, 2)), np.array([1.0]), True)
array([[0.6, 0.8]])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

__all__ = ["Bisection", "BISECTIONS", "NUMPY", "project_box_ball"]


class Bisection(NamedTuple):
    """How the ball's ``t`` is searched in one working precision."""

    steps: int
    margin: float  # relative shrinking of the radius in the inside test


BISECTIONS = {
    "float64": Bisection(steps=60, margin=0.0),  # 2**-60: t exact in float64; distances exact to rounding
    "float32": Bisection(steps=40, margin=1e-9),  # float32 points, distances summed in float64
}


class _NumpyOps:
    """The array namespace of the float64 projection."""

    bisection = BISECTIONS["float64"]
    clip = staticmethod(np.clip)
    where = staticmethod(np.where)
    zeros_like = staticmethod(np.zeros_like)
    ones_like = staticmethod(np.ones_like)

    @staticmethod
    def per_item(t: Any, like: Any) -> Any:
        return np.reshape(t, (-1,) + (1,) * (np.ndim(like) - 1))

    @staticmethod
    def squared_distance64(v: Any, center: Any) -> Any:
        return ((np.asarray(v, np.float64) - center) ** 2).sum(axis=tuple(range(1, np.ndim(v))))

    @staticmethod
    def as64(v: Any) -> Any:
        return np.asarray(v, np.float64)

    @staticmethod
    def repeat(n: int, body: Callable[[Any, Any], tuple[Any, Any]], lo: Any, hi: Any) -> tuple[Any, Any]:
        for _ in range(n):
            lo, hi = body(lo, hi)
        return lo, hi


NUMPY = _NumpyOps()


def project_box_ball(xp: Any, x: Any, low: Any, high: Any, center: Any, radius: Any, has_ball: bool) -> Any:
    """The exact projection of the batch ``x`` (``(B, *S)``; ``radius`` ``(B,)``) in the namespace ``xp``."""
    y = xp.clip(x, low, high)
    if not has_ball:
        return y
    steps, margin = xp.bisection
    r2 = (xp.as64(radius) * (1.0 - margin)) ** 2

    def inside(v: Any) -> Any:
        return xp.squared_distance64(v, center) <= r2

    def point(t: Any) -> Any:
        t = xp.per_item(t, x)
        return xp.clip((1 - t) * x + t * center, low, high)

    def halve(lo: Any, hi: Any) -> tuple[Any, Any]:
        mid = 0.5 * (lo + hi)
        ok = inside(point(mid))
        return xp.where(ok, lo, mid), xp.where(ok, mid, hi)

    _, hi = xp.repeat(steps, halve, xp.zeros_like(radius), xp.ones_like(radius))
    return xp.where(xp.per_item(inside(y), x), y, point(hi))
