"""The branches of branch and bound: how a batch of them is bounded, and how one is split in two.

A branch (a *domain*) of one batch item's input set is a sub-box ``[low, high]`` of the
item's box (its L2 ball, if any, kept) and a sign per splittable ReLU neuron
(:func:`.lagrange.splittable`): ``+1`` where the branch holds only inputs whose computed
pre-activation is ``>= 0``, ``-1`` where it is ``<= 0``, ``0`` where it is not split.
Children cover their parent: the two halves of a box along one coordinate (both closed),
or the two signs of one neuron. So an upper bound that holds on every leaf holds on the
item's set.

A batch of domains is bounded as the batch axis of one forward pass
(:func:`.propagation.forward`, the splits as clamps on the pre-activations' bounds, so
later layers' bounds and relaxations are recomputed from them), then per objective
group the tighter of IBP and the optimised CROWN bound (:func:`.lagrange.optimise`),
plus the rounding margin of the objective's own evaluation, combined as
:func:`.certificates.bounds` does. A domain where some clamped interval is empty holds
no input: its bound is ``-inf``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .combine import bad_items, combine, margin
from .graph import Graph
from .lagrange import Relu, optimise
from .propagation import InputSet, forward
from .rowbounds import rows_bounds
from .specs import Group
from .unitrows import dense

__all__ = ["Problem", "Domains", "Guide", "root", "bound", "relu_scores", "input_scores", "split"]


@dataclass(frozen=True)
class Problem:
    """One batch item's question: is every group's objective below ``threshold`` on ``inset``?

    ``groups`` hold the item's rows (``(1, K, *shape)``), ``nodes`` the node of each target.
    """

    graph: Graph
    nodes: dict[str, int]
    groups: tuple[Group, ...]
    inset: InputSet
    relus: tuple[Relu, ...]
    threshold: float
    iterations: int


@dataclass(frozen=True)
class Domains:
    """A batch of branches of one item (see the module documentation), with what bounding found:
    ``upper`` per domain (NaN before bounding), per group the optimiser's best ``alpha``
    and ``beta`` (warm starts for the children; None at the root), and ``choice``: the
    split to choose next (see :func:`split`; -1: not chosen, or nothing left)."""

    low: np.ndarray
    high: np.ndarray
    signs: np.ndarray
    upper: np.ndarray
    alpha: tuple[np.ndarray | None, ...]
    beta: tuple[np.ndarray | None, ...]
    choice: np.ndarray

    def __len__(self) -> int:
        return len(self.upper)

    def take(self, idx: np.ndarray) -> Domains:
        """The domains at ``idx`` (an index array or a mask)."""
        pick = lambda v: None if v is None else v[idx]  # noqa: E731
        return Domains(
            self.low[idx],
            self.high[idx],
            self.signs[idx],
            self.upper[idx],
            tuple(map(pick, self.alpha)),
            tuple(map(pick, self.beta)),
            self.choice[idx],
        )

    def concat(self, other: Domains) -> Domains:
        """These domains followed by ``other``'s (warm starts must be present in both or neither)."""
        join = lambda a, b: None if a is None or b is None else np.concatenate([a, b])  # noqa: E731
        return Domains(
            np.concatenate([self.low, other.low]),
            np.concatenate([self.high, other.high]),
            np.concatenate([self.signs, other.signs]),
            np.concatenate([self.upper, other.upper]),
            tuple(map(join, self.alpha, other.alpha)),
            tuple(map(join, self.beta, other.beta)),
            np.concatenate([self.choice, other.choice]),
        )


def root(problem: Problem) -> Domains:
    """The item's whole input set as one domain."""
    total = sum(r.size for r in problem.relus)
    none = (None,) * len(problem.groups)
    inset = problem.inset
    return Domains(inset.low, inset.high, np.zeros((1, total), np.int8), np.full(1, np.nan), none, none, np.full(1, -1))


@dataclass(frozen=True)
class Guide:
    """What bounding learnt for choosing splits and attack points, per domain: the summed
    magnitude of the input rows (``(D, *S)``), the coefficients reaching each ReLU's
    output and the pre-activation bounds (for :func:`relu_scores`), and the input points
    where the bounds are largest (``(D, *S)``; NaN where unknown)."""

    input_weight: np.ndarray
    relu_coef: np.ndarray
    pre_low: np.ndarray
    pre_high: np.ndarray
    points: np.ndarray


def _direction(group: Group) -> float:
    """+1 when the group's upper bound comes from its rows' upper bounds, -1 from their lower bounds."""
    sign = 1.0 if group.coef >= 0 else -1.0
    return -sign if group.kind == "prob" else sign


def _group_upper(group: Group, upper: np.ndarray, d: float, unit: float) -> np.ndarray:
    """The group's upper bound ``(D,)`` from the upper bounds of its rows times ``d``."""
    inf = np.full_like(upper, np.inf)
    low, up = (-upper, inf) if d < 0 else (-inf, upper)
    return combine(group, low, up, unit, widen=True)[1]


def _flat(relus: tuple[Relu, ...], per: dict[int, np.ndarray], d: int) -> np.ndarray:
    return np.concatenate([per[r.node].reshape(d, -1) for r in relus], axis=1) if relus else np.zeros((d, 0))


def bound(problem: Problem, doms: Domains) -> tuple[Domains, Guide]:
    """Bound every domain (see the module documentation): the domains with ``upper`` and
    warm starts filled in, and the guide for splitting them."""
    graph, d = problem.graph, len(doms)
    base = problem.inset
    reps = lambda v: None if v is None else np.repeat(v, d, axis=0)  # noqa: E731
    inset = InputSet(doms.low, doms.high, reps(base.center), reps(base.radius))
    clamp = {}
    for r in problem.relus:
        s = r.part(doms.signs)
        clamp[r.pre] = (np.where(s > 0, 0.0, -np.inf), np.where(s < 0, 0.0, np.inf))
    with np.errstate(over="ignore", invalid="ignore"):
        state = forward(graph, inset, "full", clamp)
        total = np.zeros(d)
        alphas, betas = [], []
        weight = np.zeros(doms.low.shape)
        coef = {r.node: np.zeros((d, *r.shape)) for r in problem.relus}
        points = np.full(doms.low.shape, np.nan)
        for gi, g in enumerate(problem.groups):
            node = problem.nodes[g.target]
            sign = _direction(g)
            one = dense(g.rows)  # the optimiser needs dense rows (quadratic for "max" and "prob" groups)
            rows = np.broadcast_to(sign * one, (d, *one.shape[1:]))
            ibp = rows_bounds(graph, state, inset, node, rows, False)[0][0]
            start = (doms.alpha[gi], doms.beta[gi])
            opt = optimise(graph, state, inset, node, rows, problem.relus, doms.signs, start, problem.iterations)
            alphas.append(opt.alpha)
            betas.append(opt.beta)
            pad = margin(Group(g.target, rows, g.kind, g.coef), state, node, graph.unit)
            total += _group_upper(g, np.fmin(ibp, opt.upper) + pad, sign, graph.unit)
            if 0 in opt.record:
                weight += np.abs(opt.record[0]).sum(axis=1)
            for r in problem.relus:
                if r.node in opt.record:
                    coef[r.node] += opt.record[r.node].sum(axis=1)
            if opt.point is not None and gi == 0:
                points = opt.point[:, 0]
        total[bad_items(state)] = np.nan
        empty = np.zeros(d, dtype=bool)
        for r in problem.relus:
            empty |= (state.clow[r.pre] > state.chigh[r.pre]).reshape(d, -1).any(axis=1)
        total[empty] = -np.inf
        total = np.fmin(total, doms.upper)  # a child's set is in its parent's: the parent's bound holds too
    bounded = replace(doms, upper=total, alpha=tuple(alphas), beta=tuple(betas))
    pre_low = _flat(problem.relus, {r.node: state.clow[r.pre] for r in problem.relus}, d)
    pre_high = _flat(problem.relus, {r.node: state.chigh[r.pre] for r in problem.relus}, d)
    return bounded, Guide(weight, _flat(problem.relus, coef, d), pre_low, pre_high, points)


def relu_scores(doms: Domains, guide: Guide) -> np.ndarray:
    """Per domain and neuron, how much splitting it should tighten the bound (after BaBSR):
    the intercept ``-l u / (u - l)`` of the upper line times the coefficient on the ReLU's
    output where it is positive (a quarter of it where negative: the optimised lower line
    is already close); ``-inf`` where the neuron is split or stable."""
    low, high = guide.pre_low, guide.pre_high
    unstable = (low < 0) & (high > 0) & (doms.signs == 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        intercept = np.where(unstable, -low * high / (high - low), 0.0)
    c = guide.relu_coef
    score = (np.maximum(c, 0.0) + 0.25 * np.maximum(-c, 0.0)) * intercept
    return np.where(unstable, np.nan_to_num(score) + 1e-12 * intercept, -np.inf)


def input_scores(doms: Domains, guide: Guide) -> np.ndarray:
    """Per domain and flat input coordinate: its width times the summed magnitude of the
    bound's input coefficients; ``-inf`` where the width is zero."""
    width = (doms.high - doms.low).reshape(len(doms), -1)
    score = (guide.input_weight.reshape(len(doms), -1) + 1e-12) * width
    return np.where(width > 0, score, -np.inf)


def _split_relu(doms: Domains) -> Domains:
    rows, unset = np.arange(len(doms)), np.full(len(doms), -1)
    children = []
    for sign in (-1, 1):
        signs = doms.signs.copy()
        signs[rows, doms.choice] = sign
        children.append(replace(doms, signs=signs, choice=unset))
    return children[0].concat(children[1])


def _split_input(doms: Domains, at: np.ndarray) -> Domains:
    rows, unset = np.arange(len(doms)), np.full(len(doms), -1)
    low, high = (v.reshape(len(v), int(np.prod(v.shape[1:]))).copy() for v in (doms.low, doms.high))
    mid = 0.5 * (low[rows, at] + high[rows, at])
    lower_high, upper_low = high.copy(), low.copy()
    lower_high[rows, at] = mid
    upper_low[rows, at] = mid
    first = replace(doms, high=lower_high.reshape(doms.high.shape), choice=unset)
    second = replace(doms, low=upper_low.reshape(doms.low.shape), choice=unset)
    return first.concat(second)


def split(doms: Domains) -> Domains:
    """Each domain split on its ``choice``: below ``N`` (the number of splittable neurons) a
    neuron's sign (inactive and active children), else the halves of input coordinate
    ``choice - N``. The children keep their parent's bound until they are bounded (it
    holds for them too)."""
    n = doms.signs.shape[1]
    relu = doms.choice < n
    return _split_relu(doms.take(relu)).concat(_split_input(doms.take(~relu), doms.choice[~relu] - n))
