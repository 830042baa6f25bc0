"""Diversity across the batch (private; re-exported by ``objectives``): Lucid's diversity term.

:class:`Diversity` is, for each batch item, minus the mean cosine similarity of its Gram
matrix of a layer's activations with those of the other items. Added to a unit's objective
(``fv.Channel("conv2", 3) + 2.0 * fv.Diversity("conv1")``) over a batch of starts of one
target (``restarts=4``), it pushes the items apart, so that ``ascend`` returns distinct
visualizations of the unit (Olah et al., *Feature Visualization*, Distill 2017, "Diversity").
It couples the items of one batch: run them in one chunk (no ``max_batch`` smaller than it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .layers import _WholeLayer

__all__ = ["Diversity"]


@dataclass(frozen=True, repr=False, eq=False)
class Diversity(_WholeLayer):
    """Minus the mean cosine similarity of an item's Gram matrix of ``layer`` with the other items' (in [-1, 1]).

    For activations ``A_b`` of shape ``(positions, C)``, ``G_b = A_b^T A_b``; the value of
    item ``b`` of a batch of ``B`` is ``-sum_{j != b} <G_b, G_j> / (|G_b| |G_j|) / (B - 1)``
    (0 for a batch of one). A dense layer's output ``(B, C)`` counts as one position.

    Examples
    --------
    >>> from pytest_featviz.objectives import Channel
    >>> Channel("conv2", 3) + 2.0 * Diversity("conv1")
    Channel('conv2', 3) + 2 * Diversity('conv1')
    """

    def _evaluate(self, ctx: Any, values: list[Any]) -> Any:
        import tensorflow as tf

        out = ctx.features[self.layer]
        batch = tf.shape(out)[0]
        flat = tf.reshape(out, [batch, -1, out.shape[-1]])
        grams = tf.reshape(tf.matmul(flat, flat, transpose_a=True), [batch, -1])
        unit = tf.math.l2_normalize(grams, axis=1, epsilon=1e-12)
        sims = tf.matmul(unit, unit, transpose_b=True)
        others = tf.reduce_sum(sims, axis=1) - tf.linalg.diag_part(sims)
        pairs = tf.maximum(tf.cast(batch, out.dtype) - 1.0, 1.0)
        return -others / pairs
