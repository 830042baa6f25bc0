"""PNG bytes, data URIs and PNG files (see :mod:`pytest_featviz.render`)."""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .._io import write_atomic
from ..errors import ConfigurationError, FeatvizTypeError
from .layout import grid
from .scale import _is_picture, _is_result


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
