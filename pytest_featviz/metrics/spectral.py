"""Spectral structure metrics (private; re-exported by ``metrics``).

:func:`high_frequency_ratio` (DCT energy above a radial frequency) and :func:`periodicity`
(the strongest off-centre autocorrelation peak). Pure functions of a numpy array.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import fft, ndimage

from .._validation import check_real
from .checks import _image, _unit

__all__ = ["high_frequency_ratio", "periodicity"]


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
    cutoff = check_real(cutoff, "cutoff", min_value=0.0, max_value=1.0, exclude_min=True, exclude_max=True)
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
    r = np.divide(corr[window], norm[window], out=np.zeros(norm[window].shape), where=norm[window] > 1e-12 * norm[0, 0])
    labels, _ = ndimage.label(r > 0)  # default structure: 4-connectivity
    outside = labels != labels[h // 2, w // 2]
    return float(np.clip(r[outside].max(), 0.0, 1.0)) if outside.any() else 0.0
