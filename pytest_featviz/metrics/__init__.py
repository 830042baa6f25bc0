"""Structure metrics of one image ``(H, W)`` or ``(H, W, C)`` -> float: pure NumPy/SciPy/scikit-image.

Examples
--------
>>> import numpy as np
>>> from pytest_featviz import metrics
>>> stripes = np.tile(np.sin(np.arange(32) * 0.8), (32, 1))
>>> round(metrics.orientation_coherence(stripes), 2)
1.0
"""

from .basic import (
    METRICS,
    RANGED,
    check_value_range,
    entropy,
    metric,
    range_options,
    saturation,
    ssim,
    summarize,
    total_variation,
)
from .gradients import dominant_orientation, edge_density, orientation_coherence
from .spectral import high_frequency_ratio, periodicity

__all__ = [
    "METRICS",
    "metric",
    "summarize",
    "high_frequency_ratio",
    "total_variation",
    "edge_density",
    "orientation_coherence",
    "dominant_orientation",
    "entropy",
    "periodicity",
    "saturation",
    "ssim",
    "RANGED",
    "range_options",
    "check_value_range",
]
