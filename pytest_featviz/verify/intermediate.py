"""Full-CROWN bounds of intermediate nodes: every neuron's row pushed back to the input, in chunks.

A node's neurons are bounded by one backward pass with two rows per neuron (the unit
row and its negation). The rows are held either as patches (:mod:`.patches`: a
convolutional node whose rows reach only convolutions, pooling, padding and element-wise
layers) or as dense rows of every earlier node's full size, whichever holds fewer
numbers; the pass runs when that number per batch item is at most the budget
(:data:`.propagation.FULL_CROWN_BUDGET`), and in chunks of items and neurons of at most
:data:`CHUNK_ELEMENTS` numbers per array (32 MiB), whatever the batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np

from .graph import Graph
from .patches import backward_patches, plan, plan_cost

if TYPE_CHECKING:
    from .propagation import State

__all__ = ["tighten", "crown_cost", "chunks", "CHUNK_ELEMENTS"]

CHUNK_ELEMENTS = 2**22
"""Numbers in the rows of one chunk at the node where they are largest (32 MiB of float64)."""

Backward = Callable[..., tuple[np.ndarray, np.ndarray]]


def crown_cost(graph: Graph, n: int) -> tuple[int, str]:
    """``(numbers per item, 'patches' or 'dense')``: the cheaper way to hold node ``n``'s rows."""
    shape = graph.nodes[n].shape
    size = int(np.prod(shape))
    dense = 2 * size * sum(int(np.prod(nd.shape)) for nd in graph.nodes[:n])
    windows = plan(graph, n)
    if windows is None:
        return dense, "dense"
    patches = 2 * shape[-1] * plan_cost(graph, n, windows)[0]
    return (patches, "patches") if patches < dense else (dense, "dense")


def chunks(batch: int, units: int, per_unit: int) -> Iterator[tuple[slice, slice]]:
    """``(items, units)`` slices covering ``batch x units``, each holding at most
    :data:`CHUNK_ELEMENTS` numbers (``per_unit`` per item and unit; at least one of each)."""
    slots = max(1, CHUNK_ELEMENTS // max(1, per_unit))
    items = max(1, min(batch, slots // units))
    step = max(1, min(units, slots // items))
    for i0 in range(0, batch, items):
        for u0 in range(0, units, step):
            yield slice(i0, min(i0 + items, batch)), slice(u0, min(u0 + step, units))


def tighten(graph: Graph, state: State, n: int, budget: int, dense: Backward) -> bool:
    """Intersect node ``n``'s bounds with full-CROWN bounds when their rows hold at most
    ``budget`` numbers per item (``dense``: the dense backward pass); whether it did."""
    cost, how = crown_cost(graph, n)
    if cost > budget:
        return False
    shape = graph.nodes[n].shape
    batch = state.low[n].shape[0]
    found = np.empty((4, batch, int(np.prod(shape))))  # computed upper, computed lower, exact upper, exact lower
    if how == "patches":
        windows = plan(graph, n)
        assert windows is not None  # crown_cost found one
        largest = plan_cost(graph, n, windows)[1]
        ht, wt, ct = shape
        view = found.reshape((4, batch, ht, wt, ct))
        for items, chans in chunks(batch, ct, 2 * largest):
            idx = np.arange(ct)[chans]
            computed, exact = backward_patches(graph, state.take(items), n, idx, windows)
            k = len(idx)
            for row, part in enumerate((computed[:, :k], -computed[:, k:], exact[:, :k], -exact[:, k:])):
                view[row, items][..., idx] = part.transpose(0, 2, 3, 1)
    else:
        size = found.shape[2]
        widest = max(int(np.prod(nd.shape)) for nd in graph.nodes[: n + 1])
        for items, units in chunks(batch, size, 2 * widest):
            idx = np.arange(size)[units]
            eye = np.zeros((len(idx), size))
            eye[np.arange(len(idx)), idx] = 1.0
            rows = np.concatenate([eye, -eye]).reshape((1, 2 * len(idx), *shape))
            sub = state.take(items)
            b = sub.low[0].shape[0]
            computed, exact = dense(graph, sub, None, n, np.broadcast_to(rows, (b, *rows.shape[1:])))
            k = len(idx)
            found[:, items, idx] = [computed[:, :k], -computed[:, k:], exact[:, :k], -exact[:, k:]]
    full = (batch, *shape)
    state.chigh[n] = np.minimum(state.chigh[n], found[0].reshape(full))
    state.clow[n] = np.maximum(state.clow[n], found[1].reshape(full))
    state.high[n] = np.minimum(state.high[n], found[2].reshape(full))
    state.low[n] = np.maximum(state.low[n], found[3].reshape(full))
    return True
