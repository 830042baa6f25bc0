"""What a model does at given inputs: the numbers behind the behavioural comparisons (private).

An objective's values and a reference layer's activations at fixed inputs, in one forward
pass of the model (no ascent). TensorFlow is imported inside the functions; everything
returned is numpy. :func:`pytest_featviz.baselines.capture` stores the reference
activations of the accepted model, :func:`pytest_featviz.baselines.compare` computes
them again under the new one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ConfigurationError
from .checks import Check, cross_activation, similarity

__all__ = ["LOGITS_LAYER", "reference_layer", "activations", "objective_values", "cross_table", "measure"]

LOGITS_LAYER = "logits"  # the reference of class objectives: the model's logits (before a final softmax)
_CHUNK = 256


def reference_layer(objective: Any) -> str | None:
    """The layer whose activations represent an objective's inputs: its own layer, or the logits.

    ``None`` for an objective that reads no layer (e.g. a regularizer alone).

    Examples
    --------
    >>> import pytest_featviz as fv
    >>> reference_layer(fv.Channel("conv1", [0, 1])), reference_layer(fv.ClassLogit(3))
    ('conv1', 'logits')
    """
    from ..objectives import LOGITS, PROBABILITIES

    needs = objective.layers()
    if needs & {LOGITS, PROBABILITIES}:
        return LOGITS_LAYER
    return min(needs) if needs else None


def _chunks(inputs: Any) -> Any:
    x = np.asarray(inputs, dtype=np.float32)
    for first in range(0, len(x), _CHUNK):
        yield first, x[first : first + _CHUNK]


def activations(model: Any, layer: str, inputs: Any) -> np.ndarray:
    """The output of ``layer`` (``'logits'``: the logits) at ``inputs``, float32 of shape ``(B, *layer_shape)``.

    Examples
    --------
    >>> import keras, numpy as np
    >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, name="d", kernel_initializer="ones")])
    >>> activations(m, "d", np.array([[1.0, 2.0]]))
    array([[3., 3., 3.]], dtype=float32)
    """
    from ..models import FeatureExtractor, layer_names
    from ..objectives import LOGITS

    want = LOGITS if layer == LOGITS_LAYER else layer
    if want != LOGITS and want not in layer_names(model):
        raise ConfigurationError(
            f"the reference layer {layer!r} is not a layer of {model.name!r}; choose one of "
            f"{[LOGITS_LAYER, *layer_names(model)]}"
        )
    extractor = FeatureExtractor(model, frozenset({want}))
    parts = []
    for _, x in _chunks(inputs):
        ctx = extractor(x)
        parts.append(np.asarray(ctx.logits if want == LOGITS else ctx.features[want]))
    return np.concatenate(parts).astype(np.float32)


def objective_values(model: Any, objective: Any, inputs: Any) -> np.ndarray:
    """``objective`` at ``inputs`` under ``model``, float64 of shape ``(B,)`` (item i scores target i).

    Examples
    --------
    >>> import keras, numpy as np, pytest_featviz as fv
    >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, name="d", kernel_initializer="identity")])
    >>> objective_values(m, fv.Neuron("d", [0, 1]), np.array([[1.0, 2.0], [3.0, 4.0]]))
    array([1., 4.])
    """
    from ..models import FeatureExtractor, model_info

    x = np.asarray(inputs, dtype=np.float32)
    info = model_info(model)
    objective.validate(info)
    extractor = FeatureExtractor(model, objective.layers(), info)
    params = objective.params(len(x))
    out = []
    for first, part in _chunks(x):
        items = np.arange(first, first + len(part))
        ctx = extractor(part)
        out.append(np.asarray(objective.evaluate(ctx, objective.slice_params(params, items))))
    return np.concatenate(out).astype(np.float64)


def cross_table(model: Any, objective: Any, stored: np.ndarray, own_best: np.ndarray, atol: float) -> np.ndarray:
    """``table[i, j]``: the cross-activation of the objective's item ``i`` at stored input ``j`` (for matching)."""
    count = len(stored)
    columns = [objective_values(model, objective, np.repeat(stored[j : j + 1], count, axis=0)) for j in range(count)]
    return np.stack([cross_activation(col, own_best, atol) for col in columns], axis=1)


def measure(
    model: Any,
    objective: Any,
    got: Any,
    want: Any,
    mapping: np.ndarray,
    names: tuple[str, ...],
    old_model: Any,
    *,
    min_cross: float,
    min_similarity: float,
    kind: str,
    atol: float,
) -> list[Check]:
    """The behavioural :class:`~.checks.Check` s of a new result ``got`` against the baseline ``want``.

    Item ``i`` of ``got`` is compared with stored item ``mapping[i]``. Only the comparisons
    in ``names`` are made (``'cross'``, ``'cross_back'``, ``'similarity'``); every one made is judged.
    """
    stored = want.inputs[mapping]
    found = []
    if "cross" in names:
        at_stored = objective_values(model, objective, stored)
        old = None if want.values is None else want.values[mapping]
        found.append(Check("cross", cross_activation(at_stored, got.values, atol, old), min_cross))
    if "cross_back" in names:  # the old unit mapping[i] at new input i, against its stored best
        inverse = np.argsort(mapping)
        old_at_new = objective_values(old_model, objective, got.inputs[inverse])[mapping]
        old_best = objective_values(old_model, objective, want.inputs)[mapping]
        found.append(Check("cross_back", cross_activation(old_at_new, old_best, atol, got.values), min_cross))
    if "similarity" in names:
        new = activations(model, want.metadata["reference"], stored)
        found.append(Check("similarity", similarity(want.reference[mapping], new, kind), min_similarity))
    return found
