"""Pictures of model inputs that a person can read: scaling, grids, PNG files, differences.

Every picture is scaled over an *explicit* value range, by default ``(0, 1)`` for an
array and the result's own ``value_range`` for an ``AscentResult`` (or a stored
``Baseline``) given to :func:`grid` or :func:`save_png`, and values outside it are clipped: what you see is what the model scored, never a
silent per-image renormalisation. ``contrast="stretch"`` is the explicitly named
alternative that maps each image's own minimum and maximum to black and white.

Scaling rounds half up: a value ``v`` in ``[low, high]`` becomes
``floor(255 * (v - low) / (high - low) + 0.5)``, so with the default range
``0 -> 0``, ``0.5 -> 128`` and ``1 -> 255``.

This module takes numpy arrays and knows nothing about TensorFlow.
"""

from .encode import data_uri, png_bytes, save_png
from .layout import grid
from .scale import CONTRASTS, Contrast, difference, to_image, to_uint8

__all__ = ["Contrast", "CONTRASTS", "to_uint8", "to_image", "grid", "save_png", "png_bytes", "data_uri", "difference"]
