"""Walking a model's own functional graph (used by ``models`` and ``verify``).

A layer may belong to several graphs: a base model used as a layer of a transfer-learning
model, or layers re-called on new tensors (``x = layer(x)`` for each layer of another
model). ``layer.output`` is the output of the layer's *first* call, which may belong to
another graph, so nothing here reads it. Instead :func:`run` evaluates the operations of
this model's own graph (its ``_nodes_by_depth``) on the given tensors, in topological
order (:func:`topological_calls`, which ``fv.bounds`` translates in the same order),
recursing into nested Functional and Sequential models where a layer inside them is
wanted. A layer inside a nested model is named by its path, ``"outer/inner"`` (any depth);
a layer called more than once in a graph means its earliest call there (:func:`calls`).
TensorFlow and Keras are imported inside the functions, never at module import.

Examples
--------
>>> import keras, numpy as np
>>> base = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")], name="base")
>>> model = keras.Sequential([keras.Input((3,)), base, keras.layers.Dense(1, name="top")])
>>> [path for path, _, _ in entries(model)]
['base', 'base/d', 'top']
>>> outputs, found = run(model, [np.ones((1, 3), "float32")], {"base/d"})
>>> found["base/d"][1].shape, outputs[0].shape
(TensorShape([1, 2]), TensorShape([1, 1]))
"""

from __future__ import annotations

from typing import Any

SEP = "/"


def graph_of(model: Any) -> Any | None:
    """The functional graph that runs ``model``: itself, a built Sequential's inner one, or ``None``."""
    if hasattr(model, "_nodes_by_depth") and getattr(model, "inputs", None):
        return model
    inner = getattr(model, "_functional", None)
    return inner if inner is not None and hasattr(inner, "_nodes_by_depth") else None


def _call_index(op: Any, node: Any) -> int:
    """Where ``node`` stands among the calls of ``op`` (Keras' ``_inbound_nodes``, in call order)."""
    return next(i for i, call in enumerate(op._inbound_nodes) if call is node)


def calls(model: Any, op: Any) -> list[Any] | None:
    """The nodes that call ``op`` in ``model``'s own graph, earliest call first; ``None`` without a graph.

    The earliest call is the one a layer name means everywhere (the feature extractor,
    :func:`entries`, ``fv.bounds``), as Keras' ``layer.output`` when the layer is called
    only in this graph; a subclassed or unbuilt model has no graph (``None``).

    Examples
    --------
    >>> import keras
    >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])
    >>> [node.operation.name for node in calls(m, m.layers[0])]
    ['d']
    """
    graph = graph_of(model)
    return None if graph is None else _calls_by_op(graph).get(id(op), [])


def _calls_by_op(graph: Any) -> dict[int, list[Any]]:
    """Every operation's calls in this graph (an input layer: its input node), by id, earliest first."""
    found: dict[int, list[Any]] = {}
    for nodes in graph._nodes_by_depth.values():
        for node in nodes:
            if node.operation is not None:
                found.setdefault(id(node.operation), []).append(node)
    for nodes in found.values():
        nodes.sort(key=lambda node: _call_index(node.operation, node))
    return found


def topological_calls(model: Any, outputs: list[Any] | None = None) -> list[Any]:
    """The calls (Keras nodes) of ``model``'s own graph in topological order, inputs first.

    Input nodes are left out. With ``outputs`` (tensors of this graph) only the calls
    that they depend on are listed. A node's ``input_tensors`` are the outputs of earlier
    nodes in the list or the graph's inputs, so walking the list in order evaluates (or
    translates) the graph; a model without a graph (subclassed, unbuilt) has no calls.

    Examples
    --------
    >>> import keras
    >>> inp = keras.Input((3,))
    >>> a = keras.layers.Dense(2, name="a")(inp)
    >>> m = keras.Model(inp, [keras.layers.Dense(1, name="b")(a), keras.layers.Dense(1, name="c")(inp)])
    >>> [node.operation.name for node in topological_calls(m)]
    ['a', 'c', 'b']
    >>> [node.operation.name for node in topological_calls(m, [m.outputs[0]])]
    ['a', 'b']
    """
    graph = graph_of(model)
    if graph is None:
        return []
    by_depth = graph._nodes_by_depth
    order = [node for depth in sorted(by_depth, reverse=True) for node in by_depth[depth]]
    order = [node for node in order if node.operation is not None and not node.is_input]
    if outputs is None:
        return order
    producer = {id(t): node for node in order for t in node.outputs}
    needed: set[int] = set()
    stack = [producer[id(t)] for t in outputs if id(t) in producer]
    while stack:
        node = stack.pop()
        if id(node) not in needed:
            needed.add(id(node))
            stack.extend(producer[id(t)] for t in node.input_tensors if id(t) in producer)
    return [node for node in order if id(node) in needed]


def _first_nodes(graph: Any) -> dict[int, Any]:
    """For each operation, by id, its earliest call in this graph (the call its name means)."""
    return {op: nodes[0] for op, nodes in _calls_by_op(graph).items()}


def entries(model: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """``(path, layer, node)`` for every layer of ``model`` that its graph calls, in layer order.

    A nested model comes first, then its own layers by path (``"base/conv"``); input layers
    of nested models are left out (their value is the nested model's input). ``node`` is the
    layer's earliest call in *this* model's graph (see :func:`calls`), so its output tensors
    have this graph's shapes.
    """
    import keras

    graph = graph_of(model)
    if graph is None:
        return []
    first = _first_nodes(graph)
    found = []
    for layer in model.layers:
        node = first.get(id(layer))
        if node is None or (prefix and isinstance(layer, keras.layers.InputLayer)):
            continue
        path = prefix + layer.name
        found.append((path, layer, node))
        if isinstance(layer, keras.Model):
            found.extend(entries(layer, path + SEP))
    return found


def output_layer(model: Any, prefix: str = "") -> tuple[str, Any]:
    """The path and layer that compute the model's (first) output, looking inside nested models."""
    import keras

    graph = graph_of(model)
    if graph is None:
        return prefix + model.layers[-1].name, model.layers[-1]
    op = graph.outputs[0]._keras_history.operation
    path = prefix + op.name
    if isinstance(op, keras.Model) and graph_of(op) is not None and op.layers:
        return output_layer(op, path + SEP)
    return path, op


def _call(op: Any, args: Any, kwargs: dict, infer: bool = True) -> Any:
    """Call one operation; for inference (``infer``) with ``training=False`` where it takes the flag."""
    takes_flag = "training" in getattr(op, "_call_context_args", ()) or getattr(op, "_call_has_training_arg", False)
    if infer and takes_flag:
        kwargs = {**kwargs, "training": False}
    return op(*args, **kwargs)


def run(
    model: Any,
    inputs: list,
    want: set[str],
    prefix: str = "",
    found: dict[str, tuple[Any, Any]] | None = None,
    infer: bool = True,
) -> tuple[list, dict[str, tuple[Any, Any]]]:
    """Evaluate ``model``'s own graph on ``inputs`` (tensors, one per model input).

    Returns the model's outputs (a list) and, for each path in ``want`` that the graph
    reaches, ``(args, output)``: the positional arguments of that layer's earliest call
    in this graph (see :func:`calls`) and its output. Traceable inside ``tf.function``.
    With ``infer`` every layer that takes a training flag gets ``training=False``; without
    it, called on symbolic tensors, the layers are re-called as they were into a new graph
    (see ``fix_inputs``).
    """
    import keras
    from keras import tree

    found = {} if found is None else found
    graph = graph_of(model)
    if graph is None:
        return tree.flatten(_call(model, [inputs[0] if len(inputs) == 1 else inputs], {}, infer)), found
    values = {id(t): v for t, v in zip(graph.inputs, inputs)}
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer) and prefix + layer.name in want:
            value = values.get(id(layer.output))
            found.setdefault(prefix + layer.name, ((value,), value))
    first = _first_nodes(graph)
    for node in topological_calls(graph):
        if any(id(x) not in values for x in node.input_tensors):
            continue
        args, kwargs = node.arguments.fill_in(values)
        op = node.operation
        path = prefix + getattr(op, "name", "")
        inside = path + SEP
        meant = node is first[id(op)]  # the call that the layer's path means
        if (
            meant
            and isinstance(op, keras.Model)
            and graph_of(op) is not None
            and any(w.startswith(inside) for w in want)
        ):
            out, _ = run(op, tree.flatten(args[0] if args else kwargs["inputs"]), want, inside, found, infer)
            out = out[0] if len(out) == 1 else out
        else:
            out = _call(op, args, kwargs, infer)
        if meant and path in want:
            found[path] = (args, out)
        for x, y in zip(node.outputs, tree.flatten(out)):
            values[id(x)] = y
    return [values[id(t)] for t in graph.outputs], found
