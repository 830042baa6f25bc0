"""Argument checks shared by the structure metrics (private; used by ``metrics``).

Examples
--------
>>> _image([[0, 1, 2]] * 3).shape
(3, 3, 1)
>>> _unit(_image([[-4.0, 0.0, 4.0]] * 3))[0, :, 0].tolist()
[0.0, 0.5, 1.0]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ConfigurationError, FeatvizTypeError

_MIN_SIDE = 3
_ACCEPTED = "(H, W), (H, W, 1) or (H, W, 3) with H, W >= 3"


def _image(image: Any, name: str = "image") -> np.ndarray:
    """Validate ``image`` and return it as float64 of shape ``(H, W, C)``."""
    arr = np.asarray(image)
    if arr.dtype.kind not in "biuf":
        raise FeatvizTypeError(f"{name} must be an array of real numbers; got dtype {arr.dtype}")
    shape = arr.shape
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and shape[2] not in (1, 3)):
        raise ConfigurationError(f"{name} has shape {shape}; accepted shapes are {_ACCEPTED}")
    if arr.size == 0 or min(shape[:2]) < _MIN_SIDE:
        raise ConfigurationError(f"{name} of shape {shape} is too small; accepted shapes are {_ACCEPTED}")
    arr = arr.astype(np.float64).reshape(shape[0], shape[1], -1)
    bad = int(np.count_nonzero(~np.isfinite(arr)))
    if bad:
        raise ConfigurationError(f"{name} of shape {shape} has {bad} NaN or infinite values; all must be finite")
    return arr


def _unit(x: np.ndarray) -> np.ndarray | None:
    """Map ``x`` affinely onto [0, 1] (min 0, max 1); ``None`` when ``x`` is constant."""
    if x.max() == x.min():
        return None
    y = x / np.abs(x).max()  # first bring the values near 1, so that max - min cannot overflow
    return (y - y.min()) / (y.max() - y.min())
