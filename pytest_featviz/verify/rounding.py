"""The float32 rounding of one linear operation of the real model: a bound per output.

:mod:`.propagation` treats the float32 model as the exact network plus a perturbation
``d_n`` at every node, ``|d_n| <= D_n``; this module gives ``D_n`` for a linear operation
evaluated on *computed* inputs ``v`` that lie in ``[lo, hi]`` (unit roundoff ``u``).

Operations in general (:func:`linear_rounding`): ``gamma(steps) (|W| M + |b|)`` with
``M = max(|lo|, |hi|)`` and ``steps`` the float operations each output accumulates
(Higham, *Accuracy and Stability of Numerical Algorithms*, (3.5): ``gamma_k = k u / (1 - k u)``).

Dense and convolution layers, ``sum_i w_i v_i + b``, get a tighter bound that still holds
for every summation order (sequential, blocked, a tree; with or without fused multiply-adds):

- a product that is exactly zero (``w_i = 0``, or ``v_i = 0``, e.g. a ReLU whose input bound
  is <= 0) rounds nothing and changes no partial sum, so only the ``k`` possibly nonzero
  products count: ``k`` additions can round (the bias's included);
- each product rounds once: at most ``u sum_i |w_i| M_i`` in all;
- each addition rounds by at most ``u`` times the computed partial sum it forms. Any
  partial sum is the sum of a subset of the (rounded) terms, so it lies between ``-(1+u) N``
  and ``(1+u) P``, where ``P`` bounds the sum of the terms that can be positive and ``N``
  that of the terms that can be negative (``P = W+ hi+ + W- lo-``, ``N = W+ lo- + W- hi+``
  with ``x+ = max(x, 0)``, ``x- = max(-x, 0)``, the bias in ``P`` or ``N`` by its sign); plus
  the errors made so far, which are part of the total ``E``. So
  ``E <= k u ((1+u) max(P, N) + E) + u |W| M``, i.e.
  ``E <= (k u (1+u) max(P, N) + u |W| M) / (1 - k u)``.

With weights of both signs ``max(P, N)`` is about half of ``P + N = |W| (hi+ + lo-) + |b|``
(``max(P, N) = (P + N + |P - N|) / 2`` and ``P - N = W (hi+ - lo-) + b``), and ``k`` counts only
the live inputs: on the digits CNN of issue 19 this halves the rounding allowance of
``gamma_{n+1} (|W| M + |b|)`` twice over. Underflow is not modelled (the caller adds an
absolute margin), and the caller scales the bound by its safety factor for the float64
arithmetic of the bound computation.
"""

from __future__ import annotations

import numpy as np

from .linear import Conv2D, Dense, DepthwiseConv2D, LinearOp

__all__ = ["gamma", "linear_rounding"]


def gamma(n: int, unit: float) -> float:
    """Higham's bound ``n u / (1 - n u)`` on the relative error of ``n`` float operations.

    Examples
    --------
    >>> gamma(2, 2.0**-24) > 2 * 2.0**-24
    True
    """
    nu = n * unit
    return np.inf if nu >= 1 else nu / (1 - nu)


def linear_rounding(op: LinearOp, lows: list[np.ndarray], highs: list[np.ndarray], unit: float) -> np.ndarray:
    """A bound per output on the rounding of ``op``'s float evaluation on computed inputs in ``[lows, highs]``.

    Examples
    --------
    >>> from pytest_featviz.verify.linear import Dense
    >>> op = Dense(np.array([[1.0], [-1.0], [0.0]]), np.zeros(1))
    >>> lo, hi = np.array([[0.0, 0.0, 0.0]]), np.array([[1.0, 1.0, 1.0]])
    >>> float(linear_rounding(op, [lo], [hi], 2.0**-24)[0, 0] / 2.0**-24)  # k = 2: (2 (1+u) max(P, N) + 2) / (1 - 2u), in units of u
    4.000000596046519
    """
    mags = [np.maximum(np.abs(lo), np.abs(hi)) for lo, hi in zip(lows, highs)]
    products = op.apply(mags, "abs")  # sum |w_i| M_i
    if not isinstance(op, (Dense, Conv2D, DepthwiseConv2D)):
        return gamma(op.steps, unit) * (products + op.const_mag())
    up, down = np.maximum(highs[0], 0.0), np.maximum(-lows[0], 0.0)
    straddle = bool(np.any((lows[0] < 0) & (highs[0] > 0)))  # else up + down is M exactly
    both = (op.apply([up + down], "abs") if straddle else products) + op.const_mag()  # P + N
    half = 0.5 * (both + np.abs(op.apply([up - down], "value")))  # max(P, N)
    k = op.apply([(mags[0] > 0).astype(np.float64)], "nonzero")  # possibly nonzero products
    ku = k * unit
    bound = (ku * (1.0 + unit) * half + unit * products) / np.maximum(1.0 - ku, np.finfo(np.float64).tiny)
    return np.where(ku < 1.0, bound, np.inf)
