"""Gradient structure metrics (private; re-exported by ``metrics``).

:func:`edge_density` (Canny), and :func:`orientation_coherence` and
:func:`dominant_orientation` from the whole-image structure tensor. Pure functions of a
numpy array.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

from .._validation import check_real
from ..errors import ConfigurationError
from .checks import _image, _unit

__all__ = ["edge_density", "orientation_coherence", "dominant_orientation"]


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
    sigma = check_real(sigma, "sigma", min_value=0.0)
    grey = _unit(x.mean(axis=2))
    if grey is None:
        return 0.0
    return float(np.mean(canny(grey, sigma=sigma)))


def _structure_tensor(image: Any, sigma: Any) -> tuple[float, float, float]:
    """``(Jxx, Jxy, Jyy)`` summed over the valid interior, x to the right and y *up*."""
    x = _image(image)
    sigma = check_real(sigma, "sigma", min_value=0.0)
    radius = max(1, int(np.ceil(3 * sigma)))
    if min(x.shape[:2]) < 2 * radius + 1:
        raise ConfigurationError(
            f"image of shape {x.shape[:2]} is too small for sigma={sigma}: the gradient filters "
            f"need at least {2 * radius + 1} pixels per side; use a smaller sigma"
        )
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
