"""Many objectives as one specification matrix: their rows stacked, each distinct row bounded once.

:func:`.certificates.bounds` given a list of objectives runs one forward pass (the
intermediate bounds do not depend on what is bounded afterwards) and, per node read
(one for the usual case of objectives on the logits), one backward pass over the rows
of every objective's groups stacked along the row axis: the rows and their negations
(upper and lower bounds), each distinct row once. A row's bound does not depend on the
other rows beside it (CROWN's pass is linear in the rows; alpha-CROWN optimises and stops
each row on its own, :mod:`.alpha`), so every objective gets the bounds it would get alone.

:func:`stack_rows` is the one place where the rows of groups are put together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .alpha import alpha_backward
from .graph import Graph
from .nonlinear import Activation, MaxPool2D, Multiply
from .propagation import InputSet, State, backward, bound_at, dot_abs
from .specs import Group

__all__ = ["Stack", "stack_rows", "rows_bounds", "group_bounds"]

RowBounds = tuple[np.ndarray, np.ndarray]
"""Upper bounds ``(B, K)`` of rows: of the float32 evaluation, and in exact arithmetic."""


@dataclass(frozen=True)
class Stack:
    """The distinct rows ``(B, K, *shape)`` of some groups on one node, and per group where
    its rows and then their negations are among them (``2 k`` indices for ``k`` rows)."""

    rows: np.ndarray
    where: tuple[np.ndarray, ...]


def stack_rows(groups: Sequence[Group]) -> Stack:
    """The rows of ``groups`` (all read off one node) and their negations, each distinct row once.

    Two rows are the same when they are equal for every batch item.

    Examples
    --------
    >>> import numpy as np
    >>> from pytest_featviz.verify.specs import Group
    >>> margin = Group("logits", np.array([[[1.0, -1.0]]]), "sum", 1.0)
    >>> flipped = Group("logits", np.array([[[-1.0, 1.0]]]), "sum", 1.0)
    >>> s = stack_rows([margin, flipped])
    >>> s.rows.shape, [w.tolist() for w in s.where]
    ((1, 2, 2), [[0, 1], [1, 0]])
    """
    if not groups:
        raise ValueError("stack_rows needs at least one group")
    seen: dict[bytes, int] = {}
    picked: list[tuple[np.ndarray, int]] = []  # (a group's rows, row index times sign)
    where = []
    for g in groups:
        index = []
        for sign in (1.0, -1.0):
            for r in range(g.rows.shape[1]):
                key = (sign * g.rows[:, r] + 0.0).tobytes()  # + 0.0: -0.0 is 0.0
                if key not in seen:
                    seen[key] = len(picked)
                    picked.append((g.rows, r if sign > 0 else ~r))
                index.append(seen[key])
        where.append(np.array(index, dtype=np.int64))
    b, shape = groups[0].rows.shape[0], groups[0].rows.shape[2:]
    rows = np.empty((b, len(picked), *shape))
    for k, (source, r) in enumerate(picked):
        rows[:, k] = source[:, r] if r >= 0 else -source[:, ~r]
    return Stack(rows, tuple(where))


def rows_bounds(
    graph: Graph, state: State, inset: InputSet, node: int, a: np.ndarray, crown: bool, alpha: bool = False
) -> tuple[RowBounds, RowBounds]:
    """Upper bounds of the rows ``a`` (``(B, K, *shape)``) of node ``node`` by IBP (the last
    linear layer folded) and by CROWN (with ``alpha``, alpha-CROWN); IBP's twice without ``crown``."""
    nd = graph.nodes[node]
    op = nd.op
    ibp = bound_at(state, node, a, True), bound_at(state, node, a, False)
    if op is not None and len(nd.inputs) == 1 and not isinstance(op, (Activation, MaxPool2D, Multiply)):
        b, k = a.shape[:2]
        flat = a.reshape((b * k, *nd.shape))
        folded = op.transpose(flat)[0].reshape((b, k, *graph.nodes[nd.inputs[0]].shape))
        bias = op.bias_dot(flat).reshape(b, k)
        pert = state.pert[node]
        computed = bias + bound_at(state, nd.inputs[0], folded, True) + (0.0 if pert is None else dot_abs(a, pert))
        ibp = np.fmin(ibp[0], computed), np.fmin(ibp[1], bias + bound_at(state, nd.inputs[0], folded, False))
    if not crown:
        return ibp, ibp
    return ibp, (alpha_backward(graph, state, node, a) if alpha else backward(graph, state, inset, node, a))


def group_bounds(
    graph: Graph,
    state: State,
    inset: InputSet,
    nodes: dict[str, int],
    groups: Sequence[Group],
    crown: bool,
    alpha: bool = False,
) -> list[tuple[RowBounds, RowBounds]]:
    """Per group (of any objectives), the IBP and the CROWN upper bounds ``(B, 2 k)`` of its
    rows and then of their negations (see :func:`rows_bounds`), from one pass per node read."""
    by_node: dict[int, list[int]] = {}
    for i, g in enumerate(groups):
        by_node.setdefault(nodes[g.target], []).append(i)
    found: dict[int, tuple[RowBounds, RowBounds]] = {}
    for node, members in by_node.items():
        stack = stack_rows([groups[i] for i in members])
        ibp, cr = rows_bounds(graph, state, inset, node, stack.rows, crown, alpha)
        for i, where in zip(members, stack.where):
            found[i] = (ibp[0][:, where], ibp[1][:, where]), (cr[0][:, where], cr[1][:, where])
    return [found[i] for i in range(len(groups))]
