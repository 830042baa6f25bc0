"""What an ascent returns (:class:`AscentResult`) and the range its pictures are drawn over."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..constraints import Constraint
from ..objectives import Condition, Objective
from .plan import Optimizer

__all__ = ["AscentResult", "own_range", "result_range"]


@dataclass(frozen=True, eq=False)
class AscentResult:
    """What one ascent found; every array has the batch as its first axis.

    Attributes
    ----------
    inputs : ndarray, shape (B, *input_shape)
        The best input of each item (the one that met ``until``, else the best
        seen); always inside the constraints.
    values : ndarray, shape (B,)
        The objective at ``inputs`` (computed from exactly those arrays).
    history : ndarray, shape (T + 1, B)
        The objective at every iterate ``x_0 .. x_T`` (``x_0`` is the start, ``T`` the
        most updates any item took; an item that stopped early stays at its last iterate).
    outputs : ndarray
        The model's outputs at ``inputs``.
    steps : ndarray, shape (B,)
        Updates taken per item (``steps`` requested, fewer when ``until`` was met).
    reached : ndarray of bool, shape (B,), or None
        Which items met ``until`` (None when no ``until`` was given).
    diverged : ndarray of bool, shape (B,)
        Items whose objective or gradient became NaN/inf; they keep their last finite input.
    diverged_at : ndarray of int, shape (B,)
        The step of divergence, -1 where none.
    zero_gradient : ndarray of bool, shape (B,)
        Items whose gradient was exactly zero at the start (e.g. dead ReLUs).
    start : ndarray, shape (B, *input_shape)
        The float32 input each item started from (inside the constraints; a Mask's
        frozen entries hold their values here).
    seed, objective, constraints, until, optimizer : as given to (or chosen by) :func:`ascend`
    lr : ndarray, shape (B,)
        The step size of each item.
    steps_requested : int
        ``steps`` as given.
    model_name : str
        The model's name.

    The result knows nothing of claims: an assertion that also proves or certifies
    returns its own outcome around it.
    """

    inputs: np.ndarray
    values: np.ndarray
    history: np.ndarray
    outputs: np.ndarray
    steps: np.ndarray
    reached: np.ndarray | None
    diverged: np.ndarray
    diverged_at: np.ndarray
    zero_gradient: np.ndarray
    start: np.ndarray
    seed: int
    objective: Objective
    constraints: Constraint
    until: Condition | None
    optimizer: Optimizer
    lr: np.ndarray
    steps_requested: int
    model_name: str

    @property
    def value_range(self) -> tuple[float, float]:
        """The range to draw ``inputs`` over: the constraint box when it is finite, else their own range."""
        return result_range(self)

    @property
    def best(self) -> int:
        """Index of the batch item with the highest value."""
        vals = np.where(np.isfinite(self.values), self.values, -np.inf)
        return int(np.argmax(vals))

    def __repr__(self) -> str:
        reached = "" if self.reached is None else f", reached={int(self.reached.sum())}/{len(self.reached)}"
        return (
            f"AscentResult({self.objective!r}, batch={len(self.values)}, "
            f"best={float(np.max(self.values)):.6g}, steps={int(self.steps.max())}{reached})"
        )


def own_range(x: Any) -> tuple[float, float]:
    """``(min, max)`` of an array, widened to ``(v, v + 1)`` when it is constant (for pictures)."""
    lo, hi = float(np.min(x)), float(np.max(x))
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def result_range(result: Any) -> tuple[float, float]:
    """:attr:`AscentResult.value_range` of anything with ``inputs``, ``constraints`` (and ``start``)."""
    inputs = np.asarray(result.inputs)
    canon = result.constraints.canonical(inputs.shape, start=getattr(result, "start", None))
    lo, hi = float(np.min(canon.low)), float(np.max(canon.high))
    return (lo, hi) if np.isfinite(lo) and np.isfinite(hi) and hi > lo else own_range(inputs)


def build_result(plan: Any, out: dict) -> AscentResult:
    """The :class:`AscentResult` of ``plan`` (a :class:`~.plan.Plan`) from the loop's merged output."""
    t_run = int(out["t"])
    return AscentResult(
        inputs=out["x"],
        values=out["values"],
        history=out["history"][:t_run],
        outputs=out["outputs"],
        steps=out["steps"],
        reached=out["reached"] if plan.until is not None else None,
        diverged=out["diverged"],
        diverged_at=out["diverged_at"],
        zero_gradient=out["zero_gradient"],
        start=out["x0"],
        seed=plan.seed,
        objective=plan.objective,
        constraints=plan.constraint,
        until=plan.until,
        optimizer=plan.optimizer,
        lr=plan.lr,
        steps_requested=plan.steps,
        model_name=plan.info.name,
    )
