"""Counterexamples for branch and bound: projected gradient ascent on the real Keras model in float32.

A counterexample is only ever reported from the model's own float32 evaluation (the
feature extractor the search uses, :class:`pytest_featviz.models.FeatureExtractor`) at
a float32 point that lies inside the item's canonical constraint set exactly (no
tolerance): the bounds are never consulted.

The attack starts from given points (the reference point, random points of the set,
the points where a branch's linear bound is largest) and takes signed steps scaled
by each coordinate's width in a box (the L-inf attack) or normalised gradient steps in
an L2 ball, with a cosine-decaying step size, projecting onto a region of the set
(a branch's sub-box in input splitting) after each step. The largest value seen is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..constraints import Canonical
from ..constraints.checks import float32_inward
from ..objectives import Objective

__all__ = ["Evaluator", "Found", "attack", "inside", "uniform_points"]


class Evaluator:
    """The objective on the real model in float32, values and gradients, for one batch item at a time."""

    def __init__(self, model: Any, objective: Objective, batch: int, input_shape: tuple[int, ...]) -> None:
        import tensorflow as tf

        from ..models import FeatureExtractor

        extractor = FeatureExtractor(model, objective.layers())
        self._objective = objective
        self._params = objective.params(batch)
        self.calls = 0
        one, two = (objective.slice_params(self._params, np.zeros(n, dtype=np.int64)) for n in (1, 2))
        specs = [  # per-item parameters have a free first axis: one trace serves every number of points
            tf.TensorSpec((None, *a.shape[1:]) if a.shape != b.shape else a.shape, tf.as_dtype(a.dtype))
            for a, b in zip(one, two)
        ]

        # no autograph: no tensor-valued Python control flow here (see engine.graph)
        @tf.function(input_signature=[tf.TensorSpec((None, *input_shape), tf.float32), specs], autograph=False)
        def value_and_gradient(x: Any, params: list[Any]) -> tuple[Any, Any]:
            with tf.GradientTape() as tape:
                tape.watch(x)
                ctx = extractor(x)
                value, ascent = objective.value_and_ascent(ctx, params)
            return value, tape.gradient(ascent, x)

        self._run = value_and_gradient

    def __call__(self, x: np.ndarray, item: int) -> tuple[np.ndarray, np.ndarray]:
        """Values ``(N,)`` (float64 copies of the float32 values) of item ``item``'s objective,
        and their gradients, at the float32 points ``x``."""
        import tensorflow as tf

        self.calls += 1
        params = self._objective.slice_params(self._params, np.full(len(x), item))
        value, grad = self._run(tf.constant(np.asarray(x, np.float32)), [tf.constant(p) for p in params])
        g = np.zeros(x.shape) if grad is None else np.nan_to_num(grad.numpy().astype(np.float64))
        return value.numpy().astype(np.float64), g


@dataclass(frozen=True)
class Found:
    """The best point of an attack: float32, inside the set, and its float32 value."""

    x: np.ndarray
    value: float


def inside(canon: Canonical, x: np.ndarray) -> np.ndarray:
    """Per row of the float32 points ``x``, whether it lies in the one-item set ``canon`` exactly."""
    return canon.violation(np.asarray(x, np.float32).astype(np.float64)) <= 0.0


def _region(canon: Canonical, low: np.ndarray, high: np.ndarray) -> Canonical:
    """``canon`` (one item) restricted to the boxes ``[low, high]`` (``(N, *S)``); its ball
    shrunk by a relative 1e-6 so that float32 rounding keeps projected points inside."""
    n = len(low)
    lo = np.maximum(low, canon.low)
    hi = np.maximum(lo, np.minimum(high, canon.high))
    center = np.broadcast_to(canon.center, (n, *canon.center.shape[1:]))
    radius = np.broadcast_to(canon.radius * (1.0 - 1e-6), (n,))
    return replace(canon, low=lo, high=hi, center=center, radius=radius)


def _project32(region: Canonical, x: np.ndarray) -> np.ndarray:
    """Project onto the region and round to float32 inside its box."""
    y = region.project(x).astype(np.float32)
    low32, high32 = float32_inward(region.low, region.high)
    return np.clip(y, low32, np.maximum(low32, high32))


def uniform_points(canon: Canonical, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points drawn uniformly from the set's box (then projected into the set)."""
    low, high = canon.low[0], canon.high[0]
    span = np.where(np.isfinite(high - low), high - low, 0.0)
    base = np.where(np.isfinite(low), low, np.where(np.isfinite(high), high, canon.center[0]))
    return base + rng.uniform(size=(n, *low.shape)) * span


def attack(
    evaluate: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    canon: Canonical,
    starts: np.ndarray,
    steps: int,
    low: np.ndarray | None = None,
    high: np.ndarray | None = None,
) -> Found:
    """Projected gradient ascent from ``starts`` (``(N, *S)``), within the boxes ``[low, high]``
    (per start; default the set's box) intersected with the set; the best point seen."""
    n = len(starts)
    low = np.broadcast_to(canon.low, starts.shape) if low is None else low
    high = np.broadcast_to(canon.high, starts.shape) if high is None else high
    region = _region(canon, low, high)
    width = np.where(np.isfinite(region.high - region.low), region.high - region.low, 1.0)
    axes = tuple(range(1, starts.ndim))
    x = _project32(region, np.asarray(starts, np.float64))
    best_x, best_v = x[0], -np.inf
    for t in range(steps + 1):
        values, grad = evaluate(x)
        ok = inside(canon, x) & np.isfinite(values)
        if ok.any() and values[ok].max() > best_v:
            k = np.flatnonzero(ok)[np.argmax(values[ok])]
            best_x, best_v = x[k].copy(), float(values[k])
        if t == steps:
            break
        size = 0.25 * 0.5 * (1.0 + np.cos(np.pi * t / steps)) + 1e-3
        if region.has_ball:
            norm = np.sqrt((grad**2).sum(axis=axes, keepdims=True))
            radius = region.radius.reshape((n,) + (1,) * len(axes))
            step = size * radius * grad / np.where(norm > 0, norm, 1.0)
        else:
            step = size * width * np.sign(grad)
        x = _project32(region, x.astype(np.float64) + step)
    return Found(best_x, best_v)
