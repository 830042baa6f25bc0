"""Sound bounds of objectives over constraint sets: proof where gradient ascent only finds evidence.

``bounds(model, objective, constraints=...)`` returns, per batch item, a ``lower`` and an
``upper`` bound such that for every input in the set, ``lower <= objective <= upper``
for the real model evaluated in float32. Two methods:

- ``"ibp"``: interval bound propagation, layer by layer (an L2 ball is bounded by its
  dual norm at the first layer that mixes coordinates; the last linear layer is
  folded into the objective, so logit margins are bounded as one quantity);
- ``"crown"``: CROWN's backward linear relaxation (ReLU: the chord ``u/(u-l)`` above,
  slope 0 or 1 below, whichever is closer; other activations: chord and tangent
  where they are convex or concave, their interval otherwise; max pooling: the
  entry with the largest lower bound below, the largest upper bound above).
  Intermediate pre-activation bounds come from full CROWN where that is cheap
  (:data:`.propagation.FULL_CROWN_BUDGET`: 2 x neurons x earlier nodes' sizes per item;
  rows go in chunks of at most 2**22 float64 numbers, 32 MiB) and from IBP otherwise; the result's
  ``method`` says ``"crown"`` or ``"crown-ibp"`` accordingly (``method="crown-ibp"``
  forces IBP intermediates). CROWN is not always tighter than IBP: the tighter of
  the two is reported per bound;
- ``"alpha-crown"``: CROWN whose final pass optimises, per bounded row, the lower
  slopes of unstable ReLU/leaky ReLU/ReLU6 neurons by projected gradient
  (:mod:`.alpha`), keeping the smallest sound bound met: never looser than CROWN;
  intermediate bounds are CROWN's.

Memory is linear in the size of the layers: the many rows of a ``Channel(...,
reduce="max")`` (one per position) or of a ``ClassProbability`` (one per other class)
are held by index (:mod:`.unitrows`) and bounded a chunk at a time (:mod:`.rowbounds`).

Everything runs in float64 numpy on the model's float32 weights, and the bounds cover
the float32 evaluation of the real model: every operation's rounding is a bounded
perturbation of its output (Higham's ``gamma_n = n u / (1 - n u)`` times
``sum |w_i| |x_i|`` for a dot product of ``n`` terms in any order, with the magnitudes of
the computed inputs; 0 for ReLU and max; 8 ulps for ``exp``/``tanh``-based activations;
the rounding of the input itself), carried through the same relaxations as the input
(see :mod:`.propagation` for the argument): IBP adds each node's rounding to its
interval, CROWN weights it by its backward coefficients, so it enters once instead of
compounding through ``|W|`` layer by layer. The objective's own evaluation (a sum of
rows) adds ``gamma_{k+1}`` of its magnitude, doubled, and everything an absolute 1e-6.
The rounding model assumes IEEE float32 (or the layers' compute dtype) arithmetic
without underflow; TensorFloat-32 on a visible GPU is detected and covered by
``u = 2**-11``; Winograd/FFT convolutions are not modelled. ``real_lower``/``real_upper``
are the same bounds without the rounding terms (exact arithmetic on the float32
weights; the relaxations are those of the float32 evaluation, which cover it). A NaN
anywhere in an item's propagation makes its bounds NaN: unknown, never proven.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np

from .._validation import check_batch_size, check_choice, check_real, check_start
from ..constraints import Constraint, Mask, as_constraint
from ..errors import ConfigurationError
from ..objectives import Objective, as_objective
from .graph import Graph
from .propagation import InputSet, State, forward, gamma
from .results import Bounds, Certificate
from .rowbounds import rows_bounds
from .specs import Group, groups_of, targets_of
from .targets import build_graph
from .unitrows import UnitRows, count, magnitude, signed

if TYPE_CHECKING:
    from .branch import BranchAndBound

__all__ = ["Bounds", "bounds", "Certificate", "certify_not_reaches", "check_supported", "METHODS"]

Method = Literal["crown", "ibp", "crown-ibp", "alpha-crown"]
METHODS: tuple[str, ...] = get_args(Method)
_ABS_MARGIN = 1e-6
_SAFETY = 2.0


def _input_set(constraint: Constraint, shape: tuple[int, ...], start: np.ndarray | None) -> InputSet | None:
    """The canonical input set, or None when it is unbounded."""
    if start is None and any(isinstance(p, Mask) and p.values is None for p in constraint._parts()):
        raise ConfigurationError(
            f"{constraint!r} has a Mask, which freezes entries at the start's values: pass start=..."
        )
    canon = constraint.canonical(shape, start=None if start is None else np.broadcast_to(start, shape))
    if not canon.has_ball:
        if not (np.isfinite(canon.low).all() and np.isfinite(canon.high).all()):
            return None
        return InputSet(canon.low, canon.high, None, None)
    r = canon.radius.reshape((-1,) + (1,) * (len(shape) - 1))
    low = np.maximum(canon.low, canon.center - r)
    high = np.minimum(canon.high, canon.center + r)
    return InputSet(low, high, canon.center, canon.radius.astype(np.float64))


def _margin(group: Group, state: State, node: int, unit: float) -> np.ndarray:
    """Per row, a bound on the float32 rounding of the objective's own evaluation from the
    node's values (a sum of ``nnz`` terms), widened, plus the absolute margin."""
    if isinstance(group.rows, UnitRows):
        nonzero = group.rows.coef != 0
        nnz = int(nonzero.sum(axis=2).max()) if nonzero.size else 0
        raw = gamma(nnz + 1, unit) * magnitude(group.rows, state.mag(node))
        return _SAFETY * raw + _ABS_MARGIN
    b, k = group.rows.shape[:2]
    absr = np.abs(group.rows).reshape(b, k, -1)
    mag = state.mag(node).reshape(b, 1, -1)
    nnz = int((absr > 0).sum(axis=2).max()) if absr.size else 0
    raw = gamma(nnz + 1, unit) * (absr * mag).sum(axis=2)
    return _SAFETY * raw + _ABS_MARGIN


def _lse(x: np.ndarray) -> np.ndarray:
    if x.shape[1] == 0:
        return np.full(x.shape[0], -np.inf)
    m = x.max(axis=1)
    m0 = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        return m0 + np.log(np.exp(x - m0[:, None]).sum(axis=1))


def _combine(group: Group, low: np.ndarray, up: np.ndarray, unit: float, widen: bool) -> tuple:
    """Bounds ``(B,)`` of the group from the bounds of its rows."""
    if group.kind == "sum":
        lo, hi = low[:, 0], up[:, 0]
    elif group.kind == "max":
        lo, hi = low.max(axis=1), up.max(axis=1)
    elif group.kind == "sigmoid":
        with np.errstate(over="ignore"):
            lo, hi = np.exp(-np.logaddexp(0.0, -low[:, 0])), np.exp(-np.logaddexp(0.0, -up[:, 0]))
        if widen:
            pad = _SAFETY * 8 * unit + _ABS_MARGIN
            lo, hi = np.clip(lo - pad, 0.0, 1.0), np.clip(hi + pad, 0.0, 1.0)
    else:
        with np.errstate(over="ignore"):
            hi = np.exp(-np.logaddexp(0.0, _lse(low)))
            lo = np.exp(-np.logaddexp(0.0, _lse(up)))
        if widen:
            pad = _SAFETY * 2 * (low.shape[1] + 8) * unit + _ABS_MARGIN
            lo, hi = np.clip(lo - pad, 0.0, 1.0), np.clip(hi + pad, 0.0, 1.0)
    c = group.coef
    return (c * lo, c * hi) if c >= 0 else (c * hi, c * lo)


def _bad_items(state: State) -> np.ndarray:
    bad = np.zeros(state.low[0].shape[0], dtype=bool)
    for arr in (*state.low, *state.high, *state.clow, *state.chigh):
        bad |= np.isnan(arr.reshape(arr.shape[0], -1)).any(axis=1)
    return bad


def bounds(
    model: Any,
    objective: Objective,
    *,
    constraints: Constraint | None = None,
    method: Method = "crown",
    start: Any = None,
) -> Bounds:
    """Sound lower and upper bounds of ``objective`` over ``constraints``, per batch item.

    Parameters
    ----------
    model : keras.Model or str
        The model, or anything :func:`load_model` accepts. Every layer the objective
        depends on must be supported (others are refused by name and class).
    objective : Objective
        ClassLogit, ClassProbability, Neuron, Channel (mean; max), Direction, or a sum
        of them with number coefficients. Terms on one layer are bounded jointly.
    constraints : Constraint, optional
        Box, L-inf ball, L2 ball, Mask, or an intersection. Unbounded sets give
        infinite bounds.
    method : {'crown', 'ibp', 'crown-ibp', 'alpha-crown'}
        See the module documentation. 'crown' also computes IBP and keeps the tighter;
        'alpha-crown' optimises CROWN's final pass (a few times slower).
    start : array, optional
        ``input_shape`` or ``(B, *input_shape)``: where a Mask freezes entries; also
        sets the batch size as in :func:`ascend`.

    Returns
    -------
    Bounds

    Examples
    --------
    >>> import keras, numpy as np
    >>> import pytest_featviz as fv
    >>> from pytest_featviz.verify import bounds
    >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> m.set_weights([np.array([[1.0], [-2.0]]), np.array([0.5])])
    >>> b = bounds(m, fv.ClassLogit(0), constraints=fv.Box(0, 1))
    >>> float(b.real_lower[0]), float(b.real_upper[0])
    (-1.5, 1.5)
    >>> bool(b.lower[0] <= -1.5 and b.upper[0] >= 1.5)
    True
    """
    check_choice(method, "method", METHODS)
    constraint = as_constraint(constraints)
    objective, info, graph, nodes = _translate(model, objective)
    start_arr = check_start(start, info.input_shape)
    batch = check_batch_size(objective, None, start_arr)
    inset = _input_set(constraint, (batch, *info.input_shape), start_arr)
    groups = groups_of(objective, {t: graph.nodes[n].shape for t, n in nodes.items()}, batch, info.head.squash)
    label: str = method if method in ("ibp", "alpha-crown") else "crown"
    if inset is None:
        inf = np.full(batch, np.inf)
        return Bounds(-inf, inf, label, (label,) * batch, -inf, inf, objective, constraint)
    crown = None if method == "ibp" else ("ibp" if method == "crown-ibp" else "full")
    with np.errstate(over="ignore", invalid="ignore"):  # overflow gives infinite bounds, NaN unknown ones
        distinct, which = inset.distinct()
        state = forward(graph, distinct, crown)
        state = state if np.array_equal(which, np.arange(len(which))) else state.take(which)
        if label == "crown" and state.ibp_only_nodes:
            label = "crown-ibp"
        result = _assemble(graph, state, inset, groups, nodes, objective, constraint, label, method)
        ibp_layers = tuple(dict.fromkeys(graph.nodes[n].layer for n in state.ibp_nodes))
        return replace(result, ibp_layers=ibp_layers) if ibp_layers else result


def _translate(model: Any, objective: Any) -> tuple:
    """``(objective, model info, graph, target nodes)``; refuses unsupported layers."""
    from ..models import load_model, model_info

    objective = as_objective(objective)
    model = load_model(model)
    info = model_info(model)
    objective.validate(info)
    graph, nodes = build_graph(model, targets_of(objective))
    return objective, info, graph, nodes


def check_supported(model: Any, objective: Objective) -> None:
    """Raise the ``ConfigurationError`` that :func:`bounds` would raise for a layer it cannot
    handle (naming the layer, its class and the supported classes), computing no bounds.

    Translating the model is cheap (no search, no propagation): callers run this before
    a search whose result would be certified.

    Examples
    --------
    >>> import keras
    >>> import pytest_featviz as fv
    >>> from pytest_featviz.verify import check_supported
    >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> check_supported(m, fv.ClassLogit(0)) is None
    True
    """
    _translate(model, objective)


def _assemble(
    graph: Graph,
    state: State,
    inset: InputSet,
    groups: list[Group],
    nodes: dict[str, int],
    objective: Objective,
    constraint: Constraint,
    label: str,
    method: str,
) -> Bounds:
    batch = state.low[0].shape[0]
    crown, alpha = method != "ibp", method == "alpha-crown"
    totals = np.zeros((4, batch))
    crown_won = np.ones(batch, dtype=bool)
    ibp_won = np.ones(batch, dtype=bool)
    for g in groups:
        node = nodes[g.target]
        k = count(g.rows)
        ibp, cr = rows_bounds(graph, state, inset, node, signed(g.rows), crown, alpha)
        best, exact = np.fmin(ibp[0], cr[0]), np.fmin(ibp[1], cr[1])
        crown_won &= (cr[0][:, :k] <= ibp[0][:, :k]).all(axis=1)
        ibp_won &= (ibp[0][:, :k] < cr[0][:, :k]).all(axis=1)
        pad = _margin(g, state, node, graph.unit)
        totals[:2] += _combine(g, -exact[:, k:], exact[:, :k], graph.unit, widen=False)
        totals[2:] += _combine(g, -best[:, k:] - pad, best[:, :k] + pad, graph.unit, widen=True)
    totals[:, _bad_items(state)] = np.nan
    source = tuple(
        "ibp" if not crown else ("crown" if c else ("ibp" if i else "both")) for c, i in zip(crown_won, ibp_won)
    )
    return Bounds(totals[2], totals[3], label, source, totals[0], totals[1], objective, constraint)


def certify_not_reaches(
    model: Any,
    objective: Objective,
    threshold: float,
    *,
    constraints: Constraint | None = None,
    method: Method = "crown",
    start: Any = None,
    branch: BranchAndBound | None = None,
) -> Certificate:
    """Prove, per batch item, that ``objective < threshold`` everywhere in ``constraints``.

    An item is 'proven' iff its sound upper bound (see :func:`bounds`) is below
    ``threshold``; otherwise 'unknown' (NaN bounds are never proven). With ``branch``
    (a :class:`BranchAndBound`), each unknown item is searched for a counterexample
    on the real model and then split into parts bounded separately (see
    :mod:`.branch`): it ends 'proven', 'counterexample' or 'unknown', with the
    reason in ``reasons``.

    Examples
    --------
    >>> import keras, numpy as np
    >>> import pytest_featviz as fv
    >>> from pytest_featviz.verify import certify_not_reaches
    >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> m.set_weights([np.array([[1.0], [-2.0]]), np.array([0.5])])
    >>> certify_not_reaches(m, fv.ClassLogit(0), 1.6, constraints=fv.Box(0, 1)).status
    ('proven',)
    >>> certify_not_reaches(m, fv.ClassLogit(0), 1.5, constraints=fv.Box(0, 1)).status
    ('unknown',)
    >>> from pytest_featviz.verify import BranchAndBound
    >>> cert = certify_not_reaches(m, fv.ClassLogit(0), 1.5, constraints=fv.Box(0, 1), branch=BranchAndBound())
    >>> cert.status, cert.counterexamples
    (('counterexample',), array([[1., 0.]], dtype=float32))
    """
    threshold = check_real(threshold, "threshold")
    b = bounds(model, objective, constraints=constraints, method=method, start=start)
    status = tuple("proven" if u < threshold else "unknown" for u in b.upper)
    cert = Certificate(status, float(threshold), b)
    if branch is None:
        return cert
    from .branch import branch_certificate

    return branch_certificate(model, cert, start, branch)
