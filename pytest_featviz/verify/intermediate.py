"""Full-CROWN bounds of intermediate nodes: every neuron's row pushed back to the input, in chunks.

A node's neurons are bounded by one backward pass with two rows per neuron (the unit
row and its negation), one (the unit row) for a neuron whose lower bound nothing reads
(:func:`active`) and none for one whose bounds nothing reads (:func:`stable`) or whose
bounds reach only a negligible rounding allowance (:func:`settled`). The rows are held either as patches (:mod:`.patches`: a
convolutional node whose rows reach only convolutions, pooling, padding and element-wise
layers) or as dense rows of every earlier node's full size, whichever holds fewer
numbers; the pass runs when that number per batch item is at most the budget
(:data:`.propagation.FULL_CROWN_BUDGET`), and in chunks of items and neurons of at most
:data:`CHUNK_ELEMENTS` numbers per array (4 MiB), whatever the batch.
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
from .linear import LinearBase, Reshape
from .nonlinear import Activation, MaxPool2D, Multiply
from .patches import Plan, backward_patches, plan, plan_cost
from .rounding import gamma

if TYPE_CHECKING:
    from .propagation import State

__all__ = ["tighten", "crown_cost", "chunks", "each", "relaxed_inputs", "settled", "CHUNK_ELEMENTS", "SETTLED_ROUNDING"]

CHUNK_ELEMENTS = 2**19
"""Numbers in the rows of one chunk at the node where they are largest (4 MiB of float64).

Smaller chunks than the 32 MiB of earlier versions keep each pass's arrays near the cores'
caches and give the two threads more, evener pieces: on 20 digits, CROWN per call on the deep
MLP of ``bench/bounds.py`` took 0.09-0.19 s instead of 0.23-0.29 s, on the small CNN 0.42-0.55 s
instead of 0.75-0.81 s, and on the CNN of issue 19 at eps 0.03 1.28-1.49 s instead of 1.56-1.73 s
(interleaved medians of 5-7 calls); at eps 0.001, where few neurons get rows, 2-6% more."""
THREADS = min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
"""Chunks bounded at once (each holds its own rows: peak memory grows with it)."""
SETTLED_ROUNDING = 2.0**-16
"""The largest rounding factor ``gamma(steps)`` (:func:`.rounding.gamma`) of an objective's layer for
which :func:`settled` neurons feeding it get no CROWN rows (a float32 layer of at most 254 inputs)."""

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


def relaxed_inputs(graph: Graph) -> set[int]:
    """The nodes that a non-linearity reads (an activation, max pooling, a product): the ones
    whose bounds shape a relaxation, so :func:`.propagation.forward` tightens them."""
    return {i for nd in graph.nodes[1:] if isinstance(nd.op, (Activation, MaxPool2D, Multiply)) for i in nd.inputs}


def _consumers(graph: Graph, n: int) -> list[int]:
    return [m for m in range(n + 1, len(graph.nodes)) if n in graph.nodes[m].inputs]


def _relu_consumers(graph: Graph, n: int) -> float | None:
    """The smallest cap of the ReLUs (without leak) that every consumer of node ``n`` is, or
    None when some consumer is anything else."""
    caps = []
    for m in _consumers(graph, n):
        op = graph.nodes[m].op
        if not (isinstance(op, Activation) and op.relu_family and op.alpha == 0):
            return None
        caps.append(op.cap)
    return min(caps, default=np.inf)


def stable(graph: Graph, state: State, n: int) -> np.ndarray:
    """``(B, size)``: the neurons of node ``n`` whose tighter bounds could change nothing:
    every consumer is a ReLU (or a capped ReLU without leak) and the neuron's upper bound is
    at most 0, so its output is exactly 0 whatever its lower bound."""
    high = state.chigh[n]
    if _relu_consumers(graph, n) is None:
        return np.zeros((high.shape[0], high[0].size), dtype=bool)
    return (high <= 0).reshape(high.shape[0], -1)


def active(graph: Graph, state: State, n: int, budget: int) -> np.ndarray:
    """``(B, size)``: the neurons of node ``n`` whose tighter lower bound could change nothing,
    so only their upper bound is worth a CROWN row. Each lies between 0 and the cap (both
    bounds, exact and computed) of the ReLUs without leak that are its only consumers, so
    they pass it unchanged and its lower bound shapes no relaxation; its upper bound still
    bounds the magnitude, hence the rounding, of the next layer. And every layer those
    ReLUs feed (through reshapes) is a dense or convolutional layer whose own bounds CROWN
    computes afresh (:func:`_recomputed`): the lower bound reaches no other bound."""
    cap = _relu_consumers(graph, n)
    relaxed = relaxed_inputs(graph)
    if cap is None or not all(_recomputed(graph, r, budget, relaxed) for r in _consumers(graph, n)):
        return _none(state, n)
    return _inside(state, n, cap)


def settled(graph: Graph, state: State, n: int) -> np.ndarray:
    """``(B, size)``: the neurons of node ``n`` whose CROWN rows could tighten only a negligible
    rounding allowance, so they keep their interval bounds. Each lies between 0 and the cap
    (as in :func:`active`) of the ReLUs without leak that are its only consumers, and those
    ReLUs feed (through reshapes) only dense or convolutional layers whose outputs no node
    reads: the objectives' nodes, bounded by the final backward pass, where such a ReLU is
    the identity whatever its bounds. Its bounds reach that layer's float32 rounding
    allowance (at most ``gamma(steps)`` of its inputs' magnitudes, and ``gamma`` is at most
    :data:`SETTLED_ROUNDING`), the interval bounds of the objective's node, and the
    objective's own rounding allowance (``gamma`` of the terms it sums). On the CNN and the
    deep MLP of issue 19 (``bench/bounds.py``) this skips 40-45% of the last hidden
    layer's neurons at eps 0.001 and widens the mean logit-margin bound by 0.003% and 0.013%."""
    cap = _relu_consumers(graph, n)
    if cap is None or not all(_settles(graph, r) for r in _consumers(graph, n)):
        return _none(state, n)
    return _inside(state, n, cap)


def _none(state: State, n: int) -> np.ndarray:
    return np.zeros((state.low[n].shape[0], state.low[n][0].size), dtype=bool)


def _inside(state: State, n: int, cap: float) -> np.ndarray:
    """``(B, size)``: the neurons of node ``n`` above 0 and at most ``cap`` (exact and computed bounds)."""
    inside = (state.clow[n] > 0) & (state.low[n] > 0) & (state.chigh[n] <= cap) & (state.high[n] <= cap)
    return inside.reshape(inside.shape[0], -1)


def _reached(graph: Graph, n: int) -> Iterator[int]:
    """The nodes that read node ``n``, through reshapes."""
    for c in _consumers(graph, n):
        if isinstance(graph.nodes[c].op, Reshape):
            yield from _reached(graph, c)
        else:
            yield c


def _mixing(graph: Graph, c: int) -> LinearBase | None:
    """Node ``c``'s operation when it is a coordinate-mixing linear layer, else None."""
    op = graph.nodes[c].op
    return op if isinstance(op, LinearBase) and op.kind == "mixing" else None


def _recomputed(graph: Graph, n: int, budget: int, relaxed: set[int]) -> bool:
    """Whether every node that reads node ``n`` (through reshapes) is a coordinate-mixing
    linear layer in ``relaxed`` (:func:`relaxed_inputs`) whose rows fit ``budget``: one that
    :func:`.propagation.forward` tightens by CROWN, from relaxations, not from its inputs'
    intervals."""
    return all(
        _mixing(graph, c) is not None and c in relaxed and crown_cost(graph, c)[0] <= budget for c in _reached(graph, n)
    )


def _settles(graph: Graph, n: int) -> bool:
    """Whether every node that reads node ``n`` (through reshapes) is a coordinate-mixing linear
    layer that no node reads, with a rounding factor of at most :data:`SETTLED_ROUNDING`."""
    found = list(_reached(graph, n))
    for c in found:
        op = _mixing(graph, c)
        if op is None or _consumers(graph, c) or gamma(int(op.steps), graph.unit) > SETTLED_ROUNDING:
            return False
    return bool(found)


def tighten(graph: Graph, state: State, n: int, budget: int, dense: Backward) -> bool:
    """Intersect node ``n``'s bounds with full-CROWN bounds when their rows hold at most
    ``budget`` numbers per item (``dense``: the dense backward pass); whether it did.

    :func:`stable` and :func:`settled` neurons keep their bounds; :func:`active` ones get only
    their upper bound (one row instead of two: at small radii most neurons are one of these)."""
    cost, how = crown_cost(graph, n)
    if cost > budget:
        return False
    shape = graph.nodes[n].shape
    batch = state.low[n].shape[0]
    full = (batch, -1)
    # computed upper, computed lower, exact upper, exact lower (of the negation: the lower bounds)
    found = np.stack([state.chigh[n].reshape(full), -state.clow[n].reshape(full)] * 2)
    found[2:] = [state.high[n].reshape(full), -state.low[n].reshape(full)]
    skip = stable(graph, state, n) | settled(graph, state, n)
    upper = skip | active(graph, state, n, budget)
    windows = plan(graph, n) if how == "patches" else None

    def bound(chunk: tuple[slice, np.ndarray, tuple[float, ...]]) -> tuple[np.ndarray, np.ndarray]:
        items, units, signs = chunk
        sub = state.take(items)
        if windows is not None:
            return backward_patches(graph, sub, n, units, windows, signs)
        eye = np.zeros((len(units), found.shape[2]))
        eye[np.arange(len(units)), units] = 1.0
        rows = np.concatenate([sign * eye for sign in signs]).reshape((1, len(signs) * len(units), *shape))
        computed, exact = dense(graph, sub, None, n, np.broadcast_to(rows, (len(sub.low[0]), *rows.shape[1:])))
        split = (len(sub.low[0]), len(signs), len(units))
        return computed.reshape(split), exact.reshape(split)

    work = list(_work(graph, n, windows, skip, upper))
    for (items, units, signs), (computed, exact) in zip(work, each(bound, work)):
        # an item's bounds do not depend on its neighbours: a lower bound found for an active
        # neuron (in a chunk where another item needs it) is not used either
        keeps = skip[items][:, units], upper[items][:, units]
        for k in range(len(signs)):  # rows 0 and 2 bound the neurons, 1 and 3 their negations
            for row, part in ((k, computed[:, k]), (2 + k, exact[:, k])):
                target = found[row]  # a view: an int beside a slice and an array would reorder the axes
                target[items, units] = np.where(keeps[k], target[items, units], part)
    state.chigh[n] = np.minimum(state.chigh[n], found[0].reshape(state.low[n].shape))
    state.clow[n] = np.maximum(state.clow[n], -found[1].reshape(state.low[n].shape))
    state.high[n] = np.minimum(state.high[n], found[2].reshape(state.low[n].shape))
    state.low[n] = np.maximum(state.low[n], -found[3].reshape(state.low[n].shape))
    return True


def each(fn: Callable[[T], R], work: list[T]) -> Iterator[R]:
    """``fn`` of each chunk, in order, on :data:`THREADS` threads when there are several chunks.

    NumPy releases the GIL in the large array passes a chunk is made of, so the chunks run
    side by side; the BLAS library is held to one thread meanwhile (its own threads on top
    of ours would only contend: 1.3-1.5x slower on the CNN of ``bench/bounds.py
    --crown-time``). Every chunk computes what it computes alone: the bounds are bitwise
    those of one thread.

    Examples
    --------
    >>> list(each(lambda n: n * n, [1, 2, 3]))
    [1, 4, 9]
    """
    if THREADS < 2 or len(work) < 2:
        return map(fn, work)
    with _blas().limit(limits=1, user_api="blas"), ThreadPoolExecutor(min(THREADS, len(work))) as pool:
        return iter(list(pool.map(fn, work)))


@functools.cache
def _blas() -> ThreadpoolController:
    """The process's thread pools (found once: it reads the loaded libraries)."""
    return ThreadpoolController()


def _work(
    graph: Graph, n: int, windows: Plan | None, skip: np.ndarray, upper: np.ndarray
) -> Iterator[tuple[slice, np.ndarray, tuple[float, ...]]]:
    """Chunks ``(items, neuron indices, signs)`` of the rows of node ``n``: in each group of items,
    two rows (the neuron and its negation) for a neuron that is not ``upper`` in some item of
    the group, one row for a neuron ``upper`` in all of them but not ``skip`` in all
    (``windows``: the patches' plan, None for dense rows)."""
    if windows is not None:
        per_row = plan_cost(graph, windows)[1]
    else:
        per_row = max(int(np.prod(nd.shape)) for nd in graph.nodes[: n + 1])
    batch, size = skip.shape
    groups = sorted({items.start for items, _ in chunks(batch, size, 2 * per_row)})
    for i0, i1 in zip(groups, [*groups[1:], batch]):
        both = np.flatnonzero(~upper[i0:i1].all(axis=0))
        only = np.flatnonzero(upper[i0:i1].all(axis=0) & ~skip[i0:i1].all(axis=0))
        for neurons, signs in ((both, (1.0, -1.0)), (only, (1.0,))):
            for items, units in chunks(i1 - i0, len(neurons), len(signs) * per_row):
                if units.stop > units.start:
                    yield slice(i0 + items.start, i0 + items.stop), neurons[units], signs
