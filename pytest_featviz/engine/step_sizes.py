"""Step sizes of the ascent (private; used by ``plan``): the default ``lr`` and the per-coordinate widths.

Examples
--------
>>> import numpy as np
>>> from pytest_featviz.constraints import Box
>>> step_widths(Box([0, 0, 0], [1, 10, 1000]).canonical((1, 3)), True, (1, 3)).tolist()
[[0.10000000149011612, 1.0, 100.0]]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_real
from ..constraints import Canonical
from ..errors import ConfigurationError, FeatvizTypeError


def _default_lr(canon: Canonical) -> np.ndarray:
    """5% of the feasible set's typical width per item (0.05 when unbounded)."""
    axes = tuple(range(1, canon.low.ndim))
    width = canon.high - canon.low
    free = width > 0
    n_free = np.maximum(free.sum(axis=axes), 1)
    with np.errstate(invalid="ignore"):
        med = np.array([np.median(w[f]) if f.any() else np.inf for w, f in zip(width, free)])
    scale = med
    if canon.has_ball:
        scale = np.minimum(scale, 2 * canon.radius / np.sqrt(n_free))
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    return (0.05 * scale).astype(np.float32)


def step_widths(canon: Canonical, pixel: bool, param_shape: tuple[int, ...]) -> np.ndarray:
    """Each coordinate's step size relative to ``lr``: its box width over the item's median width.

    Adam (and pgd, sign) then move in the box's own units, so a feature 10^5 times wider
    than another crosses its range in as many steps (a single scalar step left wide
    features near the start: a false pass). This is a diagonal change of variables, which
    keeps the fixed points the constrained optima only for a separable set: a box (and
    L-inf balls and masks, which are boxes in canonical form). With an L2 ball, where it
    would move them, and for other parametrizations, every coordinate steps ``lr``.
    Unbounded, one-sided and fixed coordinates step ``lr`` too.
    """
    if not pixel or canon.has_ball:
        return np.ones(param_shape, np.float32)
    axes = tuple(range(1, canon.low.ndim))
    with np.errstate(invalid="ignore", over="ignore"):
        width = canon.high - canon.low
    usable = np.isfinite(width) & (width > 0)
    with np.errstate(invalid="ignore"):
        med = np.array([np.median(w[f]) if f.any() else 1.0 for w, f in zip(width, usable)])
    med = med.reshape((-1,) + (1,) * len(axes))
    return np.where(usable, width / med, 1.0).astype(np.float32)


def as_lr(lr: Any, canon: Canonical) -> np.ndarray:
    """``lr`` as one float32 step size per batch item (``None``: the default of :func:`_default_lr`).

    A number or one per item: a wrong type is a FeatvizTypeError, a value that is not a
    positive finite float32 number (or the wrong count) a ConfigurationError.
    """
    batch = canon.low.shape[0]
    if lr is None:
        return _default_lr(canon)
    want = f"lr must be a finite number > 0 or one per batch item ({batch}); got {lr!r}"
    if np.ndim(lr) == 0:
        check_real(lr, "lr", min_value=0, exclude_min=True)
    else:
        arr = np.asarray(lr)
        if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
            raise FeatvizTypeError(f"{want} (dtype {arr.dtype})")
    arr = np.asarray(lr, dtype=np.float32)
    if arr.ndim > 1 or (arr.ndim == 1 and arr.shape[0] != batch) or not np.all(arr > 0) or not np.isfinite(arr).all():
        raise ConfigurationError(want)
    return np.broadcast_to(arr, (batch,)).astype(np.float32)
