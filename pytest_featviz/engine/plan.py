"""The arguments of :func:`~pytest_featviz.ascend`, checked and normalised into one frozen :class:`Plan`.

Every check follows one rule: a wrong type is a ``FeatvizTypeError``, a wrong value a
``ConfigurationError`` (``seed="3"`` and ``steps="3"`` alike).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

from .._validation import check_batch_size, check_choice, check_int, check_start
from ..constraints import Canonical, Constraint, as_constraint
from ..errors import ConfigurationError, FeatvizTypeError
from ..objectives import Condition, Objective, as_objective
from ..progress import progress_enabled
from .step_sizes import as_lr, step_widths

__all__ = ["Optimizer", "Schedule", "OPTIMIZERS", "SCHEDULES", "Plan", "plan_ascent"]

Optimizer = Literal["adam", "pgd", "sign"]
"""The update rules of :func:`~pytest_featviz.ascend` (``optimizer=``); one function each in ``steps``."""
Schedule = Literal["cosine", "constant"]
"""The step-size schedules of :func:`~pytest_featviz.ascend` (``schedule=``)."""
OPTIMIZERS: tuple[Optimizer, ...] = get_args(Optimizer)
SCHEDULES: tuple[Schedule, ...] = get_args(Schedule)


@dataclass(frozen=True, eq=False)
class Plan:
    """One ascent, ready to run: every argument checked, every array per batch item."""

    model: Any
    info: Any  # the model's ModelInfo, computed once per ascent
    objective: Objective
    until: Condition | None
    constraint: Constraint
    canon: Canonical  # the constraint set for this batch, (B, *input_shape)
    prior: Any  # Priors
    p0: np.ndarray  # the optimised variable at the start, (B, *param_shape)
    optimizer: Optimizer
    schedule: Schedule
    steps: int
    seed: int
    lr: np.ndarray  # (B,)
    widths: np.ndarray  # per-coordinate step sizes relative to lr, (B, *param_shape)
    jit: bool
    chunk: int  # items per compiled call
    progress: bool

    @property
    def n_items(self) -> int:
        return int(self.canon.low.shape[0])


def plan_ascent(
    model: Any,
    objective: Any,
    *,
    start: Any,
    constraints: Any,
    steps: Any,
    lr: Any,
    optimizer: Any,
    schedule: Any,
    until: Any,
    seed: Any,
    restarts: Any,
    priors: Any,
    transforms: Any,
    parametrization: Any,
    blur: Any,
    jit_compile: Any,
    max_batch: Any,
    progress: Any,
) -> Plan:
    """Check :func:`~pytest_featviz.ascend`'s arguments (the same names) and build the :class:`Plan`."""
    from ..models import load_model, model_info

    objective = as_objective(objective)
    if until is not None and not isinstance(until, Condition):
        raise FeatvizTypeError(f"until must be a Condition such as fv.ClassProbability(3) >= 0.9; got {until!r}")
    if optimizer is not None:
        check_choice(optimizer, "optimizer", OPTIMIZERS)
    check_choice(schedule, "schedule", SCHEDULES)
    steps, seed = check_int(steps, "steps", min_value=1), check_int(seed, "seed", min_value=0)
    restarts = None if restarts is None else check_int(restarts, "restarts", min_value=1)
    max_batch = None if max_batch is None else check_int(max_batch, "max_batch", min_value=1)
    if jit_compile is not None and not isinstance(jit_compile, (bool, np.bool_)):
        raise FeatvizTypeError(f"jit_compile must be True, False or None (the default: False); got {jit_compile!r}")
    show = progress_enabled(progress)
    constraint = as_constraint(constraints)
    model = load_model(model)
    info = model_info(model)
    objective.validate(info)
    if until is not None:
        until.objective.validate(info)
    canon, x0 = _starts(start, constraint, objective, until, restarts, info.input_shape, seed)
    prior = _resolve_priors(priors, transforms, parametrization, blur, info.input_shape)
    prior.validate(canon.low, canon.high)
    p0 = _initial_parameter(prior, x0, canon, start is None, seed)
    par = prior.parametrization
    n_items = int(x0.shape[0])
    return Plan(
        model=model,
        info=info,
        objective=objective,
        until=until,
        constraint=constraint,
        canon=canon,
        prior=prior,
        p0=p0,
        optimizer=_optimizer(optimizer, par),
        schedule=schedule,
        steps=steps,
        seed=seed,
        lr=as_lr(par.lr if lr is None else lr, canon),
        widths=step_widths(canon, _is_pixel(prior), tuple(p0.shape)),
        jit=bool(jit_compile),  # None: the default, no XLA (see ascend's jit_compile)
        chunk=n_items if max_batch is None else min(max_batch, n_items),
        progress=show,
    )


def _starts(
    start: Any,
    constraint: Constraint,
    objective: Objective,
    until: Condition | None,
    restarts: int | None,
    input_shape: tuple[int, ...],
    seed: int,
) -> tuple[Canonical, np.ndarray]:
    """The batch's canonical constraint set and its starts (given, drawn from ``seed``, or both), projected."""
    start_arr = check_start(start, input_shape)
    n_items = check_batch_size(objective, until, start_arr)
    if restarts is not None:
        if n_items not in (1, restarts):
            raise ConfigurationError(
                f"restarts={restarts} does not match the {n_items} targets/starts given; give one target "
                "(and draw `restarts` starts), or leave restarts out"
            )
        n_items = restarts
    shape = (n_items, *input_shape)
    if start_arr is None or (restarts is not None and start_arr.shape[0] == 1 and n_items > 1):
        # restarts around a given start: the first item starts there, the others are drawn
        # (masked-out entries of every restart stay at the start; only free ones are drawn)
        around = None if start_arr is None else np.broadcast_to(start_arr, shape)
        drawn = _draw_start(constraint.canonical(shape, start=around), np.random.default_rng(seed))
        drawn = drawn.astype(np.float32).astype(np.float64)
        start_arr = drawn if start_arr is None else np.concatenate([start_arr, drawn[1:]])
    start_arr = np.broadcast_to(start_arr, shape)
    canon = constraint.canonical(shape, start=start_arr)
    return canon, canon.project(start_arr)


def _draw_start(canon: Canonical, rng: np.random.Generator) -> np.ndarray:
    """Uniform inside finite bounds, Gaussian around 0 (or the centre) elsewhere."""
    low, high = canon.low, canon.high
    base = canon.center if canon.has_ball else np.zeros_like(low)
    u = rng.random(low.shape)
    n = rng.standard_normal(low.shape)
    finite = np.isfinite(low) & np.isfinite(high)
    x = np.where(finite, low + u * np.where(finite, high - low, 0), base + n)
    x = np.where(np.isfinite(low) & ~np.isfinite(high), low + np.abs(n), x)
    x = np.where(~np.isfinite(low) & np.isfinite(high), high - np.abs(n), x)
    return canon.project(x)


def _is_pixel(prior: Any) -> bool:
    from ..priors import Pixel

    return isinstance(prior.parametrization, Pixel)


def _resolve_priors(priors: Any, transforms: Any, parametrization: Any, blur: Any, input_shape: tuple) -> Any:
    """``priors`` (None, a preset name or Priors) with any explicitly given part replaced."""
    from ..priors import Priors, resolve_priors

    base = resolve_priors(priors, input_shape=input_shape)
    if transforms is None and parametrization is None and blur is None:
        return base
    return Priors(  # checked against the input by Priors.validate in plan_ascent
        base.transforms if transforms is None else transforms,
        base.parametrization if parametrization is None else parametrization,
        base.blur if blur is None else blur,
    )


def _initial_parameter(prior: Any, x0: np.ndarray, canon: Canonical, drawn: bool, seed: int) -> np.ndarray:
    """The optimised variable at the start: x0 itself for pixels, else the parametrization's."""
    if _is_pixel(prior):
        return x0
    par = prior.parametrization
    p0 = par.draw(canon.low, canon.high, int(seed)) if drawn else None
    return np.asarray(par.init(x0, canon.low, canon.high) if p0 is None else p0, dtype=np.float64)


def _optimizer(given: Optimizer | None, parametrization: Any) -> Optimizer:
    """The optimizer asked for, else the parametrization's default (checked: a subclass may name any string)."""
    if given is not None:
        return given
    chosen: Optimizer = check_choice(
        parametrization.optimizer, f"{type(parametrization).__name__}.optimizer", OPTIMIZERS
    )
    return chosen
