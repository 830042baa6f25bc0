"""The faithfulness scores of visualizations of a unit: the forward passes behind ``fv.assert_faithful``.

:func:`faithfulness` measures, for each visualization (batch item ``i`` shows target ``i`` of
the objective, or its only target), the three scores of :mod:`.scores` against natural data
summarised by :func:`~.stream.top_examples`; it judges nothing (the thresholds live in
``claims``). The layers "below the unit" are those of the model's own graph that the unit's
layer depends on (:func:`layers_below`).

Examples
--------
>>> import keras, numpy as np
>>> inp = keras.Input((4,))
>>> h = keras.layers.Dense(3, name="h")(inp)
>>> m = keras.Model(inp, keras.layers.Dense(2, name="out")(h))
>>> layers_below(m, {"out"})
['h']
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np

from ..errors import ConfigurationError
from ..models import entries, model_info, topological_calls
from ..objectives import LOGITS, PROBABILITIES, Objective
from .forward import forward
from .scores import Calibration, Continuity, PathSimilarity, calibration, continuity, path_similarity
from .stream import TopExamples

__all__ = ["Faithfulness", "faithfulness", "layers_below", "PATH_POINTS"]

PATH_POINTS = 64  # steps along the straight path from the nearest exemplar to the visualization
_NOT_FEATURES = ("InputLayer", "Flatten", "Reshape", "Dropout", "SpatialDropout2D", "GaussianNoise", "Activation")


def layers_below(model: Any, unit_layers: Collection[str]) -> list[str]:
    """The layers the unit's layers depend on (this graph's top level, in order), feature layers only.

    Reshapes, dropouts and bare activations are left out (they repeat a neighbour), and so
    are the unit's own layers; ``LOGITS``/``PROBABILITIES`` stand for the model's output.
    """
    found = entries(model)
    node_of = {path: node for path, _, node in found}
    targets = [
        t for name in unit_layers for t in (model.outputs if name in (LOGITS, PROBABILITIES) else node_of[name].outputs)
    ]
    needed = {id(node) for node in topological_calls(model, targets)}
    own = {id(node_of[name]) for name in unit_layers if name in node_of}
    if any(name in (LOGITS, PROBABILITIES) for name in unit_layers):
        own |= {id(node) for node in topological_calls(model, model.outputs)[-1:]}
    return [
        path
        for path, layer, node in found
        if id(node) in needed and id(node) not in own and type(layer).__name__ not in _NOT_FEATURES
    ]


@dataclasses.dataclass(frozen=True, eq=False)
class Faithfulness:
    """The scores of each visualization (one entry per batch item).

    ``paths[i]`` maps each layer below the unit to its :class:`PathSimilarity`;
    ``path_mean[i]`` is the mean of their finite scores (NaN when no layer could tell
    exemplars from random inputs); ``nearest[i]`` is the top exemplar (its index in the
    data) that the continuity path starts from; ``targets[i]`` the objective's target.
    """

    calibration: tuple[Calibration, ...]
    paths: tuple[dict[str, PathSimilarity], ...]
    path_mean: tuple[float, ...]
    continuity: tuple[Continuity, ...]
    nearest: tuple[int, ...]
    targets: tuple[int, ...]
    layers: tuple[str, ...]


def _targets_of(objective: Objective, batch: int) -> list[int]:
    n = objective.batch_size() or 1
    if n not in (1, batch):
        raise ConfigurationError(
            f"{objective!r} has {n} targets but {batch} visualizations were given; give one visualization per "
            "target (item i shows target i), or an objective with one target"
        )
    return [0] * batch if n == 1 else list(range(batch))


def faithfulness(
    model: Any,
    objective: Objective,
    visualizations: np.ndarray,
    natural: Sequence[TopExamples],
    *,
    layers: Sequence[str] | None = None,
    path_points: int = PATH_POINTS,
    eps: float = 1e-6,
) -> Faithfulness:
    """Score each visualization against the natural summary of its target (``natural[target]``)."""
    x = np.asarray(visualizations, dtype=np.float32)
    targets = _targets_of(objective, len(x))
    below = list(layers_below(model, objective.layers()) if layers is None else layers)
    model_info(model)  # a clear error for a model without inputs, before any pass
    values, means = forward(model, objective, x, layers=below)
    sample = natural[0].sample
    sample_means = forward(model, objective, sample, layers=below)[1] if len(sample) else {}
    cals, paths, path_mean, conts, nearest = [], [], [], [], []
    for i, t in enumerate(targets):
        nat = natural[t]
        cals.append(calibration(values[i, t], nat.activations, eps))
        ex_means = forward(model, objective, nat.inputs, layers=below)[1] if below else {}
        per_layer = {
            name: path_similarity(means[name][i], ex_means[name], sample_means[name]) for name in below if len(sample)
        }
        paths.append(per_layer)
        finite = [p.score for p in per_layer.values() if np.isfinite(p.score)]
        path_mean.append(float(np.mean(finite)) if finite else float("nan"))
        dist = ((nat.inputs.reshape(len(nat.inputs), -1) - x[i].reshape(1, -1)) ** 2).sum(axis=1)
        near = int(np.argmin(dist))
        alphas = np.linspace(0.0, 1.0, path_points + 1, dtype=np.float32).reshape(-1, *([1] * x[i].ndim))
        line = (1 - alphas) * nat.inputs[near][None] + alphas * x[i][None]
        conts.append(continuity(forward(model, objective, line)[0][:, t]))
        nearest.append(int(nat.indices[near]))
    return Faithfulness(
        tuple(cals), tuple(paths), tuple(path_mean), tuple(conts), tuple(nearest), tuple(targets), tuple(below)
    )
