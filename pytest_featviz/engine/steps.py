"""One update of the compiled loop (private): the projection in TensorFlow and one function per optimizer.

Every optimizer maps a :class:`StepInput` to ``(direction, m, v)``; the loop then moves
``p + lr * schedule * direction`` and projects. TensorFlow is imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from ..constraints.projection import BISECTIONS, project_box_ball
from .plan import Optimizer

__all__ = ["ADAM_BETA1", "ADAM_BETA2", "ADAM_EPS", "RMS_EPS", "STEPS", "StepInput", "project_tf"]

ADAM_BETA1 = 0.9  # decay of the first moment
ADAM_BETA2 = 0.999  # decay of the second moment
ADAM_EPS = 1e-12  # added to sqrt(v_hat)
RMS_EPS = 1e-30  # added to the gradient's RMS before normalising by it


class StepInput(NamedTuple):
    """What an optimizer sees at step ``t`` (a float32 tensor)."""

    g_hat: Any  # the gradient in step-size units, scaled to unit RMS per item
    raw: Any  # the gradient itself (finite; zeros where an item diverged)
    m: Any  # Adam's first moment
    v: Any  # Adam's second moment
    t: Any
    mapping: Callable[[Any], Any]  # g_hat -> the gradient mapping (P(p + lr g_hat) - p) / lr


def adam(s: StepInput) -> tuple[Any, Any, Any]:
    """Adam's moments on the gradient mapping, whose zeros are the constrained optima."""
    import tensorflow as tf

    gm = s.mapping(s.g_hat)
    m = ADAM_BETA1 * s.m + (1.0 - ADAM_BETA1) * gm
    v = ADAM_BETA2 * s.v + (1.0 - ADAM_BETA2) * tf.square(gm)
    m_hat = m / (1.0 - tf.pow(ADAM_BETA1, s.t + 1.0))
    v_hat = v / (1.0 - tf.pow(ADAM_BETA2, s.t + 1.0))
    return m_hat / (tf.sqrt(v_hat) + ADAM_EPS), m, v


def pgd(s: StepInput) -> tuple[Any, Any, Any]:
    """Projected steps along the RMS-normalised gradient."""
    return s.g_hat, s.m, s.v


def sign(s: StepInput) -> tuple[Any, Any, Any]:
    """Projected sign steps (the L-inf attack)."""
    import tensorflow as tf

    return tf.sign(s.raw), s.m, s.v


STEPS: dict[Optimizer, Callable[[StepInput], tuple[Any, Any, Any]]] = {"adam": adam, "pgd": pgd, "sign": sign}


class _TensorFlowOps:
    """The array namespace of the compiled projection: float32 points, float64 distances."""

    bisection = BISECTIONS["float32"]

    @staticmethod
    def clip(x: Any, low: Any, high: Any) -> Any:
        import tensorflow as tf

        return tf.clip_by_value(x, low, high)

    @staticmethod
    def where(cond: Any, a: Any, b: Any) -> Any:
        import tensorflow as tf

        return tf.where(cond, a, b)

    @staticmethod
    def zeros_like(v: Any) -> Any:
        import tensorflow as tf

        return tf.zeros_like(v)

    @staticmethod
    def ones_like(v: Any) -> Any:
        import tensorflow as tf

        return tf.ones_like(v)

    @staticmethod
    def per_item(t: Any, like: Any) -> Any:
        import tensorflow as tf

        return tf.reshape(t, [-1] + [1] * (len(like.shape) - 1))

    @staticmethod
    def as64(v: Any) -> Any:
        import tensorflow as tf

        return tf.cast(v, tf.float64)

    @staticmethod
    def squared_distance64(v: Any, center: Any) -> Any:
        import tensorflow as tf

        d = tf.cast(v, tf.float64) - tf.cast(center, tf.float64)
        return tf.reduce_sum(tf.square(d), axis=list(range(1, len(v.shape))))

    @staticmethod
    def repeat(n: int, body: Callable[[Any, Any], tuple[Any, Any]], lo: Any, hi: Any) -> tuple[Any, Any]:
        import tensorflow as tf

        _, lo, hi = tf.while_loop(
            lambda i, lo, hi: i < n, lambda i, lo, hi: (i + 1, *body(lo, hi)), (tf.constant(0), lo, hi)
        )
        return lo, hi


TENSORFLOW = _TensorFlowOps()


def project_tf(x: Any, low: Any, high: Any, center: Any, radius: Any, has_ball: bool) -> Any:
    """The exact projection in TensorFlow (``(B, *S)`` float32 tensors from :meth:`Canonical.float32`).

    The same algorithm as :meth:`Canonical.project` (:func:`project_box_ball`); the ball test
    sums squared distances in float64, so a float32 point it accepts lies inside the ball
    whatever the input's scale.
    """
    return project_box_ball(TENSORFLOW, x, low, high, center, radius, has_ball)
