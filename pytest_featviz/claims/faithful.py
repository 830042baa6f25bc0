"""``assert_faithful``: is a visualization faithful to its unit on natural data?

A fooling circuit (Geirhos et al., "Don't trust your eyes", ICML 2024) makes a unit behave
like one feature on natural inputs while its visualization shows an unrelated picture. Three
checks, each with its number and threshold in the account (scores: ``exemplars.scores``):

1. *calibration*: the visualization's activation over the natural 99th percentile
   (``min_ratio``, optionally ``max_ratio``); a silent unit (natural maximum at or below
   ``eps``) whose visualization activates it fails;
2. *path similarity*: the layers below the unit process the visualization like its top
   exemplars (``min_path_similarity`` on the mean over layers; reported, not enforced, by
   default: honest visualizations score low too, see the README);
3. *continuity*: along the straight path from the nearest top exemplar to the visualization
   the unit's activation has no jump (``max_jump``): how a gate shows itself.

``on_fail="warn"`` turns a failure into a :class:`~pytest_featviz.errors.FaithfulnessWarning`
(the record says ``status="warned"``). The picture in the artifacts shows each
visualization next to its top natural exemplars.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any, Literal

import numpy as np

from .._validation import check_choice, check_int, check_real
from ..engine import AscentResult, own_range
from ..errors import ConfigurationError, FaithfulnessWarning
from ..exemplars import Faithfulness, TopExamples, faithfulness, top_examples
from ..models import model_info
from ..objectives import Objective, as_objective
from . import context as _context
from .outcome import unwrap
from .record import Record

__all__ = ["assert_faithful", "FaithfulResult", "CHECKS", "DEFAULTS"]

CHECKS = ("calibration", "path similarity", "continuity")
# Chosen from the honest models' measurements in the README ("Faithful pictures").
DEFAULTS = {"min_ratio": 1.0, "max_ratio": None, "min_path_similarity": None, "max_jump": 5.0}
_ON_FAIL = ("fail", "warn")


@dataclasses.dataclass(frozen=True, eq=False)
class FaithfulResult:
    """What ``assert_faithful`` measured: per visualization, the scores and the checks it failed.

    Attributes
    ----------
    passed : bool
        Every visualization passed every enforced check.
    failed : tuple of tuple of str
        For each visualization, the names of the checks it failed (from :data:`CHECKS`).
    scores : Faithfulness
        Calibration, path similarity per layer and their mean, continuity, nearest exemplar.
    natural : tuple of TopExamples
        The natural summary of each target (exemplars, distribution, random sample).
    inputs : ndarray
        The visualizations judged.
    thresholds : dict
        The thresholds applied (``min_ratio``, ``max_ratio``, ``min_path_similarity``,
        ``max_jump``; None: not enforced) and ``eps``.

    Examples
    --------
    >>> import keras, numpy as np, pytest_featviz as fv
    >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, kernel_initializer="ones", name="d")])
    >>> out = fv.assert_faithful(m, fv.Neuron("d", 0), np.ones(2), natural=np.random.default_rng(0).random((50, 2)))
    >>> out.passed, out.failed, round(out.scores.calibration[0].ratio_p99, 2), out.metrics()[0]["jump"]
    (True, ((),), 1.02, 1.0)
    """

    passed: bool
    failed: tuple[tuple[str, ...], ...]
    scores: Faithfulness
    natural: tuple[TopExamples, ...]
    inputs: np.ndarray
    thresholds: dict[str, float | None]

    def metrics(self) -> list[dict[str, Any]]:
        """Per visualization, its scores by name (what the record and the report show)."""
        s = self.scores
        return [
            {
                "target": s.targets[i],
                "value": s.calibration[i].value,
                "percentile": s.calibration[i].percentile,
                "ratio_p99": s.calibration[i].ratio_p99,
                "path_similarity": s.path_mean[i],
                **{f"path {name}": p.score for name, p in s.paths[i].items() if np.isfinite(p.score)},
                "jump": s.continuity[i].jump,
                "jump_at": s.continuity[i].at,
                "nearest_exemplar": s.nearest[i],
            }
            for i in range(len(self.inputs))
        ]


def _visualizations(result_or_inputs: Any, shape: tuple[int, ...]) -> tuple[np.ndarray, Any]:
    """The visualizations as a batch, and the value range to draw them over (None: their own)."""
    value = unwrap(result_or_inputs)
    if isinstance(value, AscentResult):
        return value.inputs.astype(np.float32), value.value_range
    x = np.asarray(value, dtype=np.float32)
    if x.shape == shape:
        x = x[None]
    if x.shape[1:] != shape or len(x) == 0:
        raise ConfigurationError(
            f"assert_faithful got visualizations of shape {x.shape}; the model takes inputs of shape {shape}: "
            f"give an AscentResult, one input {shape} or a batch (B, {', '.join(map(str, shape))})"
        )
    return x, None


def _natural(model: Any, objective: Objective, natural: Any, k: int, seed: int) -> tuple[TopExamples, ...]:
    """The natural summary per target: given as TopExamples (one, or one per target), or computed from data."""
    targets = objective.batch_size() or 1
    if isinstance(natural, TopExamples):
        natural = [natural]
    if isinstance(natural, (list, tuple)) and natural and all(isinstance(t, TopExamples) for t in natural):
        if len(natural) != targets:
            raise ConfigurationError(
                f"natural= holds {len(natural)} TopExamples but {objective!r} has {targets} targets; "
                "give one per target (fv.top_examples with the same objective returns them)"
            )
        return tuple(natural)
    found = top_examples(model, objective, natural, k=k, seed=seed)
    return tuple(found) if isinstance(found, list) else (found,)


def _failed_checks(scores: Faithfulness, i: int, t: dict[str, Any], eps: float) -> tuple[str, ...]:
    cal = scores.calibration[i]
    bad = []
    ratio_ok = np.isfinite(cal.ratio_p99) or cal.ratio_p99 == np.inf
    if (cal.silent and cal.value > eps) or not ratio_ok or not cal.ratio_p99 >= t["min_ratio"]:
        bad.append("calibration")
    elif t["max_ratio"] is not None and cal.ratio_p99 > t["max_ratio"]:
        bad.append("calibration")
    path = scores.path_mean[i]
    if t["min_path_similarity"] is not None and np.isfinite(path) and path < t["min_path_similarity"]:
        bad.append("path similarity")
    if t["max_jump"] is not None and scores.continuity[i].jump > t["max_jump"]:
        bad.append("continuity")
    return tuple(bad)


def _thresholds(options: dict[str, Any]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name, default in DEFAULTS.items():
        value = options.get(name, default)
        out[name] = None if value is None else check_real(value, name)
    if out["min_ratio"] is None:
        raise ConfigurationError("min_ratio=None: calibration always checks the ratio to the natural 99th percentile")
    return out


def assert_faithful(
    model: Any,
    objective: Objective,
    result_or_inputs: Any,
    *,
    natural: Any,
    k: int = 9,
    min_ratio: float = 1.0,
    max_ratio: float | None = None,
    min_path_similarity: float | None = None,
    max_jump: float | None = 5.0,
    layers: list[str] | None = None,
    path_points: int = 64,
    eps: float = 1e-6,
    on_fail: Literal["fail", "warn"] = "fail",
    seed: int = 0,
) -> FaithfulResult:
    """Assert that visualizations of ``objective`` are faithful to what the unit does on ``natural`` data.

    Parameters
    ----------
    model, objective
        The unit: item ``i`` of the visualizations shows target ``i`` of an index sequence
        (or the only target).
    result_or_inputs : AscentResult or array
        The visualizations (``fv.ascend``'s result, one input or a batch).
    natural : data or TopExamples
        Natural inputs as :func:`top_examples` takes them, or its result (one per target).
    k : int
        Top exemplars per target (path similarity, the continuity path, the picture).
    min_ratio, max_ratio : float
        Calibration: the visualization's value over the natural 99th percentile.
    min_path_similarity : float, optional
        Path similarity (mean over the layers below the unit, ``layers=`` to choose them).
    max_jump : float, optional
        Continuity: the largest step of the unit along ``path_points`` steps from the
        nearest exemplar, over the typical step.
    eps : float
        At or below it a unit is off (a silent unit never exceeds it on the data).
    on_fail : {'fail', 'warn'}
        Raise ``AssertionError``, or warn (:class:`~pytest_featviz.errors.FaithfulnessWarning`).

    Returns
    -------
    FaithfulResult

    Examples
    --------
    >>> import keras, numpy as np, pytest_featviz as fv
    >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, kernel_initializer="ones", name="d")])
    >>> data = np.random.default_rng(0).random((64, 4))
    >>> r = fv.ascend(m, fv.Neuron("d", 0), constraints=fv.Box(0, 1), steps=100)
    >>> fv.assert_faithful(m, fv.Neuron("d", 0), r, natural=data).passed
    True
    """
    __tracebackhide__ = True
    objective = as_objective(objective)
    check_choice(on_fail, "on_fail", _ON_FAIL)
    limits = _thresholds(
        {
            "min_ratio": min_ratio,
            "max_ratio": max_ratio,
            "min_path_similarity": min_path_similarity,
            "max_jump": max_jump,
        }
    )
    k, path_points = check_int(k, "k", min_value=2), check_int(path_points, "path_points", min_value=4)
    eps = check_real(eps, "eps", min_value=0)
    x, drawn = _visualizations(result_or_inputs, model_info(model).input_shape)
    nat = _natural(model, objective, natural, k, seed)
    scores = faithfulness(model, objective, x, nat, layers=layers, path_points=path_points, eps=eps)
    failed = tuple(_failed_checks(scores, i, limits, eps) for i in range(len(x)))
    out = FaithfulResult(not any(failed), failed, scores, nat, x, {**limits, "eps": eps})
    account = None if out.passed else _account(model, objective, out)
    picture = _save_picture(out, drawn)
    _record(model, objective, out, on_fail, picture)
    if account is not None:
        account += (
            f"\n  pictures: {picture}" if picture else "\n  pictures: run with --featviz-artifacts DIR to save them"
        )
        if on_fail == "warn":
            warnings.warn(FaithfulnessWarning(account), stacklevel=2)
        else:
            raise AssertionError(account)
    return out


def _fmt(value: float) -> str:
    return f"{value:.3g}" if np.isfinite(value) else str(value)


def _why(out: FaithfulResult, i: int, check: str) -> str:
    """One line per failed check of item ``i``: its number, its threshold and what it means."""
    t, s = out.thresholds, out.scores
    cal, cont = s.calibration[i], s.continuity[i]
    if check == "calibration" and cal.silent:
        return (
            f"calibration: the unit is silent on the natural data (maximum {_fmt(cal.natural_max)} <= eps "
            f"{_fmt(out.thresholds['eps'] or 0.0)}) but the visualization drives it to {_fmt(cal.value)}: "
            "the picture shows what the unit never responds to in the data"
        )
    if check == "calibration":
        if t["max_ratio"] is not None and cal.ratio_p99 > t["max_ratio"]:
            return f"calibration: {_fmt(cal.ratio_p99)} x the natural 99th percentile is above max_ratio={t['max_ratio']:g}"
        return (
            f"calibration: the visualization drives the unit to {_fmt(cal.value)}, {_fmt(cal.ratio_p99)} x the natural "
            f"99th percentile {_fmt(cal.p99)} (min_ratio={t['min_ratio']:g}; percentile {cal.percentile:.1f}): natural "
            "inputs drive it harder than its picture (a failed ascent, or a picture of something else)"
        )
    if check == "path similarity":
        return (
            f"path similarity: the layers below the unit process the visualization unlike its exemplars (mean "
            f"{_fmt(s.path_mean[i])} < min_path_similarity={t['min_path_similarity']:g}; 1 = like its exemplars, "
            "0 = like random natural inputs)"
        )
    return (
        f"continuity: along the straight path from natural input {s.nearest[i]} (its nearest top exemplar) to the "
        f"visualization, the unit jumps by {_fmt(cont.jump)} typical steps at {100 * cont.at:.0f}% of the way "
        f"(max_jump={t['max_jump']:g}): a switch between what it computes on natural and on optimised inputs"
    )


def _account(model: Any, objective: Objective, out: FaithfulResult) -> str:
    s, t = out.scores, out.thresholds
    caught = sorted({c for f in out.failed for c in f}, key=CHECKS.index)
    bad = sum(bool(f) for f in out.failed)
    lines = [
        f"assert_faithful failed: {objective!r} of model {model.name!r}: {bad} of {len(out.inputs)} "
        f"visualizations are not faithful to the unit on natural data (caught by: {', '.join(caught)})"
    ]
    for n in out.natural:
        lines.append(
            f"  natural data: {n.count} inputs; target {n.target}: 99th percentile {_fmt(n.quantiles[0.99])}, "
            f"max {_fmt(float(n.values[0]))} (input {int(n.indices[0])})"
        )
    path_head = "not enforced" if t["min_path_similarity"] is None else f">= {t['min_path_similarity']:g}"
    jump_head = "not enforced" if t["max_jump"] is None else f"<= {t['max_jump']:g}"
    head = ["item", "target", "value", f"ratio to p99 (>= {t['min_ratio']:g})"]
    head += [f"path similarity ({path_head})", f"jump ({jump_head})", "verdict"]
    lines.append("  " + "  ".join(head))
    for i, failed in enumerate(out.failed):
        cal = s.calibration[i]
        cells = [str(i), str(s.targets[i]), _fmt(cal.value), _fmt(cal.ratio_p99), _fmt(s.path_mean[i])]
        cells += [_fmt(s.continuity[i].jump), "FAIL: " + ", ".join(failed) if failed else "ok"]
        lines.append("  " + "  ".join(c.ljust(len(h)) for c, h in zip(cells, head)).rstrip())
    for i, failed in enumerate(out.failed):
        lines += [f"  item {i}: {_why(out, i, check)}" for check in failed]
    lines.append(
        "  remedy: look at each visualization beside its exemplars (the picture); if the unit is honest, the "
        "visualization may be a failed ascent (more steps, priors='standard', another start) or the threshold "
        "too tight for this model (min_ratio=, max_jump=, min_path_similarity=)"
    )
    return "\n".join(lines)


def _save_picture(out: FaithfulResult, drawn: Any) -> str | None:
    """Each visualization followed by its target's top exemplars, one row each, saved through the test context."""
    ctx = _context.current()
    if ctx is None or ctx.artifacts_dir is None and ctx.pictures_to is None:
        return None
    rows, labels = [], []
    for i, x in enumerate(out.inputs):
        n = out.natural[out.scores.targets[i]]
        rows += [x, *n.inputs]
        labels += [f"vis {i}: {out.scores.calibration[i].value:.3g}"]
        labels += [f"#{int(j)}: {v:.3g}" for j, v in zip(n.indices, n.values)]
    batch = np.stack(rows)
    path = ctx.save_images(
        "assert_faithful",
        batch,
        value_range=drawn or own_range(batch),
        labels=labels,
        columns=len(rows) // len(out.inputs),
    )
    return str(path) if path else None


def _record(model: Any, objective: Objective, out: FaithfulResult, on_fail: str, picture: str | None) -> None:
    ctx = _context.current()
    if ctx is None:
        return
    values = [c.value for c in out.scores.calibration]
    status = None if out.passed else ("warned" if on_fail == "warn" else "failed")
    ctx.record(
        Record(
            "assert_faithful",
            out.passed,
            claim=f"the visualizations of {objective!r} are faithful to the unit on natural data",
            objective=repr(objective),
            best_value=float(np.max(values)),
            values=tuple(values),
            status=status,
            model=model.name,
            pictures={"visualizations, each beside its top natural exemplars": picture} if picture else None,
            metrics=out.metrics(),
            bounds={
                "ratio_p99": [out.thresholds["min_ratio"], out.thresholds["max_ratio"]],
                "path_similarity": [out.thresholds["min_path_similarity"], None],
                "jump": [None, out.thresholds["max_jump"]],
            },
            extra={"failed_checks": [list(f) for f in out.failed], "on_fail": on_fail},
        )
    )
