"""Objectives: what the ascent maximises, built from a model's layers and composed with ``+ - *``.

An objective is a tree of small frozen dataclasses. Its *structure* (which layers,
which reductions, how terms combine) decides what gets compiled; its *values*
(class and channel indices, direction vectors, coefficients, thresholds) are fed
to the compiled loop as tensors, so changing them never retraces.

Nothing here imports TensorFlow at import time; the ``_evaluate`` methods run
inside the compiled ascent and receive TensorFlow tensors.

Examples
--------
>>> from pytest_featviz.objectives import Channel
>>> obj = Channel("conv2d_2", 5) - 0.05 * TotalVariation()
>>> obj
Channel('conv2d_2', 5) - 0.05 * TotalVariation()
>>> ClassProbability(3) >= 0.99
ClassProbability(3) >= 0.99
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._fields import value
from ..errors import ConfigurationError, FeatvizTypeError
from .base import (
    Objective,
    _check_range,
    _fmt_index,
    _index_array,
    _Indexed,
    _pick,
)

__all__ = [
    "ClassLogit",
    "ClassProbability",
    "TotalVariation",
    "L1",
    "L2",
    "as_objective",
    "logit_margins",
    "LOGITS",
    "PROBABILITIES",
]

LOGITS = "__logits__"
PROBABILITIES = "__probabilities__"


@dataclass(frozen=True, repr=False, eq=False)
class ClassLogit(_Indexed):
    """The logit of class ``index``: the model's output before a final softmax or sigmoid.

    The user's model is not modified. A final softmax or sigmoid is recognised as a
    separate ``Softmax`` or ``Activation`` layer (any function computing it, e.g.
    ``tf.nn.softmax``) or as the activation of a last ``Dense`` layer, whose
    pre-activation is then the logits, also inside nested models. Where the output is a
    softmax or sigmoid whose logits cannot be recovered (the activation of a non-Dense
    layer, or applied inside a subclassed model),
    validation raises ``ConfigurationError`` instead of reading probabilities. The model
    needs a single output of shape ``(B, classes)``.

    Examples
    --------
    >>> ClassLogit(3)
    ClassLogit(3)
    >>> ClassLogit([0, 1, 2]).batch_size()
    3
    """

    index: Any = value(per_item=True)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", _index_array(self.index, "ClassLogit"))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({_fmt_index(self.index)})"

    def _layer_needs(self) -> frozenset[str]:
        return frozenset({LOGITS})

    def _check(self, info: Any) -> None:
        info.check_classes(logits=not isinstance(self, ClassProbability))
        _check_range(self.index, info.num_classes, f"{type(self).__name__} class")

    def _evaluate(self, ctx: Any, values: list[Any]) -> Any:
        return _pick(ctx.logits, values[0])


@dataclass(frozen=True, repr=False, eq=False)
class ClassProbability(ClassLogit):
    """The probability of class ``index``.

    For a model ending with a softmax or a sigmoid (multi-label) this is the model's
    own output for that class; a sigmoid output is per-class, not normalised over the
    classes. For a model whose output is logits it is ``softmax(logits)``.

    The reported value (``r.values``, ``history``, ``until``) is the probability, but
    when the objective is this term alone (times a positive number) the ascent follows
    the gradient of its logarithm, computed from the logits (``log_softmax``, or
    ``log_sigmoid`` for a sigmoid head) where they are known: the same maximisers, and
    a gradient that does not vanish when the probability underflows to 0 in float32. As
    a term of a sum it is the probability itself (a logarithm would change the trade-off
    between the terms), and its gradient can vanish there.

    Examples
    --------
    >>> ClassProbability(3) >= 0.99
    ClassProbability(3) >= 0.99
    """

    def _evaluate(self, ctx: Any, values: list[Any]) -> Any:
        return _pick(ctx.probabilities(), values[0])

    def _ascent_value(self, ctx: Any, values: list[Any]) -> Any:
        return _pick(ctx.log_probabilities(), values[0])

    def _layer_needs(self) -> frozenset[str]:
        return frozenset({PROBABILITIES})


def _spatial_axes(rank: int) -> list[int]:
    """Spatial axes of a batched input: (B, N) -> [1]; (B, H, W) -> [1, 2]; (B, H, W, C) -> [1, 2]."""
    if rank <= 3:
        return list(range(1, rank))
    return list(range(1, rank - 1))


@dataclass(frozen=True, repr=False, eq=False)
class TotalVariation(Objective):
    """Mean absolute difference between neighbouring input entries (a smoothness penalty).

    Subtract it: ``Channel(...) - 0.05 * TotalVariation()``.

    Examples
    --------
    >>> TotalVariation()
    TotalVariation()
    """

    def __repr__(self) -> str:
        return "TotalVariation()"

    def _evaluate(self, ctx: Any, values: list[Any]) -> Any:
        import tensorflow as tf

        x = ctx.inputs
        rank = len(x.shape)
        total = 0.0
        for axis in _spatial_axes(rank):
            n = x.shape[axis]
            if n is None or n < 2:
                continue
            a = tf.gather(x, tf.range(1, n), axis=axis)
            b = tf.gather(x, tf.range(0, n - 1), axis=axis)
            total += tf.reduce_mean(tf.abs(a - b), axis=list(range(1, rank)))
        return total * tf.ones([tf.shape(x)[0]], x.dtype)


@dataclass(frozen=True, repr=False, eq=False)
class L1(Objective):
    """Mean absolute value of ``input - center`` (a sparsity penalty; subtract it).

    Examples
    --------
    >>> L1()
    L1()
    >>> L1(center=0.5)
    L1(center=0.5)
    """

    center: float = value(default=0.0)

    def __post_init__(self) -> None:
        c = self.center
        what = f"{type(self).__name__} center must be a finite number (the same for every input entry); got"
        if isinstance(c, (bool, np.bool_)) or not isinstance(c, (numbers.Real, np.ndarray)):
            raise FeatvizTypeError(f"{what} {c!r}")
        arr = np.asarray(c)
        if arr.ndim != 0 or not np.issubdtype(arr.dtype, np.number) or not np.isfinite(arr):
            raise ConfigurationError(f"{what} {f'an array of shape {arr.shape}' if arr.ndim else repr(c)}")
        object.__setattr__(self, "center", float(arr))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()" if self.center == 0.0 else f"{type(self).__name__}(center={self.center:g})"

    def _evaluate(self, ctx: Any, values: list[Any]) -> Any:
        import tensorflow as tf

        x = ctx.inputs
        return tf.reduce_mean(tf.abs(x - values[0]), axis=list(range(1, len(x.shape))))


@dataclass(frozen=True, repr=False, eq=False)
class L2(L1):
    """Mean squared value of ``input - center`` (a magnitude penalty; subtract it).

    Examples
    --------
    >>> L2()
    L2()
    """

    def _evaluate(self, ctx: Any, values: list[Any]) -> Any:
        import tensorflow as tf

        x = ctx.inputs
        return tf.reduce_mean(tf.square(x - values[0]), axis=list(range(1, len(x.shape))))


def as_objective(value: Any) -> Objective:
    """Return ``value`` if it is an Objective, else raise a TypeError that says what is accepted."""
    if isinstance(value, Objective):
        return value
    raise FeatvizTypeError(f"expected an objective such as fv.ClassLogit(3) or fv.Channel('conv2d', 5); got {value!r}")


def logit_margins(true_class: Any, classes: Any) -> list[Objective]:
    """The logit margins ``z_j - z_true`` of every other class ``j``: the objectives whose
    upper bounds below 0 prove that no other class beats the true one.

    Parameters
    ----------
    true_class : int or sequence of int
        The true class, or one per batch item.
    classes : int or sequence of int
        The number of classes (every class but the true one is compared), or the
        classes to compare with (the true one is skipped).

    Returns
    -------
    list of Objective
        One margin per other class, in the order of ``classes``; with one true class per
        item, margin ``k`` reads each item's ``k``-th other class. Pass the list to
        :func:`bounds` or :func:`certify_not_reaches` to bound them all in one pass.

    Examples
    --------
    >>> logit_margins(1, 3)
    [ClassLogit(0) - ClassLogit(1), ClassLogit(2) - ClassLogit(1)]
    >>> logit_margins([0, 2], 3)
    [ClassLogit([1, 0]) - ClassLogit([0, 2]), ClassLogit([2, 1]) - ClassLogit([0, 2])]
    """
    true = _index_array(true_class, "logit_margins true_class")
    if isinstance(classes, (bool, np.bool_)):
        raise FeatvizTypeError(f"logit_margins classes must be an int or a sequence of ints; got {classes!r}")
    others = (
        np.arange(int(classes)) if isinstance(classes, numbers.Integral) else _index_array(classes, "logit_margins")
    )
    if others.ndim != 1 or others.size < 2 or np.unique(others).size != others.size or others.min() < 0:
        raise ConfigurationError(
            f"logit_margins classes={classes!r}: give the number of classes (at least 2) or distinct "
            f"class indices (at least 2, none negative)"
        )
    per_item = [[int(j) for j in others if j != t] for t in np.atleast_1d(true)]
    if len({len(row) for row in per_item}) > 1 or not per_item[0]:
        raise ConfigurationError(
            f"logit_margins: true_class={_fmt_index(true)} is among classes={_fmt_index(others)} for some "
            f"items but not others (or it is the only class), so they have different numbers of margins"
        )
    columns = np.array(per_item).T
    if true.ndim == 0:
        return [ClassLogit(int(col[0])) - ClassLogit(int(true)) for col in columns]
    return [ClassLogit(col) - ClassLogit(true) for col in columns]
