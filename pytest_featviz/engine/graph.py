"""The body of the compiled ascent loop (private; built by :func:`.loop.compiled`).

One :class:`LoopGraph` per :class:`~.loop.LoopSpec` holds what is static (model, objective,
priors, shapes); :meth:`LoopGraph.run` is traced once into a ``tf.function`` whose every
argument is a tensor (bounds, learning rates, indices, the number of steps, the state).
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

import numpy as np

from ..errors import GradientError
from ..objectives import Condition, Objective
from .steps import RMS_EPS, STEPS, StepInput, project_tf

__all__ = ["LoopGraph", "LoopState"]


class LoopState(NamedTuple):
    """The loop's state between iterations (numpy arrays outside, tensors inside; batch first)."""

    t: Any  # the next iteration
    p: Any  # the optimised variable (the input itself for pixels)
    m: Any  # Adam's first moment
    v: Any  # Adam's second moment
    best_x: Any  # the best input so far
    best_val: Any  # its value
    active: Any  # items still moving
    n_steps: Any  # updates taken
    reached: Any  # items that met `until`
    diverged: Any
    diverged_at: Any
    zero_gradient: Any


class _Args(NamedTuple):
    """The tensors of one call (see :meth:`LoopGraph.run`)."""

    low: Any
    high: Any
    center: Any
    radius: Any
    lr_p: Any  # per-coordinate step sizes: lr times the coordinate's relative width
    width: Any
    steps: Any
    threshold: Any
    seed: Any
    obj_p: Any
    until_p: Any


class LoopGraph:
    """The compiled loop of one structure; a GradientError found while tracing is kept in :attr:`failure`."""

    def __init__(
        self, model: Any, objective: Objective, until: Condition | None, spec: Any, priors: Any, info: Any, explain: Any
    ):
        from ..models import FeatureExtractor
        from ..priors import Pixel

        needs = objective.layers() | (until.objective.layers() if until is not None else frozenset())
        self.extractor = FeatureExtractor(model, needs, info)
        self.objective, self.until, self.spec, self.explain = objective, until, spec, explain
        self.par, self.transforms, self.blur = priors.parametrization, priors.transforms, priors.blur
        self.pixel = isinstance(self.par, Pixel)
        self.transformed = bool(self.transforms.transforms)
        self.batch = spec.shape[0]
        self.p_axes = list(range(1, len(spec.param_shape)))
        self.bshape = [self.batch] + [1] * (len(spec.shape) - 1)
        self.pshape = [self.batch] + [1] * len(self.p_axes)
        self.failure: GradientError | None = None

    def function(self, params: tuple[list, list]) -> Any:
        """The ``tf.function`` of :meth:`run`; ``params`` (objective, condition values) give its signature."""
        import tensorflow as tf

        spec, f32, batch = self.spec, tf.float32, self.batch
        x, vec, p = tf.TensorSpec(spec.shape, f32), tf.TensorSpec([batch], f32), tf.TensorSpec(spec.param_shape, f32)
        i32, flags, ints = (
            tf.TensorSpec([], tf.int32),
            tf.TensorSpec([batch], tf.bool),
            tf.TensorSpec([batch], tf.int32),
        )
        state = (i32, p, p, p, x, vec, flags, ints, flags, flags, ints, flags)
        sig = [
            x,
            x,
            x,
            vec,
            vec,
            p,
            i32,
            tf.TensorSpec([], f32),
            tf.TensorSpec([2], tf.int32),
            _specs(params[0]),
            _specs(params[1]) if self.until is not None else (),
            i32,
            state,
        ]
        # TensorFlow counts traces per code object, and every structure's loop shares `run`'s
        # code: it would warn of "retracing" after a few objectives, though each function is
        # traced once. A partial has no code object, so each function is counted on its own.
        # No autograph: the loop is an explicit tf.while_loop, and every Python `if` on the
        # way reads static structure. Converting what the trace calls anyway cost each process ~2 s at
        # its first ascent; a model's own layers are never converted (Keras keeps them out of autograph).
        return tf.function(
            functools.partial(self.run),
            input_signature=sig,
            jit_compile=spec.jit,
            reduce_retracing=False,
            autograph=False,
        )

    def project(self, x: Any, a: _Args) -> Any:
        return project_tf(x, a.low, a.high, a.center, a.radius, self.spec.has_ball)

    def to_x(self, p: Any, a: _Args) -> Any:
        return p if self.pixel else self.project(self.par.to_input(p, a.low, a.high), a)

    def evaluate(self, p: Any, t: Any, a: _Args) -> tuple[Any, Any, Any, Any]:
        """Objective value at x(p) (untransformed), gradient w.r.t. p, until-hit."""
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(p)
            x = self.to_x(p, a)
            z = x
            if self.transformed:
                z = self.transforms.apply(x, tf.random.experimental.stateless_fold_in(a.seed, t), xla=self.spec.jit)
            ctx = self.extractor(z, x)
            val, ascent = self.objective.value_and_ascent(ctx, a.obj_p)
            total = tf.reduce_sum(ascent)
        grad = tape.gradient(total, p)
        if grad is None:  # kept, typed, for compiled() to raise; the graph is never run
            self.failure = GradientError(self.explain())
            grad = tf.zeros_like(p)
        hit = tf.zeros([self.batch], tf.bool)
        if self.until is not None:
            hit = self.until.objective.evaluate(ctx, a.until_p) >= a.threshold
        # static shapes, even when a layer (e.g. a SavedModel) forgets the batch size
        spec = self.spec
        return (
            tf.reshape(x, spec.shape),
            tf.reshape(val, [self.batch]),
            tf.reshape(grad, spec.param_shape),
            tf.reshape(hit, [self.batch]),
        )

    def move(self, s: LoopState, grad: Any, finite: Any, moving: Any, a: _Args) -> tuple[Any, Any, Any]:
        """``(p, m, v)`` after one update of the items ``moving``."""
        import tensorflow as tf

        tf_t = tf.cast(s.t, tf.float32)
        scale = 1.0
        if self.spec.schedule == "cosine":
            scale = 0.5 * (1.0 + tf.cos(math.pi * tf_t / tf.cast(a.steps, tf.float32)))
        safe = tf.where(tf.reshape(finite, self.pshape), grad, tf.zeros_like(grad))
        scaled = safe * a.width  # the gradient in the coordinates where every step size is lr (x = width * u)
        rms = tf.sqrt(tf.reduce_mean(tf.square(scaled), axis=self.p_axes, keepdims=True))

        def mapping(g_hat: Any) -> Any:
            return (self.project(s.p + a.lr_p * g_hat, a) - s.p) / a.lr_p if self.pixel else g_hat

        direction, m, v = STEPS[self.spec.optimizer](StepInput(scaled / (rms + RMS_EPS), safe, s.m, s.v, tf_t, mapping))
        p_new = s.p + a.lr_p * scale * direction
        if self.pixel:
            p_new = self.project(p_new, a)
        if self.blur is not None:
            p_new = self.blur.step(p_new, s.t, self.par, a.low, a.high)
            p_new = self.project(p_new, a) if self.pixel else p_new
        return tf.where(tf.reshape(moving, self.pshape), p_new, s.p), m, v

    def body(self, s: LoopState, hist: Any, t0: Any, a: _Args) -> tuple[LoopState, Any]:
        import tensorflow as tf

        x, val, grad, hit = self.evaluate(s.p, s.t, a)
        finite = tf.math.is_finite(val) & tf.reduce_all(tf.math.is_finite(grad), axis=self.p_axes)
        zero = tf.where(tf.equal(s.t, 0), tf.reduce_all(tf.equal(grad, 0), axis=self.p_axes), s.zero_gradient)
        hist = hist.write(s.t - t0, tf.where(finite, val, tf.fill([self.batch], np.nan)))
        newly_div = s.active & ~finite
        active = s.active & finite
        hit = active & hit
        # with random transforms a step's value is a noisy estimate: keep the latest iterate
        improve = tf.ones_like(active) if self.transformed else (val > s.best_val) | tf.equal(s.t, 0)
        take = (active & improve) | hit
        active = active & ~hit
        moving = active & (s.t < a.steps)  # x_steps is evaluated (above) but not moved from
        p, m, v = self.move(s, grad, finite, moving, a)
        return LoopState(
            t=s.t + 1,
            p=p,
            m=m,
            v=v,
            best_x=tf.where(tf.reshape(take, self.bshape), x, s.best_x),
            best_val=tf.where(take, val, s.best_val),
            active=active,
            n_steps=s.n_steps + tf.cast(moving, tf.int32),
            reached=s.reached | hit,
            diverged=s.diverged | newly_div,
            diverged_at=tf.where(newly_div, s.t, s.diverged_at),
            zero_gradient=zero,
        ), hist

    def run(self, low, high, center, radius, lr, width, steps, threshold, seed, obj_p, until_p, t_stop, state):
        """Iterations ``state.t .. min(t_stop, steps + 1) - 1`` from ``state`` (see :func:`.loop.initial_state`)."""
        import tensorflow as tf

        a = _Args(
            low,
            high,
            center,
            radius,
            tf.reshape(lr, self.pshape) * width,
            width,
            steps,
            threshold,
            seed,
            obj_p,
            until_p,
        )
        s = LoopState(*state)
        p0 = self.project(s.p, a) if self.pixel else s.p  # a float32 start may sit a rounding error outside
        x0 = tf.reshape(self.to_x(p0, a), self.spec.shape)
        s = s._replace(p=p0, best_x=tf.where(tf.equal(s.t, 0), x0, s.best_x))
        t_end = tf.maximum(tf.minimum(t_stop, steps + 1), s.t)
        hist = tf.TensorArray(tf.float32, size=t_end - s.t, element_shape=[self.batch])
        s, hist = tf.while_loop(
            lambda s, hist: (s.t <= steps) & (s.t < t_stop) & tf.reduce_any(s.active),
            lambda s, hist: self.body(s, hist, state[0], a),
            (s, hist),
            maximum_iterations=t_end - s.t,
        )
        ctx = self.extractor(s.best_x, s.best_x)
        reached = s.reached
        if self.transformed and self.until is not None:  # `reached` must hold for the input itself, untransformed
            reached = reached & (self.until.objective.evaluate(ctx, until_p) >= threshold)
        return {
            "state": tuple(s),
            "x0": x0,
            "values": self.objective.evaluate(ctx, obj_p),
            "outputs": ctx.output,
            "history": hist.stack(),
            "reached": reached,
        }


def _specs(params: list[np.ndarray]) -> tuple:
    import tensorflow as tf

    return tuple(tf.TensorSpec(np.shape(p), tf.as_dtype(np.asarray(p).dtype)) for p in params)
