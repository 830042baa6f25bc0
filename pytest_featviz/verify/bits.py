"""Element-wise choices between two float64 arrays as integer operations on their bits, and the
one rule for the terms of a bound: a zero coefficient contributes 0 whatever it multiplies (an
infinite end or magnitude included), a NaN coefficient makes the term NaN (the bound is then
unknown, never quietly finite).

``np.where(cond, x, y)`` takes several times as long as an arithmetic pass over the same
arrays; ``y ^ ((x ^ y) & mask)`` on the numbers' 64-bit patterns, with ``mask`` all ones
where ``cond`` holds, picks the same numbers (bitwise) in a few integer passes. The
backward passes choose a relaxation's upper or lower line, and a box's upper or lower
end, this way for every coefficient.
"""

from __future__ import annotations

import numpy as np

__all__ = ["mask_of", "select", "box_products", "abs_products"]


def _bits(v: np.ndarray | float) -> np.ndarray:
    return np.asarray(v, dtype=np.float64).view(np.int64)


def mask_of(cond: np.ndarray) -> np.ndarray:
    """An int64 array of ``cond``'s shape: all ones (-1) where it holds, else 0.

    Examples
    --------
    >>> import numpy as np
    >>> mask_of(np.array([True, False]))
    array([-1,  0])
    """
    mask = cond.astype(np.int64)
    np.negative(mask, out=mask)
    return mask


def select(mask: np.ndarray, x: np.ndarray | float, y: np.ndarray | float, out: np.ndarray | None = None) -> np.ndarray:
    """``np.where(mask != 0, x, y)`` (``mask`` from :func:`mask_of`; ``x``, ``y`` float64, broadcast
    to its shape), bitwise; ``out`` (int64, the mask itself allowed) receives the bits.

    Examples
    --------
    >>> import numpy as np
    >>> select(mask_of(np.array([True, False])), np.array([1.5, 2.0]), -0.0)
    array([ 1.5, -0. ])
    """
    yb = _bits(y)
    found = np.bitwise_and(mask, _bits(x) ^ yb, out=out)
    found ^= yb
    return found.view(np.float64)


def box_products(a: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """``a * high`` where ``a > 0``, ``a * low`` where ``a < 0``, 0 where ``a`` is 0 (``low``, ``high``
    broadcast to ``a``): the terms of the largest value of ``a . x`` over the box ``[low, high]``.
    An infinite end is never multiplied by a zero coefficient; NaN coefficients give NaN.

    Examples
    --------
    >>> import numpy as np
    >>> box_products(np.array([2.0, -1.0, 0.0]), np.array([-1.0, -1.0, -np.inf]), np.array([1.0, 3.0, np.inf]))
    array([2., 1., 0.])
    """
    if not (np.isfinite(low).all() and np.isfinite(high).all()):
        with np.errstate(invalid="ignore"):
            return np.where(a > 0, a * high, np.where(a < 0, a * low, a * 0.0))
    ends = select(mask_of(a > 0), high, low)
    ends *= a
    return ends


def abs_products(a: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``|a| * d`` where ``a`` is not 0 and 0 where it is (``d`` broadcast to ``a``): the terms of
    ``|a| . d``, a magnitude ``d`` (possibly infinite) summed with the weights ``|a|``. An infinite
    ``d`` is never multiplied by a zero coefficient; NaN coefficients give NaN.

    Examples
    --------
    >>> import numpy as np
    >>> abs_products(np.array([2.0, -1.0, 0.0, np.nan]), np.array([1.0, 3.0, np.inf, 1.0]))
    array([ 2.,  3.,  0., nan])
    """
    m = np.abs(a)
    if np.isfinite(d).all():
        return m * d
    with np.errstate(invalid="ignore"):
        return np.where(m != 0, m * d, 0.0)
