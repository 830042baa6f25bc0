"""Structure metrics of one image: pure functions of a numpy array that return a float.

Every metric takes an image of shape ``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)`` with
finite values and sides of at least 3 pixels, and keyword-only options. Constant images
have a defined value (never NaN). Most metrics do not depend on the image's scale or
offset; ``saturation`` (its ``value_range``, default ``(0, 1)``) and the explicit
``data_range`` options do. Images in raw units (0..255) need ``value_range=(0, 255)``
for ``saturation`` and :func:`summarize`.
Colour images are treated channel by channel and pooled, so an image whose three
channels are equal has the same metrics as its grey version.

Examples
--------
>>> import numpy as np
>>> stripes = np.sin(2 * np.pi * np.arange(32) / 8)[:, None] * np.ones((1, 32))
>>> round(orientation_coherence(stripes), 3), round(dominant_orientation(stripes), 1)
(1.0, 0.0)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .._validation import check_choice, check_int, check_real
from ..errors import ConfigurationError, FeatvizTypeError
from .checks import _image, _unit
from .gradients import dominant_orientation, edge_density, orientation_coherence  # noqa: F401  (metric() looks names up here)
from .spectral import high_frequency_ratio, periodicity  # noqa: F401  (metric() looks names up here)

__all__ = [
    "METRICS",
    "metric",
    "summarize",
    "total_variation",
    "entropy",
    "saturation",
    "ssim",
    "RANGED",
    "range_options",
    "check_value_range",
]


# --------------------------------------------------------------- intensity statistics
def total_variation(image: Any, *, data_range: float | None = None) -> float:
    """Mean absolute difference between neighbouring pixels, relative to the data range.

    Parameters
    ----------
    image : array_like, shape (H, W), (H, W, 1) or (H, W, 3)
    data_range : float > 0, optional
        The divisor. By default the image's ``max - min`` (1 for a constant image).

    Returns
    -------
    float
        In [0, 1] with the default ``data_range``: 1.0 for a two-valued checkerboard, 0.0
        for a constant image.

    Notes
    -----
    The mean runs over every vertically and horizontally adjacent pair of pixels and every
    channel, ``(H - 1) * W + H * (W - 1)`` pairs per channel.

    Examples
    --------
    >>> import numpy as np
    >>> total_variation(np.indices((8, 8)).sum(axis=0) % 2)
    1.0
    >>> total_variation(np.tile(np.arange(5.0), (5, 1)), data_range=8.0)
    0.0625
    """
    x = _image(image)
    if data_range is None:
        u, factor = _unit(x), 1.0
    else:
        width = check_real(data_range, "data_range", min_value=0.0, exclude_min=True)
        peak = float(np.abs(x).max())  # differences of x / peak cannot overflow
        u, factor = (x / peak, peak / width) if peak > 0 else (None, 0.0)
    if u is None:
        return 0.0
    rows, cols = np.abs(np.diff(u, axis=0)), np.abs(np.diff(u, axis=1))
    return float((rows.sum() + cols.sum()) / (rows.size + cols.size)) * factor


def entropy(image: Any, *, bins: int = 256, data_range: tuple[float, float] | None = None) -> float:
    """Shannon entropy, in bits, of the histogram of the image's values.

    Parameters
    ----------
    image : array_like, shape (H, W), (H, W, 1) or (H, W, 3)
    bins : int >= 2
        Number of equal-width histogram bins.
    data_range : (low, high), optional
        The histogram's range; values outside it count in the outermost bins. By default
        the image's ``(min, max)``.

    Returns
    -------
    float in [0, log2(bins)]
        0.0 for a constant image; close to ``log2(bins)`` for uniform noise.

    Notes
    -----
    Values of all channels are pooled into one histogram.

    Examples
    --------
    >>> import numpy as np
    >>> entropy(np.indices((8, 8)).sum(axis=0) % 2)
    1.0
    >>> entropy(np.arange(16.0).reshape(4, 4), bins=4, data_range=(0.0, 31.0))
    1.0
    """
    x = _image(image)
    bins = check_int(bins, "bins", min_value=2)
    if data_range is None:
        t = _unit(x)  # the position of each value in its range, from 0 to 1
        if t is None:
            return 0.0
    else:
        pair = np.asarray(data_range, dtype=object)
        if pair.shape != (2,):
            raise ConfigurationError(
                f"data_range={data_range!r} is not valid; give the histogram's (low, high), e.g. (0.0, 1.0)"
            )
        low = check_real(pair[0], "data_range[0]")
        high = check_real(pair[1], "data_range[1]", min_value=low, exclude_min=True)
        scale = max(np.abs(x).max(), abs(low), abs(high))  # keeps high - low finite and non-zero
        t = (x / scale - low / scale) / (high / scale - low / scale)
    index = np.clip(np.floor(t * bins), 0, bins - 1).astype(np.int64)
    p = np.bincount(index.ravel(), minlength=bins) / index.size
    p = p[p > 0]
    return float(max(0.0, -(p * np.log2(p)).sum()))


def saturation(
    image: Any,
    *,
    value_range: Any = None,
    low: float | None = None,
    high: float | None = None,
    atol: float | None = None,
) -> float:
    """Share of values at (or beyond) either bound of the value range.

    Parameters
    ----------
    image : array_like, shape (H, W), (H, W, 1) or (H, W, 3)
    value_range : (low, high), optional
        The bounds, ``low < high``: typically those of the ``Box`` the image was found
        in (``AscentResult.value_range``), e.g. ``(0, 255)`` for raw pixels. Default
        ``(0, 1)``.
    low, high : float, optional
        The bounds one at a time (the older spelling of ``value_range``; not together
        with it). An end not given is that of ``(0, 1)``.
    atol : float >= 0, optional
        A value within ``atol`` of a bound counts as at the bound. Default
        ``1e-6 * (high - low)``: 1e-6 on ``(0, 1)``, so the image and its rescaled
        copy on another range have the same saturation.

    Returns
    -------
    float in [0, 1]
        Over all pixels and channels.

    Examples
    --------
    >>> saturation([[0.0, 0.5, 1.0], [0.2, 1.0, 0.9999999], [0.3, 0.4, 0.5]])
    0.4444444444444444
    >>> saturation([[0, 128, 255], [51, 255, 255], [77, 102, 128]], value_range=(0, 255))
    0.4444444444444444
    """
    x = _image(image)
    low, high = check_value_range(value_range, low, high)
    atol = 1e-6 * (high - low) if atol is None else check_real(atol, "atol", min_value=0.0)
    return float(np.mean((x <= low + atol) | (x >= high - atol)))


def check_value_range(value_range: Any, low: Any, high: Any) -> tuple[float, float]:
    """The checked ``(low, high)`` of ``saturation`` from either spelling."""
    if value_range is not None:
        if low is not None or high is not None:
            raise ConfigurationError(
                f"give value_range={value_range!r} or low=/high=, not both (low={low!r}, high={high!r})"
            )
        pair = np.asarray(value_range, dtype=object)
        if pair.shape != (2,):
            raise ConfigurationError(
                f"value_range={value_range!r} is not valid; give the images' (low, high), e.g. (0, 255)"
            )
        low, high = pair
    low = check_real(0.0 if low is None else low, "value_range low")
    return low, check_real(1.0 if high is None else high, "value_range high", min_value=low, exclude_min=True)


# --------------------------------------------------------------------- two images
def ssim(image_a: Any, image_b: Any, *, data_range: float) -> float:
    """Structural similarity of two images of the same shape (scikit-image's SSIM).

    Parameters
    ----------
    image_a, image_b : array_like, shape (H, W), (H, W, 1) or (H, W, 3)
    data_range : float > 0
        Required: the width of the range the values can take (1.0 for images in [0, 1]).
        It is never guessed from the data, so that two comparisons mean the same thing.

    Returns
    -------
    float in [-1, 1]
        1.0 for identical images.

    Notes
    -----
    ``skimage.metrics.structural_similarity`` with a uniform window of side
    ``min(7, H, W)``, made odd by subtracting 1 when even (so 3 for a 3x4 image), and
    ``channel_axis`` set for colour (the mean over channels).

    Examples
    --------
    >>> import numpy as np
    >>> a = np.random.default_rng(0).random((16, 16))
    >>> ssim(a, a, data_range=1.0)
    1.0
    >>> ssim(a, 1.0 - a, data_range=1.0) < 0
    True
    """
    from skimage.metrics import structural_similarity

    if data_range is None:
        raise ConfigurationError("ssim needs data_range, e.g. data_range=1.0 for images in [0, 1]")
    data_range = check_real(data_range, "data_range", min_value=0.0, exclude_min=True)
    a, b = _image(image_a, "image_a"), _image(image_b, "image_b")
    if a.shape != b.shape:
        raise ConfigurationError(
            f"image_a has shape {np.shape(image_a)} and image_b {np.shape(image_b)}; they must be equal"
        )
    win = min(7, a.shape[0], a.shape[1])
    win -= 1 - win % 2
    return float(structural_similarity(a, b, win_size=win, data_range=data_range, channel_axis=2))


# -------------------------------------------------------------------------- registry
METRICS: tuple[str, ...] = (
    "high_frequency_ratio",
    "total_variation",
    "edge_density",
    "orientation_coherence",
    "dominant_orientation",
    "entropy",
    "periodicity",
    "saturation",
)
#: The metrics that depend on the images' value range (they take ``value_range=``).
RANGED: tuple[str, ...] = ("saturation",)


def metric(name: str) -> Callable[..., float]:
    """Return the single-image metric called ``name`` (one of :data:`METRICS`).

    Examples
    --------
    >>> metric("entropy") is entropy
    True
    >>> metric("edge_densty")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    pytest_featviz.errors.ConfigurationError: metric='edge_densty' is not one of ...; did you mean 'edge_density'?
    """
    check_choice(name, "metric", METRICS)
    return globals()[name]


def range_options(name: str, value_range: Any) -> dict[str, Any]:
    """The keyword options that give metric ``name`` the images' ``value_range`` (none if it ignores it).

    Examples
    --------
    >>> range_options("saturation", (0, 255)), range_options("entropy", (0, 255))
    ({'value_range': (0, 255)}, {})
    """
    return {"value_range": value_range} if name in RANGED and value_range is not None else {}


def summarize(image: Any, *, value_range: Any = None, **options: Mapping[str, Any]) -> dict[str, float]:
    """Every single-image metric of ``image``, by name (in the order of :data:`METRICS`).

    Parameters
    ----------
    image : array_like, shape (H, W), (H, W, 1) or (H, W, 3)
    value_range : (low, high), optional
        The range the image's values live in, e.g. ``(0, 255)`` for raw pixels or an
        ``AscentResult``'s ``value_range``; default ``(0, 1)``. Only ``saturation``
        depends on it (unless its own options set the bounds); the other metrics do
        not depend on the image's scale or offset, so an image on ``(0, 255)`` and its
        copy divided by 255 have the same summary under their matching ranges.
    **options : mapping
        Keyword options of one metric, keyed by its name, e.g. ``entropy={"bins": 16}``.

    Returns
    -------
    dict of str to float

    Examples
    --------
    >>> import numpy as np
    >>> s = summarize(np.indices((8, 8)).sum(axis=0) % 2, entropy={"bins": 2})
    >>> s["total_variation"], s["entropy"], s["saturation"]
    (1.0, 1.0, 1.0)
    >>> summarize(np.full((8, 8), 255.0), value_range=(0, 255))["saturation"]
    1.0
    """
    for name, value in options.items():
        metric(name)
        if not isinstance(value, Mapping):
            raise FeatvizTypeError(f"options for {name} must be a mapping such as {{'sigma': 2.0}}; got {value!r}")
    x = _image(image)
    if value_range is not None:
        check_value_range(value_range, None, None)  # a bad range is named before any metric runs
    given = {name: dict(options.get(name, {})) for name in METRICS}
    for name in RANGED:
        if not {"value_range", "low", "high"} & set(given[name]):
            given[name].update(range_options(name, value_range))
    return {name: metric(name)(x, **given[name]) for name in METRICS}
