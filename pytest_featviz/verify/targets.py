"""Find what an objective reads in a model's graph and translate it (see :mod:`.graph`).

Targets are the logits or layer paths: a layer name, or '/'-separated nested model
names then the layer name (``'base/block_se'``). A layer called more than once in a
graph means its earliest call there (:func:`pytest_featviz.models.calls`), as in the
feature extractor that the search runs.
"""

from __future__ import annotations

import functools
from typing import Any

from ..errors import ConfigurationError
from ..models import calls, get_layer, graph_of, logits_mode
from . import mobile, translate
from .graph import LOGITS_TARGET, Builder, Graph, Translator, output_shape, refuse

__all__ = ["build_graph"]


@functools.lru_cache(maxsize=1)
def _translators() -> dict[type, Translator]:
    return translate.translators() | mobile.translators()


def _call_of(model: Any, op: Any) -> Any:
    """The node of ``op`` in ``model``'s own graph that its name means: its earliest call there."""
    found = calls(model, op)
    if not found:
        raise refuse(op, f"it is not called in the graph of {model.name!r}")
    return found[0]


def _layer_node(b: Builder, model: Any, path: str, memo: dict[int, int] | None = None) -> int:
    """The node of the output of the layer at ``path`` ('/'-separated nested model names, then the layer)."""
    head, _, rest = path.partition("/")
    if not rest:
        call = _call_of(model, get_layer(model, head))
        return b.tensors(model, [call.outputs[0]], memo)[0]
    inner = get_layer(model, head)
    if graph_of(inner) is None:
        raise ConfigurationError(f"layer path {path!r}: {head!r} is a {type(inner).__name__}, not a nested model")
    call = _call_of(model, inner)
    ins = b.tensors(model, list(call.input_tensors), memo)
    return _layer_node(b, inner, rest, b.nested(inner, call, ins))


def build_graph(model: Any, targets: list[str]) -> tuple[Graph, dict[str, int]]:
    """Translate what ``targets`` (layer names or paths, or ``LOGITS_TARGET``) depend on.

    Returns the graph and the node of each target.
    """
    b = Builder(model, _translators())
    found = {}
    for target in targets:
        found[target] = _logits_node(b, model) if target == LOGITS_TARGET else _layer_node(b, model, target)
    return b.graph(), found


def _logits_node(b: Builder, model: Any) -> int:
    mode = logits_mode(model)
    if mode == "output":
        return b.tensors(model, b.outputs(model)[:1])[0]
    last = _call_of(model, model.layers[-1])
    x = b.tensors(model, [last.input_tensors[0]])[0]
    if mode == "input":
        return x
    return translate.dense(b, last.operation, [x], output_shape(last.outputs[0], last.operation), with_activation=False)
