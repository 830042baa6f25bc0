"""CROWN's backward pass for every neuron of a convolutional node at once, as patches.

Pushed back through convolutions, pooling, padding and element-wise layers, the row of
a neuron at spatial position ``(y, x)`` of a node with shape ``(H, W, C)`` is non-zero
only on that neuron's receptive field at each earlier node, a window of one size for
every position, shifted by the cumulative stride (:class:`Window`). So the rows of all
positions are held as one array ``(B, K, H, W, py, px, C_m)`` of patches (``K`` rows per
position: a channel's unit row and its negation) instead of ``H * W * K`` dense rows of
the earlier node's full size; ``py x px`` is the receptive field, typically a few
percent of the picture. This is auto_LiRPA's "patches" mode.

Each linear operation's adjoint acts on a patch as on a small picture: a convolution's
adjoint is the same transposed convolution on the patch, without padding
(:meth:`Window.local`). Relaxations, rounding bounds and the input box are read at the
patch's positions by :func:`unfold` (a strided view, no copy). Entries that fall on a
convolution's zero padding, outside the earlier node, are dropped (:func:`valid`).

Operations that mix all positions (Dense, Reshape, global pooling, products) have no
patches: :func:`plan` returns None for a node whose rows reach one, and the caller uses
dense rows or interval bounds there.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from .bits import box_products
from .graph import Graph
from .linear import Add, Concatenate, Conv2D, DepthwiseConv2D, Elementwise, Geometry, Pad2D, Reshape
from .nonlinear import Activation, MaxPool2D, pool_rows, scatter_selected
from .pooling import AvgPool2D

if TYPE_CHECKING:
    from .propagation import State

__all__ = ["Window", "Plan", "Sites", "plan", "plan_cost", "unfold", "valid", "backward_patches"]

_WINDOWED = (Conv2D, DepthwiseConv2D, AvgPool2D, MaxPool2D)
MATRIX_ENTRIES = 2**21
"""Largest adjoint of a windowed operation on one patch applied as one matrix product."""


@dataclass(frozen=True)
class Window:
    """Along one spatial axis, the patch of the row at target position ``y`` covers the
    node's positions ``y * stride + start + u`` for ``0 <= u < size``."""

    stride: int
    start: int
    size: int

    def back(self, g: Geometry) -> Window:
        """The window on the input of a windowed operation with geometry ``g``."""
        span = (g.kernel - 1) * g.dilation + 1
        return Window(self.stride * g.stride, self.start * g.stride - g.before, (self.size - 1) * g.stride + span)

    def local(self, g: Geometry) -> Geometry:
        """The geometry of the operation from the input's patch to the output's (no padding)."""
        return Geometry(self.back(g).size, g.kernel, g.stride, g.dilation, self.size, 0, 0)

    def union(self, other: Window) -> Window | None:
        """The smallest window holding both (None when the strides differ)."""
        if self.stride != other.stride:
            return None
        start = min(self.start, other.start)
        return Window(self.stride, start, max(self.start + self.size, other.start + other.size) - start)


Windows = tuple[Window, Window]
Plan = dict[int, Windows]
"""The windows of every node that a target's rows reach (target included)."""


def _input_windows(graph: Graph, n: int, w: Windows) -> list[Windows] | None:
    """The windows of the rows that node ``n``'s operation sends to each of its inputs."""
    node = graph.nodes[n]
    op = node.op
    if isinstance(op, _WINDOWED):
        return [(w[0].back(op.gh), w[1].back(op.gw))]
    if isinstance(op, Pad2D):
        (top, _), (left, _) = op.pads
        return [(replace(w[0], start=w[0].start - top), replace(w[1], start=w[1].start - left))]
    if isinstance(op, (Elementwise, Activation)) or (isinstance(op, Reshape) and op.in_shape == op.out_shape):
        return [w]
    if isinstance(op, Add) or (isinstance(op, Concatenate) and op.axis == 2):
        return [w] * len(node.inputs)
    return None


def plan(graph: Graph, target: int) -> Plan | None:
    """The windows of every node the rows of node ``target``'s neurons reach, or None when
    they reach an operation that mixes positions (or merge with different strides)."""
    if len(graph.nodes[target].shape) != 3:
        return None
    unit = Window(1, 0, 1)
    found: Plan = {target: (unit, unit)}
    for n in range(target, 0, -1):
        if n not in found:
            continue
        sent = _input_windows(graph, n, found[n])
        if sent is None:
            return None
        for i, w in zip(graph.nodes[n].inputs, sent):
            if len(graph.nodes[i].shape) != 3:
                return None
            if i in found:
                merged = [found[i][0].union(w[0]), found[i][1].union(w[1])]
                if merged[0] is None or merged[1] is None:
                    return None
                w = (merged[0], merged[1])
            found[i] = w
    return found


def plan_cost(graph: Graph, windows: Plan) -> tuple[int, int]:
    """``(total, largest)``: the numbers in one neuron's row at all the nodes reached, and at the largest."""
    sizes = [wy.size * wx.size * graph.nodes[n].shape[2] for n, (wy, wx) in windows.items()]
    return sum(sizes), max(sizes)


class Sites(NamedTuple):
    """The neurons whose rows are held: spatial positions ``ys``, ``xs`` and channels ``cs``
    (each ``(R,)``) of a node whose spatial shape is ``out``."""

    ys: np.ndarray
    xs: np.ndarray
    cs: np.ndarray
    out: tuple[int, int]


def unfold(v: np.ndarray, w: Windows, out: tuple[int, int], fill: float = 0.0) -> np.ndarray:
    """``(N, H_t, W_t, py, px, C)``: ``v`` (``(N, H, W, C)``) read at every patch position
    (``fill`` outside ``v``); a view when no padding is needed."""
    wy, wx = w
    _, h, wd, _ = v.shape
    pads = []
    for win, size, n_out in ((wy, h, out[0]), (wx, wd, out[1])):
        pads.append((max(0, -win.start), max(0, (n_out - 1) * win.stride + win.start + win.size - size)))
    if any(p for pair in pads for p in pair):
        v = np.pad(v, ((0, 0), *pads, (0, 0)), constant_values=fill)
    view = np.lib.stride_tricks.sliding_window_view(v, (wy.size, wx.size), axis=(1, 2))
    y0, x0 = wy.start + pads[0][0], wx.start + pads[1][0]
    view = view[
        :, y0 : y0 + (out[0] - 1) * wy.stride + 1 : wy.stride, x0 : x0 + (out[1] - 1) * wx.stride + 1 : wx.stride
    ]
    return view.transpose(0, 1, 2, 4, 5, 3)


def valid(shape: tuple[int, ...], w: Windows, out: tuple[int, int]) -> np.ndarray:
    """``(1, H_t, W_t, py, px, 1)``: 1 where a patch entry lies inside a node of ``shape``, else 0."""
    return unfold(np.ones((1, shape[0], shape[1], 1)), w, out)


def _valid(shape: tuple[int, ...], w: Windows, sites: Sites) -> np.ndarray:
    """:func:`valid` at the sites' positions, ``(1, 1, R, py, px, 1)``."""
    return valid(shape, w, sites.out)[:, sites.ys, sites.xs][:, None]


def _sum(x: np.ndarray) -> np.ndarray:
    return x.sum(axis=(-3, -2, -1))


def _at(v: np.ndarray, shape: tuple[int, ...], w: Windows, sites: Sites, fill: float = 0.0) -> np.ndarray:
    """A per-item array (``(B, *shape)`` or broadcastable to ``shape``) at the patch positions
    of the sites, ``(B|1, 1, R, py, px, C)``."""
    if v.ndim != len(shape) + 1:
        v = np.broadcast_to(v, shape)[None]
    return unfold(v, w, sites.out, fill)[:, sites.ys, sites.xs][:, None]


def _step(
    graph: Graph, state: State, n: int, a: np.ndarray, w: Windows, out: Sites
) -> tuple[list[np.ndarray], np.ndarray]:
    """The rows ``a`` (``(B, 2, R, py, px, C)``, patches of node ``n``) pushed to ``n``'s
    inputs, and the constant they leave."""
    node = graph.nodes[n]
    op = graph.op(n)
    lead = a.shape[:3]
    if isinstance(op, Activation):
        through, c = op.backward(a, tuple(_at(r, node.shape, w, out) for r in state.relax[n]))
        return [through], _sum(c)
    if isinstance(op, MaxPool2D):
        sel, exact, umax = (_at(r, node.shape, w, out) for r in state.relax[n])
        kept, const = pool_rows(a, sel, exact, umax)
        rows = (-1, *a.shape[3:])
        sel = np.broadcast_to(sel, a.shape).reshape(rows)
        g = scatter_selected(kept.reshape(rows), sel, w[0].local(op.gh), w[1].local(op.gw))
        return [g.reshape((*lead, *g.shape[1:]))], _sum(const)
    if isinstance(op, Elementwise):
        scale = _at(np.asarray(op.scale, float), node.shape, w, out)
        return [a * scale], _sum(a * _at(np.asarray(op.shift, float), node.shape, w, out))
    if isinstance(op, (Conv2D, DepthwiseConv2D, AvgPool2D)):
        inner: Conv2D | DepthwiseConv2D | AvgPool2D
        if isinstance(op, AvgPool2D):
            a = a / _at(op.count, node.shape, w, out, fill=1.0)  # outside the node a is 0
            inner = replace(op, gh=w[0].local(op.gh), gw=w[1].local(op.gw), count=np.ones((1, 1, 1)))
        else:
            inner = replace(op, gh=w[0].local(op.gh), gw=w[1].local(op.gw))
        flat = a.reshape((-1, *a.shape[3:]))
        g = _transpose(inner, flat)
        return [g.reshape((*lead, *g.shape[1:]))], inner.bias_dot(flat).reshape(lead)
    if isinstance(op, Concatenate):
        return list(np.split(a, np.cumsum(op.sizes)[:-1], axis=-1)), np.zeros(lead)
    return [a] * len(node.inputs), np.zeros(lead)  # Pad2D (its shift is in the plan), Add, identity


def _transpose(op: Conv2D | DepthwiseConv2D | AvgPool2D, flat: np.ndarray) -> np.ndarray:
    """The adjoint of ``op`` (local geometry, no padding) on patches ``(N, py, px, C)``: one
    matrix product with the adjoint's matrix when that matrix is small and at least 1/16
    full (a patch's adjoint touches ``kh * kw`` of the ``py' * px'`` entries), else the
    offset-by-offset sum."""
    n, py, px, c = flat.shape
    dense_out = op.gh.size * op.gw.size
    if py * px * c * dense_out > MATRIX_ENTRIES or dense_out > 16 * op.gh.kernel * op.gw.kernel:
        return op.transpose(flat)[0]
    matrix = op.transpose(np.eye(py * px * c).reshape((-1, py, px, c)))[0]
    return (flat.reshape(n, -1) @ matrix.reshape(py * px * c, -1)).reshape((n, *matrix.shape[1:]))


def _embed(part: np.ndarray, sent: Windows, planned: Windows) -> np.ndarray:
    """``part`` (patches in the windows ``sent``) inside the larger ``planned`` windows."""
    if sent == planned:
        return part
    oy, ox = sent[0].start - planned[0].start, sent[1].start - planned[1].start
    full = np.zeros((*part.shape[:3], planned[0].size, planned[1].size, part.shape[-1]))
    full[..., oy : oy + sent[0].size, ox : ox + sent[1].size, :] = part
    return full


def _concretise(state: State, a: np.ndarray, w: Windows, out: Sites, computed: bool) -> np.ndarray:
    """Upper bounds of the input-node rows ``a`` over the box and, with one, the L2 ball
    (as :func:`.propagation.bound_at`, on patches)."""
    shape = (*state.low[0].shape[1:],)
    low = _at((state.clow if computed else state.low)[0], shape, w, out)
    high = _at((state.chigh if computed else state.high)[0], shape, w, out)
    best = _sum(box_products(a, low, high))
    ball = state.ball[0]
    if ball is not None and state.radius is not None:
        centre = _sum(a * _at(ball[0], shape, w, out))
        spread = np.sqrt(_sum(np.square(a * _at(ball[1], shape, w, out))))
        berr = state.berr[0]
        if computed and berr is not None:
            centre = centre + _sum(np.abs(a) * _at(berr, shape, w, out))
        best = np.minimum(best, centre + state.radius.reshape(-1, 1, 1) * spread)
    return best


def backward_patches(
    graph: Graph, state: State, target: int, neurons: np.ndarray, windows: Plan, signs: tuple[float, ...] = (1.0, -1.0)
) -> tuple[np.ndarray, np.ndarray]:
    """CROWN upper bounds ``(B, K, R)`` of ``signs[k]`` times each of the ``R`` neurons of node
    ``target`` with flat indices ``neurons`` (by default ``[:, 0]`` bound the neurons, ``[:, 1]``
    their negations): of the float32 evaluation and in exact arithmetic (as
    :func:`.propagation.backward`)."""
    ht, wt, ct = graph.nodes[target].shape
    ys, xs, cs = np.unravel_index(neurons, (ht, wt, ct))
    out = Sites(ys, xs, cs, (ht, wt))
    b, k, r = state.low[0].shape[0], len(signs), len(neurons)
    a = np.zeros((b, k, r, 1, 1, ct))
    for row, sign in enumerate(signs):
        a[:, row, np.arange(r), 0, 0, cs] = sign
    pending = {target: a}
    const = np.zeros((b, k, r))
    rounding = np.zeros((b, k, r))
    for n in range(target, 0, -1):
        if n not in pending:
            continue
        w = windows[n]
        a = pending.pop(n) * _valid(graph.nodes[n].shape, w, out)
        pert = state.pert[n]
        if pert is not None:
            rounding += _sum(np.abs(a) * _at(pert, graph.nodes[n].shape, w, out))
        parts, c_n = _step(graph, state, n, a, w, out)
        const += c_n
        sent = _input_windows(graph, n, w)
        assert sent is not None  # the plan reached this node
        for i, part, s in zip(graph.nodes[n].inputs, parts, sent):
            part = _embed(part, s, windows[i])
            pending[i] = pending[i] + part if i in pending else part
    rest = pending.get(0)
    if rest is None:
        return const + rounding, const
    rest = rest * _valid(graph.nodes[0].shape, windows[0], out)
    return (
        const + rounding + _concretise(state, rest, windows[0], out, True),
        const + _concretise(state, rest, windows[0], out, False),
    )
