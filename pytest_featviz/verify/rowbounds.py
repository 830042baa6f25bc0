"""Upper bounds of a group's rows of one node, by IBP and CROWN, within a memory budget.

Dense rows (``(B, K, *shape)``, a ``"sum"`` group's one row per item) are bounded whole by
IBP, and by CROWN in chunks of at most :data:`ROWS_CHUNK` numbers, side by side.
:class:`.unitrows.UnitRows` (a ``Channel(..., reduce="max")``: one row per position; a
``ClassProbability``: one per other class) never are: their number times the node's
size is quadratic in it. Instead:

- IBP is a gather (:func:`.unitrows.bound_at`); folding the node's linear layer into the
  rows (the tighter bound of a margin of logits) takes the rows a chunk at a time, each
  made dense and pushed through the layer's adjoint;
- CROWN starts the backward pass from a chunk of rows at a time, so a pass holds at most
  :data:`ROWS_CHUNK` numbers per array whatever the batch and the number of rows (the
  chunks run side by side, :func:`.intermediate.each`: two at a time, bitwise as one after
  another); when
  every row is a unit row (``+-e_i``) of a convolutional node whose rows reach only
  convolutions, pooling, padding and element-wise layers (:func:`.patches.plan`), each
  chunk's neurons go back as patches of their receptive fields (:mod:`.patches`)
  instead of rows of every node's full size;
- alpha-CROWN optimises the slopes of a chunk of rows at a time (each row has its own
  slopes, so the chunks are independent problems; only the early stop, on the chunk's
  summed bound, depends on the chunking).

The results equal those of the dense rows (:func:`.unitrows.dense`) up to float64
summation order (alpha-CROWN: when the rows fit one chunk).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial

import numpy as np

from .alpha import alpha_backward
from .graph import Graph
from .intermediate import chunks, each
from .linear import Dense, LinearOp
from .nonlinear import Activation, MaxPool2D, Multiply
from .patches import Plan, backward_patches, plan, plan_cost
from .propagation import InputSet, State, backward, bound_at, dot_abs
from .unitrows import Rows, UnitRows, dense, magnitude
from .unitrows import bound_at as unit_bound_at

__all__ = ["rows_bounds", "ROWS_CHUNK"]

ROWS_CHUNK = 2**20
"""Numbers in one chunk of rows at the node where they are largest (8 MiB of float64)."""

Pair = tuple[np.ndarray, np.ndarray]
Bound = Callable[[State, UnitRows], Pair]
Run = Callable[[Callable[[tuple[slice, slice]], Pair], list[tuple[slice, slice]]], Iterable[Pair]]


def rows_bounds(
    graph: Graph, state: State, inset: InputSet, node: int, rows: Rows, crown: bool, alpha: bool = False
) -> tuple[Pair, Pair]:
    """Upper bounds ``(B, K)`` of the rows of node ``node`` by IBP (the node's linear layer
    folded) and by CROWN (with ``alpha``, alpha-CROWN), each as ``(float32 evaluation,
    exact arithmetic)``; without ``crown``, the IBP bounds twice."""
    if isinstance(rows, np.ndarray):
        ibp = _ibp_dense(graph, state, node, rows)
        if not crown:
            return ibp, ibp
        return ibp, (
            alpha_backward(graph, state, node, rows) if alpha else _crown_dense(graph, state, inset, node, rows)
        )
    ibp = unit_bound_at(state, node, rows, True), unit_bound_at(state, node, rows, False)
    if _foldable(graph, node):
        ibp = _chunked(state, rows, _fold_size(graph, node), partial(_fold, graph, node), ibp)
    if not crown:
        return ibp, ibp
    return ibp, _crown_units(graph, state, inset, node, rows, alpha)


def _crown_dense(graph: Graph, state: State, inset: InputSet, node: int, rows: np.ndarray) -> Pair:
    """CROWN upper bounds of dense rows, in chunks of items and rows holding at most
    :data:`ROWS_CHUNK` numbers where they are largest, side by side (:func:`.intermediate.each`)."""
    b, k = rows.shape[:2]
    work = list(chunks(b, k, 2 * _largest(graph, node), ROWS_CHUNK))
    out = np.empty((2, b, k))

    def part(chunk: tuple[slice, slice]) -> Pair:
        items, which = chunk
        return backward(graph, state.take(items), inset, node, rows[items, which])

    for (items, which), (computed, exact) in zip(work, each(part, work)):
        out[0, items, which], out[1, items, which] = computed, exact
    return out[0], out[1]


def _foldable(graph: Graph, node: int) -> bool:
    nd = graph.nodes[node]
    return nd.op is not None and len(nd.inputs) == 1 and not isinstance(nd.op, (Activation, MaxPool2D, Multiply))


def _layer(graph: Graph, node: int) -> LinearOp:
    """The linear operation of a :func:`_foldable` node."""
    op = graph.op(node)
    if isinstance(op, (Activation, MaxPool2D, Multiply)):
        raise ValueError(f"node {node} is not linear: {type(op).__name__}")
    return op


def _gathers(graph: Graph, node: int) -> bool:
    """Whether unit rows of the node go through its layer by gathering columns (a dense layer on a vector)."""
    return isinstance(graph.nodes[node].op, Dense) and len(graph.nodes[node].shape) == 1


def _through(graph: Graph, state: State, node: int, rows: UnitRows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows pushed through the node's linear layer: ``(rows at its input, bias term,
    rounding term |rows| . D)``; a dense layer's columns are gathered, other layers get dense rows."""
    nd = graph.nodes[node]
    op = _layer(graph, node)
    b, k = rows.index.shape[:2]
    pert = state.pert[node]
    rounding = np.zeros((b, k)) if pert is None else magnitude(rows, pert)
    if isinstance(op, Dense) and len(nd.shape) == 1:
        folded = np.einsum("bkj,bkji->bki", rows.coef, op.kernel.T[rows.index])
        return folded, (rows.coef * op.bias[rows.index]).sum(axis=2), rounding
    a = dense(rows)
    flat = a.reshape((b * k, *nd.shape))
    folded = op.transpose(flat)[0].reshape((b, k, *graph.nodes[nd.inputs[0]].shape))
    return folded, op.bias_dot(flat).reshape(b, k), rounding


def _fold(graph: Graph, node: int, state: State, rows: UnitRows) -> Pair:
    """IBP bounds of the rows after folding the node's linear layer into them."""
    x = graph.nodes[node].inputs[0]
    folded, bias, rounding = _through(graph, state, node, rows)
    return bias + bound_at(state, x, folded, True) + rounding, bias + bound_at(state, x, folded, False)


def _ibp_dense(graph: Graph, state: State, node: int, a: np.ndarray) -> Pair:
    ibp = bound_at(state, node, a, True), bound_at(state, node, a, False)
    if not _foldable(graph, node):
        return ibp
    nd = graph.nodes[node]
    op = _layer(graph, node)
    b, k = a.shape[:2]
    flat = a.reshape((b * k, *nd.shape))
    folded = op.transpose(flat)[0].reshape((b, k, *graph.nodes[nd.inputs[0]].shape))
    bias = op.bias_dot(flat).reshape(b, k)
    pert = state.pert[node]
    computed = bias + bound_at(state, nd.inputs[0], folded, True) + (0.0 if pert is None else dot_abs(a, pert))
    exact = bias + bound_at(state, nd.inputs[0], folded, False)
    return np.fmin(ibp[0], computed), np.fmin(ibp[1], exact)


def _size(graph: Graph, n: int) -> int:
    return int(np.prod(graph.nodes[n].shape))


def _largest(graph: Graph, last: int) -> int:
    """The size of the largest node up to ``last``: where a backward pass from ``last`` holds its rows."""
    return max(_size(graph, n) for n in range(last + 1))


def _fold_size(graph: Graph, node: int) -> int:
    """Numbers per row while folding: the gathered columns (two entries a row), or the dense row and its image."""
    x = graph.nodes[node].inputs[0]
    return 4 * _size(graph, x) if _gathers(graph, node) else 2 * (_size(graph, node) + _size(graph, x))


def _chunked(state: State, rows: UnitRows, per_row: int, bound: Bound, into: Pair, run: Run = each) -> Pair:
    """``into`` (float32, exact; ``(B, K)``) intersected with ``bound(state, rows)`` applied to
    chunks of items and rows holding at most :data:`ROWS_CHUNK` numbers (``per_row`` each),
    which ``run`` maps ``bound`` over (by default side by side: :func:`.intermediate.each`)."""
    out = (into[0].copy(), into[1].copy())
    b, k = rows.index.shape[:2]
    work = list(chunks(b, k, per_row, ROWS_CHUNK))

    def part(chunk: tuple[slice, slice]) -> Pair:
        items, which = chunk
        return bound(state.take(items), UnitRows(rows.index[items, which], rows.coef[items, which], rows.shape))

    for (items, which), found in zip(work, run(part, work)):
        for mine, new in zip(out, found):
            mine[items, which] = np.fmin(mine[items, which], new)
    return out


def _crown_units(graph: Graph, state: State, inset: InputSet, node: int, rows: UnitRows, alpha: bool) -> Pair:
    """CROWN (``alpha``: alpha-CROWN) upper bounds of unit rows, chunk by chunk (see the module documentation)."""
    b, k = rows.index.shape[:2]
    init = np.full((b, k), np.inf), np.full((b, k), np.inf)
    windows = plan(graph, node)
    if not alpha and windows is not None and rows.index.shape[2] == 1 and (np.abs(rows.coef) == 1.0).all():
        return _patch_bounds(graph, state, node, rows, windows)
    first = graph.nodes[node].inputs[0] if _gathers(graph, node) else node
    per_row = 2 * _largest(graph, first) + (_fold_size(graph, node) if first != node else 0)
    if alpha:  # slopes, their moments and the recorded rows at every node
        per_row += 4 * sum(_size(graph, n) for n in range(first + 1))

    def crowned(sub: State, part: UnitRows) -> Pair:
        if first == node:
            a = dense(part)
            return alpha_backward(graph, sub, node, a) if alpha else backward(graph, sub, inset, node, a)
        folded, bias, rounding = _through(graph, sub, node, part)
        found = alpha_backward(graph, sub, first, folded) if alpha else backward(graph, sub, inset, first, folded)
        return bias + rounding + found[0], bias + found[1]

    # alpha-CROWN's chunks one after another: each runs a compiled TensorFlow optimisation with its own threads
    return _chunked(state, rows, per_row, crowned, init, map if alpha else each)


def _patch_bounds(graph: Graph, state: State, node: int, rows: UnitRows, windows: Plan) -> Pair:
    """CROWN bounds of rows ``+-e_i`` of a convolutional node, by patches: per set of items
    with the same neurons, each neuron once (its row and its negation), in chunks."""
    b, k = rows.index.shape[:2]
    out = np.empty((2, b, k))
    per_neuron = 2 * plan_cost(graph, windows)[1]
    keys, which = np.unique(rows.index[..., 0], axis=0, return_inverse=True)
    for key_no, key in enumerate(keys):
        items = np.flatnonzero(which.ravel() == key_no)
        neurons, where = np.unique(key, return_inverse=True)
        found = np.empty((2, len(items), 2, len(neurons)))  # float32/exact, item, sign, neuron
        sub = state if len(keys) == 1 else state.take(items)  # take copies
        for part_items, units in chunks(len(items), len(neurons), per_neuron, ROWS_CHUNK):
            computed, exact = backward_patches(graph, sub.take(part_items), node, neurons[units], windows)
            found[0, part_items, :, units] = computed
            found[1, part_items, :, units] = exact
        sign = np.where(rows.coef[items, :, 0] > 0, 0, 1)  # the neuron's row, or its negation
        pick = (np.arange(len(items))[:, None], sign, where.ravel()[None, :])
        out[0, items] = found[0][pick]
        out[1, items] = found[1][pick]
    return out[0], out[1]
