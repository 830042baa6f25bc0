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

from __future__ import annotations

import base64
import io
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ._io import write_atomic
from ._validation import check_choice, check_int
from .errors import ConfigurationError, FeatvizTypeError

__all__ = ["CONTRASTS", "to_uint8", "to_image", "grid", "save_png", "png_bytes", "data_uri", "difference"]

CONTRASTS = ("none", "stretch")
ACCEPTED_SHAPES = "(N,), (H, W), (H, W, 1), (H, W, 3) or (H, W, C)"
_AUTO_MIN_SIDE = 84  # automatic scale: a tile's longer side becomes at least this many pixels
_LABEL_BAND = 13  # the bitmap font is 11 px tall, plus one pixel above and below
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
            f"{name} contains {bad} non-finite value(s) (NaN or inf) out of {arr.size}; "
            "a picture of it would hide them"
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
def to_uint8(x: Any, *, value_range: tuple[float, float] = (0.0, 1.0), contrast: str = "none") -> np.ndarray:
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
    contrast: str = "none",
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


# -- grids -----------------------------------------------------------------------------------
def _check_labels(labels: Any, count: int) -> list[str] | None:
    if labels is None:
        return None
    if isinstance(labels, np.ndarray) and labels.ndim == 1:
        labels = labels.tolist()
    if isinstance(labels, (str, bytes)) or not isinstance(labels, Sequence):
        raise FeatvizTypeError(f"labels must be a list (or 1-D array) with one text per item; got {labels!r}")
    if len(labels) != count:
        raise ConfigurationError(f"labels has {len(labels)} entries but the batch has {count} items; give one per item")
    # the bitmap font knows Latin-1 only; other characters are shown as '?'
    return [str(label).replace("\n", " ").encode("latin-1", "replace").decode("latin-1") for label in labels]


def _fit(text: str, font: Any, width: int) -> str:
    while text and font.getlength(text) > width:
        text = text[:-1]
    return text


def _draw_labels(canvas: np.ndarray, labels: list[str], origins: list[tuple[int, int]], width: int) -> np.ndarray:
    image = Image.fromarray(canvas)
    draw = ImageDraw.Draw(image)
    # the bitmap font, not load_default(): that returns a FreeType font where Pillow has FreeType
    font = ImageFont.load_default_imagefont()
    shade = 0 if int(canvas.flat[0]) >= 128 else 255
    fill = shade if canvas.ndim == 2 else (shade,) * 3
    for text, (top, left) in zip(labels, origins):
        # keep a gap of at least two pixels plus the padding before the next label
        draw.text((left, top + 1), _fit(text, font, width - 2), font=font, fill=fill)
    return np.asarray(image)


def grid(
    batch: Any,
    *,
    value_range: tuple[float, float] | None = None,
    contrast: str = "none",
    labels: Sequence[Any] | None = None,
    columns: int | None = None,
    padding: int = 2,
    scale: int | None = None,
    background: int = 255,
    strip_height: int = 32,
) -> np.ndarray:
    """Draw a batch of inputs as one ``uint8`` picture, tiles in rows, optional labels above.

    Parameters
    ----------
    batch : array_like or AscentResult
        ``(B, *input_shape)``; each item is drawn by :func:`to_image`. To tile
        pictures that are already ``uint8``, pass ``value_range=(0, 255)``. An
        ``AscentResult`` (or ``Baseline``) gives its ``inputs``.
    value_range : (float, float), optional
        As in :func:`to_image`. Default: the result's ``value_range`` (its constraint
        box) for an ``AscentResult`` or ``Baseline``, ``(0, 1)`` for an array.
    contrast, strip_height
        As in :func:`to_image`; ``'stretch'`` stretches each tile on its own.
    labels : list of str, optional
        One text per item, drawn above its tile with Pillow's bitmap font (Latin-1;
        other characters show as ``?``) and cut to the tile's width less 2 pixels.
        Non-string items are shown with ``str``.
    columns : int, optional
        Tiles per row (at most ``B``); default ``ceil(sqrt(B))``.
    padding : int
        Pixels of ``background`` around and between tiles.
    scale : int, optional
        Nearest-neighbour upscaling factor of each tile; default: the smallest
        factor that makes a tile's longer side at least 84 pixels (3 for 28x28).
    background : int
        Grey level (0-255) of the padding and label bands; labels are black on a
        light background and white on a dark one.

    Returns
    -------
    numpy.ndarray
        ``uint8``, ``(H, W)`` for grey tiles or ``(H, W, 3)`` for RGB tiles.

    Examples
    --------
    >>> import numpy as np
    >>> picture = grid(np.ones((3, 2, 2)), columns=3, padding=1, scale=2)
    >>> picture.shape
    (6, 16)
    >>> picture[1]
    array([255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
           255, 255, 255], dtype=uint8)
    >>> grid(np.zeros((2, 28, 28)), labels=["zero", "also zero"]).shape
    (101, 174)
    """
    batch, value_range = _unpack(batch, value_range)
    arr = _finite(batch, "batch")
    if arr.ndim < 2 or arr.shape[0] == 0:
        raise ConfigurationError(f"batch must have shape (B, *input_shape) with B >= 1; got shape {arr.shape}")
    _check_shape(arr.shape[1:], f"the items of a batch of shape {arr.shape}: an item")
    count = arr.shape[0]
    texts = _check_labels(labels, count)
    columns = min(count, check_int(columns, "columns", min_value=1)) if columns is not None else math.ceil(math.sqrt(count))
    padding = check_int(padding, "padding", min_value=0)
    background = check_int(background, "background", min_value=0, max_value=255)
    tiles = [to_image(item, value_range=value_range, contrast=contrast, strip_height=strip_height) for item in arr]
    height, width = tiles[0].shape[:2]
    if scale is None:
        scale = max(1, math.ceil(_AUTO_MIN_SIDE / max(height, width)))
    scale = check_int(scale, "scale", min_value=1)
    height, width, band = height * scale, width * scale, (_LABEL_BAND if texts else 0)
    rows = math.ceil(count / columns)
    canvas = np.full(
        (padding + rows * (band + height + padding), padding + columns * (width + padding)) + tiles[0].shape[2:],
        background,
        dtype=np.uint8,
    )
    origins = []
    for index, tile in enumerate(tiles):
        top = padding + (index // columns) * (band + height + padding)
        left = padding + (index % columns) * (width + padding)
        origins.append((top, left))
        canvas[top + band : top + band + height, left : left + width] = tile.repeat(scale, 0).repeat(scale, 1)
    return _draw_labels(canvas, texts, origins, width) if texts else canvas


# -- files and embedding ---------------------------------------------------------------------
def png_bytes(image: Any) -> bytes:
    """Encode a ``uint8`` picture, ``(H, W)`` grey or ``(H, W, 3)`` RGB, as PNG.

    Examples
    --------
    >>> import numpy as np
    >>> png_bytes(np.zeros((2, 2), np.uint8))[:8]
    b'\\x89PNG\\r\\n\\x1a\\n'
    """
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise FeatvizTypeError(
            f"png_bytes needs a uint8 picture; got dtype {arr.dtype} (shape {arr.shape}): draw it with to_image or grid"
        )
    if not _is_picture(arr):
        raise ConfigurationError(f"png_bytes needs a picture of shape (H, W) or (H, W, 3); got shape {arr.shape}")
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(arr)).save(buffer, format="PNG")
    return buffer.getvalue()


def data_uri(image: Any) -> str:
    """A ``data:image/png;base64,...`` URI of a ``uint8`` picture, for an HTML ``<img src>``.

    Examples
    --------
    >>> import numpy as np
    >>> data_uri(np.zeros((1, 1), np.uint8))[:30]
    'data:image/png;base64,iVBORw0K'
    """
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode("ascii")


def save_png(path: str | os.PathLike[str], image_or_batch: Any, **grid_options: Any) -> Path:
    """Write a picture, or the :func:`grid` of a batch, to a PNG file; return its path.

    Parameters
    ----------
    path : str or os.PathLike
        Where to write; missing parent folders are created. The file is written to
        a temporary file in the same folder and moved into place with
        ``os.replace``, so a reader never sees half a file.
    image_or_batch : array_like or AscentResult
        A ``uint8`` array of shape ``(H, W)`` or ``(H, W, 3)`` is written as it is;
        anything else is a batch ``(B, *input_shape)`` drawn with :func:`grid`. (So
        one float image must be given as a batch of one: ``x[None]``.) An
        ``AscentResult`` (or ``Baseline``) is drawn over its ``value_range`` unless
        ``value_range=`` is given.
    **grid_options
        Keyword arguments of :func:`grid`; only for a batch.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> save_png(folder / "out" / "grid.png", np.zeros((2, 8, 8)), scale=1).name
    'grid.png'
    """
    if not isinstance(path, (str, os.PathLike)):
        raise FeatvizTypeError(f"path must be a str or os.PathLike; got {type(path).__name__}")
    if _is_result(image_or_batch):
        return write_atomic(path, png_bytes(grid(image_or_batch, **grid_options)))
    arr = np.asarray(image_or_batch)
    if _is_picture(arr):
        if grid_options:
            raise ConfigurationError(
                f"grid options {sorted(grid_options)} apply to a batch, but a uint8 picture of shape "
                f"{arr.shape} was given; pass the batch of inputs instead"
            )
        picture = arr
    else:
        picture = grid(arr, **grid_options)
    data = png_bytes(picture)
    return write_atomic(path, data)


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
