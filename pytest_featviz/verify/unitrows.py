"""Specification rows with a few non-zero entries each, held by index: memory linear in the node's size.

A ``Channel(..., reduce="max")`` objective on a node of shape ``(H, W, C)`` has one row
per position, ``H * W`` rows of ``H * W * C`` numbers each, and a ``ClassProbability`` on
``n`` classes ``n - 1`` rows of ``n`` numbers: dense, ``(B, K, *shape)``, both are
quadratic in the node's size. Each of these rows has one or two non-zero entries, so
:class:`UnitRows` holds, per batch item and row, the flat indices of those entries and
their coefficients (``(B, K, J)`` each). Interval bounds and rounding margins of such
rows are gathers (:func:`bound_at`, :func:`magnitude`); what needs rows of full size
(folding the last linear layer, CROWN) takes them a few at a time (:mod:`.rowbounds`).

``Rows`` is what a :class:`.specs.Group` holds: a dense array or :class:`UnitRows`;
:func:`dense`, :func:`take`, :func:`count`, :func:`signed` and :func:`concat`
accept both (``concat`` stacks the rows of several groups of one node).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

import numpy as np

from .bits import abs_products, box_products
from .propagation import State

__all__ = ["UnitRows", "Rows", "dense", "take", "count", "signed", "concat", "bound_at", "magnitude"]


@dataclass(frozen=True)
class UnitRows:
    """Rows ``(B, K, *shape)`` whose row ``k`` of item ``b`` is ``sum_j coef[b, k, j] e_{index[b, k, j]}``
    (``e_i``: the unit row of flat index ``i`` of ``shape``; a row's indices are distinct).

    Examples
    --------
    >>> import numpy as np
    >>> from pytest_featviz.verify.unitrows import UnitRows, dense
    >>> rows = UnitRows(np.array([[[0, 2], [1, 2]]]), np.array([[[1.0, -1.0], [1.0, -1.0]]]), (3,))
    >>> dense(rows)
    array([[[ 1.,  0., -1.],
            [ 0.,  1., -1.]]])
    """

    index: np.ndarray  # (B, K, J) int64
    coef: np.ndarray  # (B, K, J) float64
    shape: tuple[int, ...]

    def __post_init__(self) -> None:
        if self.index.shape != self.coef.shape or self.index.ndim != 3:
            raise ValueError(
                f"UnitRows needs index and coef of one shape (B, K, J); got {self.index.shape} and {self.coef.shape}"
            )


Rows: TypeAlias = np.ndarray | UnitRows
"""A group's rows: dense ``(B, K, *shape)``, or :class:`UnitRows`."""


def dense(rows: Rows) -> np.ndarray:
    """``rows`` as a dense array ``(B, K, *shape)`` (an array is returned as it is).

    Examples
    --------
    >>> import numpy as np
    >>> from pytest_featviz.verify.unitrows import UnitRows, dense
    >>> dense(UnitRows(np.array([[[3]]]), np.array([[[2.0]]]), (2, 2))).tolist()
    [[[[0.0, 0.0], [0.0, 2.0]]]]
    """
    if isinstance(rows, np.ndarray):
        return rows
    b, k, _ = rows.index.shape
    out = np.zeros((b, k, int(np.prod(rows.shape))))
    np.put_along_axis(out, rows.index, rows.coef, axis=2)  # distinct indices per row
    return out.reshape((b, k, *rows.shape))


def take(rows: Rows, items: slice | np.ndarray) -> Rows:
    """The rows of the batch items ``items``."""
    if isinstance(rows, np.ndarray):
        return rows[items]
    return UnitRows(rows.index[items], rows.coef[items], rows.shape)


def count(rows: Rows) -> int:
    """``K``, the number of rows per item."""
    return int(rows.shape[1]) if isinstance(rows, np.ndarray) else int(rows.index.shape[1])


def signed(rows: Rows) -> Rows:
    """The rows followed by their negations (``2K`` rows): the upper bounds of both bound the rows."""
    if isinstance(rows, np.ndarray):
        return np.concatenate([rows, -rows], axis=1)
    index = np.concatenate([rows.index, rows.index], axis=1)
    return UnitRows(index, np.concatenate([rows.coef, -rows.coef], axis=1), rows.shape)


def concat(parts: list[Rows]) -> Rows:
    """The rows of ``parts`` (of one node, one batch) one after the other along the row axis:
    :class:`UnitRows` when every part is, with as many entries a row, else dense.

    Examples
    --------
    >>> import numpy as np
    >>> from pytest_featviz.verify.unitrows import UnitRows, concat
    >>> one = UnitRows(np.array([[[0]]]), np.array([[[1.0]]]), (2,))
    >>> concat([one, one]).index.shape
    (1, 2, 1)
    >>> concat([one, np.array([[[0.5, 0.5]]])]).tolist()
    [[[1.0, 0.0], [0.5, 0.5]]]
    """
    units = [p for p in parts if isinstance(p, UnitRows)]
    if len(units) == len(parts) and len({(p.index.shape[2], p.shape) for p in units}) == 1:
        index = np.concatenate([p.index for p in units], axis=1)
        return UnitRows(index, np.concatenate([p.coef for p in units], axis=1), units[0].shape)
    return np.concatenate([dense(p) for p in parts], axis=1)


def _gather(v: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``v`` (``(B, *shape)``) at the flat indices ``index`` (``(B, K, J)``)."""
    b = index.shape[0]
    return np.take_along_axis(v.reshape(b, -1), index.reshape(b, -1), axis=1).reshape(index.shape)


def bound_at(state: State, n: int, rows: UnitRows, computed: bool = True) -> np.ndarray:
    """Upper bounds ``(B, K)`` of ``rows`` of node ``n`` over its interval and, when it
    carries one, its L2-ball image (as :func:`.propagation.bound_at`, by gathers).

    Examples
    --------
    >>> import numpy as np
    >>> from pytest_featviz.verify.propagation import State
    >>> from pytest_featviz.verify.unitrows import UnitRows, bound_at
    >>> state = State(low=[np.array([[-1.0, 0.0, 2.0]])], high=[np.array([[1.0, 3.0, 4.0]])], ball=[None])
    >>> rows = UnitRows(np.array([[[1, 2], [0, 2]]]), np.array([[[1.0, -1.0], [2.0, 1.0]]]), (3,))
    >>> bound_at(state, 0, rows, computed=False).tolist()  # x1 - x2 <= 3 - 2; 2 x0 + x2 <= 2 + 4
    [[1.0, 6.0]]
    """
    c, i = rows.coef, rows.index
    low = _gather((state.clow if computed else state.low)[n], i)
    high = _gather((state.chigh if computed else state.high)[n], i)
    best = box_products(c, low, high).sum(axis=2)
    ball = state.ball[n]
    if ball is not None and state.radius is not None:  # a ball comes with its radius
        centre = (c * _gather(ball[0], i)).sum(axis=2)
        spread = np.sqrt(np.square(c * _gather(ball[1], i)).sum(axis=2))  # distinct indices
        berr = state.berr[n]
        if computed and berr is not None:
            centre = centre + magnitude(rows, berr)
        best = np.minimum(best, centre + state.radius[:, None] * spread)
    return best


def magnitude(rows: UnitRows, d: np.ndarray) -> np.ndarray:
    """``|row| . d`` per row (``d``: ``(B, *shape)``), with the terms of :func:`.bits.abs_products`:
    zero coefficients give 0 even where ``d`` is inf, NaN gives NaN."""
    return abs_products(rows.coef, _gather(d, rows.index)).sum(axis=2)
