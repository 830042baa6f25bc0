"""Translations of the layers of mobile architectures (MobileNet, EfficientNet) for bounds.

Depthwise and separable convolutions (separable = depthwise, then a 1x1 convolution),
ZeroPadding2D, global max pooling (a max pool over the whole picture), ``Multiply``
(squeeze-and-excitation: pairwise products, numpy broadcasting) and the activations
that are products (``silu``/``swish`` = ``x * sigmoid(x)``, ``hard_silu``/``hard_swish``
= ``x * hard_sigmoid(x)``), which become a product node of ``x`` and the monotone
activation. Arithmetic written on symbolic tensors (``x + 3.0``, ``x * (1 / 6)``, as
MobileNetV3's hard sigmoid) is a ``keras.ops`` operation, not a layer: with a constant
it becomes an element-wise affine node (the constant rounded to float32 as Keras
does); of two tensors, ``add`` and ``multiply`` are the layers' ``Add`` and ``Multiply``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .graph import Builder, Translator, refuse
from .linear import Add, Conv2D, DepthwiseConv2D, Elementwise, Geometry, Pad2D, Reshape, geometry
from .nonlinear import MaxPool2D
from .translate import activate, as_float64, check_plain, product

__all__ = ["translators"]


def _spatial(b: Builder, layer: Any, x: int, kernel: tuple[int, ...]) -> tuple[Geometry, Geometry]:
    """The height and width geometry of a depthwise kernel of size ``kernel`` on node ``x``."""
    check_plain(layer)
    if layer.padding not in ("valid", "same"):
        raise refuse(layer, f"padding={layer.padding!r} is not supported (only 'valid' and 'same')")
    h, w, _ = b.nodes[x].shape
    gh = geometry(h, kernel[0], layer.strides[0], layer.dilation_rate[0], layer.padding)
    gw = geometry(w, kernel[1], layer.strides[1], layer.dilation_rate[1], layer.padding)
    return gh, gw


def _bias(layer: Any, size: int) -> np.ndarray:
    return as_float64(layer.bias) if layer.use_bias else np.zeros(size)


def _depthwise(b: Builder, layer: Any, ins: list[int], out: tuple[int, ...]) -> int:
    x = b.single(layer, ins)
    kernel = as_float64(layer.kernel)
    gh, gw = _spatial(b, layer, x, kernel.shape[:2])
    node = b.add(DepthwiseConv2D(kernel, _bias(layer, kernel.shape[2] * kernel.shape[3]), gh, gw), [x], out, layer)
    return activate(b, layer.activation, node, layer)


def _separable(b: Builder, layer: Any, ins: list[int], out: tuple[int, ...]) -> int:
    x = b.single(layer, ins)
    depth = as_float64(layer.depthwise_kernel)
    point = as_float64(layer.pointwise_kernel)
    gh, gw = _spatial(b, layer, x, depth.shape[:2])
    mid = (gh.out, gw.out, depth.shape[2] * depth.shape[3])
    node = b.add(DepthwiseConv2D(depth, np.zeros(mid[2]), gh, gw), [x], mid, layer)
    one_h, one_w = geometry(gh.out, 1, 1, 1, "valid"), geometry(gw.out, 1, 1, 1, "valid")
    node = b.add(Conv2D(point, _bias(layer, point.shape[3]), one_h, one_w), [node], out, layer)
    return activate(b, layer.activation, node, layer)


def _zero_pad(b: Builder, layer: Any, ins: list[int], out: tuple[int, ...]) -> int:
    x = b.single(layer, ins)
    check_plain(layer)
    (top, bottom), (left, right) = layer.padding
    return b.add(Pad2D(((int(top), int(bottom)), (int(left), int(right)))), [x], out, layer)


def _global_max(b: Builder, layer: Any, ins: list[int], out: tuple[int, ...]) -> int:
    x = b.single(layer, ins)
    check_plain(layer)
    h, w, c = b.nodes[x].shape
    node = b.add(MaxPool2D(geometry(h, h, 1, 1, "valid"), geometry(w, w, 1, 1, "valid")), [x], (1, 1, c), layer)
    return node if out == (1, 1, c) else b.add(Reshape((1, 1, c), out), [node], out, layer)


def _multiply(b: Builder, layer: Any, ins: list[int], out: tuple[int, ...]) -> int:
    node = ins[0]
    for other in ins[1:]:
        node = product(b, node, other, layer)
    if b.nodes[node].shape != out:
        raise refuse(layer, f"its product has shape {b.nodes[node].shape}, not its output shape {out}")
    return node


def _affine(b: Builder, op: Any, x: int, scale: Any, shift: Any, out: tuple[int, ...]) -> int:
    scale, shift = (np.broadcast_to(np.asarray(v, np.float64), out) for v in (scale, shift))
    return b.add(Elementwise(scale, shift, np.abs(shift)), [x], out, op)


def _arithmetic(kind: str) -> Translator:
    """The translator of the ``keras.ops`` operation ``kind`` (add, subtract, multiply, divide)."""

    def translate(b: Builder, op: Any, ins: list[int], out: tuple[int, ...]) -> int:
        from keras import KerasTensor

        args = b.node.arguments.args
        if len(args) != 2 or b.node.arguments.kwargs:
            raise refuse(op, f"it is called with {len(args)} positional and keyword arguments; two are supported")
        if all(isinstance(a, KerasTensor) for a in args):
            if kind == "add" and b.nodes[ins[0]].shape == b.nodes[ins[1]].shape == out:
                return b.add(Add(2), ins, out, op)
            if kind == "multiply":
                return product(b, ins[0], ins[1], op)
            raise refuse(op, f"{kind} of two tensors (shapes {[b.nodes[i].shape for i in ins]}) is not supported")
        first = isinstance(args[0], KerasTensor)
        c = np.asarray(np.asarray(args[1] if first else args[0], np.float32), np.float64)
        if kind == "divide" and not first:
            raise refuse(op, "dividing a constant by a tensor is not supported")
        scale, shift = {
            "add": (1.0, c),
            "subtract": ((1.0, -c) if first else (-1.0, c)),
            "multiply": (c, 0.0),
            "divide": (1.0 / c, 0.0),
        }[kind]
        return _affine(b, op, ins[0], scale, shift, out)

    return translate


def translators() -> dict[type, Translator]:
    """The translators of this module, by layer (or operation) class."""
    from keras import layers as L
    from keras.src.ops import numpy as ops

    arithmetic = {
        ops.Add: "add",
        ops.Subtract: "subtract",
        ops.Multiply: "multiply",
        ops.TrueDivide: "divide",
        ops.Divide: "divide",
    }
    return {
        L.DepthwiseConv2D: _depthwise,
        L.SeparableConv2D: _separable,
        L.ZeroPadding2D: _zero_pad,
        L.GlobalMaxPooling2D: _global_max,
        L.Multiply: _multiply,
    } | {cls: _arithmetic(kind) for cls, kind in arithmetic.items()}
