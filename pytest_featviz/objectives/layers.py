"""Objectives that read a hidden layer's output (private; re-exported by ``objectives``).

:class:`Neuron`, :class:`Channel`, :class:`Direction` and :class:`LayerEnergy`. Nothing
here imports TensorFlow at import time; the ``_evaluate`` methods run inside the
compiled ascent and receive TensorFlow tensors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

from .._fields import static, value
from .._validation import check_choice, check_int
from ..errors import ConfigurationError, FeatvizTypeError
from .base import Objective, _check_range, _fmt_index, _index_array, _Indexed, _pick

__all__ = ["Neuron", "Channel", "Direction", "LayerEnergy", "Reduce", "REDUCTIONS"]


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

    layer: str = static()
    index: Any = value(per_item=True)

    def __post_init__(self) -> None:
        _check_layer_name(self.layer, "Neuron")
        object.__setattr__(self, "index", _index_array(self.index, "Neuron"))

    def __repr__(self) -> str:
        return f"Neuron({self.layer!r}, {_fmt_index(self.index)})"

    def _layer_needs(self) -> frozenset[str]:
        return frozenset({self.layer})

    def _check(self, info: Any) -> None:
        shape = info.output_shape(self.layer)
        _check_range(self.index, int(np.prod(shape)), f"Neuron index of layer {self.layer!r} (output shape {shape})")

    def _evaluate(self, ctx: Any, values: list[Any]) -> Any:
        import tensorflow as tf

        out = ctx.features[self.layer]
        flat = tf.reshape(out, [tf.shape(out)[0], -1])
        return _pick(flat, values[0])


Reduce = Literal["mean", "max"]
"""How :class:`Channel` reduces a channel over its spatial positions (``reduce=``)."""
REDUCTIONS: tuple[Reduce, ...] = get_args(Reduce)


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

    layer: str = static()
    index: Any = value(per_item=True)
    reduce: Reduce = static(default="mean")
    crop: int = static(default=0)

    def __post_init__(self) -> None:
        _check_layer_name(self.layer, "Channel")
        object.__setattr__(self, "index", _index_array(self.index, "Channel"))
        check_choice(self.reduce, "Channel reduce", REDUCTIONS)
        object.__setattr__(self, "crop", check_int(self.crop, "Channel crop", min_value=0))

    def __repr__(self) -> str:
        extra = "" if self.reduce == "mean" else f", reduce={self.reduce!r}"
        extra += f", crop={self.crop}" if self.crop else ""
        return f"Channel({self.layer!r}, {_fmt_index(self.index)}{extra})"

    def _layer_needs(self) -> frozenset[str]:
        return frozenset({self.layer})

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
        chans = _pick(out, values[0])
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

    layer: str = static()
    vector: Any = value()

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
class _WholeLayer(Objective):
    """Shared code of the objectives that read a whole layer (no index): ``Name('layer')``."""

    layer: str = static()

    def __post_init__(self) -> None:
        _check_layer_name(self.layer, type(self).__name__)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.layer!r})"

    def _layer_needs(self) -> frozenset[str]:
        return frozenset({self.layer})

    def _check(self, info: Any) -> None:
        info.output_shape(self.layer)


@dataclass(frozen=True, repr=False, eq=False)
class LayerEnergy(_WholeLayer):
    """The mean of the squared output of a layer (DeepDream's objective).

    Examples
    --------
    >>> LayerEnergy("conv2d_2")
    LayerEnergy('conv2d_2')
    """

    def _evaluate(self, ctx: Any, values: list[Any]) -> Any:
        import tensorflow as tf

        out = ctx.features[self.layer]
        return tf.reduce_mean(tf.square(tf.reshape(out, [tf.shape(out)[0], -1])), axis=1)
