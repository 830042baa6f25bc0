"""Argument checks shared by every part of pytest-featviz (one place for each rule).

A wrong type is a :class:`~pytest_featviz.errors.FeatvizTypeError`, a wrong value a
:class:`~pytest_featviz.errors.ConfigurationError`; each message names the value given.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from .errors import ConfigurationError, FeatvizTypeError, closest

__all__ = [
    "check_int",
    "check_real",
    "check_interval",
    "check_bool",
    "check_choice",
    "check_start",
    "check_batch_size",
]


def _is_bool(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


def _range(min_value: Any, max_value: Any, exclude_min: bool = False, exclude_max: bool = False) -> str:
    """`` >= 1``, `` < 2`` or `` in [0, 255]``: the words for the allowed range."""
    low, high = (f"{v:g}" if isinstance(v, float) else str(v) for v in (min_value, max_value))
    if min_value is not None and max_value is not None:
        return f" in {'(' if exclude_min else '['}{low}, {high}{')' if exclude_max else ']'}"
    if min_value is not None:
        return f" {'>' if exclude_min else '>='} {low}"
    if max_value is not None:
        return f" {'<' if exclude_max else '<='} {high}"
    return ""


def check_int(value: Any, name: str, *, min_value: int | None = None, max_value: int | None = None) -> int:
    """``value`` as an ``int``: a wrong type is a FeatvizTypeError, a value out of range a ConfigurationError.

    Booleans are refused (``True`` is not a step count).

    Examples
    --------
    >>> check_int(3, "steps", min_value=1)
    3
    >>> check_int(0, "steps", min_value=1)
    Traceback (most recent call last):
    ...
    pytest_featviz.errors.ConfigurationError: steps must be an int >= 1; got 0
    >>> check_int("3", "steps")
    Traceback (most recent call last):
    ...
    pytest_featviz.errors.FeatvizTypeError: steps must be an int; got '3' (str)
    """
    want = "an int" + _range(min_value, max_value)
    if _is_bool(value) or not isinstance(value, (numbers.Integral, np.integer)):
        raise FeatvizTypeError(f"{name} must be {want}; got {value!r} ({type(value).__name__})")
    number = int(value)
    if (min_value is not None and number < min_value) or (max_value is not None and number > max_value):
        raise ConfigurationError(f"{name} must be {want}; got {value!r}")
    return number


def check_real(
    value: Any,
    name: str,
    *,
    min_value: float | None = None,
    max_value: float | None = None,
    exclude_min: bool = False,
    exclude_max: bool = False,
    finite: bool = True,
) -> float:
    """``value`` as a ``float``: a wrong type is a FeatvizTypeError, a value out of range a ConfigurationError.

    Examples
    --------
    >>> check_real(0.5, "lr", min_value=0, exclude_min=True)
    0.5
    >>> check_real(0, "lr", min_value=0, exclude_min=True)
    Traceback (most recent call last):
    ...
    pytest_featviz.errors.ConfigurationError: lr must be a finite number > 0; got 0
    """
    want = ("a finite number" if finite else "a number") + _range(min_value, max_value, exclude_min, exclude_max)
    if _is_bool(value) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise FeatvizTypeError(f"{name} must be {want}; got {value!r} ({type(value).__name__})")
    number = float(value)
    bad = (finite and not np.isfinite(number)) or np.isnan(number)
    if min_value is not None:
        bad = bad or number < min_value or (exclude_min and number == min_value)
    if max_value is not None:
        bad = bad or number > max_value or (exclude_max and number == max_value)
    if bad:
        raise ConfigurationError(f"{name} must be {want}; got {value!r}")
    return number


def check_interval(
    low: Any, high: Any, names: tuple[str, str] = ("min_value", "max_value"), **limits: Any
) -> tuple[float, float]:
    """``(low, high)`` as floats (each checked by :func:`check_real` with ``limits``), with ``low <= high``.

    Examples
    --------
    >>> check_interval(0, 1)
    (0.0, 1.0)
    >>> check_interval(3, 1)
    Traceback (most recent call last):
    ...
    pytest_featviz.errors.ConfigurationError: min_value=3 is larger than max_value=1
    """
    lo, hi = check_real(low, names[0], **limits), check_real(high, names[1], **limits)
    if lo > hi:
        raise ConfigurationError(f"{names[0]}={low!r} is larger than {names[1]}={high!r}")
    return lo, hi


def check_bool(value: Any, name: str, *, allow_none: bool = False) -> bool | None:
    """``value`` as a ``bool`` (``None`` too with ``allow_none``), else a FeatvizTypeError.

    Examples
    --------
    >>> check_bool(True, "progress"), check_bool(None, "progress", allow_none=True)
    (True, None)
    >>> check_bool(1, "progress")
    Traceback (most recent call last):
    ...
    pytest_featviz.errors.FeatvizTypeError: progress must be True or False; got 1 (int)
    """
    if value is None and allow_none:
        return None
    if not _is_bool(value):
        want = "True, False or None" if allow_none else "True or False"
        raise FeatvizTypeError(f"{name} must be {want}; got {value!r} ({type(value).__name__})")
    return bool(value)


def check_choice(value: Any, name: str, choices: Iterable[Any]) -> Any:
    """``value`` if it is one of ``choices``, else a ConfigurationError listing them (sorted) and the closest.

    Examples
    --------
    >>> check_choice("adam", "optimizer", ("adam", "pgd", "sign"))
    'adam'
    >>> check_choice("adma", "optimizer", ("sign", "adam", "pgd"))
    Traceback (most recent call last):
    ...
    pytest_featviz.errors.ConfigurationError: optimizer='adma' is not one of 'adam', 'pgd', 'sign'; did you mean 'adam'?
    """
    options = sorted(choices, key=str)
    try:
        known = value in options
    except TypeError:  # unhashable or incomparable values are not choices
        known = False
    if not known:
        listed = ", ".join(repr(c) for c in options)
        hint = closest(value, [str(c) for c in options]) if isinstance(value, str) else ""
        raise ConfigurationError(f"{name}={value!r} is not one of {listed}{hint}")
    return value


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
        raise ConfigurationError(
            "start contains NaN or inf values (or values beyond float32); give a finite starting point"
        )
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
