"""Structure metrics of one image: pure functions of a numpy array that return a float.

Every metric takes an image of shape ``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)`` with
finite values and sides of at least 3 pixels, and keyword-only options. Constant images
have a defined value (never NaN). Most metrics do not depend on the image's scale or
offset; ``saturation`` (absolute bounds) and the explicit ``data_range`` options do.
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
from scipy import fft, ndimage

from .errors import ConfigurationError, FeatvizTypeError, closest

__all__ = [
    "METRICS", "metric", "summarize", "high_frequency_ratio", "total_variation",
    "edge_density", "orientation_coherence", "dominant_orientation", "entropy",
    "periodicity", "saturation", "ssim",
]

_MIN_SIDE = 3
_ACCEPTED = "(H, W), (H, W, 1) or (H, W, 3) with H, W >= 3"


# ----------------------------------------------------------------------------- checks
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
        raise ConfigurationError(
            f"{name} of shape {shape} has {bad} NaN or infinite values; all must be finite")
    return arr


def _number(value: Any, name: str, *, low: float, high: float = np.inf, low_open: bool = False,
            high_open: bool = False) -> float:
    """Check a scalar option against an interval and return it as a float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise FeatvizTypeError(f"{name} must be a number; got {value!r}")
    v = float(value)
    too_low = v <= low if low_open else v < low
    too_high = v >= high if high_open else v > high
    if not np.isfinite(v) or too_low or too_high:
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open or high == np.inf else ']'}"
        raise ConfigurationError(f"{name}={value!r} is not valid; it must lie in {interval}")
    return v


def _unit(x: np.ndarray) -> np.ndarray | None:
    """Map ``x`` affinely onto [0, 1] (min 0, max 1); ``None`` when ``x`` is constant."""
    if x.max() == x.min():
        return None
    y = x / np.abs(x).max()  # first bring the values near 1, so that max - min cannot overflow
    return (y - y.min()) / (y.max() - y.min())


# ------------------------------------------------------------------- spectral metrics
def high_frequency_ratio(image: Any, *, cutoff: float = 0.25) -> float:
    """Share of the image's spectral energy above a radial frequency.

    Parameters
    ----------
    image : array_like, shape (H, W), (H, W, 1) or (H, W, 3)
    cutoff : float in (0, 1)
        Radial frequency as a fraction of the Nyquist frequency (0.5 cycles per pixel).

    Returns
    -------
    float in [0, 1]
        Energy at radial frequency above ``cutoff`` over all energy, after removing each
        channel's mean; 0.0 for a constant image.

    Notes
    -----
    The power spectrum is that of the orthonormal 2-D DCT-II, i.e. of the image reflected
    at its borders, so the wrap-around seam of an FFT adds no false high frequencies. DCT
    index ``(k, l)`` has radial frequency ``sqrt((k/H)**2 + (l/W)**2)`` times Nyquist.
    Channels' spectra are summed. White noise spreads its energy evenly over the
    frequencies, so its ratio is about ``1 - pi * cutoff**2 / 4``.

    Examples
    --------
    >>> import numpy as np
    >>> noise = np.random.default_rng(0).normal(size=(64, 64))
    >>> round(high_frequency_ratio(noise), 2), round(1 - np.pi * 0.25**2 / 4, 2)
    (0.95, 0.95)
    >>> high_frequency_ratio(np.add.outer(np.arange(16.0), np.arange(16.0))) < 0.01
    True
    """
    x = _image(image)
    cutoff = _number(cutoff, "cutoff", low=0.0, high=1.0, low_open=True, high_open=True)
    u = _unit(x)
    if u is None:
        return 0.0
    power = (fft.dctn(u, type=2, norm="ortho", axes=(0, 1)) ** 2).sum(axis=2)
    power[0, 0] = 0.0  # the DC coefficient is the mean
    h, w = power.shape
    radius = np.hypot(*np.meshgrid(np.arange(h) / h, np.arange(w) / w, indexing="ij"))
    total = power.sum()
    return float(power[radius > cutoff].sum() / total) if total > 0 else 0.0


def periodicity(image: Any) -> float:
    """Strength of the strongest repetition: the highest off-centre autocorrelation peak.

    Parameters
    ----------
    image : array_like, shape (H, W), (H, W, 1) or (H, W, 3)

    Returns
    -------
    float in [0, 1]
        Near 1 for stripes or a checkerboard, near 0 for noise or a smooth ramp; 0.0 for a
        constant image.

    Notes
    -----
    For every shift ``d`` with ``|d_row| <= H // 2`` and ``|d_col| <= W // 2``, the
    normalised autocorrelation of the mean-removed image is
    ``sum(x[p] * x[p + d]) / sqrt(sum(x[p]**2) * sum(x[p + d]**2))`` over the pixels ``p``
    where both exist (zero padding via FFT, no wrap-around; channels pooled). It lies in
    [-1, 1]. The central peak is the 4-connected region of positive correlation around
    ``d = 0`` (for stripes, the whole band along them); the result is the largest value
    outside it, clipped at 0. On ``n``-pixel noise it is of order ``4 / sqrt(n)``.

    Examples
    --------
    >>> import numpy as np
    >>> checkerboard = np.indices((16, 16)).sum(axis=0) % 2
    >>> round(periodicity(checkerboard), 6)
    1.0
    >>> periodicity(np.random.default_rng(0).normal(size=(64, 64))) < 0.2
    True
    """
    x = _image(image)
    u = _unit(x)
    if u is None:
        return 0.0
    u = u - u.mean(axis=(0, 1))
    h, w, _ = u.shape
    size = (fft.next_fast_len(2 * h), fft.next_fast_len(2 * w))

    def correlate(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # sum_p a[p] b[p + d], channels summed
        fa, fb = (fft.rfft2(v, s=size, axes=(0, 1)) for v in (a, b))
        return fft.irfft2((np.conj(fa) * fb).sum(axis=2), s=size)

    energy, ones = (u**2).sum(axis=2, keepdims=True), np.ones((h, w, 1))
    norm = np.sqrt(np.clip(correlate(energy, ones) * correlate(ones, energy), 0.0, None))
    corr = correlate(u, u)
    rows, cols = np.arange(-(h // 2), h // 2 + 1), np.arange(-(w // 2), w // 2 + 1)
    window = np.ix_(rows % size[0], cols % size[1])
    r = np.divide(corr[window], norm[window], out=np.zeros(norm[window].shape),
                  where=norm[window] > 1e-12 * norm[0, 0])
    labels, _ = ndimage.label(r > 0)  # default structure: 4-connectivity
    outside = labels != labels[h // 2, w // 2]
    return float(np.clip(r[outside].max(), 0.0, 1.0)) if outside.any() else 0.0


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
        width = _number(data_range, "data_range", low=0.0, low_open=True)
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
    if isinstance(bins, (bool, np.bool_)) or not isinstance(bins, (int, np.integer)) or bins < 2:
        raise ConfigurationError(f"bins={bins!r} is not valid; it must be an integer >= 2")
    if data_range is None:
        t = _unit(x)  # the position of each value in its range, from 0 to 1
        if t is None:
            return 0.0
    else:
        pair = np.asarray(data_range, dtype=object)
        if pair.shape != (2,):
            raise ConfigurationError(
                f"data_range={data_range!r} is not valid; give the histogram's (low, high), e.g. (0.0, 1.0)")
        low = _number(pair[0], "data_range[0]", low=-np.inf)
        high = _number(pair[1], "data_range[1]", low=low, low_open=True)
        scale = max(np.abs(x).max(), abs(low), abs(high))  # keeps high - low finite and non-zero
        t = (x / scale - low / scale) / (high / scale - low / scale)
    index = np.clip(np.floor(t * bins), 0, bins - 1).astype(np.int64)
    p = np.bincount(index.ravel(), minlength=bins) / index.size
    p = p[p > 0]
    return float(max(0.0, -(p * np.log2(p)).sum()))


def saturation(image: Any, *, low: float = 0.0, high: float = 1.0, atol: float = 1e-6) -> float:
    """Share of values at (or beyond) either bound.

    Parameters
    ----------
    image : array_like, shape (H, W), (H, W, 1) or (H, W, 3)
    low, high : float
        The bounds, ``low < high``: typically those of the ``Box`` the image was found in.
    atol : float >= 0
        A value within ``atol`` of a bound counts as at the bound.

    Returns
    -------
    float in [0, 1]
        Over all pixels and channels.

    Examples
    --------
    >>> saturation([[0.0, 0.5, 1.0], [0.2, 1.0, 0.9999999], [0.3, 0.4, 0.5]])
    0.4444444444444444
    """
    x = _image(image)
    low = _number(low, "low", low=-np.inf)
    high = _number(high, "high", low=low, low_open=True)
    atol = _number(atol, "atol", low=0.0)
    return float(np.mean((x <= low + atol) | (x >= high - atol)))


# -------------------------------------------------------------------------- gradients
def edge_density(image: Any, *, sigma: float = 1.0) -> float:
    """Fraction of pixels that the Canny detector marks as edges.

    Parameters
    ----------
    image : array_like, shape (H, W), (H, W, 1) or (H, W, 3)
    sigma : float >= 0
        Width of the Gaussian that Canny smooths with.

    Returns
    -------
    float in [0, 1]
        0.0 for a constant image.

    Notes
    -----
    Colour is made grey by the mean over channels; the grey image is rescaled to [0, 1]
    over its own range, then given to ``skimage.feature.canny`` with its default
    thresholds (0.1 and 0.2 of the unit range). Canny never marks the outermost pixels.

    Examples
    --------
    >>> import numpy as np
    >>> step = np.zeros((10, 10)); step[:, 5:] = 1.0
    >>> edge_density(step)  # the columns on both sides of the step, 8 rows each
    0.16
    """
    from skimage.feature import canny

    x = _image(image)
    sigma = _number(sigma, "sigma", low=0.0)
    grey = _unit(x.mean(axis=2))
    if grey is None:
        return 0.0
    return float(np.mean(canny(grey, sigma=sigma)))


def _structure_tensor(image: Any, sigma: Any) -> tuple[float, float, float]:
    """``(Jxx, Jxy, Jyy)`` summed over the valid interior, x to the right and y *up*."""
    x = _image(image)
    sigma = _number(sigma, "sigma", low=0.0)
    radius = max(1, int(np.ceil(3 * sigma)))
    if min(x.shape[:2]) < 2 * radius + 1:
        raise ConfigurationError(
            f"image of shape {x.shape[:2]} is too small for sigma={sigma}: the gradient filters "
            f"need at least {2 * radius + 1} pixels per side; use a smaller sigma")
    u = _unit(x)
    if u is None:
        return 0.0, 0.0, 0.0
    t = np.arange(-radius, radius + 1.0)
    smooth = np.exp(-(t**2) / (2 * sigma**2)) if sigma > 0 else (t == 0).astype(float)
    smooth /= smooth.sum()
    weight = np.exp(-(t**2) / (2 * sigma**2)) if sigma > 0 else (np.abs(t) == 1).astype(float)
    deriv = t * weight / (t**2 * weight).sum()  # derivative of a ramp of slope 1 is 1

    def gradient(axis: int) -> np.ndarray:
        g = ndimage.correlate1d(ndimage.correlate1d(u, deriv, axis=axis), smooth, axis=1 - axis)
        return g[radius:-radius, radius:-radius]  # only outputs whose filters lie inside the image

    gx, gy = gradient(1), -gradient(0)  # rows go down, y goes up
    return float((gx * gx).sum()), float((gx * gy).sum()), float((gy * gy).sum())


def orientation_coherence(image: Any, *, sigma: float = 1.0) -> float:
    """How much the image's gradients share one orientation: ``(l1 - l2) / (l1 + l2)``.

    Parameters
    ----------
    image : array_like, shape (H, W), (H, W, 1) or (H, W, 3)
        Each side must have at least ``2 * max(1, ceil(3 * sigma)) + 1`` pixels.
    sigma : float >= 0
        Scale of the Gaussian derivative filters; 0 gives central differences.

    Returns
    -------
    float in [0, 1]
        About 1 for stripes at any angle, about 0 for isotropic noise; 0.0 for a constant
        image.

    Notes
    -----
    ``l1 >= l2`` are the eigenvalues of the structure tensor
    ``J = sum [[gx**2, gx*gy], [gx*gy, gy**2]]`` summed over the whole image and over
    channels. Gradients are sampled Gaussian-derivative filters evaluated only where the
    whole filter lies inside the image (no padding, so no false edges at the border).

    Examples
    --------
    >>> import numpy as np
    >>> rows, cols = np.indices((32, 32))
    >>> round(orientation_coherence(np.sin((rows + cols) / 2.0)), 3)
    1.0
    """
    jxx, jxy, jyy = _structure_tensor(image, sigma)
    trace = jxx + jyy
    if trace <= 0:
        return 0.0
    return float(min(1.0, np.hypot(jxx - jyy, 2 * jxy) / trace))


def dominant_orientation(image: Any, *, sigma: float = 1.0) -> float:
    """Direction, in degrees in [0, 180), along which the image's pattern runs.

    Parameters
    ----------
    image, sigma
        As for :func:`orientation_coherence`.

    Returns
    -------
    float in [0, 180)
        The angle *along* the stripes (perpendicular to the dominant gradient), counter-
        clockwise from the x axis as a person sees the image: x to the right (columns) and
        y up (rows go down). Horizontal stripes give 0, vertical stripes 90, stripes rising
        to the right 45. 0.0 for a constant image.

    Notes
    -----
    From the structure tensor of :func:`orientation_coherence`: the gradient's orientation
    is ``atan2(2 * Jxy, Jxx - Jyy) / 2`` and this adds 90 degrees. The angle is only
    meaningful when the coherence is well above 0.

    Examples
    --------
    >>> import numpy as np
    >>> rows, cols = np.indices((32, 32))
    >>> round(dominant_orientation(np.sin(cols / 2.0)), 6)
    90.0
    >>> round(dominant_orientation(np.sin((rows + cols) / 2.0)), 6)  # rising to the right
    45.0
    """
    jxx, jxy, jyy = _structure_tensor(image, sigma)
    if jxx + jyy <= 0:
        return 0.0
    angle = (np.degrees(0.5 * np.arctan2(2 * jxy, jxx - jyy)) + 90.0) % 180.0
    return float(0.0 if angle >= 180.0 else angle)


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
    data_range = _number(data_range, "data_range", low=0.0, low_open=True)
    a, b = _image(image_a, "image_a"), _image(image_b, "image_b")
    if a.shape != b.shape:
        raise ConfigurationError(
            f"image_a has shape {np.shape(image_a)} and image_b {np.shape(image_b)}; they must be equal")
    win = min(7, a.shape[0], a.shape[1])
    win -= 1 - win % 2
    return float(structural_similarity(a, b, win_size=win, data_range=data_range, channel_axis=2))


# -------------------------------------------------------------------------- registry
METRICS: tuple[str, ...] = (
    "high_frequency_ratio", "total_variation", "edge_density", "orientation_coherence",
    "dominant_orientation", "entropy", "periodicity", "saturation",
)


def metric(name: str) -> Callable[..., float]:
    """Return the single-image metric called ``name`` (one of :data:`METRICS`).

    Examples
    --------
    >>> metric("entropy") is entropy
    True
    >>> metric("edge_densty")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    pytest_featviz.errors.ConfigurationError: unknown metric 'edge_densty'; ... did you mean 'edge_density'?
    """
    if not isinstance(name, str) or name not in METRICS:
        raise ConfigurationError(
            f"unknown metric {name!r}; the metrics are {', '.join(METRICS)}{closest(str(name), METRICS)}")
    return globals()[name]


def summarize(image: Any, **options: Mapping[str, Any]) -> dict[str, float]:
    """Every single-image metric of ``image``, by name (in the order of :data:`METRICS`).

    Parameters
    ----------
    image : array_like, shape (H, W), (H, W, 1) or (H, W, 3)
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
    """
    for name, value in options.items():
        metric(name)
        if not isinstance(value, Mapping):
            raise FeatvizTypeError(
                f"options for {name} must be a mapping such as {{'sigma': 2.0}}; got {value!r}")
    x = _image(image)
    return {name: metric(name)(x, **options.get(name, {})) for name in METRICS}
