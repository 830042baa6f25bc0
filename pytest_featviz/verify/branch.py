"""Branch and bound: turn an "unknown" certificate into a proof or a real counterexample.

For each batch item whose sound upper bound does not prove ``objective < threshold``:

1. **Falsify first**: projected gradient ascent on the real Keras model in float32
   (:mod:`.falsify`) from the reference point and random points of the set. A point
   inside the set whose float32 value reaches the threshold ends the item:
   ``"counterexample"``.
2. **Branch**: the set is split into domains (:mod:`.domains`), best first (the domains
   with the largest upper bounds are split next, ``batch`` at a time): along an input
   coordinate (the one with the largest width times the magnitude of the linear bound's
   input coefficients) for inputs with at most :data:`INPUT_SPLIT_MAX` free coordinates,
   else on the sign of an unstable ReLU (chosen by a BaBSR-like score). Each domain is
   bounded with optimised slopes and split multipliers (:mod:`.lagrange`); a domain whose
   bound is below the threshold is closed. The attack also runs from the points where
   the open domains' bounds are largest (and, splitting inputs, inside their boxes).
3. It stops with ``"proven"`` when every domain is closed (the bound reported is the
   largest over the leaves, sound because the leaves cover the set), with
   ``"counterexample"`` when the attack finds one, and ``"unknown"`` when the budget
   (domains bounded, seconds) runs out or no open domain can be split further; the
   reason says which, how many domains are left and the worst bound.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .._validation import check_choice, check_int, check_real, check_start
from ..constraints import Canonical
from .domains import Domains, Guide, Problem, bound, input_scores, relu_scores, root, split
from .falsify import Evaluator, Found, attack, uniform_points
from .graph import Graph
from .lagrange import splittable
from .propagation import InputSet
from .specs import Group, groups_of
from .unitrows import take

if TYPE_CHECKING:
    from .certificates import Certificate

__all__ = ["BranchAndBound", "Outcome", "branch_item", "branch_certificate", "INPUT_SPLIT_MAX", "SPLITS"]

INPUT_SPLIT_MAX = 8
"""With ``split='auto'``, inputs with at most this many free coordinates are split; others split ReLUs."""
Split = Literal["auto", "input", "relu"]
SPLITS: tuple[str, ...] = ("auto", "input", "relu")
_ATTACKED = 4  # open domains attacked per round
_ATTACK_STEPS = 10


@dataclass(frozen=True)
class BranchAndBound:
    """How :func:`certify_not_reaches` branches on the items that its bounds leave unknown.

    Parameters
    ----------
    domains : int
        Budget: at most about this many domains bounded per item (a round never
        starts past it).
    seconds : float, optional
        Budget: no new round starts after this many seconds per item.
    split : {'auto', 'input', 'relu'}
        Split input coordinates, ReLU signs, or ('auto') inputs when at most
        :data:`INPUT_SPLIT_MAX` coordinates are free, else ReLUs.
    batch : int
        Domains split per round (bounded together as one batch).
    restarts, steps : int
        The gradient ascent run before branching: starts (the reference point first)
        and steps each.
    iterations : int
        Optimisation steps of the slopes and multipliers per bounded batch.
    seed : int
        Seeds the random starts.

    Examples
    --------
    >>> from pytest_featviz.verify import BranchAndBound
    >>> BranchAndBound(domains=200).split
    'auto'
    """

    domains: int = 1000
    seconds: float | None = None
    split: Split = "auto"
    batch: int = 16
    restarts: int = 8
    steps: int = 50
    iterations: int = 20
    seed: int = 0

    def __post_init__(self) -> None:
        check_int(self.domains, "domains", min_value=1)
        if self.seconds is not None:
            check_real(self.seconds, "seconds", min_value=0.0, exclude_min=True)
        check_choice(self.split, "split", SPLITS)
        check_int(self.batch, "batch", min_value=1)
        check_int(self.restarts, "restarts", min_value=1)
        for name in ("steps", "iterations", "seed"):
            check_int(getattr(self, name), name, min_value=0)


@dataclass(frozen=True)
class Outcome:
    """What branch and bound concluded for one item: ``status`` ('proven', 'counterexample',
    'unknown'), ``reason`` in words, a sound ``upper`` bound (the largest over the leaves),
    the counterexample and its float32 value (None and NaN without one), domains bounded."""

    status: str
    reason: str
    upper: float
    counterexample: np.ndarray | None = None
    value: float = np.nan
    domains: int = 0


def _mode(options: BranchAndBound, problem: Problem) -> str:
    if options.split != "auto":
        return options.split
    free = int((problem.inset.high > problem.inset.low).sum())
    return "input" if free <= INPUT_SPLIT_MAX or not problem.relus else "relu"


def _choose(mode: str, doms: Domains, guide: Guide) -> Domains:
    """The domains with their next split chosen (see :func:`.domains.split`): the best ReLU
    in 'relu' mode, the best input coordinate in 'input' mode and where no unstable ReLU
    is left; -1 where nothing is left to split."""
    n = doms.signs.shape[1]
    choice = np.full(len(doms), -1)
    coords = input_scores(doms, guide)
    fallback = np.where(np.isfinite(coords.max(axis=1, initial=-np.inf)), n + np.argmax(coords, axis=1), -1)
    if mode == "relu" and n:
        scores = relu_scores(doms, guide)
        choice = np.where(np.isfinite(scores.max(axis=1)), np.argmax(scores, axis=1), -1)
    return replace(doms, choice=np.where(choice >= 0, choice, fallback))


def _worst(upper: np.ndarray) -> np.ndarray:
    """Sort keys: NaN (unknown) counts as the worst bound."""
    return np.where(np.isnan(upper), np.inf, upper)


@dataclass
class _Search:
    """One item's search: the open domains, the largest bounds of the closed and of the
    unsplittable ones, how many cannot be split, how many were bounded."""

    queue: Domains | None = None
    closed_max: float = -np.inf
    stuck_max: float = -np.inf
    stuck: int = 0
    count: int = 0

    def file(self, doms: Domains, threshold: float) -> None:
        """Close the domains below the threshold, queue the others (or set aside those that cannot be split)."""
        closed = doms.upper < threshold
        if closed.any():
            self.closed_max = max(self.closed_max, float(doms.upper[closed].max()))
        stuck = ~closed & (doms.choice < 0)
        if stuck.any():
            self.stuck += int(stuck.sum())
            self.stuck_max = max(self.stuck_max, float(_worst(doms.upper[stuck]).max()))
        keep = doms.take(~closed & (doms.choice >= 0))
        self.queue = keep if self.queue is None else self.queue.concat(keep)

    def worst(self) -> float:
        queued = -np.inf if self.queue is None else float(np.max(_worst(self.queue.upper), initial=-np.inf))
        return max(self.closed_max, self.stuck_max, queued)

    def pop(self, n: int) -> Domains:
        """The ``n`` open domains with the largest bounds, taken off the queue."""
        assert self.queue is not None  # filed before
        order = np.argsort(-_worst(self.queue.upper), kind="stable")
        chosen, self.queue = self.queue.take(order[:n]), self.queue.take(order[n:])
        return chosen


def _attack_round(problem: Problem, evaluate: Any, canon: Canonical, doms: Domains, guide: Guide) -> Found | None:
    """Attack from the open domains with the largest bounds, from their bound's maximiser
    and their box's centre, within their box."""
    open_ = np.flatnonzero(~(doms.upper < problem.threshold))
    top = open_[np.argsort(-_worst(doms.upper[open_]), kind="stable")[:_ATTACKED]]
    if not len(top):
        return None
    x = np.concatenate([guide.points[top], 0.5 * (doms.low[top] + doms.high[top])])
    keep = np.isfinite(x.reshape(len(x), -1)).all(axis=1)
    if not keep.any():
        return None
    low, high = (np.concatenate([v[top], v[top]])[keep] for v in (doms.low, doms.high))
    return attack(evaluate, canon, x[keep], _ATTACK_STEPS, low, high)


def _reaches(evaluate: Any, found: Found | None, threshold: float) -> bool:
    """Whether ``found`` reaches ``threshold`` also when evaluated alone: a float32 value depends on the
    summation order, which changes with the batch (and the BLAS threads), so a point that reaches it
    only by the last bits in the attack's batch is not reported as a counterexample."""
    if found is None or found.value < threshold:
        return False
    return bool(evaluate(np.asarray(found.x)[None])[0][0] >= threshold)


def _counterexample(found: Found, when: str, upper: float, count: int, threshold: float) -> Outcome:
    reason = f"counterexample: float32 value {found.value:.6g} >= {threshold:g} inside the constraints ({when})"
    return Outcome("counterexample", reason, upper, found.x, found.value, count)


def branch_item(
    problem: Problem, options: BranchAndBound, evaluate: Any, canon: Canonical, start: np.ndarray | None, upper: float
) -> Outcome:
    """Falsify, then branch and bound, one item (see the module documentation); ``upper`` is
    its bound before branching, ``canon`` its canonical set, ``start`` its reference point."""
    clock = time.perf_counter()
    rng = np.random.default_rng(options.seed)
    threshold = problem.threshold
    starts = uniform_points(canon, options.restarts, rng)
    if start is not None:
        starts[0] = start
    first = attack(evaluate, canon, starts, options.steps)
    if _reaches(evaluate, first, threshold):
        return _counterexample(first, "found by the search before branching", upper, 0, threshold)
    mode = _mode(options, problem)
    doms, search = root(problem), _Search()
    while True:
        doms, guide = bound(problem, doms)
        search.count += len(doms)
        found = _attack_round(problem, evaluate, canon, doms, guide) if options.steps else None
        if _reaches(evaluate, found, threshold):
            assert found is not None
            when = f"found in a domain after {search.count} domains"
            return _counterexample(found, when, upper, search.count, threshold)
        search.file(_choose(mode, doms, guide), threshold)
        worst, left = search.worst(), 0 if search.queue is None else len(search.queue)
        if not left and search.stuck:
            reason = f"no split left: {search.stuck} domains cannot be split further, worst bound {worst:.6g}"
            return Outcome("unknown", reason, min(upper, worst), domains=search.count)
        if not left:
            reason = f"proven: {search.count} domains bounded, every bound below {threshold:g} (largest {worst:.6g})"
            return Outcome("proven", reason, min(upper, worst), domains=search.count)
        out_of_time = options.seconds is not None and time.perf_counter() - clock >= options.seconds
        if search.count >= options.domains or out_of_time:
            reason = f"budget: {left} domains left, worst bound {worst:.6g} (after {search.count} domains)"
            return Outcome("unknown", reason, min(upper, worst), domains=search.count)
        doms = split(search.pop(min(options.batch, max(1, (options.domains - search.count) // 2))))


@dataclass(frozen=True)
class _Batch:
    """What every item's branch and bound shares: the translated graph, the objective's
    groups, the input sets (bounds' and canonical), the reference points, the evaluator."""

    graph: Graph
    nodes: dict[str, int]
    groups: list[Group]
    inset: InputSet | None  # None: the input set is unbounded
    canon: Canonical
    starts: np.ndarray | None
    evaluate: Evaluator

    def item(self, i: int, threshold: float, iterations: int) -> tuple[Problem, Any, Canonical, np.ndarray | None]:
        """Item ``i``'s problem, evaluation, canonical set and reference point."""
        one = slice(i, i + 1)
        cut = lambda v: None if v is None else v[one]  # noqa: E731
        assert self.inset is not None  # bounded: checked by the caller
        inset = InputSet(self.inset.low[one], self.inset.high[one], cut(self.inset.center), cut(self.inset.radius))
        c = self.canon
        canon = replace(c, low=c.low[one], high=c.high[one], center=c.center[one], radius=c.radius[one])
        groups = tuple(Group(g.target, take(g.rows, one), g.kind, g.coef) for g in self.groups)
        relus = splittable(self.graph, max(self.nodes.values()))
        problem = Problem(self.graph, self.nodes, groups, inset, relus, threshold, iterations)
        return problem, partial(self.evaluate, item=i), canon, None if self.starts is None else self.starts[i]


def _batch(model: Any, cert: Certificate, start: Any) -> _Batch:
    """The shared setup of :func:`branch_certificate`."""
    from .certificates import _input_set, _translate

    objective, info, graph, nodes = _translate(model, cert.bounds.objective)
    start_arr = check_start(start, info.input_shape)
    shape = (len(cert.status), *info.input_shape)
    inset = _input_set(cert.bounds.constraints, shape, start_arr)
    starts = None if start_arr is None else np.broadcast_to(start_arr, shape)
    canon = cert.bounds.constraints.canonical(shape, start=starts)
    groups = groups_of(objective, {t: graph.nodes[n].shape for t, n in nodes.items()}, shape[0], info.head.squash)
    return _Batch(graph, nodes, groups, inset, canon, starts, Evaluator(model, objective, shape[0], info.input_shape))


def branch_certificate(model: Any, cert: Certificate, start: Any, options: BranchAndBound) -> Certificate:
    """``cert`` with its unknown items branched (see the module documentation)."""
    from .certificates import Certificate

    batch = _batch(model, cert, start)
    outcomes = []
    for i, (status, upper) in enumerate(zip(cert.status, cert.bounds.upper)):
        if status != "unknown":
            reason = f"proven by the bounds alone: upper bound {upper:.6g} < {cert.threshold:g}"
            outcomes.append(Outcome(status, reason, float(upper)))
        elif batch.inset is None:
            outcomes.append(Outcome(status, "unknown: the constraint set is unbounded", float(upper)))
        else:
            problem, evaluate, canon, at = batch.item(i, cert.threshold, options.iterations)
            outcomes.append(branch_item(problem, options, evaluate, canon, at, float(upper)))
    found = np.full(batch.canon.low.shape, np.nan, np.float32)
    for i, out in enumerate(outcomes):
        if out.counterexample is not None:
            found[i] = out.counterexample
    bounds = replace(cert.bounds, upper=np.fmin(cert.bounds.upper, [o.upper for o in outcomes]))
    return Certificate(
        tuple(o.status for o in outcomes), cert.threshold, bounds, tuple(o.reason for o in outcomes), found
    )
