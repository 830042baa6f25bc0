"""Natural exemplars: stream a user's inputs through the model and keep the top and bottom k.

:func:`top_examples` takes a NumPy array, a ``tf.data.Dataset`` or any iterable of batches
(or of single examples; ``(x, y)`` pairs give their ``x``), regroups it into batches of
``batch_size`` and runs one compiled forward pass per batch (:mod:`.forward`). Memory is
bounded: besides one batch it keeps the ``k`` best and worst inputs, a seeded reservoir
sample of ``sample`` inputs, and one float per input and target (the distribution).
TensorFlow is imported inside the functions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import numpy as np

from .._validation import check_int
from ..errors import ConfigurationError, FeatvizTypeError
from ..objectives import Objective, as_objective
from ..progress import Progress
from .forward import forward_of

__all__ = ["TopExamples", "top_examples", "QUANTILES"]

QUANTILES = (0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)


@dataclasses.dataclass(frozen=True, eq=False)
class TopExamples:
    """The natural inputs that drive one target of an objective most and least, and its distribution.

    Attributes
    ----------
    objective : Objective
        What was measured (one target of it: ``target``).
    indices, values, inputs
        The ``k`` highest values, highest first: their positions in the stream, values and inputs.
    bottom_indices, bottom_values, bottom_inputs
        The ``k`` lowest, lowest first.
    activations : ndarray, shape (N,)
        The value of every input, in stream order.
    quantiles : dict
        ``{level: value}`` at :data:`QUANTILES` (``0.99`` is the natural 99th percentile).
    sample, sample_indices
        A uniform random sample of the inputs (reservoir, seeded) and their positions: the
        "random natural" reference of ``assert_faithful``'s path similarity.

    Examples
    --------
    >>> import keras, numpy as np, pytest_featviz as fv
    >>> m = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, kernel_initializer="ones", name="d")])
    >>> top = fv.top_examples(m, fv.Neuron("d", 0), np.arange(100.0)[:, None], k=2, sample=5)
    >>> top.count, top.values.tolist(), top.quantiles[0.5], top.sample.shape
    (100, [99.0, 98.0], 49.5, (5, 1))
    """

    objective: Objective
    target: int
    indices: np.ndarray
    values: np.ndarray
    inputs: np.ndarray
    bottom_indices: np.ndarray
    bottom_values: np.ndarray
    bottom_inputs: np.ndarray
    activations: np.ndarray
    quantiles: dict[float, float]
    sample: np.ndarray
    sample_indices: np.ndarray

    @property
    def count(self) -> int:
        """How many inputs were streamed."""
        return int(self.activations.shape[0])

    def __repr__(self) -> str:
        return (
            f"TopExamples({self.objective!r}, target {self.target}, {self.count} inputs, "
            f"max {self.values[0]:.4g} at {int(self.indices[0])}, median {self.quantiles[0.5]:.4g})"
        )


def _as_batch(item: Any, shape: tuple[int, ...]) -> np.ndarray:
    """One element of the data as a batch ``(b, *shape)``: a batch, one example, or the ``x`` of a pair."""
    if isinstance(item, (tuple, list)) and item and not np.isscalar(item[0]):
        item = item[0]
    if isinstance(item, dict):
        raise FeatvizTypeError(f"data elements must be arrays or (x, y) pairs; got a dict with keys {sorted(item)}")
    arr = np.asarray(item.numpy() if hasattr(item, "numpy") else item, dtype=np.float32)
    if arr.shape == shape:
        return arr[None]
    if arr.shape[1:] != shape:
        raise ConfigurationError(
            f"a data batch has shape {arr.shape}; the model takes inputs of shape {shape} "
            f"(give batches (b, {', '.join(map(str, shape))}) or single examples)"
        )
    return arr


def _elements(data: Any) -> Iterator[Any]:
    """The data's elements: the array itself (one batch), a dataset's NumPy elements, an iterable's items."""
    if isinstance(data, np.ndarray):
        return iter([data])
    if hasattr(data, "as_numpy_iterator") and hasattr(data, "cardinality"):  # a tf.data.Dataset
        return iter(data.as_numpy_iterator())
    if isinstance(data, (str, bytes)) or not hasattr(data, "__iter__"):
        raise FeatvizTypeError(
            f"data must be a NumPy array, a tf.data.Dataset or an iterable of batches; got {type(data).__name__}"
        )
    return iter(data)


def batches(data: Any, shape: tuple[int, ...], batch_size: int) -> Iterator[np.ndarray]:
    """The data regrouped into float32 batches of ``batch_size`` (the last may be smaller)."""
    elements = _elements(data)
    pending: list[np.ndarray] = []
    held = 0
    for item in elements:
        arr = _as_batch(item, shape)
        while len(arr):
            take = arr[: batch_size - held]
            arr = arr[len(take) :]
            pending.append(take)
            held += len(take)
            if held == batch_size:
                yield np.concatenate(pending) if len(pending) > 1 else pending[0]
                pending, held = [], 0
    if held:
        yield np.concatenate(pending)


class _Keeper:
    """The running top-k / bottom-k of one target (ties: the earlier input first)."""

    def __init__(self, k: int):
        self.k = k
        self.top: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.bottom: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @staticmethod
    def _merge(kept: Any, values: np.ndarray, index: np.ndarray, x: np.ndarray, k: int, sign: float) -> tuple:
        keys = sign * values
        if len(keys) > k:  # only the batch's own k best (and every tie with the k-th) can enter
            pick = np.flatnonzero(keys >= np.partition(keys, len(keys) - k)[len(keys) - k])
            values, index, x = values[pick], index[pick], x[pick]
        if kept is not None:
            values, index, x = (np.concatenate([a, b]) for a, b in zip(kept, (values, index, x)))
        order = np.lexsort((index, -sign * values))[:k]  # by value (sign), then by position
        return values[order], index[order], x[order]

    def add(self, values: np.ndarray, index: np.ndarray, x: np.ndarray) -> None:
        self.top = self._merge(self.top, values, index, x, self.k, 1.0)
        self.bottom = self._merge(self.bottom, values, index, x, self.k, -1.0)


class _Reservoir:
    """A uniform sample of ``size`` inputs from a stream of unknown length (Algorithm R, seeded)."""

    def __init__(self, size: int, seed: int):
        self.size, self.rng, self.seen = size, np.random.default_rng(seed), 0
        self.x: np.ndarray | None = None
        self.index = np.zeros(0, np.int64)

    def add(self, x: np.ndarray, index: np.ndarray) -> None:
        fill = min(max(self.size - self.seen, 0), len(x))
        if fill:
            self.x = x[:fill].copy() if self.x is None else np.concatenate([self.x, x[:fill]])
            self.index = np.concatenate([self.index, index[:fill]])
        if len(x) > fill:  # input number n (0-based) replaces a random slot with probability size / (n + 1)
            seen = self.seen + np.arange(fill, len(x))
            slot = (self.rng.random(len(seen)) * (seen + 1)).astype(np.int64)
            hit = np.flatnonzero(slot < self.size)
            if hit.size:
                assert self.x is not None
                # in stream order, so a later input that draws the same slot wins
                for i in hit:
                    self.x[slot[i]], self.index[slot[i]] = x[fill + i], index[fill + i]
        self.seen += len(x)


def top_examples(
    model: Any,
    objective: Objective,
    data: Any,
    k: int = 9,
    *,
    batch_size: int = 256,
    sample: int = 32,
    seed: int = 0,
    progress: bool | None = None,
) -> Any:
    """The natural inputs that activate ``objective`` most (and least), and its distribution over ``data``.

    Parameters
    ----------
    model : keras.Model
    objective : Objective
        A class, neuron, channel, direction, ...; an index sequence measures every target
        in the same pass and returns one :class:`TopExamples` per target.
    data : ndarray, tf.data.Dataset or iterable
        Inputs ``(N, *input_shape)``; a dataset or iterable of batches or of single
        examples (``(x, y)`` pairs give their ``x``). Streamed, never held whole.
    k : int
        How many top (and bottom) inputs to keep; ties keep the earlier input.
    batch_size : int
        Inputs per compiled forward pass (the data is regrouped to this size).
    sample : int
        Size of the seeded uniform random sample kept (``TopExamples.sample``).
    progress : bool, optional
        A progress bar on stderr (default: when stderr is a terminal; the total is shown
        when the data's length is known).

    Returns
    -------
    TopExamples or list of TopExamples

    Examples
    --------
    >>> import keras, numpy as np, pytest_featviz as fv
    >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, kernel_initializer="ones", name="d")])
    >>> top = fv.top_examples(m, fv.Neuron("d", 0), np.arange(20.0).reshape(10, 2), k=3)
    >>> top.indices.tolist(), top.values.tolist(), top.bottom_indices.tolist()
    ([9, 8, 7], [37.0, 33.0, 29.0], [0, 1, 2])
    """
    objective = as_objective(objective)
    k = check_int(k, "k", min_value=1)
    batch_size = check_int(batch_size, "batch_size", min_value=1)
    sample = check_int(sample, "sample", min_value=0)
    fwd = forward_of(model, objective)
    shape = tuple(fwd.input_shape)
    keepers = [_Keeper(k) for _ in range(fwd.targets)]
    reservoir = _Reservoir(sample, seed)
    chunks: list[np.ndarray] = []
    params: dict[int, list] = {}  # the fed values per batch length (one per target)
    total = len(data) if isinstance(data, np.ndarray) else None
    with Progress(total or 1, "top_examples", enabled=progress if total else False) as bar:
        for x in batches(data, shape, batch_size):
            n = len(x)
            if n not in params:
                params[n] = fwd.params(objective, n)
            values, _ = fwd(x, params=params[n])
            index = np.arange(reservoir.seen, reservoir.seen + n)
            for t, keeper in enumerate(keepers):
                keeper.add(values[:, t], index, x)
            reservoir.add(x, index)
            chunks.append(values)
            bar.update(n)
    if not chunks:
        raise ConfigurationError("data is empty: top_examples needs at least one input")
    every = np.concatenate(chunks)
    sample_x = reservoir.x if reservoir.x is not None else np.zeros((0, *shape), np.float32)
    found = [_result(objective, t, keeper, every[:, t], sample_x, reservoir.index) for t, keeper in enumerate(keepers)]
    return found[0] if objective.batch_size() is None else found


def _result(
    objective: Objective, t: int, keeper: _Keeper, acts: np.ndarray, sample: np.ndarray, sample_index: np.ndarray
) -> TopExamples:
    assert keeper.top is not None and keeper.bottom is not None
    levels = np.quantile(acts.astype(np.float64), QUANTILES)
    return TopExamples(
        objective,
        t,
        keeper.top[1],
        keeper.top[0],
        keeper.top[2],
        keeper.bottom[1],
        keeper.bottom[0],
        keeper.bottom[2],
        acts,
        {q: float(v) for q, v in zip(QUANTILES, levels)},
        sample,
        sample_index.copy(),
    )
