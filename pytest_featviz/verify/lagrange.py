"""Optimised CROWN bounds on the branches of branch and bound (the idea of alpha- and beta-CROWN).

A branch fixes the sign of some ReLU pre-activations: ``s_j v_j >= 0`` for the computed
(float32) value ``v_j`` of neuron ``j``, with ``s_j = +1`` (active) or ``-1`` (inactive).
On the branch, for any ``beta_j >= 0``, ``f <= f + sum_j beta_j s_j v_j``; the right-hand
side is a linear function of the nodes, bounded by the CROWN backward pass with the
extra rows injected at the pre-activation nodes (:func:`.propagation.backward`'s
``inject``), its rounding included. Likewise every lower line ``alpha z`` of an unstable
ReLU with ``slope <= alpha <= 1`` is a valid relaxation. So every ``(alpha, beta)`` in
that range gives a sound bound, and the best bound seen is kept.

The search is projected Adam on ``alpha`` and ``beta``. Its direction is a (sub)gradient:
with the backward pass's relaxation choices held fixed (upper line where a neuron's
coefficient is positive, lower line elsewhere; the input point where the linear
function is largest) the bound is linear in ``alpha`` and ``beta``, and its derivatives
are the values of the nodes of that fixed relaxed network at that point (Danskin's
theorem): ``d/d beta_j = s_j v_j`` and ``d/d alpha_j = c_j z_j`` where ``c_j < 0`` is the
coefficient of the ReLU's output. Max pooling and products are evaluated exactly in
that network (an approximation that only steers the search, never the bound).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .adam import DECAY, adam_step
from .graph import Graph
from .nonlinear import Activation, MaxPool2D, Multiply
from .propagation import InputSet, State, backward

__all__ = ["Relu", "splittable", "Optimised", "optimise", "LR_ALPHA", "LR_BETA"]

LR_ALPHA = 0.1
LR_BETA = 0.05


@dataclass(frozen=True)
class Relu:
    """A ReLU-family activation (``slope * z`` below 0, ``z`` above, no cap) that branches split.

    ``node`` is the activation, ``pre`` its input (where a split clamps the bounds);
    its neurons are ``offset .. offset + size`` of the flat vector of all of them.
    """

    node: int
    pre: int
    shape: tuple[int, ...]
    offset: int
    slope: float

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def part(self, flat: np.ndarray) -> np.ndarray:
        """This ReLU's slice of ``(..., N)`` reshaped to ``(..., *shape)``."""
        return flat[..., self.offset : self.offset + self.size].reshape((*flat.shape[:-1], *self.shape))


def splittable(graph: Graph, upto: int) -> tuple[Relu, ...]:
    """The ReLUs among nodes ``1..upto`` whose input is not the model's input, one per input node."""
    found: list[Relu] = []
    offset = 0
    for m, nd in enumerate(graph.nodes[: upto + 1]):
        op = nd.op
        if not (isinstance(op, Activation) and op.relu_family and not np.isfinite(op.cap)):
            continue
        pre = nd.inputs[0]
        if pre == 0 or any(r.pre == pre for r in found):
            continue
        found.append(Relu(m, pre, graph.nodes[pre].shape, offset, float(op.alpha)))
        offset += found[-1].size
    return tuple(found)


def _maximiser(state: State, inset: InputSet, rest: np.ndarray) -> np.ndarray:
    """The input point ``(B, K, *S)`` where the rows ``rest`` of the input are largest (box or ball)."""
    low, high = state.clow[0][:, None], state.chigh[0][:, None]
    box = np.where(rest > 0, high, np.where(rest < 0, low, 0.5 * (low + high)))
    if inset.center is None or inset.radius is None:
        return box
    axes = tuple(range(2, rest.ndim))
    norm = np.sqrt((rest**2).sum(axis=axes, keepdims=True))
    radius = inset.radius.reshape((-1, 1) + (1,) * len(axes))
    ball = inset.center[:, None] + radius * rest / np.where(norm > 0, norm, 1.0)
    box_value = (rest * box).sum(axis=axes, keepdims=True)
    ball_value = (rest * ball).sum(axis=axes, keepdims=True)
    return np.clip(np.where(ball_value < box_value, ball, box), low, high)


def _relaxed_values(
    graph: Graph, state: State, record: dict[int, np.ndarray], point: np.ndarray, target: int
) -> list[np.ndarray]:
    """The nodes ``0..target`` (``(B, K, *shape)``) of the relaxed network fixed by ``record`` at ``point``."""
    b, k = point.shape[:2]
    values = [point.reshape((b * k, *point.shape[2:]))]
    for n in range(1, target + 1):
        node, op = graph.nodes[n], graph.op(n)
        ins = [values[i] for i in node.inputs]
        coef = record.get(n)
        if isinstance(op, Activation) and coef is not None:
            al, bl, au, bu = (np.repeat(r, k, axis=0) for r in state.relax[n])
            up = coef.reshape((b * k, *node.shape)) > 0
            values.append(np.where(up, au * ins[0] + bu, al * ins[0] + bl))
        elif isinstance(op, (Activation, MaxPool2D)):
            values.append(op.f(ins[0]))
        elif isinstance(op, Multiply):
            values.append(op.f(ins[0], ins[1]))
        else:
            values.append(op.apply(ins, "value"))
    return [v.reshape((b, k, *v.shape[1:])) for v in values]


@dataclass(frozen=True)
class Optimised:
    """The best bounds ``upper`` (``(B, K)``, float32 evaluation) and the ``alpha`` (``(B, N)``)
    and ``beta`` (``(B, K, N)``) that gave them; ``record`` and ``point``: the rows reaching
    each node and the maximising input of the last pass (for choosing splits and attack points)."""

    upper: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    record: dict[int, np.ndarray]
    point: np.ndarray | None


def _set_alpha(state: State, relus: list[Relu], base: dict, alpha: np.ndarray, unstable: np.ndarray) -> None:
    """Lower lines ``alpha z`` (valid everywhere for ``slope <= alpha <= 1``) on the unstable neurons."""
    for r in relus:
        al, bl, au, bu = base[r.node]
        free = r.part(unstable)
        state.relax[r.node] = (np.where(free, r.part(alpha), al), np.where(free, 0.0, bl), au, bu)


def _gradients(
    graph: Graph,
    state: State,
    inset: InputSet,
    target: int,
    record: dict[int, np.ndarray],
    relus: list[Relu],
    signs: np.ndarray,
    total: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(d/d alpha, d/d beta, point)`` of the bounds with the pass's choices fixed (module documentation)."""
    b, k = record[0].shape[:2]
    point = _maximiser(state, inset, record[0])
    values = _relaxed_values(graph, state, record, point, target)
    g_alpha, g_beta = np.zeros((b, total)), np.zeros((b, k, total))
    for r in relus:
        at = slice(r.offset, r.offset + r.size)
        z = values[r.pre].reshape(b, k, -1)
        coef = record.get(r.node)
        if coef is not None:
            c = coef.reshape(b, k, -1)
            g_alpha[:, at] = np.where(c < 0, c * z, 0.0).sum(axis=1)
        pert = state.pert[r.pre]
        if pert is not None and r.pre in record:  # the rounding term |row| . D_n moves with beta too
            z = z + (np.sign(record[r.pre]) * pert[:, None]).reshape(b, k, -1)
        g_beta[:, :, at] = z * signs[:, None, at]
    return g_alpha, g_beta, point


def optimise(
    graph: Graph,
    state: State,
    inset: InputSet,
    target: int,
    rows: np.ndarray,
    relus: tuple[Relu, ...],
    signs: np.ndarray,
    start: tuple[np.ndarray | None, np.ndarray | None],
    iterations: int,
) -> Optimised:
    """Minimise the CROWN upper bounds of ``rows`` (``(B, K, *shape)`` of node ``target``) over
    ``alpha`` and ``beta`` for the branches ``signs`` (``(B, N)`` in {-1, 0, 1}), from ``start``
    (``(alpha, beta)``; None: CROWN's own slopes, and 0). ``state.relax`` is left as it was."""
    b, k = rows.shape[:2]
    total = sum(r.size for r in relus)
    used = [r for r in relus if r.node <= target]
    base = {r.node: state.relax[r.node] for r in used}

    def flat(per: Any) -> np.ndarray:  # per neuron of every ReLU (zero for those past the target)
        return (
            np.concatenate(
                [per(r).reshape(b, -1) if r.node <= target else np.zeros((b, r.size)) for r in relus], axis=1
            )
            if relus
            else np.zeros((b, 0))
        )

    unstable = flat(lambda r: (state.clow[r.pre] < 0) & (state.chigh[r.pre] > 0)).astype(bool)
    slope = flat(lambda r: np.full((b, r.size), r.slope))
    alpha = flat(lambda r: base[r.node][0]) if start[0] is None else start[0].copy()
    beta = np.zeros((b, k, total)) if start[1] is None else start[1].copy()
    split = signs != 0
    moments_a, moments_b = (np.zeros_like(alpha),) * 2, (np.zeros_like(beta),) * 2
    best = np.full((b, k), np.inf)
    best_alpha, best_beta = alpha.copy(), beta.copy()
    record: dict[int, np.ndarray] = {}
    point = None
    try:
        for it in range(iterations + 1):
            _set_alpha(state, used, base, alpha, unstable)
            inject = {r.pre: r.part(beta * signs[:, None]) for r in used if r.part(split).any()}
            record = {}
            upper, _ = backward(graph, state, inset, target, rows, inject=inject, record=record)
            better = upper < best
            best = np.where(better, upper, best)
            best_alpha[better.any(axis=1)], best_beta[better] = alpha[better.any(axis=1)], beta[better]
            if it == iterations or 0 not in record:
                break
            g_alpha, g_beta, point = _gradients(graph, state, inset, target, record, used, signs, total)
            step_a, moments_a = adam_step(np.where(unstable, g_alpha, 0.0), moments_a, it + 1, LR_ALPHA * DECAY**it)
            step_b, moments_b = adam_step(np.where(split[:, None], g_beta, 0.0), moments_b, it + 1, LR_BETA * DECAY**it)
            alpha = np.clip(alpha - step_a, slope, 1.0)
            beta = np.maximum(beta - step_b, 0.0)
    finally:
        state.relax.update(base)
    return Optimised(best, best_alpha, best_beta, record, point)
