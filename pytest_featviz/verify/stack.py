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

from .graph import Graph
from .propagation import InputSet, State
from .rowbounds import rows_bounds
from .specs import Group
from .unitrows import Rows, concat, count, signed

__all__ = ["Stack", "stack_rows", "group_bounds", "RowBounds"]

RowBounds = tuple[np.ndarray, np.ndarray]
"""Upper bounds ``(B, K)`` of rows: of the float32 evaluation, and in exact arithmetic."""


@dataclass(frozen=True)
class Stack:
    """The rows ``(B, K, *shape)`` of some groups on one node (dense, or index rows when any
    group's are), and per group where its rows and then their negations are among them
    (``2 k`` indices for ``k`` rows)."""

    rows: Rows
    where: tuple[np.ndarray, ...]


def stack_rows(groups: Sequence[Group]) -> Stack:
    """The rows of ``groups`` (all read off one node) and their negations, each distinct row once.

    Dense rows: two rows are the same when they are equal for every batch item. When any
    group holds :class:`.unitrows.UnitRows` (whose count times the node's size is quadratic,
    so they are never made dense here), the groups' signed rows are put one after the other
    (:func:`.unitrows.concat`), without looking for duplicates.

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
    arrays = [g.rows for g in groups if isinstance(g.rows, np.ndarray)]
    if len(arrays) < len(groups):
        starts = np.cumsum([0] + [2 * count(g.rows) for g in groups])
        spans = tuple(np.arange(a, b, dtype=np.int64) for a, b in zip(starts[:-1], starts[1:]))
        return Stack(concat([signed(g.rows) for g in groups]), spans)
    seen: dict[bytes, int] = {}
    picked: list[tuple[np.ndarray, int]] = []  # (a group's rows, row index times sign)
    where = []
    for rows in arrays:
        index = []
        for sign in (1.0, -1.0):
            for r in range(rows.shape[1]):
                key = (sign * rows[:, r] + 0.0).tobytes()  # + 0.0: -0.0 is 0.0
                if key not in seen:
                    seen[key] = len(picked)
                    picked.append((rows, r if sign > 0 else ~r))
                index.append(seen[key])
        where.append(np.array(index, dtype=np.int64))
    b, shape = arrays[0].shape[0], arrays[0].shape[2:]
    rows = np.empty((b, len(picked), *shape))
    for k, (source, r) in enumerate(picked):
        rows[:, k] = source[:, r] if r >= 0 else -source[:, ~r]
    return Stack(rows, tuple(where))


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
