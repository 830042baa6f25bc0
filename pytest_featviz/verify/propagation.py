"""Bound propagation over a translated graph: IBP forward, CROWN backward, float32 rounding as a perturbation.

Forward pass (:func:`forward`), node by node in topological order:

- interval bound propagation (centre/radius form for linear layers);
- an L2 ball is carried as ``centre + D * delta`` (``||delta||_2 <= r``) through
  element-wise layers and reshapes, and the first layer that mixes coordinates
  bounds each output by ``centre_out +- r * ||row * D||_2``; the tighter of that and
  the interval bound is kept (both are sound);
- in CROWN mode, the pre-activation nodes (inputs of activations and max pooling)
  that are at least two coordinate-mixing layers away from the input are tightened
  by a CROWN backward pass with two rows per neuron ("full CROWN",
  :mod:`.intermediate`: convolutional nodes as patches, :mod:`.patches`), when their
  rows hold at most :data:`FULL_CROWN_BUDGET` numbers per item (processed in chunks
  of at most 4 MiB whatever the batch); otherwise their IBP bounds are used
  ("CROWN-IBP", and ``State.ibp_nodes`` lists them). Nodes closer to the input are
  skipped because IBP is already as tight as CROWN there, and so are the outputs of
  activations and max pooling (monotone: the image of the tightened input interval is
  exact).
  The relaxation of every non-linearity is then built from the final bounds of its input.

Backward pass (:func:`backward`): rows of a linear function of one node are
pushed back to the input through the adjoints of linear layers and the
relaxations of non-linear ones; the result is concretised over the input set (the
box, and the L2 ball by the dual norm; the smaller bound is kept).

Float32 evaluation: rounding errors as bounded perturbations
------------------------------------------------------------
Let ``v_n`` be the value the real model computes at node ``n`` in float32 (unit
roundoff ``u``; :attr:`.graph.Graph.unit`). Each operation is evaluated on the
*computed* values of its inputs, so ``v_n = f_n(v_in) + d_n`` where ``d_n`` is the
rounding of that one operation alone, and ``v_0 = fl(x)`` with ``|v_0 - x| <= u |x|``.
For a dot product with bias, ``sum_i w_i v_i + b`` of ``n`` terms plus the bias,
evaluated in any order, with or without fused multiply-adds,
``|d| <= gamma_{n+1} (sum_i |w_i| |v_i| + |b|)`` (Higham, *Accuracy and Stability of
Numerical Algorithms*, (3.5); ``gamma_k = k u / (1 - k u)``), and
``|v_i| <= M_i = max(|lo_i|, |hi_i|)`` for any bounds ``[lo_i, hi_i]`` of the computed
input: so ``|d_n| <= D_n = gamma(steps) * (|W| M + |b|)`` (:attr:`.linear.LinearOp.steps`,
``const_mag``); dense and convolution layers get a tighter bound that counts only the
possibly nonzero products and the partial sums' signs (:mod:`.rounding`). ReLU, ReLU6,
max pooling, padding, reshapes and concatenation are exact (``D_n = 0``); one rounding
(leaky slope, a product) gives ``u |y|``; an ``exp``/``tanh``-based activation
``8 u (|y| + 1)``.

The float32 model is therefore the *exact* network with an additive perturbation
``d_n``, ``|d_n| <= D_n``, at every node: the bounds are computed for that larger
family of evaluations with the same algorithms.

- IBP adds ``[-D_n, D_n]`` to node ``n``'s interval, so the intervals
  ``[clow, chigh]`` bound the computed values ``v_n``; the magnitudes ``M`` and every
  relaxation are taken from them, so the relaxations hold along the float32 trajectory.
- CROWN's backward pass, on reaching node ``n`` with coefficients ``Lambda_n``, bounds
  ``Lambda_n . d_n`` by ``|Lambda_n| . D_n``: each node's rounding enters once,
  weighted by the backward coefficients of the bounded quantity (which cancel, and
  vanish on inactive ReLUs), instead of being pushed forward through ``|W|`` at every
  later layer, where it compounds. An L2 ball's image (exact ``x``) carries the
  accumulated perturbation of its element-wise chain (``berr``).

Since ``d = 0`` is one of the admissible perturbations, the same bounds without the
``D`` terms hold in exact arithmetic on the float32 weights (``low``/``high`` and the
second result of :func:`backward`). Every ``D_n`` is multiplied by
:data:`ROUNDING_SAFETY` to cover the float64 arithmetic of the bound computation
itself; underflow is not modelled (the caller adds an absolute margin).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .bits import abs_products, box_products
from .graph import Graph
from .intermediate import relaxed_inputs, tighten
from .linear import LinearOp
from .nonlinear import Activation, MaxPool2D, Multiply
from .rounding import linear_rounding

__all__ = [
    "InputSet",
    "State",
    "forward",
    "backward",
    "bound_at",
    "dot_abs",
    "FULL_CROWN_BUDGET",
    "ROUNDING_SAFETY",
]

FULL_CROWN_BUDGET = 2**23
Clamp = Mapping[int, tuple[np.ndarray, np.ndarray]]
"""Largest number of row entries per batch item (two rows per neuron, as patches or dense
rows over the nodes they reach: :func:`.intermediate.crown_cost`) for which an
intermediate node gets full-CROWN bounds (per item, so an item's bounds never depend on
the batch it is in; roughly 0.1 s of numpy work per item)."""
ROUNDING_SAFETY = 1.0 + 2.0**-10
"""Factor on every per-operation rounding bound ``D_n``."""


@dataclass(frozen=True)
class InputSet:
    """The input set per batch item: a box (already intersected with the ball's bounding
    box) and optionally an L2 ball ``||x - center||_2 <= radius``."""

    low: np.ndarray
    high: np.ndarray
    center: np.ndarray | None
    radius: np.ndarray | None

    def distinct(self) -> tuple[InputSet, np.ndarray]:
        """The distinct items' input set, and for each item the index of its set there (an
        item's bounds do not depend on the others: the forward pass runs once per set)."""
        parts = [self.low, self.high] + ([] if self.center is None else [self.center])
        rows = np.concatenate([p.reshape(len(p), -1) for p in parts], axis=1)
        if self.radius is not None:
            rows = np.concatenate([rows, self.radius[:, None]], axis=1)
        _, keep, inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)
        center = None if self.center is None else self.center[keep]
        radius = None if self.radius is None else self.radius[keep]
        return InputSet(self.low[keep], self.high[keep], center, radius), inverse.ravel()


class Node(NamedTuple):
    """What the forward pass knows about one node, arrays of shape ``(B, *shape)``."""

    low: np.ndarray  # exact arithmetic
    high: np.ndarray
    clow: np.ndarray  # the float32 evaluation
    chigh: np.ndarray
    pert: np.ndarray | None  # D_n: the bound on this node's own rounding (None: exact)
    ball: tuple[np.ndarray, np.ndarray] | None
    berr: np.ndarray | None  # with a ball: |computed - exact image of the ball|
    depth: int


@dataclass
class State:
    """What the forward pass knows about every node (see :class:`Node`)."""

    low: list[np.ndarray] = field(default_factory=list)
    high: list[np.ndarray] = field(default_factory=list)
    clow: list[np.ndarray] = field(default_factory=list)
    chigh: list[np.ndarray] = field(default_factory=list)
    pert: list[np.ndarray | None] = field(default_factory=list)
    ball: list[tuple[np.ndarray, np.ndarray] | None] = field(default_factory=list)
    berr: list[np.ndarray | None] = field(default_factory=list)
    depth: list[int] = field(default_factory=list)
    relax: dict[int, tuple[np.ndarray, ...]] = field(default_factory=dict)
    radius: np.ndarray | None = None
    ibp_only_nodes: int = 0
    ibp_nodes: list[int] = field(default_factory=list)  # nodes that kept IBP bounds where CROWN was due

    def append(self, node: Node) -> None:
        for name in Node._fields:
            getattr(self, name).append(getattr(node, name))

    def take(self, idx: slice | np.ndarray) -> State:
        """The state of the batch items ``idx`` (views for a slice)."""

        def pick(v: np.ndarray | None) -> np.ndarray | None:
            return None if v is None else v[idx]

        return State(
            low=[v[idx] for v in self.low],
            high=[v[idx] for v in self.high],
            clow=[v[idx] for v in self.clow],
            chigh=[v[idx] for v in self.chigh],
            pert=[pick(v) for v in self.pert],
            ball=[None if v is None else (v[0][idx], v[1][idx]) for v in self.ball],
            berr=[pick(v) for v in self.berr],
            depth=list(self.depth),
            relax={n: tuple(r[idx] for r in rs) for n, rs in self.relax.items()},
            radius=pick(self.radius),
            ibp_only_nodes=self.ibp_only_nodes,
            ibp_nodes=list(self.ibp_nodes),
        )

    def mag(self, n: int) -> np.ndarray:
        """A bound on the magnitude of node ``n``'s computed values."""
        return np.maximum(np.abs(self.clow[n]), np.abs(self.chigh[n]))


def _interval(op: LinearOp, lows: list[np.ndarray], highs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    mid = op.apply([0.5 * (lo + hi) for lo, hi in zip(lows, highs)], "value")
    rad = op.apply([0.5 * (hi - lo) for lo, hi in zip(lows, highs)], "abs")
    return mid - rad, mid + rad


def _linear_step(op: LinearOp, inputs: tuple[int, ...], state: State, graph: Graph) -> Node:
    low, high = _interval(op, [state.low[i] for i in inputs], [state.high[i] for i in inputs])
    clows, chighs = [state.clow[i] for i in inputs], [state.chigh[i] for i in inputs]
    clow, chigh = _interval(op, clows, chighs)
    pert = None
    if op.steps:
        pert = ROUNDING_SAFETY * linear_rounding(op, clows, chighs, graph.unit)
        clow, chigh = clow - pert, chigh + pert
    ball = state.ball[inputs[0]] if len(inputs) == 1 else None
    new_ball, berr = None, None
    if ball is not None:
        carried = state.berr[inputs[0]]
        assert carried is not None  # a node with a ball carries its error
        berr = op.apply([carried], "abs") + (0.0 if pert is None else pert)
    if ball is not None and op.kind == "diagonal":
        new_ball = (op.apply([ball[0]], "value"), op.apply([ball[1]], "abs"))
    elif ball is not None and op.kind == "mixing" and state.radius is not None:  # a ball comes with its radius
        centre = op.apply([ball[0]], "value")
        r = state.radius.reshape((-1,) + (1,) * (centre.ndim - 1))
        spread = r * np.sqrt(op.apply([ball[1] ** 2], "square"))
        low, high = np.maximum(low, centre - spread), np.minimum(high, centre + spread)
        clow, chigh = np.maximum(clow, centre - spread - berr), np.minimum(chigh, centre + spread + berr)
    depth = max(state.depth[i] for i in inputs) + (op.kind != "diagonal")
    return Node(low, high, clow, chigh, pert, new_ball, berr if new_ball is not None else None, depth)


def _rounded(low: np.ndarray, high: np.ndarray, pert: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    return (low, high) if pert is None else (low - pert, high + pert)


def _nonlinear_step(op: Activation | MaxPool2D, x: int, state: State, graph: Graph) -> Node:
    low, high = op.interval(state.low[x], state.high[x])
    clow, chigh = op.interval(state.clow[x], state.chigh[x])
    pert = None
    if isinstance(op, Activation) and not (op.relu_family and op.alpha == 0.0):  # ReLU, ReLU6, max: exact
        out = np.maximum(np.abs(clow), np.abs(chigh))
        rounding = 8 * (out + 1.0) if op.transcendental else out
        pert = ROUNDING_SAFETY * graph.unit * rounding
    depth = state.depth[x] + (isinstance(op, MaxPool2D) or state.radius is not None)
    return Node(low, high, *_rounded(clow, chigh, pert), pert, None, None, depth)


def _product_step(op: Multiply, inputs: tuple[int, ...], state: State, graph: Graph) -> Node:
    """Bounds of a product of the computed factors, plus its one rounding ``u |xy|``."""
    low, high = op.interval([state.low[i] for i in inputs], [state.high[i] for i in inputs])
    clow, chigh = op.interval([state.clow[i] for i in inputs], [state.chigh[i] for i in inputs])
    pert = ROUNDING_SAFETY * graph.unit * np.maximum(np.abs(clow), np.abs(chigh))
    depth = max(state.depth[i] for i in inputs) + (state.radius is not None)
    return Node(low, high, *_rounded(clow, chigh, pert), pert, None, None, depth)


def _step(n: int, graph: Graph, state: State, relax: bool) -> Node:
    """What the forward pass knows about node ``n``; with ``relax``, also its relaxation
    (built on the bounds of the computed input values)."""
    op, inputs = graph.op(n), graph.nodes[n].inputs
    if isinstance(op, Multiply):
        if relax:
            state.relax[n] = op.relax([state.clow[i] for i in inputs], [state.chigh[i] for i in inputs])
        return _product_step(op, inputs, state, graph)
    if isinstance(op, (Activation, MaxPool2D)):
        if relax:
            state.relax[n] = op.relax(state.clow[inputs[0]], state.chigh[inputs[0]])
        return _nonlinear_step(op, inputs[0], state, graph)
    return _linear_step(op, inputs, state, graph)


def _input_node(inset: InputSet, unit: float) -> Node:
    """The input: ``fl(x)`` lies in ``[lo - u|lo|, hi + u|hi|]`` (rounding is monotone) and
    within ``u max(|lo|, |hi|)`` of ``x``."""
    low, high = inset.low, inset.high
    clow = low - ROUNDING_SAFETY * unit * np.abs(low)
    chigh = high + ROUNDING_SAFETY * unit * np.abs(high)
    if inset.center is None:
        return Node(low, high, clow, chigh, None, None, None, 0)
    berr = ROUNDING_SAFETY * unit * np.maximum(np.abs(low), np.abs(high))
    return Node(low, high, clow, chigh, None, (inset.center, np.ones_like(inset.center)), berr, 0)


def forward(
    graph: Graph, inset: InputSet, crown: str | None, clamp: Clamp | None = None, *, budget: int | None = None
) -> State:
    """Interval bounds (exact and of the float32 evaluation), L2-ball images, rounding bounds
    and (``crown`` in {'full', 'ibp'}) relaxations of every node; ``crown='full'`` tightens
    pre-activations by CROWN where their rows hold at most ``budget`` numbers per item
    (default :data:`FULL_CROWN_BUDGET`; the others are listed in ``State.ibp_nodes``).

    ``clamp``: node -> ``(low, high)`` (``(B, *shape)``) known to hold its computed values on the
    part of the set bounded (a branch, :mod:`.branch`), intersected as soon as it is computed."""
    budget = FULL_CROWN_BUDGET if budget is None else budget
    state = State(radius=inset.radius)
    state.append(_input_node(inset, graph.unit))
    needs = relaxed_inputs(graph)
    for n, node in enumerate(graph.nodes[1:], start=1):
        state.append(_step(n, graph, state, crown is not None))
        # a monotone activation or a max of already tightened inputs: CROWN cannot improve on
        # the interval of their outputs (its upper line at the input's CROWN bound lies above)
        exact_image = isinstance(node.op, (Activation, MaxPool2D))
        if crown is not None and n in needs and state.depth[n] >= 2 and not exact_image:
            if not (crown == "full" and tighten(graph, state, n, budget, backward)):
                state.ibp_only_nodes += 1
                state.ibp_nodes.append(n)
        if clamp is not None and n in clamp:
            low, high = clamp[n]
            state.low[n], state.clow[n] = np.maximum(state.low[n], low), np.maximum(state.clow[n], low)
            state.high[n], state.chigh[n] = np.minimum(state.high[n], high), np.minimum(state.chigh[n], high)
    return state


def bound_at(state: State, n: int, a: np.ndarray, computed: bool = True) -> np.ndarray:
    """Upper bounds ``(B, K)`` of the rows ``a`` (``(B, K, *shape)``) of a linear function
    of node ``n`` over its interval and, when it carries one, its L2-ball image: of the
    float32 evaluation (``computed``) or in exact arithmetic."""
    b, k = a.shape[:2]
    flat = a.reshape(b, k, -1)
    low = (state.clow if computed else state.low)[n].reshape(b, 1, -1)
    high = (state.chigh if computed else state.high)[n].reshape(b, 1, -1)
    best = box_products(flat, low, high).sum(axis=2)
    ball = state.ball[n]
    if ball is not None and state.radius is not None:  # a ball comes with its radius
        centre = np.einsum("bkn,bn->bk", flat, ball[0].reshape(b, -1))
        spread = np.sqrt((np.square(flat * ball[1].reshape(b, 1, -1))).sum(axis=2))
        berr = state.berr[n]
        if computed and berr is not None:
            centre = centre + dot_abs(flat, berr)
        best = np.minimum(best, centre + state.radius[:, None] * spread)
    return best


def dot_abs(a: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``|a| . d`` per row (``a``: ``(B, K, ...)``, ``d``: ``(B, ...)``), with the terms of
    :func:`.bits.abs_products`: zero coefficients give 0 even where ``d`` is inf, NaN gives NaN."""
    b, k = a.shape[:2]
    flat = a.reshape(b, k, -1)
    d = d.reshape(b, 1, -1)
    if not np.isfinite(d).all():
        return abs_products(flat, d).sum(axis=2)
    return np.einsum("bkn,bkn->bk", np.abs(flat), np.broadcast_to(d, flat.shape))


def backward(
    graph: Graph,
    state: State,
    inset: InputSet | None,
    target: int,
    a: np.ndarray,
    inject: Mapping[int, np.ndarray] | None = None,
    *,
    slopes: dict[int, np.ndarray] | None = None,
    record: dict[int, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """CROWN: upper bounds ``(B, K)`` of the rows ``a`` (``(B, K, *shape)``) of a linear
    function of node ``target`` over the input set: of the float32 evaluation, and in
    exact arithmetic (the same bound without the rounding terms).

    ``inject`` adds rows (``(B, K, *shape_n)``) of node ``n``'s computed values to the
    function as the pass reaches node ``n`` (branch and bound's Lagrangian terms, which
    the caller must know to be non-negative); ``slopes`` replaces, per activation node, the
    lower lines' slopes by arrays ``(B, K, *shape)`` (one per row; valid lines through the
    same intercepts: alpha-CROWN); ``record``, when given, receives the rows that reach each
    node (node 0's: the rows concretised), after injection."""
    b, k = a.shape[:2]
    pending: dict[int, np.ndarray] = {target: a}
    const = np.zeros((b, k))
    rounding = np.zeros((b, k))
    for n in range(target, 0, -1):
        if inject is not None and n in inject:
            pending[n] = pending[n] + inject[n] if n in pending else inject[n]
        if n not in pending:
            continue
        a = pending.pop(n)
        if record is not None:
            record[n] = a
        node = graph.nodes[n]
        op = graph.op(n)
        pert = state.pert[n]
        if pert is not None:
            rounding += dot_abs(a, pert)
        if isinstance(op, Activation):
            al, bl, au, bu = (r[:, None] for r in state.relax[n])
            if slopes is not None and n in slopes:
                al = slopes[n]
            rows, c = op.backward(a, (al, bl, au, bu))
            parts = [rows]
            const += c.reshape(b, k, -1).sum(axis=2)
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
    if rest is None:
        return const + rounding, const
    if record is not None:
        record[0] = rest
    return const + rounding + bound_at(state, 0, rest, True), const + bound_at(state, 0, rest, False)
