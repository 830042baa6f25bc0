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

How much of that worst case a real float32 evaluation reaches is measured by
:func:`adverse_dense`: a dense layer summed in float32 in an order picked term by term to
push each output one way (a valid IEEE evaluation, as a backend free to reorder its sums
could run it). On 3400 normal terms it moves the sum by about 0.2 of this bound; on the
CNN of issue 19 it moves 83 of 90 ends of the logit margins past the exact-arithmetic bounds
(``bench/rounding_orders.py``). And one order of that CNN's terms (positives from the largest
down, then negatives from the smallest up) has partial sums whose magnitudes add up to 0.83 of
``k max(P, N)``: no bound that charges each addition ``u`` times its partial sum is much below
this one.
"""

from __future__ import annotations

import numpy as np

from .linear import Conv2D, Dense, DepthwiseConv2D, LinearOp

__all__ = ["gamma", "linear_rounding", "adverse_sum", "adverse_dense"]


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


def _oscillate(
    out: np.ndarray, back: np.ndarray, side: float, target: float, direction: float, pool: int
) -> np.float32:
    """One adversarial order: the partial sums climb to ``side * target`` with the largest
    terms of sign ``side`` (magnitudes ``out``, ascending), then cross it back and forth (the
    smallest such terms that cross it, the smallest terms of the other sign, ``back``, to
    return); each step adds, among ``pool`` candidates, the term whose addition rounds
    furthest in ``direction`` (exactly: two float32 numbers sum exactly in float64)."""
    total, sign = np.float32(0.0), np.float32(side)
    while len(out) or len(back):
        climbing = len(out) > 0 and (side * total < target or not len(back))
        if climbing:
            first = int(np.searchsorted(out, target - side * total))  # the smallest term that crosses
            low = first if first < len(out) else max(0, len(out) - pool)
            picks = np.arange(low, min(low + pool, len(out)))
            candidates = sign * out[picks]
        else:
            picks = np.arange(min(pool, len(back)))
            candidates = -sign * back[picks]
        sums = total + candidates
        errors = sums.astype(np.float64) - (np.float64(total) + candidates.astype(np.float64))
        i = int(np.argmax(direction * errors))
        total = sums[i]
        if climbing:
            out = np.delete(out, picks[i])
        else:
            back = np.delete(back, picks[i])
    return np.float32(total)


def adverse_sum(terms: np.ndarray, direction: float, pool: int = 256, tries: int = 3) -> np.float32:
    """The float32 sum of ``terms`` in an order chosen to push the rounding towards ``direction``.

    An addition whose result stays in (or drops below) the binade of the running sum rounds
    by an amount fixed by the term's own bits and that binade (ties aside), whatever the
    order; one that carries the sum into the next binade up rounds by up to half that
    binade's ulp, in a direction the order can choose. So the order climbs to a power of two ``2**E`` (``E`` among the ``tries``
    largest below ``max(P, N)``) and crosses it back and forth as often as the terms allow,
    picking at each step, among ``pool`` candidates, the term that rounds furthest in
    ``direction``; the most extreme of the ``tries`` sums is returned. On 3400 normal terms
    it moves the sum by about 0.2 of the worst-case bound of :func:`linear_rounding`
    (summed in index order: about 0.0001 of it). Deterministic.

    Parameters
    ----------
    terms : ndarray
        The float32 terms (products already rounded, bias included).
    direction : float
        ``+1`` to push the sum up, ``-1`` down.
    pool : int
        Candidates compared at each step.
    tries : int
        Powers of two tried as the level to cross.

    Returns
    -------
    numpy.float32
        One valid float32 evaluation of the sum (round to nearest, in some order).

    Examples
    --------
    >>> t = np.random.default_rng(0).normal(size=1000).astype(np.float32)
    >>> float(adverse_sum(t, -1.0)) < float(t.sum(dtype=np.float64)) < float(adverse_sum(t, 1.0))
    True
    """
    terms = np.asarray(terms, np.float32)
    up, down = terms[terms > 0].sum(dtype=np.float64), -terms[terms < 0].sum(dtype=np.float64)
    side = 1.0 if up >= down else -1.0
    out, back = np.sort(np.abs(terms[side * terms > 0])), np.sort(np.abs(terms[side * terms < 0]))
    top = int(np.floor(np.log2(max(up, down)))) if max(up, down) > 0 else 0
    sums = [_oscillate(out, back, side, 2.0**e, direction, pool) for e in range(top, top - tries, -1)]
    return np.float32(max(sums) if direction > 0 else min(sums))


def adverse_dense(kernel: np.ndarray, inputs: np.ndarray, bias: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """A dense layer ``inputs @ kernel + bias`` evaluated in float32, each output summed by
    :func:`adverse_sum` towards its sign in ``directions`` (products rounded to float32,
    exact zeros skipped, as they change no partial sum).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> w, v = rng.normal(size=(500, 2)).astype(np.float32), rng.uniform(size=500).astype(np.float32)
    >>> exact = v.astype(np.float64) @ w.astype(np.float64)
    >>> up = adverse_dense(w, v, np.zeros(2, np.float32), np.array([1.0, 1.0]))
    >>> down = adverse_dense(w, v, np.zeros(2, np.float32), np.array([-1.0, -1.0]))
    >>> bool(np.all(down < exact) and np.all(exact < up))
    True
    """
    kernel, inputs = np.asarray(kernel, np.float32), np.asarray(inputs, np.float32)
    live = inputs != 0
    products = (kernel[live].astype(np.float64) * inputs[live, None].astype(np.float64)).astype(np.float32)
    out = np.empty(kernel.shape[1], np.float32)
    for j in range(kernel.shape[1]):
        out[j] = adverse_sum(np.append(products[:, j], np.float32(bias[j])), float(directions[j]))
    return out
