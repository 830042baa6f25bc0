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

import functools
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

import numpy as np
from threadpoolctl import ThreadpoolController

from .graph import Graph
from .nonlinear import Activation
from .patches import backward_patches, plan, plan_cost

if TYPE_CHECKING:
    from .propagation import State

__all__ = ["tighten", "crown_cost", "chunks", "CHUNK_ELEMENTS"]

CHUNK_ELEMENTS = 2**22
"""Numbers in the rows of one chunk at the node where they are largest (32 MiB of float64)."""
THREADS = min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
"""Chunks bounded at once (each holds its own rows: peak memory grows with it)."""

Backward = Callable[..., tuple[np.ndarray, np.ndarray]]
T = TypeVar("T")
R = TypeVar("R")


def crown_cost(graph: Graph, n: int) -> tuple[int, str]:
    """``(numbers per item, 'patches' or 'dense')``: the cheaper way to hold node ``n``'s rows."""
    shape = graph.nodes[n].shape
    size = int(np.prod(shape))
    dense = 2 * size * sum(int(np.prod(nd.shape)) for nd in graph.nodes[:n])
    windows = plan(graph, n)
    if windows is None:
        return dense, "dense"
    patches = 2 * size * plan_cost(graph, windows)[0]
    return (patches, "patches") if patches < dense else (dense, "dense")


def chunks(batch: int, units: int, per_unit: int, elements: int | None = None) -> Iterator[tuple[slice, slice]]:
    """``(items, units)`` slices covering ``batch x units``, each holding at most ``elements``
    numbers (default :data:`CHUNK_ELEMENTS`; ``per_unit`` per item and unit; at least one of each)."""
    elements = CHUNK_ELEMENTS if elements is None else elements
    slots = max(1, elements // max(1, per_unit))
    items = max(1, min(batch, slots // max(1, units)))
    step = max(1, min(units, slots // items))
    for i0 in range(0, batch, items):
        for u0 in range(0, max(1, units), step):
            yield slice(i0, min(i0 + items, batch)), slice(u0, min(u0 + step, units))


def stable(graph: Graph, state: State, n: int) -> np.ndarray:
    """``(B, size)``: the neurons of node ``n`` whose tighter bounds could change nothing:
    every consumer is a ReLU (or a capped ReLU without leak) and the neuron's upper bound is
    at most 0, so its output is exactly 0 whatever its lower bound."""
    high = state.chigh[n]
    found = high <= 0
    for node in graph.nodes[n + 1 :]:
        if n in node.inputs and not (isinstance(node.op, Activation) and node.op.relu_family and node.op.alpha == 0):
            return np.zeros((high.shape[0], high[0].size), dtype=bool)
    return found.reshape(high.shape[0], -1)


def tighten(graph: Graph, state: State, n: int, budget: int, dense: Backward) -> bool:
    """Intersect node ``n``'s bounds with full-CROWN bounds (but those of :func:`stable` neurons)
    when their rows hold at most ``budget`` numbers per item (``dense``: the dense backward
    pass); whether it did."""
    cost, how = crown_cost(graph, n)
    if cost > budget:
        return False
    shape = graph.nodes[n].shape
    batch = state.low[n].shape[0]
    full = (batch, -1)
    # computed upper, computed lower, exact upper, exact lower; stable neurons keep their bounds
    found = np.stack([state.chigh[n].reshape(full), -state.clow[n].reshape(full)] * 2)
    found[2:] = [state.high[n].reshape(full), -state.low[n].reshape(full)]
    skip = stable(graph, state, n)

    def bound(chunk: tuple[slice, np.ndarray]) -> tuple[np.ndarray, ...]:
        items, units = chunk
        sub = state.take(items)
        if how == "patches":
            windows = plan(graph, n)
            assert windows is not None  # crown_cost found one
            computed, exact = backward_patches(graph, sub, n, units, windows)
            return computed[:, 0], computed[:, 1], exact[:, 0], exact[:, 1]
        eye = np.zeros((len(units), found.shape[2]))
        eye[np.arange(len(units)), units] = 1.0
        rows = np.concatenate([eye, -eye]).reshape((1, 2 * len(units), *shape))
        b, k = sub.low[0].shape[0], len(units)
        computed, exact = dense(graph, sub, None, n, np.broadcast_to(rows, (b, *rows.shape[1:])))
        return computed[:, :k], computed[:, k:], exact[:, :k], exact[:, k:]

    work = list(_work(graph, n, how, batch, np.flatnonzero(~skip.all(axis=0))))
    for (items, units), parts in zip(work, _each(bound, work)):
        keep = skip[items][:, units]
        for row, part in enumerate(parts):
            target = found[row]  # a view: an int beside a slice and an array would reorder the axes
            target[items, units] = np.where(keep, target[items, units], part)
    state.chigh[n] = np.minimum(state.chigh[n], found[0].reshape(state.low[n].shape))
    state.clow[n] = np.maximum(state.clow[n], -found[1].reshape(state.low[n].shape))
    state.high[n] = np.minimum(state.high[n], found[2].reshape(state.low[n].shape))
    state.low[n] = np.maximum(state.low[n], -found[3].reshape(state.low[n].shape))
    return True


def _each(fn: Callable[[T], R], work: list[T]) -> Iterator[R]:
    """``fn`` of each chunk, in order, on :data:`THREADS` threads when there are several chunks.

    NumPy releases the GIL in the large array passes a chunk is made of, so the chunks run
    side by side; the BLAS library is held to one thread meanwhile (its own threads on top
    of ours would only contend: 1.3-1.5x slower on the CNN of ``bench/bounds.py
    --crown-time``). Every chunk computes what it computes alone: the bounds are bitwise
    those of one thread."""
    if THREADS < 2 or len(work) < 2:
        return map(fn, work)
    with _blas().limit(limits=1, user_api="blas"), ThreadPoolExecutor(min(THREADS, len(work))) as pool:
        return iter(list(pool.map(fn, work)))


@functools.cache
def _blas() -> ThreadpoolController:
    """The process's thread pools (found once: it reads the loaded libraries)."""
    return ThreadpoolController()


def _work(graph: Graph, n: int, how: str, batch: int, neurons: np.ndarray) -> Iterator[tuple[slice, np.ndarray]]:
    """Chunks ``(items, neuron indices)`` of the rows of ``neurons`` of node ``n``."""
    if how == "patches":
        windows = plan(graph, n)
        assert windows is not None
        per_neuron = 2 * plan_cost(graph, windows)[1]
    else:
        per_neuron = 2 * max(int(np.prod(nd.shape)) for nd in graph.nodes[: n + 1])
    for items, units in chunks(batch, len(neurons), per_neuron):
        if units.stop > units.start:
            yield items, neurons[units]
