"""Objectives: what the ascent maximises, built from a model's layers and composed with ``+ - *``.

An objective is a tree of small frozen dataclasses. Its *structure* (which layers,
which reductions, how terms combine) decides what gets compiled; its *values*
(class and channel indices, direction vectors, coefficients, thresholds) are fed
to the compiled loop as tensors, so changing them never retraces.

Nothing here imports TensorFlow at import time; the ``_evaluate`` methods run
inside the compiled ascent and receive TensorFlow tensors.

Examples
--------
>>> obj = Channel("conv2d_2", 5) - 0.05 * TotalVariation()
>>> obj
Channel('conv2d_2', 5) - 0.05 * TotalVariation()
>>> ClassProbability(3) >= 0.99
ClassProbability(3) >= 0.99
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ConfigurationError, FeatvizTypeError

__all__ = [
    "Objective",
    "Condition",
    "ClassLogit",
    "ClassProbability",
    "Neuron",
    "Channel",
    "Direction",
    "LayerEnergy",
    "TotalVariation",
    "L1",
    "L2",
    "Sum",
]

LOGITS = "__logits__"


class Objective:
    """Base class: a scalar function of the model's input, one value per batch item.

    Objectives compose: ``a + b``, ``a - b``, ``-a``, ``2.0 * a``; and
    ``a >= 0.9`` gives a :class:`Condition` for ``ascend(..., until=...)``.
    """

    # -- algebra ---------------------------------------------------------------------------
    def _terms(self) -> tuple[tuple[float, "Objective"], ...]:
        return ((1.0, self),)

    def __add__(self, other: Any) -> "Sum":
        if not isinstance(other, Objective):
            return NotImplemented
        return Sum(self._terms() + other._terms())

    def __sub__(self, other: Any) -> "Sum":
        if not isinstance(other, Objective):
            return NotImplemented
        return Sum(self._terms() + tuple((-c, o) for c, o in other._terms()))

    def __neg__(self) -> "Sum":
        return Sum(tuple((-c, o) for c, o in self._terms()))

    def __mul__(self, scalar: Any) -> "Sum":
        if isinstance(scalar, Objective):
            raise FeatvizTypeError(
                f"objectives can be multiplied by numbers only, not by another objective ({scalar!r})"
            )
        if not isinstance(scalar, numbers.Real) or not np.isfinite(scalar):
            return NotImplemented
        return Sum(tuple((float(scalar) * c, o) for c, o in self._terms()))

    __rmul__ = __mul__

    def __ge__(self, threshold: Any) -> "Condition":
        if not isinstance(threshold, numbers.Real) or not np.isfinite(threshold):
            raise FeatvizTypeError(f"a condition needs a finite number threshold; got {threshold!r}")
        return Condition(self, float(threshold))

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    # -- what the compiled loop needs --------------------------------------------------------
    def leaves(self) -> tuple["Objective", ...]:
        """The non-composite objectives this one is made of, in order."""
        return tuple(o for _, o in self._terms())

    def layers(self) -> frozenset[str]:
        """Layer names whose outputs the objective reads (``LOGITS`` for the logits)."""
        return frozenset().union(*(leaf._layer_needs() for leaf in self.leaves()))

    def batch_size(self) -> int | None:
        """The number of targets when an index is a sequence, else ``None``."""
        sizes = {leaf._targets() for leaf in self.leaves()} - {None}
        if len(sizes) > 1:
            raise ConfigurationError(
                f"the objective {self!r} has index sequences of different lengths {sorted(sizes)}; "
                "give one target per batch item everywhere, or a single int"
            )
        return sizes.pop() if sizes else None

    def structure(self) -> tuple:
        """A hashable key of everything that decides the compiled graph."""
        return tuple((type(o).__name__, o._static()) for o in self.leaves())

    def params(self, batch: int) -> list[np.ndarray]:
        """The values fed to the compiled loop as tensors (coefficients first)."""
        coefs = np.array([c for c, _ in self._terms()], dtype=np.float32)
        out = [coefs]
        for leaf in self.leaves():
            out.extend(leaf._values(batch))
        return out

    def evaluate(self, ctx: Any, params: Sequence[Any]) -> Any:
        """Per-item value ``(B,)`` from a context of layer outputs (inside TensorFlow)."""
        it = iter(params)
        coefs = next(it)
        total = None
        for i, leaf in enumerate(self.leaves()):
            vals = [next(it) for _ in range(leaf._n_values())]
            term = coefs[i] * leaf._evaluate(ctx, vals)
            total = term if total is None else total + term
        return total

    def validate(self, info: Any) -> None:
        """Check layer names and indices against a model description; raise a clear error."""
        for leaf in self.leaves():
            leaf._check(info)

    # -- leaf protocol (overridden) -----------------------------------------------------------
    def _layer_needs(self) -> frozenset[str]:
        return frozenset()

    def _targets(self) -> int | None:
        return None

    def _static(self) -> tuple:
        return ()

    def _n_values(self) -> int:
        return 0

    def _values(self, batch: int) -> list[np.ndarray]:
        return []

    def _check(self, info: Any) -> None:
        return None

    def _evaluate(self, ctx: Any, values: list[Any]) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True, repr=False, eq=False)
class Sum(Objective):
    """A weighted sum of objectives; built by ``+``, ``-`` and scalar ``*``."""

    terms: tuple[tuple[float, Objective], ...]

    def _terms(self) -> tuple[tuple[float, Objective], ...]:
        return self.terms

    def __repr__(self) -> str:
        text = ""
        for i, (c, o) in enumerate(self.terms):
            sign = "-" if c < 0 else "+"
            mag = abs(c)
            body = repr(o) if mag == 1.0 else f"{mag:g} * {o!r}"
            if i == 0:
                text = ("-" if c < 0 else "") + body
            else:
                text += f" {sign} {body}"
        return text


@dataclass(frozen=True, repr=False, eq=False)
class Condition:
    """``objective >= threshold``, checked per batch item; used by ``ascend(until=...)``."""

    objective: Objective
    threshold: float

    def __repr__(self) -> str:
        return f"{self.objective!r} >= {self.threshold:g}"

    def __bool__(self) -> bool:
        raise FeatvizTypeError(
            f"{self!r} is a Condition for ascend(until=...), not a truth value; "
            "use assert_reaches to assert it"
        )


def _index_array(index: Any, name: str) -> np.ndarray:
    arr = np.asarray(index)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer) or arr.ndim > 1:
        raise FeatvizTypeError(f"{name} index must be an int or a sequence of ints; got {index!r}")
    if arr.ndim == 1 and arr.size == 0:
        raise ConfigurationError(f"{name} index sequence is empty; give at least one target")
    return arr.astype(np.int32)


def _expand(arr: np.ndarray, batch: int, what: str) -> np.ndarray:
    if arr.ndim == 0:
        return np.full((batch,), arr, dtype=arr.dtype)
    if arr.shape[0] == batch:
        return arr
    if arr.shape[0] == 1:
        return np.repeat(arr, batch, axis=0)
    raise ConfigurationError(f"{what} has {arr.shape[0]} targets but the batch has {batch} items")


def _fmt_index(arr: np.ndarray) -> str:
    return repr(int(arr)) if arr.ndim == 0 else repr([int(i) for i in arr])


def _check_range(arr: np.ndarray, size: int, what: str) -> None:
    bad = (arr < 0) | (arr >= size)
    if np.any(bad):
        value = int(np.asarray(arr).reshape(-1)[np.argmax(np.asarray(bad).reshape(-1))])
        raise ConfigurationError(f"{what} {value} is out of range; valid indices are 0..{size - 1}")


class _Indexed(Objective):
    """Shared code of the objectives that pick one unit per batch item."""

    index: np.ndarray

    def _targets(self) -> int | None:
        return None if self.index.ndim == 0 else int(self.index.shape[0])

    def _n_values(self) -> int:
        return 1

    def _values(self, batch: int) -> list[np.ndarray]:
        return [_expand(self.index, batch, repr(self))]


@dataclass(frozen=True, repr=False, eq=False)
class ClassLogit(_Indexed):
    """The pre-softmax logit of class ``index`` (the user's model is not modified).

    Examples
    --------
    >>> ClassLogit(3)
    ClassLogit(3)
    >>> ClassLogit([0, 1, 2]).batch_size()
    3
    """

    index: Any

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", _index_array(self.index, "ClassLogit"))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({_fmt_index(self.index)})"

    def _layer_needs(self) -> frozenset[str]:
        return frozenset({LOGITS})

    def _check(self, info: Any) -> None:
        _check_range(self.index, info.num_classes, f"{type(self).__name__} class")

    def _evaluate(self, ctx: Any, values: list[Any]) -> Any:
        import tensorflow as tf

        return tf.gather(ctx.logits, values[0][:, None], batch_dims=1)[:, 0]


@dataclass(frozen=True, repr=False, eq=False)
class ClassProbability(ClassLogit):
    """The softmax probability of class ``index``.

    Examples
    --------
    >>> ClassProbability(3) >= 0.99
    ClassProbability(3) >= 0.99
    """

    def _evaluate(self, ctx: Any, values: list[Any]) -> Any:
        import tensorflow as tf

        return tf.gather(ctx.probabilities(), values[0][:, None], batch_dims=1)[:, 0]


def _check_layer_name(layer: Any, cls: str) -> str:
    if not isinstance(layer, str) or not layer:
        raise FeatvizTypeError(f"{cls} needs a layer name (a non-empty str); got {layer!r}")
    return layer


@dataclass(frozen=True, repr=False, eq=False)
class Neuron(_Indexed):
    """One unit of a layer's output; ``index`` counts over the flattened per-example output.

    Examples
    --------
    >>> Neuron("dense_1", 17)
    Neuron('dense_1', 17)
    """

    layer: str
    index: Any

    def __post_init__(self) -> None:
        _check_layer_name(self.layer, "Neuron")
        object.__setattr__(self, "index", _index_array(self.index, "Neuron"))

    def __repr__(self) -> str:
        return f"Neuron({self.layer!r}, {_fmt_index(self.index)})"

    def _layer_needs(self) -> frozenset[str]:
        return frozenset({self.layer})

    def _static(self) -> tuple:
        return (self.layer,)

    def _check(self, info: Any) -> None:
        shape = info.output_shape(self.layer)
        _check_range(self.index, int(np.prod(shape)), f"Neuron index of layer {self.layer!r} (output shape {shape})")

    def _evaluate(self, ctx: Any, values: list[Any]) -> Any:
        import tensorflow as tf

        out = ctx.features[self.layer]
        flat = tf.reshape(out, [tf.shape(out)[0], -1])
        return tf.gather(flat, values[0][:, None], batch_dims=1)[:, 0]


_REDUCTIONS = ("mean", "max")


@dataclass(frozen=True, repr=False, eq=False)
class Channel(_Indexed):
    """Channel ``index`` (last axis) of a layer, reduced over its spatial positions.

    ``reduce`` is one of {'mean', 'max'}; ``crop`` drops that many border positions
    on each side before reducing (border effects of padding).

    Examples
    --------
    >>> Channel("conv2d_2", [0, 1, 2], reduce="max")
    Channel('conv2d_2', [0, 1, 2], reduce='max')
    """

    layer: str
    index: Any
    reduce: str = "mean"
    crop: int = 0

    def __post_init__(self) -> None:
        _check_layer_name(self.layer, "Channel")
        object.__setattr__(self, "index", _index_array(self.index, "Channel"))
        if self.reduce not in _REDUCTIONS:
            raise ConfigurationError(f"Channel reduce={self.reduce!r} is not one of {set(_REDUCTIONS)}")
        if not isinstance(self.crop, int) or self.crop < 0:
            raise ConfigurationError(f"Channel crop must be an int >= 0; got {self.crop!r}")

    def __repr__(self) -> str:
        extra = "" if self.reduce == "mean" else f", reduce={self.reduce!r}"
        extra += f", crop={self.crop}" if self.crop else ""
        return f"Channel({self.layer!r}, {_fmt_index(self.index)}{extra})"

    def _layer_needs(self) -> frozenset[str]:
        return frozenset({self.layer})

    def _static(self) -> tuple:
        return (self.layer, self.reduce, self.crop)

    def _check(self, info: Any) -> None:
        shape = info.output_shape(self.layer)
        _check_range(self.index, int(shape[-1]), f"Channel index of layer {self.layer!r} (output shape {shape})")
        if self.crop and any(s <= 2 * self.crop for s in shape[:-1]):
            raise ConfigurationError(
                f"Channel crop={self.crop} leaves nothing of layer {self.layer!r} (spatial shape {shape[:-1]})"
            )

    def _evaluate(self, ctx: Any, values: list[Any]) -> Any:
        import tensorflow as tf

        out = ctx.features[self.layer]
        if self.crop and len(out.shape) > 2:
            sl = [slice(None)] + [slice(self.crop, -self.crop)] * (len(out.shape) - 2) + [slice(None)]
            out = out[tuple(sl)]
        chans = tf.gather(out, values[0], axis=-1, batch_dims=1)
        axes = list(range(1, len(chans.shape)))
        if not axes:
            return chans
        return tf.reduce_mean(chans, axis=axes) if self.reduce == "mean" else tf.reduce_max(chans, axis=axes)


@dataclass(frozen=True, repr=False, eq=False)
class Direction(Objective):
    """The dot product of a layer's output with ``vector``.

    ``vector`` has either one entry per channel (then the output is averaged over
    spatial positions first) or one entry per element of the flattened output.

    Examples
    --------
    >>> Direction("dense_1", [1.0, -1.0, 0.0])
    Direction('dense_1', vector(shape=(3,)))
    """

    layer: str
    vector: Any

    def __post_init__(self) -> None:
        _check_layer_name(self.layer, "Direction")
        vec = np.asarray(self.vector, dtype=np.float32)
        if vec.ndim != 1 or vec.size == 0 or not np.isfinite(vec).all():
            raise ConfigurationError(f"Direction vector must be a finite non-empty 1-D array; got shape {vec.shape}")
        object.__setattr__(self, "vector", vec)

    def __repr__(self) -> str:
        return f"Direction({self.layer!r}, vector(shape={self.vector.shape}))"

    def _layer_needs(self) -> frozenset[str]:
        return frozenset({self.layer})

    def _static(self) -> tuple:
        return (self.layer, self.vector.shape)

    def _n_values(self) -> int:
        return 1

    def _values(self, batch: int) -> list[np.ndarray]:
        return [self.vector]

    def _check(self, info: Any) -> None:
        shape = info.output_shape(self.layer)
        if self.vector.size not in (shape[-1], int(np.prod(shape))):
            raise ConfigurationError(
                f"Direction vector has {self.vector.size} entries; layer {self.layer!r} has output shape "
                f"{shape}: give {shape[-1]} (one per channel) or {int(np.prod(shape))} (flattened) entries"
            )

    def _evaluate(self, ctx: Any, values: list[Any]) -> Any:
        import tensorflow as tf

        out = ctx.features[self.layer]
        vec = values[0]
        if len(out.shape) > 2 and out.shape[-1] == self.vector.size:
            out = tf.reduce_mean(out, axis=list(range(1, len(out.shape) - 1)))
        flat = tf.reshape(out, [tf.shape(out)[0], -1])
        return tf.reduce_sum(flat * vec[None, :], axis=1)


@dataclass(frozen=True, repr=False, eq=False)
class LayerEnergy(Objective):
    """The mean of the squared output of a layer (DeepDream's objective).

    Examples
    --------
    >>> LayerEnergy("conv2d_2")
    LayerEnergy('conv2d_2')
    """

    layer: str

    def __post_init__(self) -> None:
        _check_layer_name(self.layer, "LayerEnergy")

    def __repr__(self) -> str:
        return f"LayerEnergy({self.layer!r})"

    def _layer_needs(self) -> frozenset[str]:
        return frozenset({self.layer})

    def _static(self) -> tuple:
        return (self.layer,)

    def _check(self, info: Any) -> None:
        info.output_shape(self.layer)

    def _evaluate(self, ctx: Any, values: list[Any]) -> Any:
        import tensorflow as tf

        out = ctx.features[self.layer]
        return tf.reduce_mean(tf.square(tf.reshape(out, [tf.shape(out)[0], -1])), axis=1)


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

    center: float = 0.0

    def __repr__(self) -> str:
        return f"{type(self).__name__}()" if self.center == 0.0 else f"{type(self).__name__}(center={self.center:g})"

    def _n_values(self) -> int:
        return 1

    def _values(self, batch: int) -> list[np.ndarray]:
        return [np.float32(self.center)]

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
    raise FeatvizTypeError(
        f"expected an objective such as fv.ClassLogit(3) or fv.Channel('conv2d', 5); got {value!r}"
    )
