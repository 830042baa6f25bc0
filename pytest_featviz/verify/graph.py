"""The translated graph that bounds propagate through, and the builder that walks a Keras model into it.

Only the part of the model that the objective reads is translated: the builder walks
the calls that the wanted tensors depend on, in the order of the models package's walker
(:func:`pytest_featviz.models.topological_calls`), which also decides which call of a
layer called twice a layer name means (:func:`pytest_featviz.models.calls`: the earliest).
Nested models (a Functional or Sequential model used as a layer) are walked into: their
inputs are bound to the tensors of the call in the outer graph, and every tensor is
found through the nodes of the graph it belongs to, never through a layer's
``input``/``output`` (which belong to its first call, possibly in another graph). Each
layer is translated by the translator of its class (:mod:`.translate`, :mod:`.mobile`);
any other layer is refused with a ``ConfigurationError`` that names it and its class.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from ..errors import ConfigurationError
from ..models import graph_of, topological_calls
from .linear import LinearOp
from .nonlinear import Activation, MaxPool2D, Multiply

__all__ = [
    "Node",
    "Graph",
    "Op",
    "Builder",
    "Translator",
    "SUPPORTED",
    "IDENTITIES",
    "LOGITS_TARGET",
    "refuse",
    "output_shape",
]

LOGITS_TARGET = "__logits__"
IDENTITIES = (
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
"""Layers that are identities at inference (Keras layer class names)."""
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
    *IDENTITIES,
    "nested Functional/Sequential models of these",
    "keras.ops add/subtract/multiply/divide on a tensor and a constant (x + 3.0), or add/multiply of two tensors",
    "Softmax (as the last layer, for ClassLogit/ClassProbability)",
)
_UNIT = {"float16": 2.0**-11, "bfloat16": 2.0**-8, "float32": 2.0**-24, "float64": 2.0**-53}

Op: TypeAlias = LinearOp | Activation | MaxPool2D | Multiply
"""An operation of the translated graph: linear (:mod:`.linear`) or not (:mod:`.nonlinear`)."""


@dataclass(frozen=True)
class Node:
    """One tensor of the translated graph: the operation that makes it from ``inputs``."""

    op: Op | None  # None for the model's input (node 0)
    inputs: tuple[int, ...]
    shape: tuple[int, ...]
    layer: str


@dataclass(frozen=True)
class Graph:
    """Nodes in topological order (node 0 is the input); ``unit`` is the unit roundoff."""

    nodes: tuple[Node, ...]
    unit: float

    def op(self, n: int) -> Op:
        """The operation of node ``n`` (every node but the input, node 0, has one)."""
        op = self.nodes[n].op
        if op is None:
            raise ValueError(f"node {n} is the model's input: it has no operation")
        return op


def refuse(layer: Any, why: str) -> ConfigurationError:
    """The error for a layer that bounds cannot translate: its name, class, why, and what is supported."""
    return ConfigurationError(
        f"bounds cannot handle layer {layer.name!r} ({type(layer).__name__}): {why}. "
        f"Supported layers: {', '.join(SUPPORTED)}"
    )


def output_shape(tensor: Any, layer: Any) -> tuple[int, ...]:
    """The per-example shape of a Keras tensor that ``layer`` makes; refused unless fully known."""
    dims = tuple(tensor.shape[1:])
    if any(d is None for d in dims):
        raise refuse(layer, f"its output shape {dims} is not fully known")
    return tuple(int(d) for d in dims)


Translator: TypeAlias = Callable[["Builder", Any, list[int], tuple[int, ...]], int]
"""Translates one call of a layer: ``(builder, layer, input nodes, output shape) -> output node``."""


class Builder:
    """Translates the calls of a one-input Keras model into :class:`Node` s, as they are needed.

    ``memo`` maps the Keras tensors of one graph (the model's, or one call of a nested
    model's, see :meth:`nested`) to the nodes that hold them; ``node`` is the Keras node
    being translated (for operations whose constant arguments are not tensors).
    """

    def __init__(self, model: Any, translators: Mapping[type, Translator]) -> None:
        graph = _graph(model)
        if len(graph.inputs) != 1:
            raise ConfigurationError(f"bounds needs a model with one input; {model.name!r} has {len(graph.inputs)}")
        self.translators = translators
        source = graph.inputs[0]
        self.nodes: list[Node] = [Node(None, (), output_shape(source, model), "input")]
        self.memo: dict[int, int] = {id(source): 0}
        self.inner: dict[int, dict[int, int]] = {}  # per call of a nested model, its memo
        self.node: Any = None
        self.dtypes: set[str] = {str(source.dtype)}

    def add(self, op: Op, inputs: list[int], shape: tuple[int, ...], layer: Any) -> int:
        """Append the node ``op(inputs)`` made by ``layer``; its index."""
        self.nodes.append(Node(op, tuple(inputs), shape, layer.name))
        return len(self.nodes) - 1

    def tensors(self, model: Any, wanted: list[Any], memo: dict[int, int] | None = None) -> list[int]:
        """The nodes of the tensors ``wanted`` of ``model``'s graph, translating the calls they depend on.

        ``memo`` is the graph's (the model's own by default); what it holds already is reused.
        """
        memo = self.memo if memo is None else memo
        order = topological_calls(model, [t for t in wanted if id(t) not in memo])
        needed = {id(t) for t in wanted} | {id(t) for call in order for t in call.input_tensors}
        for call in order:
            outs = [(i, t) for i, t in enumerate(call.outputs) if id(t) in needed and id(t) not in memo]
            if not outs:
                continue
            op = call.operation
            ins = [memo[id(t)] for t in call.input_tensors]
            inner_graph = graph_of(op)
            if inner_graph is not None:  # a nested model: its own graph, its inputs bound to ``ins``
                inner = self.nested(op, call, ins)
                values = self.tensors(op, [inner_graph.outputs[i] for i, _ in outs], inner)
                memo.update((id(t), v) for (_, t), v in zip(outs, values))
                continue
            self.node = call
            for _, t in outs:
                memo[id(t)] = self.layer(op, ins, output_shape(t, op))
        return [memo[id(t)] for t in wanted]

    def nested(self, model: Any, call: Any, ins: list[int]) -> dict[int, int]:
        """The memo of one call (``call``) of a nested model: its inputs bound to ``ins``."""
        if id(call) not in self.inner:
            inputs = list(_graph(model).inputs)
            if len(inputs) != len(ins):
                raise refuse(model, f"it is called on {len(ins)} tensors but has {len(inputs)} inputs")
            self.inner[id(call)] = {id(t): i for t, i in zip(inputs, ins)}
        return self.inner[id(call)]

    def layer(self, layer: Any, ins: list[int], out_shape: tuple[int, ...]) -> int:
        """Translate one call of ``layer`` on the nodes ``ins``; the node of its output."""
        import keras

        self.dtypes.add(str(getattr(layer, "compute_dtype", "float32")))
        translate = self.translators.get(type(layer))
        if translate is None and not isinstance(layer, keras.layers.Layer):
            raise refuse(
                layer,
                "it is a keras.ops operation on a symbolic tensor, not a layer; of those only "
                "add, subtract, multiply and divide (by a constant) are supported",
            )
        if translate is None:
            raise refuse(layer, "it is not a supported layer")
        return translate(self, layer, ins, out_shape)

    def single(self, layer: Any, ins: list[int]) -> int:
        """The one input node of a one-input layer; refused otherwise."""
        if len(ins) != 1:
            raise refuse(layer, f"it is called on {len(ins)} tensors")
        return ins[0]

    def unit(self) -> float:
        """The unit roundoff of the least precise dtype seen (TensorFloat-32 when it is on)."""
        unit = max(_UNIT.get(d, 2.0**-24) for d in self.dtypes)
        return max(unit, 2.0**-11) if _tf32_active() else unit

    def outputs(self, model: Any) -> list[Any]:
        """The output tensors of ``model``'s own graph."""
        return list(_graph(model).outputs)

    def graph(self) -> Graph:
        """The graph translated so far."""
        return Graph(tuple(self.nodes), self.unit())


def _graph(model: Any) -> Any:
    """``model``'s own graph; refused when it has none (a subclassed model or an unbuilt Sequential)."""
    graph = graph_of(model)
    if graph is None:
        raise refuse(model, "it is a subclassed model or an unbuilt Sequential: it has no graph to translate")
    return graph


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
