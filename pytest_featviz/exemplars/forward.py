"""One compiled forward pass: an objective's values for every target, and channel means of layers.

:class:`Forward` reads every layer it needs in one pass of the model's own graph (the
``models`` feature extractor) inside one ``tf.function``; the objective's values (its
indices, coefficients, vectors) are fed as tensors, so a new target or batch never
changes the structure. Instances are cached on the model object (they die with it).
TensorFlow is imported inside the functions.

Examples
--------
>>> import keras, numpy as np
>>> from pytest_featviz.objectives import Neuron
>>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, kernel_initializer="ones", name="d")])
>>> values, means = forward(m, Neuron("d", [0, 1]), np.ones((4, 3), "float32"), layers=("d",))
>>> values.shape, means["d"].shape, float(values[0, 1])
((4, 2), (4, 2), 3.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..models import FeatureExtractor, model_info
from ..objectives import Objective, as_objective

__all__ = ["Forward", "forward", "forward_of"]

CACHE_ATTR = "_featviz_forward"


class Forward:
    """The values ``(B, T)`` of an objective's ``T`` targets and the channel means ``(B, C)`` of ``layers``.

    A layer's output of rank 2 is its own vector; a feature map ``(B, ..., C)`` is averaged
    over its spatial positions.
    """

    def __init__(self, model: Any, objective: Objective, layers: Sequence[str] = ()):
        import tensorflow as tf

        info = model_info(model)
        self.info = info
        self.objective = objective
        self.layers = tuple(layers)
        self.targets = objective.batch_size() or 1
        self.input_shape = info.input_shape
        self.extractor = FeatureExtractor(model, objective.layers() | frozenset(self.layers), info)
        self._fn = tf.function(self._call, autograph=False)  # no tensor-valued Python control flow (engine.graph)
        self._concrete: dict[tuple, Any] = {}

    def _call(self, x: Any, params: list) -> tuple[Any, dict]:
        import tensorflow as tf

        ctx = self.extractor(x)
        values = tf.stack([self.objective.evaluate(ctx, p) for p in params], axis=1)
        means = {}
        for name in self.layers:
            out = ctx.features[name]
            axes = list(range(1, len(out.shape) - 1))
            means[name] = tf.reduce_mean(out, axis=axes) if axes else tf.reshape(out, [tf.shape(out)[0], -1])
        return values, means

    def params(self, objective: Objective, batch: int) -> list[list[Any]]:
        """``objective``'s values for a batch of ``batch`` inputs, once per target (target ``t`` for every input).

        They are tensors already, so that feeding them again costs nothing.
        """
        import tensorflow as tf

        full = objective.params(self.targets)
        return [[tf.constant(p) for p in objective.slice_params(full, np.full(batch, t))] for t in range(self.targets)]

    def __call__(
        self, x: np.ndarray, objective: Objective | None = None, params: list | None = None
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Values ``(B, T)`` and channel means at the inputs ``x`` (objective: same structure, other values)."""
        import tensorflow as tf

        x = tf.constant(np.asarray(x, dtype=np.float32))
        params = self.params(objective or self.objective, len(x)) if params is None else params
        key = (tuple(x.shape), tuple(tuple(p.shape) for p in params[0]))
        if key not in self._concrete:  # called directly: no signature matching of the fed values per batch
            self._concrete[key] = self._fn.get_concrete_function(x, params)
        values, means = self._concrete[key](x, params)
        return values.numpy().astype(np.float64), {k: v.numpy().astype(np.float64) for k, v in means.items()}


def forward_of(model: Any, objective: Any, layers: Sequence[str] = ()) -> Forward:
    """The cached :class:`Forward` of ``model`` for ``objective``'s structure and ``layers``."""
    objective = as_objective(objective)
    key = (objective.structure(), objective.batch_size() or 1, tuple(layers))
    cache = model.__dict__.setdefault(CACHE_ATTR, {})
    if key not in cache:
        cache[key] = Forward(model, objective, layers)
    objective.validate(cache[key].info)  # this objective's indices, not only the first one's
    return cache[key]


def forward(
    model: Any, objective: Any, x: Any, *, layers: Sequence[str] = (), batch_size: int = 256
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The objective's values ``(N, T)`` and ``layers``' channel means at the inputs ``x`` (N, *input_shape).

    Runs in batches of ``batch_size`` through one compiled pass (see :class:`Forward`).
    """
    objective = as_objective(objective)
    fwd = forward_of(model, objective, layers)
    x = np.asarray(x, dtype=np.float32)
    values: list[np.ndarray] = []
    means: dict[str, list[np.ndarray]] = {name: [] for name in fwd.layers}
    for i in range(0, len(x), batch_size):
        v, m = fwd(x[i : i + batch_size], objective)
        values.append(v)
        for name in fwd.layers:
            means[name].append(m[name])
    empty = np.zeros((0, fwd.targets))
    return (np.concatenate(values) if values else empty), {k: np.concatenate(v) for k, v in means.items() if v}
