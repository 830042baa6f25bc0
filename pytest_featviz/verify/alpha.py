"""alpha-CROWN: CROWN's final backward pass with the lower slopes of unstable ReLUs optimised.

For a ReLU-family neuron whose input interval ``[l, u]`` straddles 0 (below the cap of
a ReLU6), every line ``s * x`` with ``alpha <= s <= 1`` (``alpha``: the leak, 0 for
ReLU) lies below the activation on ``[l, u]``: each choice of slopes gives a sound
bound, and CROWN's (0 or 1, whichever is closer) is one of them. Here each bounded row
gets its own slopes, optimised by projected gradient descent (Adam, slopes clipped to
``[alpha, 1]``) on the row's float32 bound (the rounding terms included), starting
from CROWN's slopes; the smallest bound met on the way is kept, so the result is
never looser than CROWN's, row by row. Each row stops on its own (when its bound improved by
less than a relative 1e-5 over 5 iterations), so its bound does not depend on the rows or
batch items bounded beside it (:mod:`.stack` relies on that).

The gradient is exact and analytic (reverse mode by hand, in numpy float64): the bound
is ``const + |A| . D + concretise(A_0)``, linear in the rows ``A_n`` reaching each node
for fixed signs, so its derivative with respect to ``A_n`` is carried forward from the
input through the adjoints' adjoints (the layers themselves, bias included, and the
relaxation lines), and the derivative with respect to a slope is ``A_n * dU/dA_in``
where the row is negative. One iteration costs one backward pass and one forward sweep
of the rows. Intermediate bounds (hence which neurons are unstable, and the upper
lines) stay CROWN's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .adam import DECAY, adam_step
from .bits import box_products
from .graph import Graph
from .nonlinear import Activation, MaxPool2D, Multiply
from .propagation import State, backward

__all__ = ["alpha_backward", "ALPHA_ITERATIONS", "ALPHA_STEP", "ALPHA_ELEMENTS"]

ALPHA_ITERATIONS = 30
"""Projected-gradient iterations per call."""
ALPHA_STEP = 0.25
"""Adam's step size on the slopes (which lie in ``[0, 1]``); it decays by :data:`.adam.DECAY` per iteration."""
ALPHA_ELEMENTS = 2**22
"""Numbers per array (32 MiB of float64) in one group of items optimised by one compiled call."""
_PATIENCE, _STALL = 5, 1e-5  # a row stops when 5 iterations improved its bound by < 1e-5 relative


def _free(graph: Graph, state: State, target: int) -> dict[int, tuple[np.ndarray, float]]:
    """Per ReLU-family node before ``target``: which neurons' lower slopes are free (input
    interval straddling 0, below the cap) and the smallest valid slope (the leak)."""
    free = {}
    for n in range(1, target + 1):
        op = graph.nodes[n].op
        if not (isinstance(op, Activation) and op.relu_family):
            continue
        x = graph.nodes[n].inputs[0]
        low, high = state.clow[x], state.chigh[x]
        mask = (low < 0) & (high > 0) & (high <= op.cap)
        if mask.any():
            free[n] = (mask, float(op.alpha))
    return free


def _input_gradient(state: State, a: np.ndarray) -> np.ndarray:
    """The derivative of :func:`.propagation.bound_at` (node 0, float32) with respect to the rows ``a``."""
    b, k = a.shape[:2]
    shape = a.shape
    flat = a.reshape(b, k, -1)
    low, high = state.clow[0].reshape(b, 1, -1), state.chigh[0].reshape(b, 1, -1)
    grad = np.where(flat > 0, high, low)
    ball = state.ball[0]
    if ball is not None and state.radius is not None:
        box = box_products(flat, low, high).sum(axis=2)
        centre, scale = ball[0].reshape(b, 1, -1), ball[1].reshape(b, 1, -1)
        spread = np.sqrt(np.square(flat * scale).sum(axis=2, keepdims=True))
        berr = state.berr[0]
        err = 0.0 if berr is None else np.abs(flat) * berr.reshape(b, 1, -1)
        value = (flat * centre + err).sum(axis=2) + state.radius[:, None] * spread[..., 0]
        sign = 0.0 if berr is None else np.sign(flat) * berr.reshape(b, 1, -1)
        ball_grad = centre + sign + state.radius[:, None, None] * flat * scale**2 / np.where(spread > 0, spread, 1.0)
        grad = np.where((value < box)[..., None], ball_grad, grad)
    return grad.reshape(shape)


def _gradients(graph: Graph, state: State, rows: dict[int, np.ndarray], slopes: dict[int, np.ndarray]) -> dict:
    """``dU/d slopes`` per free node, from the rows recorded by one backward pass."""
    grad: dict[int, np.ndarray] = {0: _input_gradient(state, rows[0])} if 0 in rows else {}
    out: dict[int, np.ndarray] = {}
    for n in sorted(rows):
        if n == 0:
            continue
        a = rows[n]
        b, k = a.shape[:2]
        node = graph.nodes[n]
        ins = [grad.get(i, np.zeros((b, k, *graph.nodes[i].shape))) for i in node.inputs]
        op = graph.op(n)
        if isinstance(op, Activation):
            al, bl, au, bu = (r[:, None] for r in state.relax[n])
            al = slopes.get(n, al)
            pos = a > 0
            g = np.where(pos, au * ins[0] + bu, al * ins[0] + bl)
            if n in slopes:
                out[n] = np.where(pos, 0.0, a * ins[0])
        elif isinstance(op, MaxPool2D):
            sel, exact, umax = (r[:, None] for r in state.relax[n])
            x_shape = graph.nodes[node.inputs[0]].shape
            windows = op._windows(ins[0].reshape((b * k, *x_shape)))
            picked = np.take_along_axis(windows, np.broadcast_to(sel, a.shape).reshape((1, b * k, *a.shape[2:])), 0)
            g = np.where((a > 0) & ~exact, umax, picked[0].reshape(a.shape))
        elif isinstance(op, Multiply):
            lx, _, ly, uy = (r[:, None] for r in state.relax[n])
            y_bound = np.where(a > 0, uy, ly)
            gx, gy = (_lift(v, a.shape) for v in ins)
            g = y_bound * gx + lx * gy - lx * y_bound
        else:
            flat = [v.reshape((b * k, *v.shape[2:])) for v in ins]
            g = op.apply(flat, "value").reshape(a.shape)
        pert = state.pert[n]
        if pert is not None:
            g = g + np.sign(a) * pert[:, None]
        grad[n] = g
    return out


def _lift(v: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``v`` (``(B, K, *s)``) broadcast to ``shape`` (``(B, K, *out)``) as a product's factor (numpy rules)."""
    lead = v.shape[:2]
    inner = v.shape[2:]
    v = v.reshape(lead + (1,) * (len(shape) - 2 - len(inner)) + inner)
    return np.broadcast_to(v, shape)


def alpha_backward(
    graph: Graph,
    state: State,
    target: int,
    a: np.ndarray,
    *,
    iterations: int | None = None,
    step: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """alpha-CROWN upper bounds ``(B, K)`` of the rows ``a`` (``(B, K, *shape)``) of a linear
    function of node ``target``: the smallest float32 and exact bounds met over
    ``iterations`` (default :data:`ALPHA_ITERATIONS`) of projected gradient with step size
    ``step`` (default :data:`ALPHA_STEP`) on the rows' lower slopes (CROWN's included)."""
    iterations = ALPHA_ITERATIONS if iterations is None else iterations
    step = ALPHA_STEP if step is None else step
    b, k = a.shape[:2]
    per_item = k * sum(int(np.prod(nd.shape)) for nd in graph.nodes[: target + 1])
    items = max(1, ALPHA_ELEMENTS // max(1, 4 * per_item))
    found = [np.empty((b, k)), np.empty((b, k))]
    for i0 in range(0, b, items):
        part = slice(i0, min(i0 + items, b))
        computed, exact = _optimise(graph, state.take(part), target, a[part], iterations, step)
        found[0][part], found[1][part] = computed, exact
    return found[0], found[1]


def _block(active: np.ndarray) -> tuple[np.ndarray, Any]:
    """The items with an active row, and the index of the block of items and rows still active."""
    items, rows = np.flatnonzero(active.any(axis=1)), np.flatnonzero(active.any(axis=0))
    if items.size == active.shape[0] and rows.size == active.shape[1]:
        return items, np.s_[:, :]
    return items, np.ix_(items, rows)


def _optimise(
    graph: Graph, state: State, target: int, a: np.ndarray, iterations: int, step: float
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`alpha_backward` on one chunk of items: each row (of each item) is optimised and
    stopped on its own, so its bound does not depend on the rows and items beside it."""
    free = _free(graph, state, target)
    best_c, best_e = (np.array(v) for v in backward(graph, state, None, target, a))
    if not free:
        return best_c, best_e
    b, k = a.shape[:2]
    slopes = {n: np.array(np.broadcast_to(state.relax[n][0][:, None], (b, k, *graph.nodes[n].shape))) for n in free}
    moments = {n: (np.zeros_like(s), np.zeros_like(s)) for n, s in slopes.items()}
    active, last = np.ones((b, k), dtype=bool), np.full((b, k), np.inf)
    for it in range(iterations + 1):  # the last pass only evaluates the last step's slopes
        items, block = _block(active)
        if not items.size:
            break
        sub = state if items.size == b else state.take(items)
        sub_slopes = {n: s[block] for n, s in slopes.items()}
        record: dict[int, np.ndarray] = {}
        computed, exact = backward(graph, sub, None, target, a[block], slopes=sub_slopes, record=record)
        live = active[block]
        best_c[block] = np.where(live, np.fmin(best_c[block], computed), best_c[block])
        best_e[block] = np.where(live, np.fmin(best_e[block], exact), best_e[block])
        if it == iterations:
            break
        if it % _PATIENCE == _PATIENCE - 1:  # a row stops when its own bound stopped improving
            now = best_c[block]
            live = live & ((last[block] - now) > _STALL * (1.0 + np.abs(now)))  # NaN: stopped
            active[block], last[block] = live, now
        grads = _gradients(graph, sub, record, sub_slopes)
        rate = step * DECAY**it
        for n, (mask, leak) in free.items():
            move = live.reshape(live.shape + (1,) * (slopes[n].ndim - 2)) & mask[items][:, None]
            g = np.where(move, grads[n], 0.0)
            taken, (m, v) = adam_step(g, (moments[n][0][block], moments[n][1][block]), it + 1, rate)
            moments[n][0][block], moments[n][1][block] = m, v
            moved = np.clip(sub_slopes[n] - taken, leak, 1.0)
            slopes[n][block] = np.where(move, moved, sub_slopes[n])
    return best_c, best_e
