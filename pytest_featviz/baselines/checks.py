"""The comparisons of a regression gate, one number per item each (private; re-exported by ``baselines``).

A :class:`Check` is one comparison over the items of a batch: its per-item numbers, the
threshold, which side passes, and what a failure means in words. The functions below
compute the behavioural numbers from arrays; :mod:`.behaviour` gets those arrays from
a model. This module takes numpy arrays and knows nothing about TensorFlow or pytest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import check_choice
from ..errors import ConfigurationError

__all__ = ["Check", "CHECKS", "LEGACY_CHECKS", "BEHAVIOURAL_CHECKS", "cross_activation", "similarity", "SIMILARITIES"]

SIMILARITIES = ("cosine", "spearman")
LEGACY_CHECKS = ("ssim", "values", "reached")  # what a version-1 baseline is judged by
BEHAVIOURAL_CHECKS = ("cross", "similarity", "values", "reached")
_UPDATE_HINT = "recreate it by running its test with --featviz-update-baselines"

# name -> (what the number is, what a failure means): the legend of a failure account
CHECKS = {
    "cross": (
        "cross-activation: the new model's objective at the baseline's stored inputs, as a fraction of the best "
        "the new model reaches (its own ascent, or the stored input when that scores higher)",
        "the new unit no longer responds to what the old unit responded to: it detects something else",
    ),
    "cross_back": (
        "cross-activation back: the old model's objective at the new model's inputs, as a fraction of the old "
        "model's best",
        "what the new unit responds to does not excite the old unit: the unit detects something else",
    ),
    "similarity": (
        "representation similarity: the reference layer's activations at the stored inputs, under the new "
        "model against those stored under the old one",
        "the layer represents the old inputs differently: units changed, moved, or were swapped",
    ),
    "values": (
        "best value: the objective at the new ascent's inputs against the stored best value "
        "(|v - v0| <= value_atol + value_rtol * |v0|)",
        "the unit (or class) responds much more or much less strongly than it did",
    ),
    "reached": (
        "reached flag: whether the new ascent met its threshold, against the stored flag",
        "what was reachable is no longer reachable, or the other way round",
    ),
    "ssim": (
        "picture similarity: SSIM of the new ascent's inputs against the stored inputs",
        "the picture looks different (stable only for visualizations made with priors; raw maximisers from "
        "random starts change with float noise)",
    ),
}


@dataclass(frozen=True, eq=False)
class Check:
    """One comparison over the items: ``numbers[i]`` against ``threshold``.

    Attributes
    ----------
    name : str
        A key of :data:`CHECKS` (``'cross'``, ``'similarity'``, ``'values'``, ...).
    numbers : ndarray of float64, shape (B,)
        The comparison's number per item (NaN where it does not apply).
    threshold : float
        An item fails when its number is below it (``at_least``) or above it.
    at_least : bool
        True when larger numbers are better.
    judged : bool
        False for a comparison that is reported but does not decide the verdict.
    failing_items : ndarray of bool or None
        Overrides the threshold rule when given (value moves, reached flips).
    """

    name: str
    numbers: np.ndarray
    threshold: float
    at_least: bool = True
    judged: bool = True
    failing_items: np.ndarray | None = None

    @property
    def failing(self) -> np.ndarray:
        """Bool per item: the number is on the wrong side of the threshold (NaN never fails)."""
        if not self.judged:
            return np.zeros(len(self.numbers), dtype=bool)
        if self.failing_items is not None:
            return np.asarray(self.failing_items, dtype=bool)
        with np.errstate(invalid="ignore"):
            return (self.numbers < self.threshold) if self.at_least else (self.numbers > self.threshold)

    @property
    def rule(self) -> str:
        """The passing rule as text, such as ``>= 0.9``."""
        return f"{'>=' if self.at_least else '<='} {self.threshold:g}"

    def cell(self, i: int) -> str:
        """Item ``i``'s number with a ``!`` when it fails."""
        value = self.numbers[i]
        text = "-" if np.isnan(value) else f"{value:.4g}"
        return text + (" !" if self.failing[i] else "")


def cross_activation(
    at_stored: np.ndarray, own_best: np.ndarray, atol: float = 1e-6, old_best: np.ndarray | None = None
) -> np.ndarray:
    """How close the stored inputs come to the best: ``1 - (best - at_stored) / |best|`` per item.

    ``best`` is the larger of ``own_best`` and ``at_stored``, so the number is at most 1;
    for a positive best it is ``at_stored / best``. Where ``|best| <= atol`` (a unit that
    never fires) the stored input is as good as any: 1, unless ``old_best`` (the old
    model's value at the stored input) shows the unit fired before: then 0 (it went silent).

    Examples
    --------
    >>> cross_activation(np.array([9.0, 12.0, -3.0, 0.0]), np.array([10.0, 10.0, -2.0, 0.0]))
    array([0.9, 1. , 0.5, 1. ])
    >>> cross_activation(np.array([0.0, 0.0]), np.array([0.0, 0.0]), old_best=np.array([0.0, 4.0]))
    array([1., 0.])
    """
    at_stored = np.asarray(at_stored, dtype=np.float64)
    best = np.maximum(np.asarray(own_best, dtype=np.float64), at_stored)
    scale = np.abs(best)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = 1.0 - (best - at_stored) / scale
    fired = np.zeros(best.shape, bool) if old_best is None else np.asarray(old_best, dtype=np.float64) > atol
    dead = np.where((best - at_stored <= atol) & ~fired, 1.0, 0.0)
    out = np.where(scale > atol, ratio, dead)
    return np.where(np.isfinite(out), out, 0.0)


def _ranks(x: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(x, axis=1).astype(np.float64)


def similarity(old: np.ndarray, new: np.ndarray, kind: str = "cosine", atol: float = 1e-6) -> np.ndarray:
    """Per-item similarity of two batches of activations (each item flattened).

    ``'cosine'``: ``<a, b> / (|a| |b|)``; ``'spearman'``: the correlation of their ranks.
    Two items that are both zero (within ``atol``, a dead layer) count as 1, one zero
    item against a live one as 0; a constant item under Spearman counts as 1 when the
    other is constant too, else 0.

    Examples
    --------
    >>> a = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    >>> similarity(a, 2 * a)
    array([1., 1.])
    >>> similarity(a, np.array([[3.0, 2.0, 1.0], [0.0, 1.0, 0.0]]), "spearman")
    array([-1.,  0.])
    """
    a = np.asarray(old, dtype=np.float64).reshape(len(old), -1)
    b = np.asarray(new, dtype=np.float64).reshape(len(new), -1)
    if kind == "spearman":
        a, b = _ranks(a), _ranks(b)
        a, b = a - a.mean(axis=1, keepdims=True), b - b.mean(axis=1, keepdims=True)
        atol = 1e-12
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        cos = np.sum(a * b, axis=1) / (na * nb)
    both_zero, one_zero = (na <= atol) & (nb <= atol), (na <= atol) | (nb <= atol)
    return np.where(both_zero, 1.0, np.where(one_zero, 0.0, np.clip(cos, -1.0, 1.0)))


# -- which comparisons, and whether they can run --------------------------------------------------
def select_checks(checks: Any, model: Any, want: Any, old_model: Any) -> tuple[str, ...]:
    """The comparisons to judge: ``checks`` as given, else behavioural with a model and a baseline made with one."""
    if checks is None:
        if model is None or want.reference is None:
            return LEGACY_CHECKS
        return BEHAVIOURAL_CHECKS + (("cross_back",) if old_model is not None else ())
    names = (checks,) if isinstance(checks, str) else tuple(checks)
    for name in names:
        check_choice(name, "checks entry", tuple(CHECKS))
    if not names:
        raise ConfigurationError(f"checks is empty; give at least one of {list(CHECKS)}, or None for the defaults")
    return names


def behaviour_problem(obtained: Any, want: Any, names: tuple[str, ...], model: Any, old_model: Any) -> str | None:
    """Raise for a behavioural comparison that cannot run; the text of a different objective, else None."""
    wanted = [n for n in names if n in ("cross", "cross_back", "similarity")]
    if not wanted:
        return None
    if model is None:
        raise ConfigurationError(f"the comparisons {wanted} run the new model: pass model=")
    if "cross_back" in wanted and old_model is None:
        raise ConfigurationError("the comparison 'cross_back' runs the old model: pass old_model=")
    if getattr(obtained, "objective", None) is None:
        raise ConfigurationError(
            f"the comparisons {wanted} evaluate the result's objective: pass the AscentResult itself "
            f"(got {type(obtained).__name__})"
        )
    if "similarity" in wanted and want.reference is None:
        raise ConfigurationError(
            "the baseline stores no reference activations (it was written by pytest-featviz before format "
            f"version 2, or without model=): {_UPDATE_HINT}, or leave 'similarity' out of checks"
        )
    stored = want.metadata.get("objective")
    if stored is not None and stored != repr(obtained.objective):
        return f"the baseline was captured for the objective {stored}, the result maximises {obtained.objective!r}"
    return None
