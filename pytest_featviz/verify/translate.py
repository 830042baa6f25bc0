"""Translators of Keras layers into the operations of the bounds graph (:mod:`.graph`), by layer class.

Layer classes are matched exactly, so a subclass that overrides ``call`` is refused.
Activations fused into ``Dense``/``Conv2D`` become separate nodes; the activations that
are products (``silu``, ``hard_silu``) become a product node (:func:`self_product`).
Inference behaviour is used throughout (BatchNormalization's moving statistics and its
own epsilon; Dropout and noise layers are identities). The translators of mobile
architectures' layers are in :mod:`.mobile`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .graph import IDENTITIES, Builder, Translator, refuse
from .linear import (
    Add,
    Concatenate,
    Conv2D,
    Dense,
    Elementwise,
    Reshape,
    geometry,
)
from .nonlinear import Activation, MaxPool2D, Multiply
from .pooling import GlobalAvgPool2D, avg_pool

__all__ = ["translators", "activate", "product", "self_product", "check_plain", "as_float64", "PRODUCT_ACTIVATIONS"]

PRODUCT_ACTIVATIONS = {"silu": "sigmoid", "hard_silu": "hard_sigmoid"}
"""Activations ``x * g(x)`` (non-monotone), by the name of ``g``."""


def as_float64(value: Any) -> np.ndarray:
    """A weight as float64. ``Variable.numpy()``: ``convert_to_numpy`` of a TensorFlow variable
    calls ``np.array(copy=...)`` on an ``__array__`` without ``copy`` (NumPy 2 DeprecationWarning)."""
    import keras

    raw = value.numpy() if hasattr(value, "numpy") else keras.ops.convert_to_numpy(value)
    return np.asarray(raw, dtype=np.float64)


def _activation_op(fn: Any, layer: Any) -> Activation | None:
    """The op of a Keras activation function; ``None`` for 'linear'."""
    import keras

    get = keras.activations.get
    if fn is None or fn is get("linear"):
        return None
    for name, op in _ACTIVATION_TABLE.items():
        if fn is get(name):
            return op
    name = getattr(fn, "__name__", repr(fn))
    hint = "; ClassLogit and ClassProbability read the logits before a final softmax" if name == "softmax" else ""
    supported = ", ".join(["linear", *_ACTIVATION_TABLE, "silu", "hard_silu"])
    raise refuse(layer, f"its activation {name!r} is not supported (supported: {supported}){hint}")


_ACTIVATION_TABLE = {
    "relu": Activation("relu"),
    "relu6": Activation("relu6", 0.0, 6.0),
    "leaky_relu": Activation("leaky_relu", 0.2),
    "sigmoid": Activation("sigmoid"),
    "hard_sigmoid": Activation("hard_sigmoid"),
    "tanh": Activation("tanh"),
    "elu": Activation("elu", 1.0),
    "softplus": Activation("softplus"),
}


def product(b: Builder, x: int, y: int, layer: Any) -> int:
    """The node ``x * y`` (broadcast)."""
    sx, sy = b.nodes[x].shape, b.nodes[y].shape
    try:
        out = tuple(int(d) for d in np.broadcast_shapes(sx, sy))
    except ValueError:
        raise refuse(layer, f"its inputs' shapes {sx} and {sy} do not broadcast") from None
    return b.add(Multiply((sx, sy), out), [x, y], out, layer)


def self_product(b: Builder, x: int, inner: str, layer: Any) -> int:
    """``x * g(x)`` for the monotone activation ``g`` called ``inner``."""
    g = b.add(Activation(inner), [x], b.nodes[x].shape, layer)
    return product(b, x, g, layer)


def activate(b: Builder, fn: Any, node: int, layer: Any) -> int:
    """The node of the Keras activation function ``fn`` applied to ``node`` (``node`` itself for 'linear')."""
    import keras

    for name, inner in PRODUCT_ACTIVATIONS.items():
        if fn is not None and fn is keras.activations.get(name):
            return self_product(b, node, inner, layer)
    op = _activation_op(fn, layer)
    if op is None:
        return node
    return b.add(op, [node], b.nodes[node].shape, layer)


def check_plain(layer: Any) -> None:
    """Refuse LoRA, quantized and channels-first layers."""
    if getattr(layer, "lora_enabled", False) or getattr(layer, "quantization_mode", None):
        raise refuse(layer, "LoRA or quantized weights are not supported")
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise refuse(layer, "only data_format='channels_last' is supported")


def dense(b: Builder, layer: Any, ins: list[int], out: tuple[int, ...], with_activation: bool = True) -> int:
    """A Dense layer; with ``with_activation``, its activation too (a separate node)."""
    check_plain(layer)
    x = b.single(layer, ins)
    weights = layer.get_weights()
    kernel = np.asarray(weights[0], np.float64)
    bias = np.asarray(weights[1], np.float64) if layer.use_bias else np.zeros(kernel.shape[1])
    node = b.add(Dense(kernel, bias), [x], out, layer)
    return activate(b, layer.activation, node, layer) if with_activation else node


def _conv(b: Builder, layer: Any, ins: list[int], out: tuple[int, ...]) -> int:
    check_plain(layer)
    x = b.single(layer, ins)
    if layer.groups != 1 or layer.padding not in ("valid", "same"):
        raise refuse(layer, f"groups={layer.groups}, padding={layer.padding!r}: only groups=1 and 'valid'/'same'")
    weights = layer.get_weights()
    kernel = np.asarray(weights[0], np.float64)
    bias = np.asarray(weights[1], np.float64) if layer.use_bias else np.zeros(kernel.shape[3])
    h, w, _ = b.nodes[x].shape
    gh = geometry(h, kernel.shape[0], layer.strides[0], layer.dilation_rate[0], layer.padding)
    gw = geometry(w, kernel.shape[1], layer.strides[1], layer.dilation_rate[1], layer.padding)
    node = b.add(Conv2D(kernel, bias, gh, gw), [x], out, layer)
    return activate(b, layer.activation, node, layer)


def _channel_axis(layer: Any, axis: Any, rank: int) -> int:
    axis = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
    if not isinstance(axis, (int, np.integer)) or not (-rank - 1 <= axis <= rank) or axis % (rank + 1) == 0:
        raise refuse(layer, f"axis={axis!r} is not a single non-batch axis")
    return int(axis % (rank + 1)) - 1


def _per_axis(values: np.ndarray, axis: int, shape: tuple[int, ...]) -> np.ndarray:
    view = [1] * len(shape)
    view[axis] = shape[axis]
    return np.broadcast_to(values.reshape(view), shape)


def _batchnorm(b: Builder, layer: Any, ins: list[int], out: tuple[int, ...]) -> int:
    x = b.single(layer, ins)
    axis = _channel_axis(layer, layer.axis, len(out))
    mean, var = as_float64(layer.moving_mean), as_float64(layer.moving_variance)
    gamma = as_float64(layer.gamma) if layer.scale else np.ones_like(mean)
    beta = as_float64(layer.beta) if layer.center else np.zeros_like(mean)
    scale = gamma / np.sqrt(var + float(layer.epsilon))
    shift = beta - mean * scale
    mag = np.abs(beta) + np.abs(mean * scale)
    op = Elementwise(*(_per_axis(v, axis, out) for v in (scale, shift, mag)))
    return b.add(op, [x], out, layer)


def _rescaling(b: Builder, layer: Any, ins: list[int], out: tuple[int, ...]) -> int:
    x = b.single(layer, ins)
    scale = np.asarray(layer.scale, np.float32).astype(np.float64)
    offset = np.asarray(layer.offset, np.float32).astype(np.float64)
    shape_of = lambda v: np.broadcast_to(v, out)  # noqa: E731
    op = Elementwise(shape_of(scale), shape_of(offset), shape_of(np.abs(offset)))
    return b.add(op, [x], out, layer)


def _normalization(b: Builder, layer: Any, ins: list[int], out: tuple[int, ...]) -> int:
    import keras

    x = b.single(layer, ins)
    if layer.mean is None:
        raise refuse(layer, "it has not been adapted or built (no mean/variance)")
    mean, var = as_float64(layer.mean), as_float64(layer.variance)
    mean, var = (v.reshape(v.shape[1:]) if v.ndim == len(out) + 1 else v for v in (mean, var))
    std = np.maximum(np.sqrt(var), keras.backend.epsilon())
    if layer.invert:
        scale, shift, mag = std, mean, np.abs(mean)
    else:
        scale, shift, mag = 1.0 / std, -mean / std, np.abs(mean / std)
    op = Elementwise(*(np.broadcast_to(v, out) for v in (scale, shift, mag)))
    return b.add(op, [x], out, layer)


def _reshape(b: Builder, layer: Any, ins: list[int], out: tuple[int, ...]) -> int:
    x = b.single(layer, ins)
    check_plain(layer)
    return b.add(Reshape(b.nodes[x].shape, out), [x], out, layer)


def _activation_layer(b: Builder, layer: Any, ins: list[int], out: tuple[int, ...]) -> int:
    return activate(b, layer.activation, b.single(layer, ins), layer)


def _relu_layer(b: Builder, layer: Any, ins: list[int], out: tuple[int, ...]) -> int:
    x = b.single(layer, ins)
    slope = float(getattr(layer, "negative_slope", 0.0))
    cap = getattr(layer, "max_value", None)
    cap = np.inf if cap is None else float(cap)
    threshold = float(getattr(layer, "threshold", 0.0))
    if threshold != 0.0 or not 0.0 <= slope <= 1.0 or cap <= 0:
        raise refuse(
            layer,
            f"only threshold=0, 0 <= negative_slope <= 1 and max_value > 0 are supported "
            f"(got threshold={threshold}, negative_slope={slope}, max_value={cap})",
        )
    name = "relu" if slope == 0.0 and cap == np.inf else ("relu6" if np.isfinite(cap) else "leaky_relu")
    return b.add(Activation(name, slope, cap), [x], out, layer)


def _elu_layer(b: Builder, layer: Any, ins: list[int], out: tuple[int, ...]) -> int:
    x = b.single(layer, ins)
    if not float(layer.alpha) > 0:
        raise refuse(layer, f"alpha={layer.alpha} makes it non-monotone; alpha > 0 is supported")
    return b.add(Activation("elu", float(layer.alpha)), [x], out, layer)


def _add(b: Builder, layer: Any, ins: list[int], out: tuple[int, ...]) -> int:
    if any(b.nodes[i].shape != out for i in ins):
        raise refuse(layer, "its inputs have different shapes (broadcasting is not supported)")
    return b.add(Add(len(ins)), ins, out, layer)


def _concatenate(b: Builder, layer: Any, ins: list[int], out: tuple[int, ...]) -> int:
    axis = _channel_axis(layer, layer.axis, len(out))
    sizes = tuple(b.nodes[i].shape[axis] for i in ins)
    return b.add(Concatenate(axis, sizes), ins, out, layer)


def _pool_geometry(b: Builder, layer: Any, x: int) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int], str]:
    """``(input size, pool size, strides, padding)`` of a 2-D pooling layer."""
    check_plain(layer)
    if layer.padding not in ("valid", "same"):
        raise refuse(layer, f"padding={layer.padding!r} is not supported")
    h, w, _ = b.nodes[x].shape
    pool, strides = layer.pool_size, layer.strides
    return (h, w), (int(pool[0]), int(pool[1])), (int(strides[0]), int(strides[1])), str(layer.padding)


def _avg_pool(b: Builder, layer: Any, ins: list[int], out: tuple[int, ...]) -> int:
    x = b.single(layer, ins)
    return b.add(avg_pool(*_pool_geometry(b, layer, x)), [x], out, layer)


def _max_pool(b: Builder, layer: Any, ins: list[int], out: tuple[int, ...]) -> int:
    x = b.single(layer, ins)
    size, pool, strides, padding = _pool_geometry(b, layer, x)
    gh = geometry(size[0], pool[0], strides[0], 1, padding)
    gw = geometry(size[1], pool[1], strides[1], 1, padding)
    return b.add(MaxPool2D(gh, gw), [x], out, layer)


def _global_avg(b: Builder, layer: Any, ins: list[int], out: tuple[int, ...]) -> int:
    x = b.single(layer, ins)
    check_plain(layer)
    h, w, c = b.nodes[x].shape
    return b.add(GlobalAvgPool2D((h, w, c), bool(layer.keepdims)), [x], out, layer)


def _identity(b: Builder, layer: Any, ins: list[int], out: tuple[int, ...]) -> int:
    return b.single(layer, ins)


def translators() -> dict[type, Translator]:
    """The translators of this module, by layer class."""
    from keras import layers as L

    identities: dict[type, Translator] = {getattr(L, n): _identity for n in IDENTITIES if hasattr(L, n)}
    return identities | {
        L.Dense: dense,
        L.Conv2D: _conv,
        L.BatchNormalization: _batchnorm,
        L.Rescaling: _rescaling,
        L.Normalization: _normalization,
        L.Flatten: _reshape,
        L.Reshape: _reshape,
        L.Activation: _activation_layer,
        L.ReLU: _relu_layer,
        L.LeakyReLU: _relu_layer,
        L.ELU: _elu_layer,
        L.Add: _add,
        L.Concatenate: _concatenate,
        L.AveragePooling2D: _avg_pool,
        L.MaxPooling2D: _max_pool,
        L.GlobalAveragePooling2D: _global_avg,
    }
