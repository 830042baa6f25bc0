"""Find what an objective reads in a model's graph and translate it (see :mod:`._bounds_graph`).

Targets are the logits or layer paths: a layer name, or '/'-separated nested model
names then the layer name (``'base/block_se'``). Every tensor is found through the
nodes of the graph it belongs to (the model's own ``_nodes_by_depth``, or one call of
a nested model), never through a layer's ``input``/``output``, which belong to the
layer's first call, possibly in another graph.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigurationError
from ..models import calls, get_layer, logits_mode
from .graph import LOGITS_TARGET, Graph, _Builder, _dense, _is_model, _refuse, _shape

__all__ = ["build_graph"]


def _output_of(model: Any, op: Any) -> Any:
    """The node of ``op`` in ``model``'s own graph (not the op's first call elsewhere); of
    several calls in the graph, the earliest, as Keras' ``layer.output``."""
    found = calls(model, op)
    if found is None:
        raise _refuse(model, "it is a subclassed model or an unbuilt Sequential: it has no graph to translate")
    if not found:
        raise _refuse(op, f"it is not called in the graph of {model.name!r}")
    return found[0]


def _layer_node(b: _Builder, model: Any, path: str, memo: dict[int, int] | None = None) -> int:
    """The node of the output of the layer at ``path`` ('/'-separated nested model names, then the layer)."""
    head, _, rest = path.partition("/")
    if not rest:
        node = _output_of(model, get_layer(model, head))
        return b.tensor(node.outputs[0], memo)
    inner = get_layer(model, head)
    if not _is_model(inner):
        raise ConfigurationError(f"layer path {path!r}: {head!r} is a {type(inner).__name__}, not a nested model")
    node = _output_of(model, inner)
    ins = [b.tensor(t, memo) for t in node.input_tensors]
    return _layer_node(b, inner, rest, b.nested(inner, node, ins))


def build_graph(model: Any, targets: list[str]) -> tuple[Graph, dict[str, int]]:
    """Translate what ``targets`` (layer names or paths, or ``LOGITS_TARGET``) depend on.

    Returns the graph and the node of each target.
    """
    b = _Builder(model)
    found = {}
    for target in targets:
        found[target] = _logits_node(b, model) if target == LOGITS_TARGET else _layer_node(b, model, target)
    return Graph(tuple(b.nodes), b.unit()), found


def _logits_node(b: _Builder, model: Any) -> int:
    mode = logits_mode(model)
    if mode == "output":
        return b.tensor(model.outputs[0])
    last = _output_of(model, model.layers[-1])
    x = b.tensor(last.input_tensors[0])
    if mode == "input":
        return x
    return _dense(b, last.operation, [x], _shape(last.outputs[0], last.operation), activate=False)
