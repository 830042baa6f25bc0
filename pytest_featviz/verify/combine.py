"""From the bounds of rows to the bounds of objectives: how a group's rows combine, and the
float32 rounding of the objective's own evaluation (see :mod:`.certificates`)."""

from __future__ import annotations

import numpy as np

from ..constraints import Constraint
from ..objectives import Objective
from .propagation import State, dot_abs
from .results import Bounds
from .rounding import gamma
from .specs import Group
from .stack import RowBounds
from .unitrows import UnitRows, count, magnitude

__all__ = ["assemble", "bad_items", "combine", "margin", "ABS_MARGIN", "SAFETY"]

ABS_MARGIN = 1e-6
"""Added to every bound (underflow is not modelled)."""
SAFETY = 2.0
"""Factor on the bound of the objective's own rounding."""


def margin(group: Group, state: State, node: int, unit: float) -> np.ndarray:
    """Per row, a bound on the float32 rounding of the objective's own evaluation from the
    node's values (a sum of ``nnz`` terms), widened, plus the absolute margin."""
    rows = group.rows
    if isinstance(rows, UnitRows):
        coef, size = rows.coef, magnitude(rows, state.mag(node))
    else:
        coef, size = rows.reshape(*rows.shape[:2], -1), dot_abs(rows, state.mag(node))
    nnz = int((coef != 0).sum(axis=2).max()) if coef.size else 0
    return SAFETY * gamma(nnz + 1, unit) * size + ABS_MARGIN


def _lse(x: np.ndarray) -> np.ndarray:
    if x.shape[1] == 0:
        return np.full(x.shape[0], -np.inf)
    m = x.max(axis=1)
    m0 = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        return m0 + np.log(np.exp(x - m0[:, None]).sum(axis=1))


def combine(group: Group, low: np.ndarray, up: np.ndarray, unit: float, widen: bool) -> tuple:
    """Bounds ``(B,)`` of the group from the bounds of its rows."""
    if group.kind == "sum":
        lo, hi = low[:, 0], up[:, 0]
    elif group.kind == "max":
        lo, hi = low.max(axis=1), up.max(axis=1)
    elif group.kind == "sigmoid":
        with np.errstate(over="ignore"):
            lo, hi = np.exp(-np.logaddexp(0.0, -low[:, 0])), np.exp(-np.logaddexp(0.0, -up[:, 0]))
        if widen:
            pad = SAFETY * 8 * unit + ABS_MARGIN
            lo, hi = np.clip(lo - pad, 0.0, 1.0), np.clip(hi + pad, 0.0, 1.0)
    else:
        with np.errstate(over="ignore"):
            hi = np.exp(-np.logaddexp(0.0, _lse(low)))
            lo = np.exp(-np.logaddexp(0.0, _lse(up)))
        if widen:
            pad = SAFETY * 2 * (low.shape[1] + 8) * unit + ABS_MARGIN
            lo, hi = np.clip(lo - pad, 0.0, 1.0), np.clip(hi + pad, 0.0, 1.0)
    c = group.coef
    return (c * lo, c * hi) if c >= 0 else (c * hi, c * lo)


def bad_items(state: State) -> np.ndarray:
    """``(B,)``: the items with a NaN anywhere in their propagation (their bounds are unknown)."""
    bad = np.zeros(state.low[0].shape[0], dtype=bool)
    for arr in (*state.low, *state.high, *state.clow, *state.chigh):
        bad |= np.isnan(arr.reshape(arr.shape[0], -1)).any(axis=1)
    return bad


def assemble(
    state: State,
    unit: float,
    groups: list[Group],
    found: list[tuple[RowBounds, RowBounds]],
    nodes: dict[str, int],
    about: tuple[Objective, Constraint, str],
) -> Bounds:
    """The :class:`Bounds` of one objective from its groups and, per group, the IBP and CROWN
    upper bounds of its rows then of their negations (:func:`.stack.group_bounds`; the same
    arrays twice without CROWN). ``about``: the objective, the constraint and the method's label."""
    objective, constraint, label = about
    batch = state.low[0].shape[0]
    totals = np.zeros((4, batch))
    crown_won = np.ones(batch, dtype=bool)
    ibp_won = np.ones(batch, dtype=bool)
    crown = label != "ibp"
    for g, (ibp, cr) in zip(groups, found):
        k = count(g.rows)
        best, exact = np.fmin(ibp[0], cr[0]), np.fmin(ibp[1], cr[1])
        crown_won &= (cr[0][:, :k] <= ibp[0][:, :k]).all(axis=1)
        ibp_won &= (ibp[0][:, :k] < cr[0][:, :k]).all(axis=1)
        pad = margin(g, state, nodes[g.target], unit)
        totals[:2] += combine(g, -exact[:, k:], exact[:, :k], unit, widen=False)
        totals[2:] += combine(g, -best[:, k:] - pad, best[:, :k] + pad, unit, widen=True)
    totals[:, bad_items(state)] = np.nan
    source = tuple(
        "ibp" if not crown else ("crown" if c else ("ibp" if i else "both")) for c, i in zip(crown_won, ibp_won)
    )
    return Bounds(totals[2], totals[3], label, source, totals[0], totals[1], objective, constraint)
