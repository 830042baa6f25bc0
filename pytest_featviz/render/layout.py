"""Grids of pictures with labels (see :mod:`pytest_featviz.render`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .._validation import check_int
from ..errors import ConfigurationError, FeatvizTypeError
from .scale import Contrast, _check_shape, _finite, _unpack, to_image

AUTO_MIN_SIDE = 84  # automatic scale: a tile's longer side becomes at least this many pixels
LABEL_BAND = 13  # the bitmap font is 11 px tall, plus one pixel above and below


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
    contrast: Contrast = "none",
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
    columns = (
        min(count, check_int(columns, "columns", min_value=1)) if columns is not None else math.ceil(math.sqrt(count))
    )
    padding = check_int(padding, "padding", min_value=0)
    background = check_int(background, "background", min_value=0, max_value=255)
    tiles = [to_image(item, value_range=value_range, contrast=contrast, strip_height=strip_height) for item in arr]
    height, width = tiles[0].shape[:2]
    if scale is None:
        scale = max(1, math.ceil(AUTO_MIN_SIDE / max(height, width)))
    scale = check_int(scale, "scale", min_value=1)
    height, width, band = height * scale, width * scale, (LABEL_BAND if texts else 0)
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
