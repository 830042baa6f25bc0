"""The faithfulness scores of a visualization, as pure functions of NumPy arrays (no TensorFlow).

- :func:`calibration`: where the visualization's activation falls in the natural distribution;
- :func:`path_similarity`: whether the layers below the unit process the visualization like
  its top natural exemplars (Spearman correlation of channel-mean vectors, normalised
  between exemplar-to-exemplar and exemplar-to-random-natural);
- :func:`continuity`: whether the unit's activation jumps along the straight path from a
  natural exemplar to the visualization (how a gating circuit shows itself).

Examples
--------
>>> import numpy as np
>>> calibration(5.0, np.arange(101.0) / 20).ratio_p99
1.0101010101010102
>>> continuity(np.r_[np.linspace(0, 1, 32), np.linspace(5, 6, 33)]).jump > 50
True
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.stats import rankdata

__all__ = ["Calibration", "calibration", "PathSimilarity", "path_similarity", "Continuity", "continuity", "spearman"]


@dataclasses.dataclass(frozen=True)
class Calibration:
    """The visualization's ``value`` against the natural distribution.

    ``percentile``: the share (in %) of natural values at or below it; ``ratio_p99``:
    ``value`` over the natural 99th percentile (``inf`` when that is at or below ``eps``
    and the value is not, ``nan`` when both are); ``silent``: the natural maximum is at
    or below ``eps`` (the unit never fires on the data).
    """

    value: float
    percentile: float
    ratio_p99: float
    p99: float
    natural_max: float
    silent: bool


def calibration(value: float, natural: np.ndarray, eps: float = 1e-6) -> Calibration:
    """Place ``value`` in the natural activations ``natural`` (1-D).

    Examples
    --------
    >>> c = calibration(1.0, np.zeros(50))
    >>> c.silent, c.percentile, c.ratio_p99
    (True, 100.0, inf)
    """
    acts = np.asarray(natural, dtype=np.float64).reshape(-1)
    value = float(value)
    p99 = float(np.quantile(acts, 0.99))
    if p99 > eps:
        ratio = value / p99
    else:
        ratio = float("inf") if value > eps else float("nan")
    top = float(acts.max())
    return Calibration(value, float(100.0 * np.mean(acts <= value)), ratio, p99, top, top <= eps)


def spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman rank correlations between every row of ``a`` (n, C) and of ``b`` (m, C): (n, m).

    A constant row has no ranking: its correlations are NaN.

    Examples
    --------
    >>> spearman(np.array([[1.0, 2, 3]]), np.array([[10.0, 20, 30], [3, 2, 1], [1, 1, 1]])).round(3).tolist()
    [[1.0, -1.0, nan]]
    """

    def ranks(x: np.ndarray) -> np.ndarray:
        r = rankdata(np.asarray(x, dtype=np.float64), axis=1)
        r = r - r.mean(axis=1, keepdims=True)
        norm = np.sqrt((r**2).sum(axis=1, keepdims=True))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(norm > 0, r / np.where(norm > 0, norm, 1.0), np.nan)

    return ranks(a) @ ranks(b).T


@dataclasses.dataclass(frozen=True)
class PathSimilarity:
    """One layer's path similarity: ``score`` = (to_exemplars - to_random) / (among_exemplars - to_random).

    1: the visualization is processed like its exemplars are like each other; 0: like an
    unrelated natural input. ``score`` is NaN when the layer cannot tell exemplars from
    random inputs (``among_exemplars - to_random`` at or below ``min_gap``) or has fewer
    than 3 channels.
    """

    score: float
    to_exemplars: float
    among_exemplars: float
    to_random: float


def _nanmean(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else float("nan")


def path_similarity(
    visualization: np.ndarray, exemplars: np.ndarray, random: np.ndarray, min_gap: float = 0.05
) -> PathSimilarity:
    """Path similarity of one layer from channel-mean vectors: the visualization's (C,), exemplars' (k, C), random (m, C).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> pattern = np.arange(8.0)
    >>> ex = pattern + rng.normal(0, 1, (5, 8))
    >>> rand = rng.normal(0, 1, (20, 8))
    >>> round(path_similarity(pattern, ex, rand).score, 1) >= 1.0, path_similarity(-pattern, ex, rand).score < 0
    (True, True)
    """
    vis = np.asarray(visualization, dtype=np.float64).reshape(1, -1)
    ex = np.asarray(exemplars, dtype=np.float64).reshape(len(exemplars), -1)
    rand = np.asarray(random, dtype=np.float64).reshape(len(random), -1)
    to_ex = _nanmean(spearman(vis, ex))
    among = spearman(ex, ex)
    among_ex = _nanmean(among[~np.eye(len(ex), dtype=bool)])
    to_rand = _nanmean(spearman(ex, rand))
    gap = among_ex - to_rand
    score = (to_ex - to_rand) / gap if vis.shape[1] >= 3 and gap > min_gap else float("nan")
    return PathSimilarity(float(score), to_ex, among_ex, to_rand)


@dataclasses.dataclass(frozen=True)
class Continuity:
    """The unit's activation along a straight path: ``jump`` = largest step / typical step, ``at`` its position in [0, 1]."""

    jump: float
    at: float
    values: tuple[float, ...]


def continuity(values: np.ndarray) -> Continuity:
    """How much the largest step of ``values`` (along an evenly sampled path) stands out.

    The typical step is the larger of the median step and a quarter of the mean step, so
    that a path that is flat over much of its length (a ReLU unit off there) is not a jump:
    a straight line scores 1, a single jump between two smooth pieces about the number of steps.

    Examples
    --------
    >>> continuity(np.linspace(0.0, 1.0, 65)).jump
    1.0
    """
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    steps = np.abs(np.diff(v))
    if steps.size == 0 or steps.max() <= 0:
        return Continuity(1.0, 0.0, tuple(v.tolist()))
    typical = max(float(np.median(steps)), 0.25 * float(steps.mean()))
    i = int(np.argmax(steps))
    return Continuity(float(steps[i] / typical), (i + 0.5) / steps.size, tuple(v.tolist()))
