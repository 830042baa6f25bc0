"""The ascent engine: constrained, batched gradient ascent on a model's input, in one compiled call.

    x_0 = P(start);   x_{t+1} = P(x_t + lr_t * step(g_t))

``P`` is the exact Euclidean projection onto the constraint set. The default
update (``optimizer="adam"``) applies Adam's moments to the *gradient mapping*
``G = (P(x + lr * g_hat) - x) / lr`` (``g_hat`` is the gradient scaled to unit RMS),
not to the raw gradient: ``G`` vanishes exactly at the constrained optima, so they
are the only fixed points. (Adam on the raw gradient followed by a projection
settles at the ``sign(w)`` point of an L2 ball, which is not the optimum.)

Every batch item (target x start) runs in one ``tf.while_loop`` inside one
``tf.function``; starts, bounds, centres, radii, indices, coefficients and learning
rates are tensors, so changing them never retraces. Compiled functions are cached
on the model object itself, so they die with the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .loop import LoopSpec, compiled, drive, has_convolutions, merge_chunks
from .step_sizes import as_lr, as_max_batch, step_widths
from ..constraints import Canonical, Constraint, as_constraint
from .._validation import check_batch_size, check_start
from ..errors import ConfigurationError, FeatvizTypeError
from ..objectives import Condition, Objective, as_objective
from ..progress import Progress, progress_enabled

__all__ = ["ascend", "AscentResult", "OPTIMIZERS", "SCHEDULES"]

OPTIMIZERS = ("adam", "pgd", "sign")
SCHEDULES = ("cosine", "constant")


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
    optimizer: str
    lr: np.ndarray
    steps_requested: int
    model_name: str
    status: str | None = None
    bounds: Any = None

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
    return Priors(  # checked against the input by Priors.validate in ascend
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


def ascend(
    model: Any,
    objective: Objective,
    *,
    start: Any = None,
    constraints: Constraint | None = None,
    steps: int = 256,
    lr: Any = None,
    optimizer: str | None = None,
    schedule: str = "cosine",
    until: Condition | None = None,
    seed: int = 0,
    batch: int | None = None,
    priors: Any = None,
    transforms: Any = None,
    parametrization: Any = None,
    blur: Any = None,
    jit_compile: bool | None = None,
    max_batch: int | None = None,
    progress: bool | None = None,
) -> AscentResult:
    """Maximise ``objective`` over the model's input, inside ``constraints``.

    Parameters
    ----------
    model : keras.Model or str
        The model, or anything :func:`load_model` accepts.
    objective : Objective
        What to maximise; an index sequence gives one target per batch item.
    start : array, optional
        ``input_shape`` or ``(B, *input_shape)``; projected into the constraints
        first. ``None`` draws one start per target from ``seed``.
    constraints : Constraint, optional
        ``Box``, ``LpBall``, ``Mask`` or an intersection with ``&``; default: none.
    steps : int
        Maximum number of updates; the last update's result is evaluated too.
    lr : float or array of shape (B,), optional
        Step size in input units for a coordinate of the median box width; in a box
        (L-inf ball, mask) every coordinate steps in proportion to its own width, so
        features of very different scales are searched alike (with an L2 ball, or where
        the box is unbounded, every coordinate steps ``lr``). Default 5% of the
        constraint set's typical width
        (in parameter units for other parametrizations: their ``lr``, 0.1 for
        ``SigmoidRange``, 0.3 for ``Fourier``).
    optimizer : {'adam', 'pgd', 'sign'}, optional
        'adam' (Adam moments on the gradient mapping), 'pgd' (projected steps along
        the RMS-normalised gradient), 'sign' (projected sign steps, the L-inf attack).
        Default: the parametrization's choice, 'adam' for pixels and 'pgd' for
        ``Fourier`` (Adam's per-coordinate scaling would undo its low-frequency
        preconditioning; see :class:`~pytest_featviz.priors.Fourier`).
    schedule : {'cosine', 'constant'}
        Step-size schedule over ``steps``.
    until : Condition, optional
        ``objective >= value``: each item stops as soon as its condition holds.
    seed : int
        Seeds the drawn starts; the same seed gives bit-identical results.
    batch : int, optional
        The number of items for a single target (restarts): with ``start=None``
        all are drawn from ``seed``; with one ``start`` the first item starts there
        and the others are drawn. Default: one item per target or start.
    priors : {None, 'none', 'standard'} or Priors, optional
        Image priors (see :mod:`pytest_featviz.priors`): ``"standard"`` gives readable
        filter visualizations (transformation robustness + decorrelated Fourier
        parametrization). Default: plain pixel ascent.
    transforms, parametrization, blur : optional
        Override one part of ``priors``: transforms applied on the way into the model
        (never written back), how the input is parametrized, ``BlurEvery(n, sigma)``.
        Whatever the parametrization, ``r.inputs`` are the exact model inputs, inside
        the constraints; the optimality guarantee holds for plain pixel ascent. With
        random transforms, ``history`` holds the values the model saw (of transformed
        inputs), ``inputs`` is the last iterate, and ``values``/``reached`` are judged on
        the untransformed inputs.
    jit_compile : bool, optional
        Compile the loop with XLA. Default: on for models without convolutions.
    max_batch : int, optional
        Run at most this many items at once (one after another, each chunk in one
        compiled call), so that peak memory stays bounded however many targets are
        asked for; the results are those of the unchunked run (with random transforms
        the random draws differ). Default: all items at once.
    progress : bool, optional
        Show a progress bar on stderr (the loop then runs in about 20 compiled calls
        of consecutive steps, with the same results). Default ``None``: when
        ``$FEATVIZ_PROGRESS`` is 1 (0: never), else when stderr is a terminal.

    Returns
    -------
    AscentResult

    Examples
    --------
    >>> import keras, numpy as np
    >>> import pytest_featviz as fv
    >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> r = fv.ascend(m, fv.ClassLogit(0), constraints=fv.Box(0, 1), steps=50)
    >>> bool(fv.Box(0, 1).contains(r.inputs).all())
    True
    """
    from ..models import load_model, model_info

    objective = as_objective(objective)
    if until is not None and not isinstance(until, Condition):
        raise FeatvizTypeError(f"until must be a Condition such as fv.ClassProbability(3) >= 0.9; got {until!r}")
    if optimizer is not None and optimizer not in OPTIMIZERS:
        raise ConfigurationError(f"optimizer={optimizer!r} is not one of {set(OPTIMIZERS)}")
    if schedule not in SCHEDULES:
        raise ConfigurationError(f"schedule={schedule!r} is not one of {set(SCHEDULES)}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ConfigurationError(f"steps must be an int >= 1; got {steps!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise FeatvizTypeError(f"seed must be an int >= 0; got {seed!r}")
    if seed < 0:
        raise ConfigurationError(f"seed must be an int >= 0; got {seed!r}")
    if jit_compile is not None and not isinstance(jit_compile, (bool, np.bool_)):
        raise FeatvizTypeError(f"jit_compile must be True, False or None (automatic); got {jit_compile!r}")
    constraint = as_constraint(constraints)
    model = load_model(model)
    info = model_info(model)
    objective.validate(info)
    if until is not None:
        until.objective.validate(info)

    start_arr = check_start(start, info.input_shape)
    n_items = check_batch_size(objective, until, start_arr)
    if batch is not None:
        if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
            raise ConfigurationError(f"batch must be an int >= 1; got {batch!r}")
        if n_items not in (1, batch):
            raise ConfigurationError(
                f"batch={batch} does not match the {n_items} targets/starts given; give one target "
                "(and draw `batch` starts), or leave batch out"
            )
        n_items = int(batch)
    shape = (n_items, *info.input_shape)
    if start_arr is None or (batch is not None and start_arr.shape[0] == 1 and shape[0] > 1):
        # restarts around a given start: the first item starts there, the others are drawn
        # (masked-out entries of every restart stay at the start; only free ones are drawn)
        around = None if start_arr is None else np.broadcast_to(start_arr, shape)
        drawn = _draw_start(constraint.canonical(shape, start=around), np.random.default_rng(seed))
        drawn = drawn.astype(np.float32).astype(np.float64)
        start_arr = drawn if start_arr is None else np.concatenate([start_arr, drawn[1:]])
    start_arr = np.broadcast_to(start_arr, shape)
    canon = constraint.canonical(shape, start=start_arr)
    x0 = canon.project(start_arr)
    prior = _resolve_priors(priors, transforms, parametrization, blur, info.input_shape)
    prior.validate(canon.low, canon.high)
    p0 = _initial_parameter(prior, x0, canon, start is None, seed)
    par = prior.parametrization
    optimizer = par.optimizer if optimizer is None else optimizer
    lr_arr = as_lr(par.lr if lr is None else lr, canon)
    if jit_compile is None:
        jit_compile = not has_convolutions(model)
    obj_params = [np.asarray(p) for p in objective.params(n_items)]
    until_params = [np.asarray(p) for p in until.objective.params(n_items)] if until is not None else []
    per_item = [p0.astype(np.float32), *canon.float32(), lr_arr, step_widths(canon, _is_pixel(prior), tuple(p0.shape))]
    shared = [np.int32(steps), np.float32(until.threshold if until is not None else np.inf),
              np.array([seed % (2**31 - 1), 0], dtype=np.int32)]
    chunk = n_items if max_batch is None else min(as_max_batch(max_batch), n_items)
    show = progress_enabled(progress)
    bar = Progress(-(-n_items // chunk) * (int(steps) + 1), f"featviz ascent {str(objective)[:40]}", show)
    outs = []
    for first in range(0, n_items, chunk):  # the last chunk repeats its last item: one compiled shape
        items = np.minimum(np.arange(first, first + chunk), n_items - 1)
        obj_p = objective.slice_params(obj_params, items)
        until_p = until.objective.slice_params(until_params, items) if until is not None else []
        spec = LoopSpec(
            objective.structure(), until.objective.structure() if until is not None else None, canon.has_ball,
            optimizer, schedule, (chunk, *shape[1:]), (chunk, *p0.shape[1:]), bool(jit_compile), prior.structure(),
            tuple(np.shape(p) for p in obj_p),
        )
        run = compiled(model, objective, until, spec, prior, (obj_p, until_p))
        p_chunk, *args = (a[items] for a in per_item)
        out = drive(run, [*args, *shared, tuple(obj_p), tuple(until_p)], p_chunk, spec.shape, int(steps),
                    -(-(int(steps) + 1) // 20) if show else None, bar)
        outs.append({k: v[: n_items - first] if np.ndim(v) and k not in ("history", "t") else v
                     for k, v in out.items()})
    bar.close()
    out = merge_chunks(outs, n_items)
    t_run = int(out["t"])
    return AscentResult(
        inputs=out["x"],
        values=out["values"],
        history=out["history"][:t_run],
        outputs=out["outputs"],
        steps=out["steps"],
        reached=out["reached"] if until is not None else None,
        diverged=out["diverged"],
        diverged_at=out["diverged_at"],
        zero_gradient=out["zero_gradient"],
        start=out["x0"],
        seed=int(seed),
        objective=objective,
        constraints=constraint,
        until=until,
        optimizer=optimizer,
        lr=lr_arr,
        steps_requested=int(steps),
        model_name=info.name,
    )


