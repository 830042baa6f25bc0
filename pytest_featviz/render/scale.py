"""Scaling numbers to grey levels and pictures, and the difference of two inputs (see :mod:`pytest_featviz.render`)."""

from __future__ import annotations

import math
from typing import Any, Literal, get_args

import numpy as np

from .._validation import check_choice, check_int
from ..errors import ConfigurationError, FeatvizTypeError

Contrast = Literal["none", "stretch"]
"""How a picture is scaled (``contrast=``): over the value range as given, or stretched to its own min and max."""
CONTRASTS: tuple[Contrast, ...] = get_args(Contrast)
ACCEPTED_SHAPES = "(N,), (H, W), (H, W, 1), (H, W, 3) or (H, W, C)"
_BAR, _BAR_BACKGROUND = 0, 230  # 1-D strips: black bars on light grey


# -- validation ------------------------------------------------------------------------------
def _finite(x: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise FeatvizTypeError(f"{name} must be an array of numbers; got {type(x).__name__}") from exc
    bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
    if bad:
        raise ConfigurationError(
            f"{name} contains {bad} non-finite value(s) (NaN or inf) out of {arr.size}; a picture of it would hide them"
        )
    return arr


def _check_range(value_range: Any) -> tuple[float, float]:
    message = f"value_range must be (low, high) with finite low < high; got {value_range!r}"
    try:
        low, high = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise ConfigurationError(message) from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ConfigurationError(message)
    return low, high


def _check_shape(shape: tuple[int, ...], what: str) -> None:
    if 1 <= len(shape) <= 3 and all(shape) and (len(shape) < 3 or shape[2] >= 1):
        return
    raise ConfigurationError(f"cannot draw {what} of shape {shape}; accepted shapes: {ACCEPTED_SHAPES}")


def _is_result(x: Any) -> bool:
    """Whether ``x`` is an ``AscentResult`` or ``Baseline``: it has ``inputs`` and a ``value_range``."""
    return hasattr(x, "inputs") and hasattr(x, "value_range")


def _unpack(batch: Any, value_range: Any) -> tuple[Any, Any]:
    """The inputs of a batch and the range to draw them over.

    An ``AscentResult`` or ``Baseline`` (anything with ``inputs`` and ``value_range``)
    gives its inputs, drawn over its own ``value_range`` unless one is given; an array
    is drawn over ``value_range``, by default ``(0, 1)``.
    """
    if _is_result(batch):
        return batch.inputs, (batch.value_range if value_range is None else value_range)
    return batch, ((0.0, 1.0) if value_range is None else value_range)


def _is_picture(arr: np.ndarray) -> bool:
    return arr.dtype == np.uint8 and arr.size > 0 and (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3))


# -- scaling ---------------------------------------------------------------------------------
def to_uint8(x: Any, *, value_range: tuple[float, float] = (0.0, 1.0), contrast: Contrast = "none") -> np.ndarray:
    """Scale values to ``uint8`` over an explicit range, clipping outside it.

    Parameters
    ----------
    x : array_like
        Values of any shape; NaN or inf raise.
    value_range : (float, float)
        ``(low, high)`` with ``low < high``: ``low`` becomes 0 and ``high`` 255;
        values outside are clipped. Rounding is half up (``0.5 -> 128`` on ``(0, 1)``).
    contrast : {'none', 'stretch'}
        ``'none'`` uses ``value_range`` as given. ``'stretch'`` maps this array's own
        minimum to 0 and maximum to 255 (a min/max stretch, not percentiles, so no
        value is clipped); a constant array has nothing to stretch and is scaled
        over ``value_range``.

    Returns
    -------
    numpy.ndarray
        ``uint8``, the same shape as ``x``.

    Examples
    --------
    >>> to_uint8([0.0, 0.5, 1.0, 2.0, -1.0])
    array([  0, 128, 255, 255,   0], dtype=uint8)
    >>> to_uint8([2.0, 3.0, 4.0], contrast="stretch")
    array([  0, 128, 255], dtype=uint8)
    >>> to_uint8([-1.0, 1.0], value_range=(-1, 1))
    array([  0, 255], dtype=uint8)
    """
    low, high = _check_range(value_range)
    check_choice(contrast, "contrast", CONTRASTS)
    arr = _finite(x, "x")
    if contrast == "stretch" and arr.size and arr.max() > arr.min():
        low, high = float(arr.min()), float(arr.max())
    fraction = (np.clip(arr, low, high) - low) / (high - low)
    return np.floor(fraction * 255.0 + 0.5).astype(np.uint8)


def _bars(levels: np.ndarray, height: int) -> np.ndarray:
    """A bar chart of ``(N,)`` uint8 levels: one column per value, bars grow from the bottom."""
    filled = np.floor(levels.astype(np.float64) / 255.0 * height + 0.5)
    from_bottom = np.arange(height)[::-1, None]
    return np.where(from_bottom < filled[None, :], _BAR, _BAR_BACKGROUND).astype(np.uint8)


def to_image(
    x: Any,
    *,
    value_range: tuple[float, float] = (0.0, 1.0),
    contrast: Contrast = "none",
    strip_height: int = 32,
) -> np.ndarray:
    """Draw one model input as an ``(H, W)`` grey or ``(H, W, 3)`` RGB ``uint8`` picture.

    Parameters
    ----------
    x : array_like
        One input (not a batch). ``(H, W)`` and ``(H, W, 1)`` give grey pictures,
        ``(H, W, 3)`` an RGB picture, ``(H, W, C)`` with any other ``C`` the grey
        picture of the mean over channels. A vector ``(N,)`` is drawn as a bar chart
        ``strip_height`` pixels tall and ``N`` wide: column ``i`` is a black bar whose
        height is ``x[i]``'s place in ``value_range``, on a light grey background.
    value_range, contrast
        As in :func:`to_uint8`; ``'stretch'`` stretches the whole picture at once
        (all channels together, so colours keep their balance).
    strip_height : int
        Height in pixels of the bar chart of a vector.

    Returns
    -------
    numpy.ndarray
        ``uint8`` of shape ``(H, W)``, ``(H, W, 3)`` or ``(strip_height, N)``.

    Examples
    --------
    >>> import numpy as np
    >>> to_image(np.zeros((28, 28, 1))).shape
    (28, 28)
    >>> to_image([0.0, 0.5, 1.0], strip_height=4)
    array([[230, 230,   0],
           [230, 230,   0],
           [230,   0,   0],
           [230,   0,   0]], dtype=uint8)
    """
    arr = _finite(x, "x")
    _check_shape(arr.shape, "an input")
    strip_height = check_int(strip_height, "strip_height", min_value=1)
    if arr.ndim == 3 and arr.shape[2] != 3:
        arr = arr.mean(axis=2)
    levels = to_uint8(arr, value_range=value_range, contrast=contrast)
    return _bars(levels, strip_height) if levels.ndim == 1 else levels


# -- comparisons -----------------------------------------------------------------------------
def difference(
    a: Any,
    b: Any,
    *,
    value_range: tuple[float, float] = (0.0, 1.0),
    strip_height: int = 32,
) -> np.ndarray:
    """Draw ``a - b`` in diverging colours: blue negative, white zero, red positive.

    Parameters
    ----------
    a, b : array_like
        Two inputs of the same shape, any shape :func:`to_image` accepts.
    value_range : (float, float)
        The range of the inputs; a difference of ``high - low`` is full red and
        ``-(high - low)`` full blue, linearly through white (rounding half up).
    strip_height : int
        Height of the picture of vectors ``(N,)``: each column shows one entry.

    Returns
    -------
    numpy.ndarray
        ``uint8`` RGB of shape ``(H, W, 3)``, ``(strip_height, N, 3)`` for vectors.
        For inputs with channels, a pixel shows the channel difference of largest
        magnitude, with its sign, so a change in any single channel shows.

    Examples
    --------
    >>> difference([1.0, 0.5, 0.0], [0.0, 0.5, 0.5], strip_height=1)[0]
    array([[255,   0,   0],
           [255, 255, 255],
           [128, 128, 255]], dtype=uint8)
    """
    first, second = _finite(a, "a"), _finite(b, "b")
    if first.shape != second.shape:
        raise ConfigurationError(f"a and b must have the same shape; got {first.shape} and {second.shape}")
    _check_shape(first.shape, "an input")
    low, high = _check_range(value_range)
    strip_height = check_int(strip_height, "strip_height", min_value=1)
    delta = first - second
    if delta.ndim == 3:
        strongest = np.abs(delta).argmax(axis=2)[..., None]
        delta = np.take_along_axis(delta, strongest, axis=2)[..., 0]
    elif delta.ndim == 1:
        delta = np.broadcast_to(delta, (strip_height, delta.size))
    signed = np.clip(delta / (high - low), -1.0, 1.0)
    fade = np.floor(255.0 * (1.0 - np.abs(signed)) + 0.5).astype(np.uint8)
    full = np.full_like(fade, 255)
    return np.stack([np.where(signed < 0, fade, full), fade, np.where(signed > 0, fade, full)], axis=-1)
