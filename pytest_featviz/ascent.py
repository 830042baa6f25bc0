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

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .constraints import Canonical, Constraint, as_constraint, project_tf
from .errors import ConfigurationError, FeatvizTypeError, GradientError
from .objectives import Condition, Objective, as_objective

__all__ = ["ascend", "AscentResult", "OPTIMIZERS", "SCHEDULES"]

OPTIMIZERS = ("adam", "pgd", "sign")
SCHEDULES = ("cosine", "constant")
_CACHE_ATTR = "_featviz_compiled"


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
    history : ndarray, shape (steps run, B)
        The objective at every step.
    outputs : ndarray
        The model's outputs at ``inputs``.
    steps : ndarray, shape (B,)
        Steps taken per item (fewer when ``until`` was met).
    reached : ndarray of bool, shape (B,), or None
        Which items met ``until`` (None when no ``until`` was given).
    diverged : ndarray of bool, shape (B,)
        Items whose objective or gradient became NaN/inf; they keep their last finite input.
    diverged_at : ndarray of int, shape (B,)
        The step of divergence, -1 where none.
    zero_gradient : ndarray of bool, shape (B,)
        Items whose gradient was exactly zero at the start (e.g. dead ReLUs).
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
    extras: dict = field(default_factory=dict)

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


def _as_start(start: Any, input_shape: tuple[int, ...]) -> np.ndarray | None:
    if start is None:
        return None
    try:
        arr = np.asarray(start, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise FeatvizTypeError(f"start must be an array of numbers; got {type(start).__name__}") from exc
    if arr.shape == input_shape:
        arr = arr[None]
    if arr.shape[1:] != input_shape or arr.ndim != len(input_shape) + 1:
        raise ConfigurationError(
            f"start has shape {arr.shape}; the model expects {input_shape} or (B, {', '.join(map(str, input_shape))})"
        )
    if not np.isfinite(arr).all():
        raise ConfigurationError("start contains NaN or inf values; give a finite starting point")
    return arr


def _batch_size(obj: Objective, until: Condition | None, start: np.ndarray | None) -> int:
    sizes = {obj.batch_size()} | ({until.objective.batch_size()} if until is not None else set())
    sizes -= {None}
    if len(sizes) > 1:
        raise ConfigurationError(f"the objective and `until` have different numbers of targets: {sorted(sizes)}")
    targets = sizes.pop() if sizes else None
    n_start = None if start is None else start.shape[0]
    if targets is not None and n_start not in (None, 1, targets):
        raise ConfigurationError(
            f"start has {n_start} items but the objective has {targets} targets; give one start, "
            f"or one start per target"
        )
    return targets or n_start or 1


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


def _default_lr(canon: Canonical) -> np.ndarray:
    """5% of the feasible set's typical width per item (0.05 when unbounded)."""
    axes = tuple(range(1, canon.low.ndim))
    width = canon.high - canon.low
    free = width > 0
    n_free = np.maximum(free.sum(axis=axes), 1)
    with np.errstate(invalid="ignore"):
        med = np.array([np.median(w[f]) if f.any() else np.inf for w, f in zip(width, free)])
    scale = med
    if canon.has_ball:
        scale = np.minimum(scale, 2 * canon.radius / np.sqrt(n_free))
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    return (0.05 * scale).astype(np.float32)


def _as_lr(lr: Any, canon: Canonical) -> np.ndarray:
    batch = canon.low.shape[0]
    if lr is None:
        return _default_lr(canon)
    arr = np.asarray(lr, dtype=np.float32)
    if arr.ndim > 1 or (arr.ndim == 1 and arr.shape[0] != batch) or not np.all(arr > 0) or not np.isfinite(arr).all():
        raise ConfigurationError(f"lr must be a positive number or one per batch item ({batch}); got {lr!r}")
    return np.broadcast_to(arr, (batch,)).astype(np.float32)


def ascend(
    model: Any,
    objective: Objective,
    *,
    start: Any = None,
    constraints: Constraint | None = None,
    steps: int = 256,
    lr: Any = None,
    optimizer: str = "adam",
    schedule: str = "cosine",
    until: Condition | None = None,
    seed: int = 0,
    batch: int | None = None,
    jit_compile: bool | None = None,
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
        Maximum number of steps.
    lr : float or array of shape (B,), optional
        Step size in input units; default 5% of the constraint set's typical width.
    optimizer : {'adam', 'pgd', 'sign'}
        'adam' (Adam moments on the gradient mapping), 'pgd' (projected steps along
        the RMS-normalised gradient), 'sign' (projected sign steps, the L-inf attack).
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
    jit_compile : bool, optional
        Compile the loop with XLA. Default: on for models without convolutions.

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
    from .models import load_model, model_info

    objective = as_objective(objective)
    if until is not None and not isinstance(until, Condition):
        raise FeatvizTypeError(f"until must be a Condition such as fv.ClassProbability(3) >= 0.9; got {until!r}")
    if optimizer not in OPTIMIZERS:
        raise ConfigurationError(f"optimizer={optimizer!r} is not one of {set(OPTIMIZERS)}")
    if schedule not in SCHEDULES:
        raise ConfigurationError(f"schedule={schedule!r} is not one of {set(SCHEDULES)}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ConfigurationError(f"steps must be an int >= 1; got {steps!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise FeatvizTypeError(f"seed must be an int; got {seed!r}")
    constraint = as_constraint(constraints)
    model = load_model(model)
    info = model_info(model)
    objective.validate(info)
    if until is not None:
        until.objective.validate(info)

    start_arr = _as_start(start, info.input_shape)
    n_items = _batch_size(objective, until, start_arr)
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
        drawn = _draw_start(constraint.canonical(shape), np.random.default_rng(seed))
        # restarts around a given start: the first item starts there, the others are drawn
        start_arr = drawn if start_arr is None else np.concatenate([start_arr, drawn[1:]])
    start_arr = np.broadcast_to(start_arr, shape)
    canon = constraint.canonical(shape, start=start_arr)
    x0 = canon.project(start_arr)
    lr_arr = _as_lr(lr, canon)
    if jit_compile is None:
        jit_compile = not _has_convolutions(model)

    run = _compiled(model, objective, until, canon.has_ball, optimizer, schedule, int(steps), shape, jit_compile)
    obj_params = [np.asarray(p) for p in objective.params(n_items)]
    until_params = [np.asarray(p) for p in until.objective.params(n_items)] if until is not None else []
    threshold = np.float32(until.threshold if until is not None else np.inf)
    out = _call(
        run,
        x0.astype(np.float32),
        canon.low.astype(np.float32),
        canon.high.astype(np.float32),
        canon.center.astype(np.float32),
        np.where(np.isfinite(canon.radius), canon.radius, 0).astype(np.float32),
        lr_arr,
        threshold,
        tuple(obj_params),
        tuple(until_params),
    )
    out = {k: v.numpy() for k, v in out.items()}
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
        start=x0.astype(np.float32),
        seed=int(seed),
        objective=objective,
        constraints=constraint,
        until=until,
        optimizer=optimizer,
        lr=lr_arr,
        steps_requested=int(steps),
        model_name=info.name,
    )


def _call(run: Any, *args: Any) -> dict:
    """Call the compiled loop; our own errors raised while tracing come out unwrapped."""
    try:
        return run(*args)
    except Exception as exc:
        cause: BaseException | None = exc
        while cause is not None:
            if isinstance(cause, GradientError):
                raise GradientError(str(cause)) from None
            cause = cause.__cause__ or cause.__context__
        original = getattr(getattr(exc, "ag_error_metadata", None), "cause_message", "")
        if "GradientError" in str(exc) or "GradientError" in original:
            message = str(exc).split("GradientError: ", 1)[-1].strip()
            raise GradientError(message) from None
        raise


def _has_convolutions(model: Any) -> bool:
    return any("conv" in type(layer).__name__.lower() for layer in model.layers)


def _compiled(model: Any, objective: Objective, until: Condition | None, has_ball: bool,
              optimizer: str, schedule: str, steps: int, shape: tuple[int, ...], jit: bool) -> Any:
    """The compiled loop for this structure, cached on the model object (dies with it)."""
    key = (
        objective.structure(),
        until.objective.structure() if until is not None else None,
        has_ball, optimizer, schedule, steps, shape, jit,
        tuple(np.shape(p) for p in objective.params(shape[0])),
    )
    cache = model.__dict__.setdefault(_CACHE_ATTR, {})
    if key not in cache:
        cache[key] = _build(model, objective, until, has_ball, optimizer, schedule, steps, shape, jit)
    return cache[key]


def _specs(params: list[np.ndarray]) -> tuple:
    import tensorflow as tf

    return tuple(tf.TensorSpec(np.shape(p), tf.as_dtype(np.asarray(p).dtype)) for p in params)


def _build(model: Any, objective: Objective, until: Condition | None, has_ball: bool,
           optimizer: str, schedule: str, steps: int, shape: tuple[int, ...], jit: bool) -> Any:
    import tensorflow as tf

    from .models import FeatureExtractor

    needs = objective.layers() | (until.objective.layers() if until is not None else frozenset())
    extractor = FeatureExtractor(model, needs)
    batch = shape[0]
    axes = list(range(1, len(shape)))
    bshape = [batch] + [1] * len(axes)
    f32 = tf.float32
    spec = tf.TensorSpec(shape, f32)
    vec = tf.TensorSpec([batch], f32)
    sig = [spec, spec, spec, spec, vec, vec, tf.TensorSpec([], f32),
           _specs(objective.params(batch)),
           _specs(until.objective.params(batch)) if until is not None else ()]

    def evaluate(x: Any, obj_p: Any, until_p: Any, threshold: Any) -> Any:
        with tf.GradientTape() as tape:
            tape.watch(x)
            ctx = extractor(x)
            val = objective.evaluate(ctx, obj_p)
            total = tf.reduce_sum(val)
        grad = tape.gradient(total, x)
        if grad is None:
            raise GradientError(_explain_no_gradient(model, objective))
        hit = until.objective.evaluate(ctx, until_p) >= threshold if until is not None else tf.zeros([batch], tf.bool)
        # static shapes, even when a layer (e.g. a SavedModel) forgets the batch size
        return tf.reshape(val, [batch]), tf.reshape(grad, shape), tf.reshape(hit, [batch]), ctx.output

    def project(x: Any, low: Any, high: Any, center: Any, radius: Any) -> Any:
        return project_tf(x, low, high, center, radius, has_ball)

    def run(x0, low, high, center, radius, lr, threshold, obj_p, until_p):
        lr_b = tf.reshape(lr, bshape)

        def body(t, x, m, v, best_x, best_val, active, n_steps, reached, div, div_at, zero, hist):
            val, grad, hit, _ = evaluate(x, obj_p, until_p, threshold)
            finite = tf.math.is_finite(val) & tf.reduce_all(tf.math.is_finite(grad), axis=axes)
            zero = tf.where(tf.equal(t, 0), tf.reduce_all(tf.equal(grad, 0), axis=axes), zero)
            hist = hist.write(t, tf.where(finite, val, tf.fill([batch], np.nan)))
            newly_div = active & ~finite
            div_at = tf.where(newly_div, t, div_at)
            div = div | newly_div
            active = active & finite
            improve = active & ((val > best_val) | tf.equal(t, 0))
            hit = active & hit
            take = improve | hit
            best_x = tf.where(tf.reshape(take, bshape), x, best_x)
            best_val = tf.where(take, val, best_val)
            reached = reached | hit
            active = active & ~hit
            n_steps = n_steps + tf.cast(active, tf.int32)
            tf_t = tf.cast(t, f32)
            scale = 0.5 * (1.0 + tf.cos(math.pi * tf_t / steps)) if schedule == "cosine" else 1.0
            step_lr = lr_b * scale
            safe_grad = tf.where(tf.reshape(finite, bshape), grad, tf.zeros_like(grad))
            rms = tf.sqrt(tf.reduce_mean(tf.square(safe_grad), axis=axes, keepdims=True))
            g_hat = safe_grad / (rms + 1e-30)
            if optimizer == "adam":
                gm = (project(x + lr_b * g_hat, low, high, center, radius) - x) / lr_b
                m = 0.9 * m + 0.1 * gm
                v = 0.999 * v + 0.001 * tf.square(gm)
                m_hat = m / (1.0 - tf.pow(0.9, tf_t + 1.0))
                v_hat = v / (1.0 - tf.pow(0.999, tf_t + 1.0))
                direction = m_hat / (tf.sqrt(v_hat) + 1e-12)
            elif optimizer == "pgd":
                direction = g_hat
            else:
                direction = tf.sign(safe_grad)
            x_new = project(x + step_lr * direction, low, high, center, radius)
            x = tf.where(tf.reshape(active, bshape), x_new, x)
            return t + 1, x, m, v, best_x, best_val, active, n_steps, reached, div, div_at, zero, hist

        def cond(t, x, m, v, best_x, best_val, active, *rest):
            return (t < steps) & tf.reduce_any(active)

        zeros = tf.zeros_like(x0)
        state = (
            tf.constant(0), x0, zeros, zeros, x0, tf.fill([batch], -np.inf),
            tf.ones([batch], tf.bool), tf.zeros([batch], tf.int32), tf.zeros([batch], tf.bool),
            tf.zeros([batch], tf.bool), tf.fill([batch], -1), tf.zeros([batch], tf.bool),
            tf.TensorArray(f32, size=steps, element_shape=[batch]),
        )
        t, x, _, _, best_x, _, _, n_steps, reached, div, div_at, zero, hist = tf.while_loop(
            cond, body, state, maximum_iterations=steps
        )
        ctx = extractor(best_x)
        values = objective.evaluate(ctx, obj_p)
        return {
            "t": t, "x": best_x, "values": values, "outputs": ctx.output, "history": hist.stack(),
            "steps": n_steps, "reached": reached, "diverged": div, "diverged_at": div_at,
            "zero_gradient": zero,
        }

    return tf.function(run, input_signature=sig, jit_compile=jit, reduce_retracing=False)


def _explain_no_gradient(model: Any, objective: Objective) -> str:
    """Name the first layer (from the input) through which no gradient flows."""
    import keras
    import tensorflow as tf

    broken = None
    try:  # replay the layers as a chain, watching every intermediate tensor
        x = tf.random.stateless_uniform([1, *model.inputs[0].shape[1:]], seed=[0, 0])
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            chain = [(None, x)]
            for layer in model.layers:
                if isinstance(layer, keras.layers.InputLayer):
                    continue
                h = layer(chain[-1][1], training=False)
                tape.watch(h)
                chain.append((layer, h))
            target = tf.reduce_sum(chain[-1][1])
        for (_, before), (layer, after) in zip(chain, chain[1:]):
            if tape.gradient(target, after) is not None and tape.gradient(target, before) is None:
                broken = layer
                break
    except Exception:  # not a chain: the diagnosis is best effort, the error below still stands
        broken = None
    where = (
        f"it stops at layer {broken.name!r} ({type(broken).__name__}), which is not differentiable"
        if broken is not None
        else "some layer between the input and the objective is not differentiable"
    )
    return (
        f"the gradient of {objective!r} with respect to the input is None: {where}. "
        "Layers such as argmax, casts to integers or lookups cut the gradient; target a layer before it."
    )
