"""Bound propagation over a translated graph: IBP forward, CROWN backward, float32 error model.

Forward pass (:func:`forward`), node by node in topological order:

- interval bound propagation (centre/radius form for linear layers);
- an L2 ball is carried as ``centre + D * delta`` (``||delta||_2 <= r``) through
  element-wise layers and reshapes, and the first layer that mixes coordinates
  bounds each output by ``centre_out +- r * ||row * D||_2``; the tighter of that and
  the interval bound is kept (both are sound);
- in CROWN mode, the pre-activation nodes (inputs of activations and max pooling)
  that are at least two coordinate-mixing layers away from the input are tightened
  by a CROWN backward pass with one row per neuron ("full CROWN"), when that costs
  at most :data:`FULL_CROWN_BUDGET` (rows are processed in chunks of at most 2**22
  float64 numbers, 32 MiB, whatever the batch); otherwise their IBP bounds are used
  ("CROWN-IBP"). Nodes closer to the input are skipped because IBP is already as
  tight as CROWN there. The relaxation of every non-linearity is then built from
  the final bounds of its input;
- a bound on the float32 evaluation error of the real model, per node.

Backward pass (:func:`backward`): rows of a linear function of one node are
pushed back to the input through the adjoints of linear layers and the
relaxations of non-linear ones; the result is concretised over the input set (the
box, and the L2 ball by the dual norm; the smaller bound is kept).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .graph import Graph
from .linear import LinearOp
from .nonlinear import Activation, MaxPool2D, Multiply

__all__ = ["InputSet", "State", "forward", "backward", "bound_at", "gamma", "FULL_CROWN_BUDGET"]

FULL_CROWN_BUDGET = 2**23
"""Largest ``2 * neurons * (sizes of the nodes before it)`` for which an intermediate
node gets full-CROWN bounds (per batch item, so an item's bounds never depend on the
batch it is in; roughly 0.1 s of numpy work per item)."""
_CHUNK_ELEMENTS = 2**22  # rows of a full-CROWN pass are processed in chunks of at most ~32 MiB


@dataclass(frozen=True)
class InputSet:
    """The input set per batch item: a box (already intersected with the ball's bounding
    box) and optionally an L2 ball ``||x - center||_2 <= radius``."""

    low: np.ndarray
    high: np.ndarray
    center: np.ndarray | None
    radius: np.ndarray | None


@dataclass
class State:
    """What the forward pass knows about every node, arrays of shape ``(B, *shape)``."""

    low: list[np.ndarray] = field(default_factory=list)
    high: list[np.ndarray] = field(default_factory=list)
    err: list[np.ndarray] = field(default_factory=list)
    ball: list[tuple[np.ndarray, np.ndarray] | None] = field(default_factory=list)
    depth: list[int] = field(default_factory=list)
    relax: dict[int, tuple[np.ndarray, ...]] = field(default_factory=dict)
    radius: np.ndarray | None = None
    ibp_only_nodes: int = 0


def gamma(n: int, unit: float) -> float:
    """Higham's bound ``n u / (1 - n u)`` on the relative error of ``n`` float operations."""
    nu = n * unit
    return np.inf if nu >= 1 else nu / (1 - nu)


def _mag(state: State, n: int) -> np.ndarray:
    return np.maximum(np.abs(state.low[n]), np.abs(state.high[n])) + state.err[n]


def _linear_step(op: LinearOp, node_inputs: tuple[int, ...], state: State, graph: Graph) -> tuple:
    lows = [state.low[i] for i in node_inputs]
    highs = [state.high[i] for i in node_inputs]
    mid = op.apply([0.5 * (lo + hi) for lo, hi in zip(lows, highs)], "value")
    rad = op.apply([0.5 * (hi - lo) for lo, hi in zip(lows, highs)], "abs")
    low, high = mid - rad, mid + rad
    ball = state.ball[node_inputs[0]] if len(node_inputs) == 1 else None
    new_ball = None
    if ball is not None and op.kind == "diagonal":
        new_ball = (op.apply([ball[0]], "value"), op.apply([ball[1]], "abs"))
    elif ball is not None and op.kind == "mixing" and state.radius is not None:  # a ball comes with its radius
        centre = op.apply([ball[0]], "value")
        r = state.radius.reshape((-1,) + (1,) * (centre.ndim - 1))
        spread = r * np.sqrt(op.apply([ball[1] ** 2], "square"))
        low, high = np.maximum(low, centre - spread), np.minimum(high, centre + spread)
    mags = [_mag(state, i) for i in node_inputs]
    errs = [state.err[i] for i in node_inputs]
    err = op.apply(errs, "abs") + gamma(op.steps, graph.unit) * (op.apply(mags, "abs") + op.const_mag())
    depth = max(state.depth[i] for i in node_inputs) + (op.kind != "diagonal")
    return low, high, err, new_ball, depth


def _nonlinear_step(op: Activation | MaxPool2D, x: int, state: State, graph: Graph) -> tuple:
    low, high = op.interval(state.low[x], state.high[x])
    if isinstance(op, MaxPool2D):
        return low, high, op.f(state.err[x]), state.depth[x] + 1
    # The computed input lies in [low - err, high + err], and so does the exact one: the output
    # error is at most the image's width there (saturating activations cap it), and L * err.
    err = state.err[x]
    wide_low, wide_high = op.interval(state.low[x] - err, state.high[x] + err)
    out = np.maximum(np.abs(wide_low), np.abs(wide_high))
    rounding = 8 * graph.unit * (out + 1.0) if op.transcendental else graph.unit * out
    depth = state.depth[x] + (state.radius is not None)
    return low, high, np.minimum(op.lipschitz * err, wide_high - wide_low) + rounding, depth


def _product_step(op: Multiply, inputs: tuple[int, ...], state: State, graph: Graph) -> tuple:
    """Bounds of a product; its float error ``|x'y' - xy| <= |x'| e_y + |y| e_x`` plus one rounding."""
    lows = [state.low[i] for i in inputs]
    highs = [state.high[i] for i in inputs]
    low, high = op.interval(lows, highs)
    mag_x, err_x, mag_y, err_y = op._lift([_mag(state, i) for i in inputs], [state.err[i] for i in inputs])
    err = mag_x * err_y + mag_y * err_x
    err = err + graph.unit * (np.maximum(np.abs(low), np.abs(high)) + err)
    depth = max(state.depth[i] for i in inputs) + (state.radius is not None)
    return low, high, np.broadcast_to(err, low.shape), depth


def _step(n: int, graph: Graph, state: State, relax: bool) -> tuple:
    """``(low, high, err, ball, depth)`` of node ``n``; with ``relax``, also its relaxation."""
    op, inputs = graph.op(n), graph.nodes[n].inputs
    if isinstance(op, Multiply):
        if relax:
            state.relax[n] = op.relax([state.low[i] for i in inputs], [state.high[i] for i in inputs])
        low, high, err, depth = _product_step(op, inputs, state, graph)
        return low, high, err, None, depth
    if isinstance(op, (Activation, MaxPool2D)):
        if relax:
            state.relax[n] = op.relax(state.low[inputs[0]], state.high[inputs[0]])
        low, high, err, depth = _nonlinear_step(op, inputs[0], state, graph)
        return low, high, err, None, depth
    return _linear_step(op, inputs, state, graph)


def forward(graph: Graph, inset: InputSet, crown: str | None) -> State:
    """Interval bounds, L2-ball images, error bounds and (``crown`` in {'full', 'ibp'})
    relaxations of every node; ``crown='full'`` tightens pre-activations by CROWN."""
    state = State(radius=inset.radius)
    unit = graph.unit
    state.low.append(inset.low)
    state.high.append(inset.high)
    state.err.append(unit * np.maximum(np.abs(inset.low), np.abs(inset.high)))
    state.ball.append(None if inset.center is None else (inset.center, np.ones_like(inset.center)))
    state.depth.append(0)
    needs = {i for nd in graph.nodes[1:] if isinstance(nd.op, (Activation, MaxPool2D, Multiply)) for i in nd.inputs}
    sizes = np.cumsum([int(np.prod(nd.shape)) for nd in graph.nodes])
    for n, node in enumerate(graph.nodes[1:], start=1):
        low, high, err, ball, depth = _step(n, graph, state, crown is not None)
        state.low.append(low)
        state.high.append(high)
        state.err.append(err)
        state.ball.append(ball)
        state.depth.append(depth)
        if crown is not None and n in needs and depth >= 2:
            work = 2 * int(np.prod(node.shape)) * int(sizes[n - 1])
            if crown == "full" and work <= FULL_CROWN_BUDGET:
                _tighten(graph, state, inset, n)
            else:
                state.ibp_only_nodes += 1
    return state


def _tighten(graph: Graph, state: State, inset: InputSet, n: int) -> None:
    """Intersect node ``n``'s bounds with full-CROWN bounds (one row per neuron, in chunks)."""
    batch = state.low[n].shape[0]
    shape = graph.nodes[n].shape
    size = int(np.prod(shape))
    widest = max(int(np.prod(nd.shape)) for nd in graph.nodes[: n + 1])
    chunk = max(1, _CHUNK_ELEMENTS // (batch * widest))
    upper = np.empty((batch, size))
    lower = np.empty((batch, size))
    for start in range(0, size, chunk):
        idx = np.arange(start, min(start + chunk, size))
        eye = np.zeros((len(idx), size))
        eye[np.arange(len(idx)), idx] = 1.0
        rows = np.concatenate([eye, -eye]).reshape((1, 2 * len(idx), *shape))
        res = backward(graph, state, inset, n, np.broadcast_to(rows, (batch, *rows.shape[1:])))
        upper[:, idx] = res[:, : len(idx)]
        lower[:, idx] = -res[:, len(idx) :]
    full = (batch, *shape)
    state.low[n] = np.maximum(state.low[n], lower.reshape(full))
    state.high[n] = np.minimum(state.high[n], upper.reshape(full))


def bound_at(state: State, n: int, a: np.ndarray) -> np.ndarray:
    """Upper bounds ``(B, K)`` of the rows ``a`` (``(B, K, *shape)``) of a linear function
    of node ``n`` over its interval and, when it carries one, its L2-ball image."""
    b, k = a.shape[:2]
    flat = a.reshape(b, k, -1)
    low = state.low[n].reshape(b, 1, -1)
    high = state.high[n].reshape(b, 1, -1)
    with np.errstate(invalid="ignore"):  # 0 * inf is never selected; NaN rows stay NaN
        best = np.where(flat > 0, flat * high, np.where(flat < 0, flat * low, flat * 0.0)).sum(axis=2)
    ball = state.ball[n]
    if ball is not None and state.radius is not None:  # a ball comes with its radius
        centre = np.einsum("bkn,bn->bk", flat, ball[0].reshape(b, -1))
        spread = np.sqrt((np.square(flat * ball[1].reshape(b, 1, -1))).sum(axis=2))
        best = np.minimum(best, centre + state.radius[:, None] * spread)
    return best


def backward(graph: Graph, state: State, inset: InputSet, target: int, a: np.ndarray) -> np.ndarray:
    """CROWN: upper bounds ``(B, K)`` of the rows ``a`` (``(B, K, *shape)``) of a linear
    function of node ``target``, over the input set."""
    b, k = a.shape[:2]
    pending: dict[int, np.ndarray] = {target: a}
    const = np.zeros((b, k))
    for n in range(target, 0, -1):
        if n not in pending:
            continue
        a = pending.pop(n)
        node = graph.nodes[n]
        op = graph.op(n)
        if isinstance(op, Activation):
            al, bl, au, bu = (r[:, None] for r in state.relax[n])
            pos = a > 0
            parts = [np.where(pos, a * au, a * al)]
            const += np.where(pos, a * bu, a * bl).reshape(b, k, -1).sum(axis=2)
        elif isinstance(op, MaxPool2D):
            a_in, c = op.backward(a, state.relax[n], graph.nodes[node.inputs[0]].shape)
            parts = [a_in]
            const += c
        elif isinstance(op, Multiply):
            parts, c = op.backward(a, state.relax[n])
            const += c
        else:
            flat = a.reshape((b * k, *node.shape))
            const += op.bias_dot(flat).reshape(b, k)
            parts = [p.reshape((b, k, *p.shape[1:])) for p in op.transpose(flat)]
        for i, part in zip(node.inputs, parts):
            pending[i] = pending[i] + part if i in pending else part
    rest = pending.get(0)
    return const if rest is None else const + bound_at(state, 0, rest)
