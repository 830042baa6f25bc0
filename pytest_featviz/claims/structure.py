"""The structure claim: :func:`assert_structure` (metrics of an image, or of each image of a batch, lie within bounds)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from ..engine import AscentResult, own_range
from ..errors import ConfigurationError, FeatvizTypeError
from . import context
from .outcome import unwrap
from .record import Record

__all__ = ["assert_structure"]

# metric name -> (the metric, its (min, max) bounds; None for an open end)
_Checks = dict[str, tuple[Callable[..., Any], tuple[float | None, float | None]]]


def assert_structure(
    image_or_batch: Any, *, value_range: Any = None, **bounds: Any
) -> dict[str, float] | list[dict[str, float]]:
    """Assert structure metrics of an image (or of each image of a batch) lie within bounds.

    Each keyword is a metric name from :mod:`pytest_featviz.metrics` with a
    ``(min, max)`` pair; ``None`` leaves an end open. At least one is needed.

    ``value_range=(low, high)`` is the range the values live in: the metrics that
    depend on it (``saturation``) use it, and a failure's picture is drawn over it.
    Given an ``AscentResult``, its inputs are checked as a batch and its
    ``value_range`` (the constraint box) is the default; for an array the metrics
    default to ``(0, 1)`` and the picture to the images' own range.

    The array's shape says whether it is one image or a batch:

    - ``(H, W)``: one grey image;
    - ``(H, W, C)`` with ``C`` 1 or 3: one image;
    - any other 3-D shape ``(B, H, W)``: a batch of grey images;
    - ``(B, H, W, C)``: a batch.

    So a batch of grey images whose width is 1 or 3 must be given as ``(B, H, W, 1)``.

    Returns
    -------
    dict or list of dict
        The metric values: a dict for one image, a list of dicts (one per image) for a batch.

    Examples
    --------
    >>> import numpy as np, pytest_featviz as fv
    >>> stripes = np.tile((np.arange(32) % 8 < 4).astype(float), (32, 1))
    >>> values = fv.assert_structure(stripes, orientation_coherence=(0.9, None))
    >>> values["orientation_coherence"] > 0.9
    True
    >>> len(fv.assert_structure(np.stack([stripes, stripes.T]), orientation_coherence=(0.9, None)))
    2
    >>> fv.assert_structure(255 * stripes, value_range=(0, 255), saturation=(1.0, None))["saturation"]
    1.0
    """
    __tracebackhide__ = True
    from ..metrics import METRICS, check_value_range, metric

    checks: _Checks = {name: (metric(name), _bounds_pair(name, pair)) for name, pair in bounds.items()}
    if not checks:
        raise ConfigurationError(
            "assert_structure: give at least one metric bound, e.g. "
            f"orientation_coherence=(0.6, None); metrics are: {', '.join(METRICS)}"
        )
    image_or_batch = unwrap(image_or_batch)
    if isinstance(image_or_batch, AscentResult):
        value_range = image_or_batch.value_range if value_range is None else value_range
        image_or_batch = image_or_batch.inputs
    if value_range is not None:
        check_value_range(value_range, None, None)  # named before any metric runs, whichever metrics are asked for
    batch, single = _images(image_or_batch)
    results, failures = _measure(batch, single, checks, value_range)
    _record_structure(batch, results, failures, {name: pair for name, (_, pair) in checks.items()}, value_range)
    if failures:
        raise AssertionError(_failure_message(results, failures, checks))
    return results[0] if single else results


def _measure(
    batch: np.ndarray, single: bool, checks: _Checks, value_range: Any
) -> tuple[list[dict[str, float]], list[tuple[int, str]]]:
    """Each image's metric values, and the (image, metric) pairs outside their bounds."""
    from ..metrics import range_options

    results: list[dict[str, float]] = []
    failures: list[tuple[int, str]] = []
    for i, image in enumerate(batch):
        try:
            values = {name: float(fn(image, **range_options(name, value_range))) for name, (fn, _) in checks.items()}
        except ConfigurationError as error:
            if single:
                raise
            raise ConfigurationError(f"assert_structure: batch item {i} of {len(batch)}: {error}") from error
        results.append(values)
        failures += [
            (i, name)
            for name, (_, (lo, hi)) in checks.items()
            if (lo is not None and not values[name] >= lo) or (hi is not None and not values[name] <= hi)
        ]
    return results, failures


def _failure_message(results: list[dict[str, float]], failures: list[tuple[int, str]], checks: _Checks) -> str:
    """Every image's value of every metric, with its bounds, marked ``ok`` or ``FAIL``."""
    lines = [f"structure check failed for {len({f[0] for f in failures})} of {len(results)} images:"]
    for i, values in enumerate(results):
        for name, v in values.items():
            lo, hi = checks[name][1]
            mark = "FAIL" if (i, name) in failures else "ok"
            lines.append(f"  image {i}: {name} = {v:.4g}  bounds ({lo}, {hi})  {mark}")
    return "\n".join(lines)


_SHAPES = "(H, W), (H, W, 1), (H, W, 3), a batch (B, H, W) or a batch (B, H, W, C)"


def _images(image_or_batch: Any) -> tuple[np.ndarray, bool]:
    """The images as a batch along axis 0, and whether one image was given (rule in assert_structure)."""
    arr = np.asarray(image_or_batch)
    if arr.dtype.kind not in "biuf":
        raise FeatvizTypeError(f"assert_structure needs an array of real numbers; got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    single = arr.ndim == 2 or (arr.ndim == 3 and arr.shape[-1] in (1, 3))
    if not single and arr.ndim not in (3, 4):
        raise ConfigurationError(f"assert_structure got an array of shape {arr.shape}; accepted shapes are {_SHAPES}")
    if not single and arr.shape[0] == 0:
        raise ConfigurationError(f"assert_structure got an empty batch (shape {arr.shape}); give at least one image")
    return (arr[None] if single else arr), single


def _bounds_pair(name: str, pair: Any) -> tuple[float | None, float | None]:
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise ConfigurationError(
            f"bounds for {name!r} must be a (min, max) pair with None for an open end; got {pair!r}"
        )
    lo, hi = pair
    for v in (lo, hi):
        if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Real)):
            raise FeatvizTypeError(f"bounds for {name!r} must be numbers or None; got {pair!r}")
        if v is not None and math.isnan(float(v)):
            raise ConfigurationError(f"bounds for {name!r} contain NaN: {pair!r}; use None for an open end")
    if lo is not None and hi is not None and lo > hi:
        raise ConfigurationError(f"bounds for {name!r}: min={lo} is larger than max={hi}")
    return lo, hi


def _record_structure(
    batch: np.ndarray,
    results: list[dict[str, float]],
    failures: list[tuple[int, str]],
    bounds: dict[str, tuple[float | None, float | None]],
    value_range: Any,
) -> None:
    ctx = context.current()
    if ctx is None:
        return
    drawn = own_range(batch) if value_range is None else value_range
    path = ctx.save_images("structure", batch, value_range=drawn) if failures else None
    ctx.record(
        Record(
            "assert_structure",
            not failures,
            metrics=results,
            bounds={k: list(v) for k, v in bounds.items()},
            picture=str(path) if path else None,
        )
    )
