"""Objectives as linear specifications on one node: the rows whose bounds make up the objective's.

An objective is split into groups, each read off one layer:

- ``"sum"``: every ClassLogit, Neuron, mean Channel and Direction term on the same
  layer, with its coefficient, folded into one row (so ``ClassLogit(k) - ClassLogit(j)``
  is bounded as one margin, never as the difference of two bounds);
- ``"max"``: a ``Channel(..., reduce="max")`` term, one row per spatial position
  (the max of the rows' bounds bounds the max);
- ``"prob"``: a ``ClassProbability`` term, one row ``z_j - z_k`` per other class ``j``;
  with ``L_j <= z_j - z_k <= U_j``, ``1/(1 + sum_j exp(U_j)) <= p_k <= 1/(1 + sum_j exp(L_j))``;
- ``"sigmoid"``: a ``ClassProbability`` term of a model whose head is a sigmoid (multi-label):
  one row ``z_k``; ``sigmoid`` is increasing, so ``sigmoid(L) <= p_k <= sigmoid(U)``.

The rows of ``"max"``, ``"prob"`` and ``"sigmoid"`` groups have one or two entries each and
are held by index (:class:`.unitrows.UnitRows`: memory linear in the node's size); ``"sum"``
rows are dense arrays, one row per item.

The objective's bound is the sum of its groups' bounds (sound, and exact in the
common case of a single group). Coefficients are rounded to float32 first, as the
ascent engine evaluates them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

import numpy as np

from ..errors import ConfigurationError
from ..objectives import (
    LOGITS,
    Channel,
    ClassLogit,
    ClassProbability,
    Direction,
    Neuron,
    Objective,
)
from .graph import LOGITS_TARGET
from .unitrows import Rows, UnitRows

__all__ = ["Group", "targets_of", "groups_of"]

_SUPPORTED = "ClassLogit, ClassProbability, Neuron, Channel, Direction and sums of them with number coefficients"
Term: TypeAlias = ClassLogit | Neuron | Channel | Direction  # ClassProbability is a ClassLogit


@dataclass(frozen=True)
class Group:
    """Rows ``(B, K, *shape)`` of a linear function of the node of ``target``, how their
    bounds combine (``kind``), and the coefficient applied after combining.

    ``rows`` is dense (an array) for ``"sum"`` groups, and :class:`.unitrows.UnitRows` (one or
    two entries per row, by index) for the others; :func:`.unitrows.dense` makes any of them
    an array, at a cost quadratic in the node's size for ``"max"`` and ``"prob"``."""

    target: str
    rows: Rows
    kind: str
    coef: float


def _term(leaf: Objective) -> Term:
    """``leaf`` as a term that bounds can read; refused otherwise."""
    if not isinstance(leaf, (ClassLogit, Neuron, Channel, Direction)):
        raise ConfigurationError(
            f"bounds cannot bound the objective term {leaf!r}: it is not affine in a layer's output. "
            f"Supported: {_SUPPORTED}"
        )
    return leaf


def _target(leaf: Term) -> str:
    if isinstance(leaf, ClassLogit):
        return LOGITS_TARGET
    return leaf.layer if leaf.layer != LOGITS else LOGITS_TARGET


def targets_of(objective: Objective) -> list[str]:
    """The layers (or ``LOGITS_TARGET``) the objective reads, in order; refuses other terms."""
    out: list[str] = []
    for leaf in objective.leaves():
        t = _target(_term(leaf))
        if t not in out:
            out.append(t)
    return out


def _flat_index(index: np.ndarray, batch: int) -> np.ndarray:
    return np.broadcast_to(index, (batch,)).astype(np.int64)


def _spatial(shape: tuple[int, ...], crop: int) -> np.ndarray:
    """A mask over ``shape`` of the positions a Channel reduces over (crop on spatial axes)."""
    keep = np.zeros(shape[:-1], dtype=bool)
    keep[tuple(slice(crop, s - crop) for s in shape[:-1])] = True
    return keep


def _units(index: np.ndarray, shape: tuple[int, ...]) -> UnitRows:
    """Unit rows, one entry each (``index``: ``(B, K)`` flat indices), with coefficient 1."""
    index = np.asarray(index, dtype=np.int64)[..., None]
    return UnitRows(index, np.ones(index.shape), shape)


def _leaf_rows(leaf: Term, shape: tuple[int, ...], batch: int, squash: str) -> tuple[str, Rows]:
    """``(kind, rows)`` of one term: ``(B, K, *shape)`` dense, or as :class:`.unitrows.UnitRows`."""
    size = int(np.prod(shape))
    if isinstance(leaf, ClassProbability) and squash == "sigmoid":
        return "sigmoid", _units(_flat_index(leaf.index, batch)[:, None], shape)
    if isinstance(leaf, ClassProbability):
        k = _flat_index(leaf.index, batch)[:, None]
        before = np.arange(size - 1)[None, :]
        others = before + (before >= k)  # every class but k, in order
        index = np.stack([others, np.broadcast_to(k, others.shape)], axis=2)
        coef = np.broadcast_to(np.array([1.0, -1.0]), index.shape)
        return "prob", UnitRows(index, coef, shape)
    if isinstance(leaf, (ClassLogit, Neuron)) or (isinstance(leaf, Channel) and len(shape) == 1):
        rows = np.zeros((batch, 1, size))
        rows[np.arange(batch), 0, _flat_index(leaf.index, batch)] = 1.0
        return "sum", rows.reshape((batch, 1, *shape))
    if isinstance(leaf, Channel):
        keep = _spatial(shape, leaf.crop if len(shape) > 1 else 0)
        chans = _flat_index(leaf.index, batch)
        if leaf.reduce == "mean":
            rows = np.zeros((batch, 1, *shape))
            rows[np.arange(batch), 0, ..., chans] = keep / keep.sum()
            return "sum", rows
        kept = np.flatnonzero(keep.ravel())  # flat spatial index of each kept position
        return "max", _units(kept[None, :] * shape[-1] + chans[:, None], shape)
    vec = np.asarray(leaf.vector, dtype=np.float64)
    if len(shape) > 1 and shape[-1] == vec.size:
        positions = size // shape[-1]
        row = np.broadcast_to(vec / positions, shape)
    else:
        row = vec.reshape(shape)
    return "sum", np.broadcast_to(row, (batch, 1, *shape))


def groups_of(
    objective: Objective, shapes: dict[str, tuple[int, ...]], batch: int, squash: str = "softmax"
) -> list[Group]:
    """The groups of ``objective`` for a batch, given the shape of each target node.

    ``squash`` is how the model's head turns logits into probabilities ('sigmoid' for a
    multi-label head, else a softmax), which decides what a ``ClassProbability`` bounds.
    """
    coefs = objective.params(batch)[0].astype(np.float64)  # float32, as the engine evaluates
    sums: dict[str, np.ndarray] = {}
    groups: list[Group] = []
    for coef, term in zip(coefs, objective.leaves()):
        leaf = _term(term)
        target = _target(leaf)
        shape = shapes[target]
        if target == LOGITS_TARGET and len(shape) != 1:
            raise ConfigurationError(f"the model's logits have shape {shape}; class objectives need one axis")
        kind, rows = _leaf_rows(leaf, shape, batch, squash)
        if kind == "sum":
            assert isinstance(rows, np.ndarray)  # sums are dense
            sums[target] = sums.get(target, 0.0) + coef * rows
        else:
            groups.append(Group(target, rows, kind, float(coef)))
    return [Group(t, np.asarray(r), "sum", 1.0) for t, r in sums.items()] + groups
