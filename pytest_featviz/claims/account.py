"""The failure account of the reach claims (used by :mod:`.reach`): :class:`Verdict` and :func:`finish`.

A failed claim raises ``AssertionError`` with an account a person can act on: the
claim, how the search ran, one row per batch item (best value, step reached, inside
the constraints, distance from the reference point), the model's top classes, where
the pictures are, notes and the remedy. Every outcome is also recorded for the report.

Examples
--------
>>> import numpy as np
>>> _top_classes(np.array([0.1, 2.0, 0.5]))
'1 (2), 2 (0.5), 0 (0.1)'
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np

from ..constraints import LpBall
from ..objectives import ClassProbability
from . import context
from .record import Record

if TYPE_CHECKING:
    from ..engine import AscentResult

__all__ = ["Verdict", "finish"]


@dataclasses.dataclass(frozen=True)
class Verdict:
    """What the failure account says beyond the table: the head's ending, notes, the remedy."""

    passed: bool
    head: str = ""
    notes: tuple[str, ...] = ()
    remedy: str = ""
    focus: int | None = None  # the item whose top classes are shown; default: the best value


def _reference(r: AscentResult) -> tuple[np.ndarray, str]:
    for part in r.constraints._parts():
        if isinstance(part, LpBall):
            return np.broadcast_to(part.center, r.inputs.shape), "the ball's centre"
    return r.start, "the start"


def _top_classes(outputs: np.ndarray, k: int = 3) -> str:
    out = np.asarray(outputs, dtype=np.float64).reshape(-1)
    order = np.argsort(out)[::-1][:k]
    return ", ".join(f"{int(i)} ({out[i]:.4g})" for i in order)


def _saturated(r: AscentResult) -> bool:
    if not any(isinstance(leaf, ClassProbability) for leaf in r.objective.leaves()):
        return False
    hist = r.history[np.isfinite(r.history)] if r.history.size else r.values
    return bool(np.all((r.values >= 1.0) | (r.values <= 0.0)) or (hist.size and np.all((hist >= 1.0) | (hist <= 0.0))))


def _best_input_metrics(r: AscentResult) -> dict | None:
    """Structure metrics of the best input, when it is an image (for records and the report)."""
    from ..metrics import summarize

    image = r.inputs[r.best]
    if image.ndim not in (2, 3) or min(image.shape[:2]) < 8 or (image.ndim == 3 and image.shape[-1] not in (1, 3)):
        return None
    try:
        return summarize(image, value_range=r.value_range)
    except ValueError:  # e.g. an image too small for a metric's filter
        return None


def finish(
    kind: str,
    r: AscentResult,
    claim: str,
    threshold: float,
    verdict: Verdict,
    status: str | None = None,
    require: str = "any",
) -> None:
    __tracebackhide__ = True
    ctx = context.current()
    picture = None
    if ctx is not None and (not verdict.passed or ctx.keep_passing):
        labels = [f"{i}: {v:.4g}" for i, v in enumerate(r.values)]
        picture = ctx.save_images(kind, r.inputs, value_range=r.value_range, labels=labels)
    if ctx is not None:
        ctx.record(
            Record(
                kind,
                verdict.passed,
                claim=claim,
                objective=repr(r.objective),
                constraints=repr(r.constraints),
                threshold=threshold,
                best_value=float(np.max(r.values)),
                # require="all" stands or falls with its worst item; otherwise the best item decides
                deciding_value=float(np.min(r.values) if require == "all" else np.max(r.values)),
                values=tuple(float(v) for v in r.values),
                steps=tuple(int(s) for s in r.steps),
                seed=r.seed,
                status=status,
                picture=str(picture) if picture else None,
                model=r.model_name,
                # only where a person will look (artifacts or the report): metrics cost scikit-image time
                metrics=_best_input_metrics(r) if ctx.artifacts_dir is not None else None,
            )
        )
    if not verdict.passed:
        raise AssertionError(_account(kind, r, claim, threshold, verdict, picture))


def _account(kind: str, r: AscentResult, claim: str, threshold: float, verdict: Verdict, picture: Any) -> str:
    """The failure message: an account a person can act on without re-running anything."""
    lines = [f"{kind} failed: expected {claim}{verdict.head}"]
    lines.append(
        f"  model {r.model_name!r}; constraints {r.constraints!r}; seed {r.seed}; "
        f"optimizer {r.optimizer}, up to {r.steps_requested} steps, lr {float(np.mean(r.lr)):.3g}"
    )
    viol = r.constraints.violation(r.inputs, start=r.start)
    ref, ref_name = _reference(r)
    axes = tuple(range(1, r.inputs.ndim))
    dist_inf = np.abs(r.inputs - ref).max(axis=axes)
    dist_2 = np.sqrt(((r.inputs - ref) ** 2).sum(axis=axes))
    lines.append(f"  item  best value  threshold  reached at step  inside  L-inf/L2 from {ref_name}")
    for i in range(len(r.values)):
        hit = r.reached is not None and r.reached[i]
        step = str(int(r.steps[i])) if hit else "-"
        note = f"  diverged at step {int(r.diverged_at[i])}" if r.diverged[i] else ""
        note += "  zero gradient at start" if r.zero_gradient[i] else ""
        lines.append(
            f"  {i:<4}  {r.values[i]:<10.6g}  {threshold:<9.6g}  {step:<15}  "
            f"{'yes' if viol[i] <= 1e-6 else f'NO ({viol[i]:.2g})':<6}  {dist_inf[i]:.4g}/{dist_2[i]:.4g}{note}"
        )
    best = r.best if verdict.focus is None else verdict.focus
    lines.append(f"  model's top classes at item {best}: {_top_classes(r.outputs[best])}")
    lines += [f"  {note}" for note in verdict.notes]
    ctx = context.current()
    if picture:
        lines.append(f"  pictures: {picture}")
    elif ctx is not None and ctx.unwritten:
        lines.append("  pictures: NOT saved (see the note below)")
    else:
        lines.append("  pictures: run with --featviz-artifacts DIR to save them")
    if _saturated(r):
        lines.append(
            "  note: the softmax saturates (probabilities stuck at 0.0 or 1.0 in float32); "
            "use ClassLogit for a gradient that does not vanish"
        )
    lines.append(f"  remedy: {_remedy(r, verdict) if kind == 'assert_reaches' else verdict.remedy}")
    return "\n".join(lines)


def _remedy(r: AscentResult, verdict: Verdict) -> str:
    """A failed search's remedy; a flat start gets its own (more steps never move an item with a zero gradient)."""
    zero = np.asarray(r.zero_gradient, dtype=bool)
    if verdict.passed or not zero.any():
        return verdict.remedy
    which = "every item" if zero.all() else f"items {', '.join(map(str, np.flatnonzero(zero)))}"
    flat = (
        f"{which} started where the gradient is exactly zero, so more steps cannot move "
        f"{'them' if zero.sum() > 1 else 'it'}: use another start or seed, a looser constraint, or an "
        "objective that is not flat there (ClassLogit instead of a saturated probability, a layer "
        "before a dead ReLU or a saturated activation)"
    )
    return flat if zero.all() else f"{flat}; for the others: {verdict.remedy}"
