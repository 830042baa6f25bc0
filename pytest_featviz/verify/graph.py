"""Translate a Keras model into a graph of numpy operations that bounds can be propagated through.

Only the part of the model that the objective reads is translated. Every layer on
that part must be one of the supported layers (see :data:`SUPPORTED`); any other
layer is refused with a ``ConfigurationError`` that names it and its class, never
skipped. Layer classes are matched exactly, so a subclass that overrides ``call``
is refused too. Activations fused into ``Dense``/``Conv2D`` become separate nodes.
Nested models (a Functional or Sequential model used as a layer) are walked into:
their inputs are bound to the tensors of the call in the outer graph, and every
tensor is found through the nodes of the graph it belongs to, never through a
layer's ``input``/``output`` (which belong to its first call).
Inference behaviour is used throughout (BatchNormalization's moving statistics and
its own epsilon; Dropout and noise layers are identities).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigurationError
from .linear import (
    Add,
    Concatenate,
    Conv2D,
    Dense,
    Elementwise,
    GlobalAvgPool2D,
    Reshape,
    avg_pool,
    geometry,
)
from .nonlinear import Activation, MaxPool2D

__all__ = ["Node", "Graph", "SUPPORTED", "LOGITS_TARGET"]

LOGITS_TARGET = "__logits__"
_IDENTITIES = (
    "Identity",
    "Dropout",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
    "GaussianDropout",
    "GaussianNoise",
    "AlphaDropout",
    "ActivityRegularization",
)
SUPPORTED = (
    "InputLayer",
    "Dense",
    "Conv2D",
    "Flatten",
    "Reshape",
    "BatchNormalization",
    "Rescaling",
    "Normalization",
    "Add",
    "Concatenate",
    "AveragePooling2D",
    "GlobalAveragePooling2D",
    "MaxPooling2D",
    "GlobalMaxPooling2D",
    "DepthwiseConv2D",
    "SeparableConv2D",
    "ZeroPadding2D",
    "Multiply",
    "Activation",
    "ReLU",
    "LeakyReLU",
    "ELU",
    *_IDENTITIES,
    "nested Functional/Sequential models of these",
    "keras.ops add/subtract/multiply/divide on a tensor and a constant (x + 3.0), or add/multiply of two tensors",
    "Softmax (as the last layer, for ClassLogit/ClassProbability)",
)
_UNIT = {"float16": 2.0**-11, "bfloat16": 2.0**-8, "float32": 2.0**-24, "float64": 2.0**-53}


@dataclass(frozen=True)
class Node:
    """One tensor of the translated graph: the operation that makes it from ``inputs``."""

    op: Any  # None for the model's input
    inputs: tuple[int, ...]
    shape: tuple[int, ...]
    layer: str


@dataclass(frozen=True)
class Graph:
    """Nodes in topological order (node 0 is the input); ``unit`` is the unit roundoff."""

    nodes: tuple[Node, ...]
    unit: float


def _refuse(layer: Any, why: str) -> ConfigurationError:
    return ConfigurationError(
        f"bounds cannot handle layer {layer.name!r} ({type(layer).__name__}): {why}. "
        f"Supported layers: {', '.join(SUPPORTED)}"
    )


def _np(value: Any) -> np.ndarray:
    """A weight as float64. ``Variable.numpy()``: ``convert_to_numpy`` of a TensorFlow variable
    calls ``np.array(copy=...)`` on an ``__array__`` without ``copy`` (NumPy 2 DeprecationWarning)."""
    import keras

    raw = value.numpy() if hasattr(value, "numpy") else keras.ops.convert_to_numpy(value)
    return np.asarray(raw, dtype=np.float64)


def _shape(tensor: Any, layer: Any) -> tuple[int, ...]:
    dims = tuple(tensor.shape[1:])
    if any(d is None for d in dims):
        raise _refuse(layer, f"its output shape {dims} is not fully known")
    return tuple(int(d) for d in dims)


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
    raise _refuse(layer, f"its activation {name!r} is not supported (supported: {supported}){hint}")


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


class _Builder:
    def __init__(self, model: Any):
        if len(model.inputs) != 1:
            raise ConfigurationError(f"bounds needs a model with one input; {model.name!r} has {len(model.inputs)}")
        self.model = model
        self.input = model.inputs[0]
        self.nodes: list[Node] = [Node(None, (), _shape(self.input, model), "input")]
        self.memo: dict[int, int] = {id(self.input): 0}
        self.inner: dict[int, dict[int, int]] = {}  # per call of a nested model, its memo
        self.node: Any = None  # the Keras node being translated
        self.dtypes: set[str] = {str(self.input.dtype)}

    def add(self, op: Any, inputs: list[int], shape: tuple[int, ...], layer: Any) -> int:
        self.nodes.append(Node(op, tuple(inputs), shape, layer.name))
        return len(self.nodes) - 1

    def tensor(self, root: Any, memo: dict[int, int] | None = None) -> int:
        """The node of a Keras tensor, translating what it depends on (iteratively).

        ``memo`` maps the tensors of one graph (the model's, or one call of a nested
        model's) to nodes; it defaults to the model's own.
        """
        memo = self.memo if memo is None else memo
        stack = [root]
        while stack:
            kt = stack[-1]
            if id(kt) in memo:
                stack.pop()
                continue
            op, node, index = self._producer(kt)
            missing = [t for t in node.input_tensors if id(t) not in memo]
            if missing:
                stack.extend(missing)
                continue
            stack.pop()
            ins = [memo[id(t)] for t in node.input_tensors]
            if _is_model(op):
                memo[id(kt)] = self.tensor(op.outputs[index], self.nested(op, node, ins))
            else:
                self.node = node  # for operations whose constant arguments are not tensors
                memo[id(kt)] = self.layer(op, ins, _shape(kt, op))
        return memo[id(root)]

    def nested(self, model: Any, node: Any, ins: list[int]) -> dict[int, int]:
        """The memo of one call (``node``) of a nested model: its inputs bound to ``ins``."""
        if id(node) not in self.inner:
            inputs = list(model.inputs)
            if len(inputs) != len(ins):
                raise _refuse(model, f"it is called on {len(ins)} tensors but has {len(inputs)} inputs")
            self.inner[id(node)] = {id(t): i for t, i in zip(inputs, ins)}
        return self.inner[id(node)]

    def _producer(self, kt: Any) -> tuple[Any, Any, int]:
        import keras

        hist = getattr(kt, "_keras_history", None)
        if hist is None or hist.operation is None:
            raise ConfigurationError(f"the model {self.model.name!r} has a tensor {kt!r} with no history")
        layer = hist.operation
        if isinstance(layer, keras.layers.InputLayer):
            raise _refuse(layer, "it is a second input of the model; bounds support one input")
        return layer, layer._inbound_nodes[hist.node_index], hist.tensor_index

    def layer(self, layer: Any, ins: list[int], out_shape: tuple[int, ...]) -> int:
        self.dtypes.add(str(getattr(layer, "compute_dtype", "float32")))
        import keras

        translate = _translators().get(type(layer))
        if translate is None and not isinstance(layer, keras.layers.Layer):
            raise _refuse(
                layer,
                "it is a keras.ops operation on a symbolic tensor, not a layer; of those only "
                "add, subtract, multiply and divide (by a constant) are supported",
            )
        if translate is None:
            raise _refuse(layer, "it is not a supported layer")
        return translate(self, layer, ins, out_shape)

    def _single(self, layer: Any, ins: list[int]) -> int:
        if len(ins) != 1:
            raise _refuse(layer, f"it is called on {len(ins)} tensors")
        return ins[0]

    def activate(self, fn: Any, node: int, layer: Any) -> int:
        import keras

        from .mobile import PRODUCT_ACTIVATIONS, self_product

        for name, inner in PRODUCT_ACTIVATIONS.items():
            if fn is not None and fn is keras.activations.get(name):
                return self_product(self, node, inner, layer)
        op = _activation_op(fn, layer)
        if op is None:
            return node
        return self.add(op, [node], self.nodes[node].shape, layer)

    def unit(self) -> float:
        unit = max(_UNIT.get(d, 2.0**-24) for d in self.dtypes)
        return max(unit, 2.0**-11) if _tf32_active() else unit


def _tf32_active() -> bool:
    """TensorFloat-32 (10-bit mantissas in GPU matmuls/convolutions) is on and a GPU is visible."""
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return False
    try:
        return (
            bool(tf.config.list_physical_devices("GPU")) and tf.config.experimental.tensor_float_32_execution_enabled()
        )
    except Exception:  # an unusual TensorFlow build: assume the worst
        return True


def _check_plain(layer: Any) -> None:
    if getattr(layer, "lora_enabled", False) or getattr(layer, "quantization_mode", None):
        raise _refuse(layer, "LoRA or quantized weights are not supported")
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise _refuse(layer, "only data_format='channels_last' is supported")


def _dense(b: _Builder, layer: Any, ins: list[int], out: tuple[int, ...], activate: bool = True) -> int:
    _check_plain(layer)
    x = b._single(layer, ins)
    weights = layer.get_weights()
    kernel = np.asarray(weights[0], np.float64)
    bias = np.asarray(weights[1], np.float64) if layer.use_bias else np.zeros(kernel.shape[1])
    node = b.add(Dense(kernel, bias), [x], out, layer)
    return b.activate(layer.activation, node, layer) if activate else node


def _conv(b: _Builder, layer: Any, ins: list[int], out: tuple[int, ...]) -> int:
    _check_plain(layer)
    x = b._single(layer, ins)
    if layer.groups != 1 or layer.padding not in ("valid", "same"):
        raise _refuse(layer, f"groups={layer.groups}, padding={layer.padding!r}: only groups=1 and 'valid'/'same'")
    weights = layer.get_weights()
    kernel = np.asarray(weights[0], np.float64)
    bias = np.asarray(weights[1], np.float64) if layer.use_bias else np.zeros(kernel.shape[3])
    h, w, _ = b.nodes[x].shape
    gh = geometry(h, kernel.shape[0], layer.strides[0], layer.dilation_rate[0], layer.padding)
    gw = geometry(w, kernel.shape[1], layer.strides[1], layer.dilation_rate[1], layer.padding)
    node = b.add(Conv2D(kernel, bias, gh, gw), [x], out, layer)
    return b.activate(layer.activation, node, layer)


def _channel_axis(layer: Any, axis: Any, rank: int) -> int:
    axis = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
    if not isinstance(axis, (int, np.integer)) or not (-rank - 1 <= axis <= rank) or axis % (rank + 1) == 0:
        raise _refuse(layer, f"axis={axis!r} is not a single non-batch axis")
    return int(axis % (rank + 1)) - 1


def _per_axis(values: np.ndarray, axis: int, shape: tuple[int, ...]) -> np.ndarray:
    view = [1] * len(shape)
    view[axis] = shape[axis]
    return np.broadcast_to(values.reshape(view), shape)


def _batchnorm(b: _Builder, layer: Any, ins: list[int], out: tuple[int, ...]) -> int:
    x = b._single(layer, ins)
    axis = _channel_axis(layer, layer.axis, len(out))
    mean, var = _np(layer.moving_mean), _np(layer.moving_variance)
    gamma = _np(layer.gamma) if layer.scale else np.ones_like(mean)
    beta = _np(layer.beta) if layer.center else np.zeros_like(mean)
    scale = gamma / np.sqrt(var + float(layer.epsilon))
    shift = beta - mean * scale
    mag = np.abs(beta) + np.abs(mean * scale)
    op = Elementwise(*(_per_axis(v, axis, out) for v in (scale, shift, mag)))
    return b.add(op, [x], out, layer)


def _rescaling(b: _Builder, layer: Any, ins: list[int], out: tuple[int, ...]) -> int:
    x = b._single(layer, ins)
    scale = np.asarray(layer.scale, np.float32).astype(np.float64)
    offset = np.asarray(layer.offset, np.float32).astype(np.float64)
    shape_of = lambda v: np.broadcast_to(v, out)  # noqa: E731
    op = Elementwise(shape_of(scale), shape_of(offset), shape_of(np.abs(offset)))
    return b.add(op, [x], out, layer)


def _normalization(b: _Builder, layer: Any, ins: list[int], out: tuple[int, ...]) -> int:
    import keras

    x = b._single(layer, ins)
    if layer.mean is None:
        raise _refuse(layer, "it has not been adapted or built (no mean/variance)")
    mean, var = _np(layer.mean), _np(layer.variance)
    mean, var = (v.reshape(v.shape[1:]) if v.ndim == len(out) + 1 else v for v in (mean, var))
    std = np.maximum(np.sqrt(var), keras.backend.epsilon())
    if layer.invert:
        scale, shift, mag = std, mean, np.abs(mean)
    else:
        scale, shift, mag = 1.0 / std, -mean / std, np.abs(mean / std)
    op = Elementwise(*(np.broadcast_to(v, out) for v in (scale, shift, mag)))
    return b.add(op, [x], out, layer)


def _reshape(b: _Builder, layer: Any, ins: list[int], out: tuple[int, ...]) -> int:
    x = b._single(layer, ins)
    _check_plain(layer)
    return b.add(Reshape(b.nodes[x].shape, out), [x], out, layer)


def _activation_layer(b: _Builder, layer: Any, ins: list[int], out: tuple[int, ...]) -> int:
    return b.activate(layer.activation, b._single(layer, ins), layer)


def _relu_layer(b: _Builder, layer: Any, ins: list[int], out: tuple[int, ...]) -> int:
    x = b._single(layer, ins)
    slope = float(getattr(layer, "negative_slope", 0.0))
    cap = getattr(layer, "max_value", None)
    cap = np.inf if cap is None else float(cap)
    threshold = float(getattr(layer, "threshold", 0.0))
    if threshold != 0.0 or not 0.0 <= slope <= 1.0 or cap <= 0:
        raise _refuse(
            layer,
            f"only threshold=0, 0 <= negative_slope <= 1 and max_value > 0 are supported "
            f"(got threshold={threshold}, negative_slope={slope}, max_value={cap})",
        )
    name = "relu" if slope == 0.0 and cap == np.inf else ("relu6" if np.isfinite(cap) else "leaky_relu")
    return b.add(Activation(name, slope, cap), [x], out, layer)


def _elu_layer(b: _Builder, layer: Any, ins: list[int], out: tuple[int, ...]) -> int:
    x = b._single(layer, ins)
    if not float(layer.alpha) > 0:
        raise _refuse(layer, f"alpha={layer.alpha} makes it non-monotone; alpha > 0 is supported")
    return b.add(Activation("elu", float(layer.alpha)), [x], out, layer)


def _add(b: _Builder, layer: Any, ins: list[int], out: tuple[int, ...]) -> int:
    if any(b.nodes[i].shape != out for i in ins):
        raise _refuse(layer, "its inputs have different shapes (broadcasting is not supported)")
    return b.add(Add(len(ins)), ins, out, layer)


def _concatenate(b: _Builder, layer: Any, ins: list[int], out: tuple[int, ...]) -> int:
    axis = _channel_axis(layer, layer.axis, len(out))
    sizes = tuple(b.nodes[i].shape[axis] for i in ins)
    return b.add(Concatenate(axis, sizes), ins, out, layer)


def _pool_geometry(b: _Builder, layer: Any, x: int) -> tuple[Any, Any]:
    _check_plain(layer)
    if layer.padding not in ("valid", "same"):
        raise _refuse(layer, f"padding={layer.padding!r} is not supported")
    h, w, _ = b.nodes[x].shape
    return ((h, w), tuple(layer.pool_size), tuple(layer.strides), layer.padding)


def _avg_pool(b: _Builder, layer: Any, ins: list[int], out: tuple[int, ...]) -> int:
    x = b._single(layer, ins)
    return b.add(avg_pool(*_pool_geometry(b, layer, x)), [x], out, layer)


def _max_pool(b: _Builder, layer: Any, ins: list[int], out: tuple[int, ...]) -> int:
    x = b._single(layer, ins)
    size, pool, strides, padding = _pool_geometry(b, layer, x)
    gh = geometry(size[0], pool[0], strides[0], 1, padding)
    gw = geometry(size[1], pool[1], strides[1], 1, padding)
    return b.add(MaxPool2D(gh, gw), [x], out, layer)


def _global_avg(b: _Builder, layer: Any, ins: list[int], out: tuple[int, ...]) -> int:
    x = b._single(layer, ins)
    _check_plain(layer)
    return b.add(GlobalAvgPool2D(b.nodes[x].shape, bool(layer.keepdims)), [x], out, layer)


def _identity(b: _Builder, layer: Any, ins: list[int], out: tuple[int, ...]) -> int:
    return b._single(layer, ins)


@functools.lru_cache(maxsize=1)
def _translators() -> dict[type, Callable[..., int]]:
    from keras import layers as L

    from .mobile import translators

    identities = {getattr(L, n): _identity for n in _IDENTITIES if hasattr(L, n)}
    return (
        identities
        | translators()
        | {
            L.Dense: _dense,
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
    )


def _is_model(op: Any) -> bool:
    import keras

    return isinstance(op, keras.Model)
