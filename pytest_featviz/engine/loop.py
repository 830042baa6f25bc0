"""The compiled ascent loop behind :func:`pytest_featviz.ascend` (private).

One ``tf.function`` per structure (objective, condition, constraint kind, optimizer,
schedule, shapes, priors, XLA); every value (the number of steps included) is a tensor
argument, so changing values never retraces. Compiled functions are cached on the model
object itself, so they are collected with it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import GradientError
from ..objectives import Condition, Objective

CACHE_ATTR = "_featviz_compiled"
_BISECTION_STEPS = 40
_BALL_MARGIN = 1e-9  # relative; distances are summed in float64, so this covers their rounding


@dataclass(frozen=True)
class LoopSpec:
    """Everything that decides the compiled graph (hashable: the cache key)."""

    objective: tuple
    until: tuple | None
    has_ball: bool
    optimizer: str
    schedule: str
    shape: tuple[int, ...]
    param_shape: tuple[int, ...]
    jit: bool
    priors: tuple
    param_shapes: tuple


def compiled(model: Any, objective: Objective, until: Condition | None, spec: LoopSpec, priors: Any,
             params: tuple[list, list]) -> Any:
    """The compiled loop for ``spec``, cached on the model object (it dies with the model).

    ``params`` are the objective's and the condition's values for this batch (their shapes
    and dtypes make the signature).
    """
    cache = model.__dict__.setdefault(CACHE_ATTR, {})
    if spec not in cache:
        cache[spec] = _build(model, objective, until, spec, priors, params)
    return cache[spec]


def call(run: Any, *args: Any) -> dict:
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


def initial_state(p0: np.ndarray, x_shape: tuple[int, ...]) -> tuple:
    """The loop's state before the first step (``t = 0``; the best input is set to the start there)."""
    batch = p0.shape[0]
    zeros, flags = np.zeros(p0.shape, np.float32), np.zeros(batch, bool)
    return (np.int32(0), p0.astype(np.float32), zeros, zeros, np.zeros(x_shape, np.float32),
            np.full(batch, -np.inf, np.float32), np.ones(batch, bool), np.zeros(batch, np.int32), flags, flags,
            np.full(batch, -1, np.int32), flags)


def drive(run: Any, args: list, p0: np.ndarray, x_shape: tuple[int, ...], steps: int, chunk: int | None,
          progress: Any = None) -> dict:
    """Run the compiled loop over all ``steps + 1`` iterations, ``chunk`` at a time (``None``: in one call).

    Between chunks ``progress.update(n)`` is told how many iterations ran. The results
    do not depend on ``chunk``: the state (moments, step counter, schedule) carries over.
    """
    state, hists, x0, t = initial_state(p0, x_shape), [], None, 0
    size = steps + 1 if chunk is None else chunk
    while True:
        out = call(run, *args, np.int32(min(t + size, steps + 1)), state)
        state = out["state"]
        x0 = out["x0"] if x0 is None else x0
        t_new = int(state[0])
        hists.append(out["history"].numpy()[: t_new - t])
        if progress is not None:
            progress.update(t_new - t)
        t = t_new
        if t > steps or not bool(np.any(state[6].numpy())):
            break
    (_, _, _, _, best_x, _, _, n_steps, _, div, div_at, zero) = (v.numpy() for v in state)
    return {"t": np.int32(t), "x": best_x, "x0": x0.numpy(), "values": out["values"].numpy(),
            "outputs": out["outputs"].numpy(), "history": np.concatenate(hists), "steps": n_steps,
            "reached": out["reached"].numpy(), "diverged": div, "diverged_at": div_at, "zero_gradient": zero}


def merge_chunks(outs: list[dict], n_items: int) -> dict:
    """One loop result from the results of consecutive chunks of the batch (``ascend(max_batch=...)``).

    A chunk that stopped early has its last history row repeated: an item that stopped
    stays at its last iterate, as it would in a longer run.
    """
    if len(outs) == 1:
        return outs[0]
    t = max(int(o["t"]) for o in outs)
    hists = []
    for o in outs:
        h = o["history"][: int(o["t"])]
        hists.append(np.concatenate([h, np.repeat(h[-1:], t - len(h), axis=0)])[:, : len(o["values"])])
    merged = {k: np.concatenate([o[k] for o in outs])[:n_items] for k in outs[0] if k not in ("history", "t")}
    return {**merged, "t": np.int32(t), "history": np.concatenate(hists, axis=1)}


def _specs(params: list[np.ndarray]) -> tuple:
    import tensorflow as tf

    return tuple(tf.TensorSpec(np.shape(p), tf.as_dtype(np.asarray(p).dtype)) for p in params)


def _build(model: Any, objective: Objective, until: Condition | None, spec: LoopSpec, priors: Any,
           params: tuple[list, list]) -> Any:
    import tensorflow as tf

    from ..models import FeatureExtractor
    from ..priors import Pixel

    needs = objective.layers() | (until.objective.layers() if until is not None else frozenset())
    extractor = FeatureExtractor(model, needs)
    shape, batch = spec.shape, spec.shape[0]
    axes = list(range(1, len(shape)))
    p_axes = list(range(1, len(spec.param_shape)))
    bshape = [batch] + [1] * len(axes)
    pshape = [batch] + [1] * len(p_axes)
    par, transforms, blur = priors.parametrization, priors.transforms, priors.blur
    pixel = isinstance(par, Pixel)
    transformed = bool(transforms.transforms)
    f32 = tf.float32
    x_spec = tf.TensorSpec(shape, f32)
    vec = tf.TensorSpec([batch], f32)
    p_spec = tf.TensorSpec(spec.param_shape, f32)
    i32, flags, ints = tf.TensorSpec([], tf.int32), tf.TensorSpec([batch], tf.bool), tf.TensorSpec([batch], tf.int32)
    state_sig = (i32, p_spec, p_spec, p_spec, x_spec, vec, flags, ints, flags, flags, ints, flags)
    sig = [x_spec, x_spec, x_spec, vec, vec, p_spec, i32, tf.TensorSpec([], f32), tf.TensorSpec([2], tf.int32),
           _specs(params[0]), _specs(params[1]) if until is not None else (), i32, state_sig]

    def project(x: Any, low: Any, high: Any, center: Any, radius: Any) -> Any:
        return project_tf(x, low, high, center, radius, spec.has_ball)

    def run(low, high, center, radius, lr, width, steps, threshold, seed, obj_p, until_p, t_stop, state):
        """Iterations ``state[0] .. min(t_stop, steps + 1) - 1`` from ``state`` (see :func:`initial_state`)."""
        # per-coordinate step sizes: lr times the coordinate's relative width (1 = the
        # median; see _step_sizes.step_widths), so every coordinate crosses its range alike
        lr_p = tf.reshape(lr, pshape) * width
        steps_f = tf.cast(steps, f32)

        def to_x(p: Any) -> Any:
            return p if pixel else project(par.to_input(p, low, high), low, high, center, radius)

        def evaluate(p: Any, t: Any) -> Any:
            """Objective value at x(p) (untransformed), gradient w.r.t. p, until-hit."""
            with tf.GradientTape() as tape:
                tape.watch(p)
                x = to_x(p)
                z = transforms.apply(x, tf.random.experimental.stateless_fold_in(seed, t), xla=spec.jit) if transformed else x
                ctx = extractor(z, x)
                val = objective.evaluate(ctx, obj_p)
                total = tf.reduce_sum(objective.ascent_value(ctx, obj_p))
            grad = tape.gradient(total, p)
            if grad is None:
                raise GradientError(_explain_no_gradient(model, objective))
            hit = until.objective.evaluate(ctx, until_p) >= threshold if until is not None else tf.zeros([batch], tf.bool)
            # static shapes, even when a layer (e.g. a SavedModel) forgets the batch size
            return tf.reshape(x, shape), tf.reshape(val, [batch]), tf.reshape(grad, spec.param_shape), tf.reshape(hit, [batch])

        def step_direction(p: Any, g_hat: Any, raw: Any, m: Any, v: Any, tf_t: Any) -> Any:
            if spec.optimizer == "adam":
                # Adam's moments on the gradient mapping, whose zeros are the constrained optima
                gm = (project(p + lr_p * g_hat, low, high, center, radius) - p) / lr_p if pixel else g_hat
                m = 0.9 * m + 0.1 * gm
                v = 0.999 * v + 0.001 * tf.square(gm)
                m_hat = m / (1.0 - tf.pow(0.9, tf_t + 1.0))
                v_hat = v / (1.0 - tf.pow(0.999, tf_t + 1.0))
                return m_hat / (tf.sqrt(v_hat) + 1e-12), m, v
            if spec.optimizer == "pgd":
                return g_hat, m, v
            return tf.sign(raw), m, v

        def body(t, p, m, v, best_x, best_val, active, n_steps, reached, div, div_at, zero, hist):
            x, val, grad, hit = evaluate(p, t)
            finite = tf.math.is_finite(val) & tf.reduce_all(tf.math.is_finite(grad), axis=p_axes)
            zero = tf.where(tf.equal(t, 0), tf.reduce_all(tf.equal(grad, 0), axis=p_axes), zero)
            hist = hist.write(t - t0, tf.where(finite, val, tf.fill([batch], np.nan)))
            newly_div = active & ~finite
            div_at = tf.where(newly_div, t, div_at)
            div = div | newly_div
            active = active & finite
            hit = active & hit
            # with random transforms a step's value is a noisy estimate: keep the latest iterate
            improve = tf.ones_like(active) if transformed else (val > best_val) | tf.equal(t, 0)
            take = (active & improve) | hit
            best_x = tf.where(tf.reshape(take, bshape), x, best_x)
            best_val = tf.where(take, val, best_val)
            reached = reached | hit
            active = active & ~hit
            # x_steps is evaluated (above) but not moved from: `steps` updates in all
            moving = active & (t < steps)
            n_steps = n_steps + tf.cast(moving, tf.int32)
            tf_t = tf.cast(t, f32)
            scale = 0.5 * (1.0 + tf.cos(math.pi * tf_t / steps_f)) if spec.schedule == "cosine" else 1.0
            safe = tf.where(tf.reshape(finite, pshape), grad, tf.zeros_like(grad))
            # the gradient in the coordinates where every step size is lr (x = width * u)
            scaled = safe * width
            rms = tf.sqrt(tf.reduce_mean(tf.square(scaled), axis=p_axes, keepdims=True))
            direction, m, v = step_direction(p, scaled / (rms + 1e-30), safe, m, v, tf_t)
            p_new = p + lr_p * scale * direction
            if pixel:
                p_new = project(p_new, low, high, center, radius)
            if blur is not None:
                p_new = blur.step(p_new, t, par, low, high)
                p_new = project(p_new, low, high, center, radius) if pixel else p_new
            p = tf.where(tf.reshape(moving, pshape), p_new, p)
            return t + 1, p, m, v, best_x, best_val, active, n_steps, reached, div, div_at, zero, hist

        def cond(t, *rest):
            return (t <= steps) & (t < t_stop) & tf.reduce_any(rest[5])

        t0, p0 = state[0], state[1]
        if pixel:  # the float32 start may sit a rounding error outside: project it in float32 (idempotent later)
            p0 = project(p0, low, high, center, radius)
        x0 = tf.reshape(to_x(p0), shape)
        best_x = tf.where(tf.equal(t0, 0), x0, state[4])
        t_end = tf.maximum(tf.minimum(t_stop, steps + 1), t0)
        hist = tf.TensorArray(f32, size=t_end - t0, element_shape=[batch])
        state = tf.while_loop(cond, body, (t0, p0, *state[2:4], best_x, *state[5:], hist), maximum_iterations=t_end - t0)
        t, best_x, reached, hist = state[0], state[4], state[8], state[-1]
        ctx = extractor(best_x, best_x)
        values = objective.evaluate(ctx, obj_p)
        if transformed and until is not None:  # `reached` must hold for the input itself, untransformed
            reached = reached & (until.objective.evaluate(ctx, until_p) >= threshold)
        return {"state": state[:-1], "x0": x0, "values": values, "outputs": ctx.output, "history": hist.stack(),
                "reached": reached}

    # TensorFlow counts traces per code object, and every structure's loop shares `run`'s
    # code: it would warn of "retracing" after a few objectives, though each function is
    # traced once. A partial has no code object, so each function is counted on its own.
    return tf.function(functools.partial(run), input_signature=sig, jit_compile=spec.jit, reduce_retracing=False)


def has_convolutions(model: Any) -> bool:
    """Whether any layer, also inside nested models, is a convolution (XLA slows those down on CPUs)."""
    return any("conv" in type(layer).__name__.lower() or has_convolutions(layer)
               for layer in getattr(model, "layers", ()))


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


def project_tf(x: Any, low: Any, high: Any, center: Any, radius: Any, has_ball: bool) -> Any:
    """The exact projection in TensorFlow (``(B, *S)`` float32 tensors from :meth:`Canonical.float32`).

    The ball test sums squared distances in float64, so a float32 point it accepts lies
    inside the ball whatever the input's scale.
    """
    import tensorflow as tf

    y = tf.clip_by_value(x, low, high)
    if not has_ball:
        return y
    axes = list(range(1, len(x.shape)))
    shape = tf.concat([tf.shape(x)[:1], tf.ones([len(axes)], tf.int32)], 0)
    c64 = tf.cast(center, tf.float64)
    r64 = tf.cast(radius, tf.float64) * (1.0 - _BALL_MARGIN)

    def inside(v: Any) -> Any:
        return tf.reduce_sum(tf.square(tf.cast(v, tf.float64) - c64), axis=axes) <= tf.square(r64)

    def point(t: Any) -> Any:
        t = tf.reshape(t, shape)
        return tf.clip_by_value((1 - t) * x + t * center, low, high)

    def body(i: Any, lo: Any, hi: Any) -> Any:
        mid = 0.5 * (lo + hi)
        ok = inside(point(mid))
        return i + 1, tf.where(ok, lo, mid), tf.where(ok, mid, hi)

    zeros = tf.zeros_like(radius)
    _, _, hi = tf.while_loop(
        lambda i, lo, hi: i < _BISECTION_STEPS, body, (tf.constant(0), zeros, tf.ones_like(radius))
    )
    return tf.where(tf.reshape(inside(y), shape), y, point(hi))
