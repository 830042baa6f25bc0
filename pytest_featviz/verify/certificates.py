"""Sound bounds of objectives over constraint sets: proof where gradient ascent only finds evidence.

``bounds(model, objective, constraints=...)`` returns, per batch item, a ``lower`` and an
``upper`` bound such that for every input in the set, ``lower <= objective <= upper``
for the real model evaluated in float32; given a list of objectives, a tuple of them, from
one forward pass and the objectives' rows stacked (:mod:`.stack`). The methods:

- ``"ibp"``: interval bound propagation, layer by layer (an L2 ball is bounded by its
  dual norm at the first layer that mixes coordinates; the last linear layer is
  folded into the objective, so logit margins are bounded as one quantity);
- ``"crown"``: CROWN's backward linear relaxation (ReLU: the chord ``u/(u-l)`` above,
  slope 0 or 1 below, whichever is closer; other activations: chord and tangent
  where they are convex or concave, their interval otherwise; max pooling: the
  entry with the largest lower bound below, the largest upper bound above).
  Intermediate pre-activation bounds come from full CROWN where that is cheap
  (:data:`.propagation.FULL_CROWN_BUDGET`: 2 x neurons x earlier nodes' sizes per item;
  rows go in chunks of at most 2**19 float64 numbers, 4 MiB) and from IBP otherwise; the result's
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

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal, get_args, overload

import numpy as np

from .._validation import check_batch_size, check_choice, check_int, check_real, check_start
from ..constraints import Constraint, Mask, as_constraint
from ..errors import ConfigurationError, FeatvizTypeError
from ..objectives import Objective, as_objective
from .combine import assemble
from .propagation import InputSet, forward
from .results import Bounds, Certificate
from .specs import groups_of, targets_of
from .stack import group_bounds
from .targets import build_graph

if TYPE_CHECKING:
    from .branch import BranchAndBound

__all__ = ["Bounds", "bounds", "Certificate", "certify_not_reaches", "check_supported", "METHODS"]

Method = Literal["crown", "ibp", "crown-ibp", "alpha-crown"]
METHODS: tuple[str, ...] = get_args(Method)


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


@overload
def bounds(
    model: Any,
    objective: Objective,
    *,
    constraints: Constraint | None = None,
    method: Method = "crown",
    start: Any = None,
    crown_budget: int | None = None,
) -> Bounds: ...


@overload
def bounds(
    model: Any,
    objective: Sequence[Objective],
    *,
    constraints: Constraint | None = None,
    method: Method = "crown",
    start: Any = None,
    crown_budget: int | None = None,
) -> tuple[Bounds, ...]: ...


def bounds(
    model: Any,
    objective: Objective | Sequence[Objective],
    *,
    constraints: Constraint | None = None,
    method: Method = "crown",
    start: Any = None,
    crown_budget: int | None = None,
) -> Bounds | tuple[Bounds, ...]:
    """Sound lower and upper bounds of ``objective`` over ``constraints``, per batch item.

    Parameters
    ----------
    model : keras.Model or str
        The model, or anything :func:`load_model` accepts. Every layer the objective
        depends on must be supported (others are refused by name and class).
    objective : Objective or list of Objective
        ClassLogit, ClassProbability, Neuron, Channel (mean; max), Direction, or a sum
        of them with number coefficients. Terms on one layer are bounded jointly.
        A list (or tuple) of objectives is bounded as one specification matrix
        (:mod:`.stack`): one forward pass, and one backward pass per layer read over
        the rows of all of them, each distinct row once; each objective gets the bounds
        it would get alone (:func:`logit_margins` gives the margins of a class).
    constraints : Constraint, optional
        Box, L-inf ball, L2 ball, Mask, or an intersection. Unbounded sets give
        infinite bounds.
    method : {'crown', 'ibp', 'crown-ibp', 'alpha-crown'}
        See the module documentation. 'crown' also computes IBP and keeps the tighter;
        'alpha-crown' optimises CROWN's final pass (a few times slower).
    start : array, optional
        ``input_shape`` or ``(B, *input_shape)``: where a Mask freezes entries; also
        sets the batch size as in :func:`ascend`.
    crown_budget : int, optional
        Full CROWN on a layer's pre-activations only where their rows hold at most this
        many numbers per batch item (default :data:`.propagation.FULL_CROWN_BUDGET`,
        2**23); the layers past it keep their IBP bounds and are named in
        ``Bounds.ibp_layers`` (``method`` then reads 'crown-ibp'). Rows are processed in
        chunks of 4 MiB whatever the budget: a larger one costs time, not memory.

    Returns
    -------
    Bounds, or a tuple of Bounds (one per objective, in order) for a list

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

    Every margin ``z_j - z_0`` of a 3-class model in one call:

    >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
    >>> m.set_weights([np.array([[1.0, 0.0, 2.0], [0.0, 1.0, -1.0]]), np.zeros(3)])
    >>> [float(b.real_upper[0]) for b in bounds(m, fv.logit_margins(0, 3), constraints=fv.Box(0, 1))]
    [1.0, 1.0]
    """
    check_choice(method, "method", METHODS)
    objectives, many = _objectives(objective)
    found = _bounds_all(model, objectives, as_constraint(constraints), method, start, crown_budget)
    return found if many else found[0]


def _objectives(value: Any) -> tuple[list[Objective], bool]:
    """``(the objectives, whether a list was given)``; an empty list or a non-objective in it is refused."""
    if not isinstance(value, (list, tuple)):
        return [as_objective(value)], False
    if not value:
        raise ConfigurationError(
            "bounds got an empty list of objectives: give one objective, or a list of at least one "
            "(fv.logit_margins(true_class, classes) gives the margins of a class)"
        )
    for i, item in enumerate(value):
        if not isinstance(item, Objective):
            raise FeatvizTypeError(
                f"objective {i} of the list is {item!r}: expected an objective such as fv.ClassLogit(3) "
                f"(a list holds objectives, not lists: fv.logit_margins(...) is already one)"
            )
    return list(value), True


def _batch_size(objectives: list[Objective], start: np.ndarray | None) -> int:
    """The batch size every objective agrees on (those with one target broadcast)."""
    sizes = {i: o.batch_size() for i, o in enumerate(objectives) if o.batch_size() is not None}
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"objective {i} has {n}" for i, n in sizes.items())
        raise ConfigurationError(
            f"the objectives have different numbers of targets ({listed}): give each the same number "
            f"(one per batch item), or a single target"
        )
    return check_batch_size(objectives[min(sizes, default=0)], None, start)


def _bounds_all(
    model: Any, objectives: list[Objective], constraint: Constraint, method: str, start: Any, budget: int | None
) -> tuple[Bounds, ...]:
    """:func:`bounds` of each objective, from one forward pass and the stacked rows of all."""
    budget = None if budget is None else check_int(budget, "crown_budget", min_value=1)
    objectives, info, graph, nodes = _translate_all(model, objectives)
    start_arr = check_start(start, info.input_shape)
    batch = _batch_size(objectives, start_arr)
    inset = _input_set(constraint, (batch, *info.input_shape), start_arr)
    shapes = {t: graph.nodes[n].shape for t, n in nodes.items()}
    groups = [groups_of(o, shapes, batch, info.head.squash) for o in objectives]
    label: str = method if method in ("ibp", "alpha-crown") else "crown"
    if inset is None:
        inf = np.full(batch, np.inf)
        return tuple(Bounds(-inf, inf, label, (label,) * batch, -inf, inf, o, constraint) for o in objectives)
    crown = None if method == "ibp" else ("ibp" if method == "crown-ibp" else "full")
    with np.errstate(over="ignore", invalid="ignore"):  # overflow gives infinite bounds, NaN unknown ones
        distinct, which = inset.distinct()
        state = forward(graph, distinct, crown, budget=budget)
        state = state if np.array_equal(which, np.arange(len(which))) else state.take(which)
        if label == "crown" and state.ibp_only_nodes:
            label = "crown-ibp"
        flat = [g for gs in groups for g in gs]
        found = iter(group_bounds(graph, state, inset, nodes, flat, crown is not None, method == "alpha-crown"))
        ibp_layers = tuple(dict.fromkeys(graph.nodes[n].layer for n in state.ibp_nodes))
        return tuple(
            replace(
                assemble(state, graph.unit, gs, [next(found) for _ in gs], nodes, (o, constraint, label)),
                ibp_layers=ibp_layers,
            )
            for o, gs in zip(objectives, groups)
        )


def _translate_all(model: Any, objectives: list[Objective]) -> tuple:
    """``(objectives, model info, graph, target nodes)`` for every target the objectives read;
    refuses unsupported layers."""
    from ..models import load_model, model_info

    model = load_model(model)
    info = model_info(model)
    for o in objectives:
        o.validate(info)
    targets = list(dict.fromkeys(t for o in objectives for t in targets_of(o)))
    graph, nodes = build_graph(model, targets)
    return objectives, info, graph, nodes


def _translate(model: Any, objective: Any) -> tuple:
    """``(objective, model info, graph, target nodes)``; refuses unsupported layers."""
    objectives, info, graph, nodes = _translate_all(model, [as_objective(objective)])
    return objectives[0], info, graph, nodes


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


@overload
def certify_not_reaches(
    model: Any,
    objective: Objective,
    threshold: float,
    *,
    constraints: Constraint | None = None,
    method: Method = "crown",
    start: Any = None,
    branch: BranchAndBound | None = None,
    crown_budget: int | None = None,
) -> Certificate: ...


@overload
def certify_not_reaches(
    model: Any,
    objective: Sequence[Objective],
    threshold: float,
    *,
    constraints: Constraint | None = None,
    method: Method = "crown",
    start: Any = None,
    branch: BranchAndBound | None = None,
    crown_budget: int | None = None,
) -> tuple[Certificate, ...]: ...


def certify_not_reaches(
    model: Any,
    objective: Objective | Sequence[Objective],
    threshold: float,
    *,
    constraints: Constraint | None = None,
    method: Method = "crown",
    start: Any = None,
    branch: BranchAndBound | None = None,
    crown_budget: int | None = None,
) -> Certificate | tuple[Certificate, ...]:
    """Prove, per batch item, that ``objective < threshold`` everywhere in ``constraints``.

    An item is 'proven' iff its sound upper bound (see :func:`bounds`) is below
    ``threshold``; otherwise 'unknown' (NaN bounds are never proven). With ``branch``
    (a :class:`BranchAndBound`), each unknown item is searched for a counterexample
    on the real model and then split into parts bounded separately (see
    :mod:`.branch`): it ends 'proven', 'counterexample' or 'unknown', with the
    reason in ``reasons``. A list of objectives (each against the same ``threshold``)
    is bounded in one call to :func:`bounds` and gives a tuple of certificates, in order.
    ``crown_budget``: as in :func:`bounds`.

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
    >>> [c.status for c in certify_not_reaches(m, [fv.ClassLogit(0), -fv.ClassLogit(0)], 1.6, constraints=fv.Box(0, 1))]
    [('proven',), ('proven',)]
    """
    threshold = check_real(threshold, "threshold")
    check_choice(method, "method", METHODS)
    objectives, many = _objectives(objective)
    found = _bounds_all(model, objectives, as_constraint(constraints), method, start, crown_budget)
    certs = []
    for b in found:
        status = tuple("proven" if u < threshold else "unknown" for u in b.upper)
        cert = Certificate(status, float(threshold), b)
        if branch is not None:
            from .branch import branch_certificate

            cert = branch_certificate(model, cert, start, branch)
        certs.append(cert)
    return tuple(certs) if many else certs[0]
