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

from typing import Any

import numpy as np

from ..constraints import Constraint
from ..objectives import Condition, Objective
from ..priors import Preset, Priors
from ..progress import Progress
from .loop import LoopSpec, compiled, drive, merge_chunks
from .plan import OPTIMIZERS, SCHEDULES, Optimizer, Plan, Schedule, plan_ascent
from .result import AscentResult, build_result, own_range, result_range

__all__ = ["ascend", "AscentResult", "OPTIMIZERS", "SCHEDULES", "own_range", "result_range"]


def ascend(
    model: Any,
    objective: Objective,
    *,
    start: Any = None,
    constraints: Constraint | None = None,
    steps: int = 256,
    lr: Any = None,
    optimizer: Optimizer | None = None,
    schedule: Schedule = "cosine",
    until: Condition | None = None,
    seed: int = 0,
    restarts: int | None = None,
    priors: Preset | Priors | None = None,
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
    restarts : int, optional
        The number of items for a single target (independent starts run as one batch):
        with ``start=None`` all are drawn from ``seed``; with one ``start`` the first item
        starts there and the others are drawn. Default: one item per target or start.
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
        Compile the loop with XLA. Default: off. On a CPU, XLA's compile takes about twice
        TensorFlow's tracing, and on small dense models its faster steps repay that only after
        tens of thousands of target-steps per compiled loop (``bench/ascent.py``); it slows
        convolutions down. A test suite compiles one loop per model and objective structure, so
        the default is the one that finishes first there.
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
    plan = plan_ascent(
        model,
        objective,
        start=start,
        constraints=constraints,
        steps=steps,
        lr=lr,
        optimizer=optimizer,
        schedule=schedule,
        until=until,
        seed=seed,
        restarts=restarts,
        priors=priors,
        transforms=transforms,
        parametrization=parametrization,
        blur=blur,
        jit_compile=jit_compile,
        max_batch=max_batch,
        progress=progress,
    )
    return build_result(plan, _run(plan))


def _run(plan: Plan) -> dict:
    """Run the plan's batch, ``plan.chunk`` items per compiled call; the merged loop output."""
    objective, until, n_items, chunk = plan.objective, plan.until, plan.n_items, plan.chunk
    obj_params = [np.asarray(p) for p in objective.params(n_items)]
    until_params = [np.asarray(p) for p in until.objective.params(n_items)] if until is not None else []
    per_item = [plan.p0.astype(np.float32), *plan.canon.float32(), plan.lr, plan.widths]
    shared = [
        np.int32(plan.steps),
        np.float32(until.threshold if until is not None else np.inf),
        np.array([plan.seed % (2**31 - 1), 0], dtype=np.int32),
    ]
    bar = Progress(-(-n_items // chunk) * (plan.steps + 1), f"featviz ascent {str(objective)[:40]}", plan.progress)
    outs = []
    for first in range(0, n_items, chunk):  # the last chunk repeats its last item: one compiled shape
        items = np.minimum(np.arange(first, first + chunk), n_items - 1)
        obj_p = objective.slice_params(obj_params, items)
        until_p = until.objective.slice_params(until_params, items) if until is not None else []
        spec = LoopSpec(
            objective=objective.structure(),
            until=until.objective.structure() if until is not None else None,
            has_ball=plan.canon.has_ball,
            optimizer=plan.optimizer,
            schedule=plan.schedule,
            shape=(chunk, *plan.canon.low.shape[1:]),
            param_shape=(chunk, *plan.p0.shape[1:]),
            jit=plan.jit,
            priors=plan.prior.structure(),
            param_shapes=tuple(np.shape(p) for p in obj_p),
        )
        run = compiled(plan.model, objective, until, spec, plan.prior, (obj_p, until_p), plan.info)
        p_chunk, *args = (a[items] for a in per_item)
        out = drive(
            run,
            [*args, *shared, tuple(obj_p), tuple(until_p)],
            p_chunk,
            spec.shape,
            plan.steps,
            -(-(plan.steps + 1) // 20) if plan.progress else None,
            bar,
        )
        outs.append(
            {k: v[: n_items - first] if np.ndim(v) and k not in ("history", "t") else v for k, v in out.items()}
        )
    bar.close()
    return merge_chunks(outs, n_items)
