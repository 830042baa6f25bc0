"""Comparing a result with a baseline (private; the public names are re-exported by ``baselines``).

Item by item: SSIM of the inputs, relative change of the objective values, flips of
the reached flags, and (reported, not judged) the metric deltas; see the
:mod:`pytest_featviz.baselines` docstring for the defaults and why.
This module takes numpy arrays and knows nothing about TensorFlow or pytest.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import metrics as _metrics
from .._validation import check_choice, check_real
from . import behaviour as _behaviour
from .account import describe_behaviour as _describe_behaviour
from .capture import Baseline, _is_picture, capture
from .checks import SIMILARITIES, Check, behaviour_problem, select_checks

DEFAULT_MIN_SSIM = 0.95
DEFAULT_VALUE_RTOL = 0.05
DEFAULT_VALUE_ATOL = 1e-6
DEFAULT_MIN_CROSS = 0.9
DEFAULT_MIN_SIMILARITY = 0.999
MATCHES = ("index", "permutation")
_SHOWN_ITEMS = 16  # larger batches list only their failing items


@dataclass(frozen=True, eq=False)
class Comparison:
    """The item-by-item verdict of :func:`compare`; arrays follow the obtained items.

    ``mapping[i]`` is the baseline item that obtained item ``i`` was compared with;
    ``values_expected``, ``reached_expected`` and ``metric_deltas`` follow the mapping.
    ``problem`` is set (and the arrays are empty) when the two cannot be compared item
    by item (a different number of items, another input shape, another kind of result,
    another objective). ``checks`` holds every comparison made (:class:`Check`), judged or
    reported; :meth:`check` finds one by name.
    """

    mapping: tuple[int, ...]
    ssim: np.ndarray
    max_input_change: np.ndarray
    values_obtained: np.ndarray | None
    values_expected: np.ndarray | None
    reached_obtained: np.ndarray | None
    reached_expected: np.ndarray | None
    metric_deltas: dict[str, np.ndarray]
    min_ssim: float
    value_rtol: float
    match: str
    problem: str | None = None
    value_atol: float = DEFAULT_VALUE_ATOL
    checks: tuple[Check, ...] = ()

    def check(self, name: str) -> Check | None:
        """The comparison ``name`` (a key of :data:`CHECKS`), or None when it was not made."""
        return next((c for c in self.checks if c.name == name), None)

    @property
    def judged(self) -> tuple[str, ...]:
        """The names of the comparisons that decide the verdict."""
        return tuple(c.name for c in self.checks if c.judged)

    @property
    def value_change(self) -> np.ndarray | None:
        """``|v - v0| / |v0|`` per item; 0 where both are NaN, inf where one is."""
        if self.values_obtained is None or self.values_expected is None:
            return None
        vo, ve = self.values_obtained, self.values_expected
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            change = np.abs(vo - ve) / np.maximum(np.abs(ve), np.finfo(np.float64).tiny)
        change = np.where(np.isnan(vo) & np.isnan(ve), 0.0, change)
        return np.where(np.isnan(change), np.inf, change)

    @property
    def value_moved(self) -> np.ndarray | None:
        """Bool per item: ``|v - v0| > value_atol + value_rtol * |v0|`` (as ``np.isclose``), or a NaN/inf on one side."""
        if self.values_obtained is None or self.values_expected is None:
            return None
        vo, ve = self.values_obtained, self.values_expected
        with np.errstate(invalid="ignore"):
            close = (np.abs(vo - ve) <= self.value_atol + self.value_rtol * np.abs(ve)) & np.isfinite(vo - ve)
        same = (vo == ve) | (np.isnan(vo) & np.isnan(ve))  # equal infinities, or NaN on both sides
        return ~(close | same)

    @property
    def failing(self) -> np.ndarray:
        """Bool per obtained item: any judged comparison fails (by default: SSIM below ``min_ssim``, a value that
        moved (see :attr:`value_moved`), or a flip)."""
        if self.checks:
            return np.logical_or.reduce([c.failing for c in self.checks])
        bad = self.ssim < self.min_ssim
        if self.value_moved is not None:
            bad = bad | self.value_moved
        if self.reached_obtained is not None and self.reached_expected is not None:
            bad = bad | (self.reached_obtained != self.reached_expected)
        return bad

    @property
    def passed(self) -> bool:
        """True when every item matches its baseline item within the tolerances."""
        return self.problem is None and not bool(self.failing.any())

    def describe(self, labels: Any = None) -> str:
        """The account of the comparison, a block of lines a person can act on.

        ``labels`` names the items of a behavioural account (e.g. unit indices; default: 0, 1, ...).
        """
        head = (
            f"(min_ssim={self.min_ssim:g}, value_rtol={self.value_rtol:g}, value_atol={self.value_atol:g}, "
            f"match={self.match!r})"
        )
        if self.problem is not None:
            return f"the result cannot be compared with the baseline {head}: {self.problem}"
        if set(self.judged) & {"cross", "cross_back", "similarity"}:
            return _describe_behaviour(self, labels)
        failing = self.failing
        lines = [f"{int(failing.sum())} of {len(failing)} items differ from the baseline {head}"]
        if self.match == "permutation":
            pairs = ", ".join(f"{i}<-{j}" for i, j in enumerate(self.mapping))
            lines.append(f"  mapping (obtained item <- baseline item): {pairs}")
        lines.append(
            f"  item  baseline item  SSIM       {'value: baseline -> obtained (change)':<38}  reached   max |dx|"
        )
        shown = range(len(failing)) if len(failing) <= _SHOWN_ITEMS else np.flatnonzero(failing)
        for i in shown:
            lines.extend(self._item_lines(int(i)))
        if len(shown) < len(failing):
            lines.append(f"  ({len(failing) - len(shown)} matching items not shown)")
        return "\n".join(lines)

    def _item_lines(self, i: int) -> list[str]:
        ssim = self.check("ssim")
        mark = " !" if (self.ssim[i] < self.min_ssim if ssim is None else ssim.failing[i]) else "  "
        value = "-"
        expected, obtained, moved = self.values_expected, self.values_obtained, self.value_moved
        if self.value_change is not None and expected is not None and obtained is not None and moved is not None:
            change = self.value_change[i]
            value = f"{expected[i]:.6g} -> {obtained[i]:.6g} ({100 * change:.3g}%)" + (" !" if moved[i] else "")
        reached = "-"
        if self.reached_obtained is not None and self.reached_expected is not None:
            flip = self.reached_obtained[i] != self.reached_expected[i]
            reached = f"{_yes(self.reached_expected[i])}->{_yes(self.reached_obtained[i])}" + (" !" if flip else "")
        line = (
            f"  {i:<4}  {self.mapping[i]:<13}  {self.ssim[i]:<7.4f}{mark}   {value:<38}  {reached:<8}  "
            f"{self.max_input_change[i]:.4g}"
        )
        deltas = ", ".join(f"{name} {delta[i]:+.3g}" for name, delta in self.metric_deltas.items())
        return [line] + ([f"        metric deltas: {deltas}"] if deltas else [])


def _yes(flag: Any) -> str:
    return "yes" if flag else "no"


def check_options(
    min_ssim: Any, value_rtol: Any, match: Any, value_atol: Any = DEFAULT_VALUE_ATOL
) -> tuple[float, float, str, float]:
    """Validate :func:`compare`'s tolerances; raise ConfigurationError (FeatvizTypeError for a wrong type) naming the bad one.

    Examples
    --------
    >>> check_options(0.9, 0.1, "permutation")
    (0.9, 0.1, 'permutation', 1e-06)
    >>> check_options(1.5, 0.1, "index")
    Traceback (most recent call last):
    ...
    pytest_featviz.errors.ConfigurationError: min_ssim must be a finite number in [-1, 1]; got 1.5
    """
    return (
        check_real(min_ssim, "min_ssim", min_value=-1.0, max_value=1.0),
        check_real(value_rtol, "value_rtol", min_value=0.0, finite=False),  # inf: values are not compared
        check_choice(match, "match", MATCHES),
        check_real(value_atol, "value_atol", min_value=0.0, finite=False),
    )


def _similarity(a: np.ndarray, b: np.ndarray, data_range: float) -> float:
    """SSIM of two items: as pictures, channel by channel, or as 1-D signals."""
    from skimage.metrics import structural_similarity

    if _is_picture(a.shape):
        return _metrics.ssim(a, b, data_range=data_range)
    if a.ndim == 3 and min(a.shape[:2]) >= 3:
        return float(np.mean([_metrics.ssim(a[..., c], b[..., c], data_range=data_range) for c in range(a.shape[2])]))
    flat_a, flat_b = a.reshape(-1).astype(np.float64), b.reshape(-1).astype(np.float64)
    win = min(7, flat_a.size)
    win -= 1 - win % 2
    return float(structural_similarity(flat_a, flat_b, win_size=win, data_range=data_range))


def _structure_problem(obtained: Baseline, expected: Baseline) -> str | None:
    if obtained.inputs.shape != expected.inputs.shape:
        return (
            f"the baseline has {len(expected.inputs)} items of shape {expected.inputs.shape[1:]}, the result "
            f"{len(obtained.inputs)} items of shape {obtained.inputs.shape[1:]}"
        )
    kinds = [
        ", ".join(n for n in ("values", "reached flags") if getattr(b, n.split()[0]) is not None) or "pictures only"
        for b in (expected, obtained)
    ]
    if kinds[0] != kinds[1]:
        return f"the baseline stores {kinds[0]}, the result has {kinds[1]} (pass the same kind of result)"
    return None


def _pairs(got: Baseline, want: Baseline, match: str, by_cross: Any) -> tuple[np.ndarray, np.ndarray]:
    """``mapping`` (obtained item i <- baseline item ``mapping[i]``) and the SSIM of each pair.

    ``'permutation'`` maximises the total SSIM, or the total of ``by_cross()`` (a table of
    cross-activations) when given.
    """
    width = want.value_range[1] - want.value_range[0]
    mapping = np.arange(len(got.inputs))
    if match == "permutation":
        from scipy.optimize import linear_sum_assignment

        if by_cross is not None:
            table = by_cross()
        else:
            table = np.array([[_similarity(a, b, width) for b in want.inputs] for a in got.inputs])
        mapping = linear_sum_assignment(table, maximize=True)[1]
    return mapping, np.array([_similarity(a, want.inputs[j], width) for a, j in zip(got.inputs, mapping)])


def _outcome_checks(c: Comparison, names: tuple[str, ...]) -> list[Check]:
    """The ``'values'`` and ``'reached'`` checks of a comparison, where it has values and flags."""
    found = []
    if c.value_moved is not None and c.value_change is not None:
        found.append(Check("values", c.value_change, c.value_rtol, False, "values" in names, c.value_moved))
    if c.reached_obtained is not None and c.reached_expected is not None:
        flips = c.reached_obtained != c.reached_expected
        found.append(Check("reached", flips.astype(np.float64), 0.0, False, "reached" in names, flips))
    return found


def compare(
    obtained: Any,
    expected: Any,
    *,
    model: Any = None,
    checks: Any = None,
    min_cross: float = DEFAULT_MIN_CROSS,
    min_similarity: float = DEFAULT_MIN_SIMILARITY,
    similarity: str = "cosine",
    old_model: Any = None,
    min_ssim: float = DEFAULT_MIN_SSIM,
    value_rtol: float = DEFAULT_VALUE_RTOL,
    match: str = "index",
    value_atol: float = DEFAULT_VALUE_ATOL,
) -> Comparison:
    """Compare a result with a baseline, item by item, by the comparisons ``checks`` names.

    Parameters
    ----------
    obtained, expected : Baseline, AscentResult or array_like
        Anything :func:`capture` accepts; ``expected`` is usually :func:`load`'s baseline.
        The behavioural comparisons need ``obtained`` to be the new model's AscentResult.
    model : keras.Model, optional
        The new model (the one ``obtained`` was found with); the behavioural comparisons run it.
    checks : sequence of str, optional
        Which comparisons decide (keys of :data:`CHECKS`); the others are reported only.
        Default: ``('cross', 'similarity', 'values', 'reached')`` (and ``'cross_back'`` with
        ``old_model``) when ``model`` is given and the baseline stores reference
        activations (``capture(result, model=...)``); else ``('ssim', 'values', 'reached')``,
        the comparison of version-1 baselines.
    min_cross : float
        ``'cross'``/``'cross_back'``: an item fails below this cross-activation.
    min_similarity : float in [-1, 1]
        ``'similarity'``: an item fails below this similarity of the reference activations.
    similarity : {'cosine', 'spearman'}
        How ``'similarity'`` compares two activation vectors.
    old_model : keras.Model, optional
        The accepted model, for ``'cross_back'``.
    min_ssim : float in [-1, 1]
        ``'ssim'``: an item fails when the SSIM of its input against the baseline's is lower.
    value_rtol : float >= 0
        ``'values'``: an item fails when its objective value moved by more than this fraction
        of the baseline's value plus ``value_atol`` (``np.isclose``'s rule).
    match : {'index', 'permutation'}
        ``'index'`` compares item i with baseline item i; ``'permutation'`` pairs the
        items to maximise the total SSIM (or, judged behaviourally, the total
        cross-activation; Hungarian assignment) and reports the pairs.
    value_atol : float >= 0
        The absolute slack of the value check, so that a baseline value of 0 (a dead
        unit) tolerates float noise; default 1e-6.

    Returns
    -------
    Comparison

    Examples
    --------
    >>> import numpy as np
    >>> stripes = np.stack([np.indices((8, 8))[k] % 2 for k in (0, 1)]).astype(float)
    >>> compare(stripes[::-1], stripes).passed
    False
    >>> c = compare(stripes[::-1], stripes, match="permutation")
    >>> c.passed, c.mapping
    (True, (1, 0))
    """
    min_ssim, value_rtol, match, value_atol = check_options(min_ssim, value_rtol, match, value_atol)
    min_cross = check_real(min_cross, "min_cross", max_value=1.0)
    min_similarity = check_real(min_similarity, "min_similarity", min_value=-1.0, max_value=1.0)
    similarity = check_choice(similarity, "similarity", SIMILARITIES)
    got, want = capture(obtained), capture(expected)
    names = select_checks(checks, model, want, old_model)
    tolerances = dict(min_ssim=min_ssim, value_rtol=value_rtol, match=match, value_atol=value_atol)
    different_objective = behaviour_problem(obtained, want, names, model, old_model)  # raises for misuse first
    problem = _structure_problem(got, want) or different_objective
    if problem is not None:
        return Comparison((), *(np.zeros(0),) * 2, *(None,) * 4, {}, problem=problem, **tolerances)  # type: ignore[arg-type]
    behavioural = bool(set(names) & {"cross", "cross_back", "similarity"})
    by_cross = None
    if behavioural and "ssim" not in names and got.values is not None:  # pair items by what they do, not looks
        values = got.values

        def by_cross() -> np.ndarray:
            return _behaviour.cross_table(model, obtained.objective, want.inputs, values, value_atol)

    mapping, ssim = _pairs(got, want, match, by_cross)
    axes = tuple(range(1, got.inputs.ndim))
    change = np.abs(got.inputs.astype(np.float64) - want.inputs[mapping]).max(axis=axes)
    deltas = {name: got.metrics[name] - want.metrics[name][mapping] for name in got.metrics if name in want.metrics}

    def pick(arr: Any) -> Any:
        return None if arr is None else arr[mapping]

    c = Comparison(
        tuple(int(j) for j in mapping),
        ssim,
        change,
        got.values,
        pick(want.values),
        got.reached,
        pick(want.reached),
        deltas,
        **tolerances,  # type: ignore[arg-type]
    )
    found = [Check("ssim", ssim, min_ssim, judged="ssim" in names), *_outcome_checks(c, names)]
    if behavioural:
        found += _behaviour.measure(
            model,
            obtained.objective,
            got,
            want,
            mapping,
            names,
            old_model,
            min_cross=min_cross,
            min_similarity=min_similarity,
            kind=similarity,
            atol=value_atol,
        )
    return dataclasses.replace(c, checks=tuple(found))


def mismatch_pictures(obtained: Any, expected: Any, comparison: Comparison) -> dict[str, np.ndarray]:
    """The obtained inputs, the baseline's in the comparison's order, and their differences.

    Returns ``{"obtained": batch, "expected": batch, "difference": uint8 RGB batch}``
    (the difference of an item is :func:`pytest_featviz.render.difference`, drawn over
    the baseline's value range); empty when the inputs cannot be drawn or compared.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.zeros((2, 4, 4))
    >>> sorted((k, v.shape) for k, v in mismatch_pictures(a, a, compare(a, a)).items())
    [('difference', (2, 4, 4, 3)), ('expected', (2, 4, 4)), ('obtained', (2, 4, 4))]
    """
    from ..render import difference

    got, want = capture(obtained), capture(expected)
    if comparison.problem is not None or not 1 <= got.inputs.ndim - 1 <= 3:
        return {}
    aligned = want.inputs[list(comparison.mapping)]
    diff = np.stack([difference(a, b, value_range=want.value_range) for a, b in zip(got.inputs, aligned)])
    return {"obtained": got.inputs, "expected": aligned, "difference": diff}
