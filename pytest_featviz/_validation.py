"""Argument checks shared by every part of pytest-featviz (one place for each rule).

A wrong type is a :class:`~pytest_featviz.errors.FeatvizTypeError`, a wrong value a
:class:`~pytest_featviz.errors.ConfigurationError`; each message names the value given.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ConfigurationError, FeatvizTypeError

__all__ = ["check_start", "check_batch_size"]


def check_start(start: Any, input_shape: tuple[int, ...]) -> np.ndarray | None:
    """``start`` as float64 ``(B, *input_shape)`` holding float32 numbers (None stays None).

    Examples
    --------
    >>> check_start([0.5, 0.25], (2,)).shape
    (1, 2)
    """
    if start is None:
        return None
    try:
        arr = np.asarray(start, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise FeatvizTypeError(f"start must be an array of numbers; got {type(start).__name__}") from exc
    if arr.shape == input_shape:
        arr = arr[None]
    with np.errstate(over="ignore"):  # the model computes in float32: start from float32 numbers
        arr = arr.astype(np.float32).astype(np.float64)
    if arr.shape[1:] != input_shape or arr.ndim != len(input_shape) + 1:
        raise ConfigurationError(
            f"start has shape {arr.shape}; the model expects {input_shape} or (B, {', '.join(map(str, input_shape))})"
        )
    if not np.isfinite(arr).all():
        raise ConfigurationError("start contains NaN or inf values (or values beyond float32); give a finite starting point")
    return arr


def check_batch_size(obj: Any, until: Any, start: np.ndarray | None) -> int:
    """The number of batch items: the objective's (and ``until``'s) targets, else the starts, else 1.

    Examples
    --------
    >>> import pytest_featviz as fv
    >>> check_batch_size(fv.ClassLogit([1, 2, 3]), None, None)
    3
    """
    sizes = {obj.batch_size()} | ({until.objective.batch_size()} if until is not None else set())
    sizes -= {None}
    if len(sizes) > 1:
        raise ConfigurationError(f"the objective and `until` have different numbers of targets: {sorted(sizes)}")
    targets = sizes.pop() if sizes else None
    n_start = None if start is None else start.shape[0]
    if targets is not None and n_start not in (None, 1, targets):
        raise ConfigurationError(
            f"start has {n_start} items but the objective has {targets} targets; give one start, "
            f"or one start per target"
        )
    return targets or n_start or 1
