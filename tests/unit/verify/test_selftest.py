"""A soundness self-test after SoundnessBench (VNN-COMP 2025): networks with a planted
counterexample that sampling does not find must never be reported "proven".

Each network is a benign part that stays below the threshold, plus a narrow spike built from
ReLUs: ``H * relu(1 - ||R x - c||_1 / w)``, non-zero only in a tiny cross-polytope of
half-width ``w`` around a point ``x*`` inside the ball (``R`` a random mixing of the
inputs, so the spike is not aligned with the box), passed on through extra ReLU layers
with distractor neurons. Its height puts the float32 value at ``x*`` just above the
threshold. A sound method must give an upper bound at least that value, whatever
it is; the property is checked for every method, on fixed hard cases and on random ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_bounds import evaluate

import pytest_featviz as fv
from pytest_featviz.verify import METHODS, BranchAndBound, bounds, certify_not_reaches

L = keras.layers
THRESHOLD = 0.0


@dataclass
class Planted:
    model: keras.Model
    objective: fv.Objective
    constraint: fv.Constraint
    x0: np.ndarray
    counterexample: np.ndarray
    value: float


def planted(
    seed: int, dim: int, width: float, depth: int, excess: float, radius: float = 0.1, corner: bool = False
) -> Planted:
    """A network whose logit 0 exceeds ``THRESHOLD`` by about ``excess`` only within ``width``
    (L1, in mixed coordinates) of a point of ``Box(0, 1) & LpBall(x0, radius, inf)`` (with
    ``corner``, a vertex of the ball)."""
    rng = np.random.default_rng(seed)
    x0 = rng.uniform(0.2, 0.8, dim).astype(np.float32).astype(np.float64)
    reach = (1.0 - 1e-6) if corner else rng.uniform(0.5, 1.0, dim)  # inside the ball also in float32
    star = (x0 + radius * reach * rng.choice([-1, 1], dim)).astype(np.float32)
    mix = np.linalg.qr(rng.normal(size=(dim, dim)))[0] if dim > 1 else np.ones((1, 1))
    c = star.astype(np.float64) @ mix
    inp = keras.Input((dim,))
    h = L.Dense(2 * dim, "relu", name="split")(inp)  # relu(Rx - c), relu(c - Rx)
    s = L.Dense(1, "relu", name="spike")(h)  # relu(1 - sum / w)
    benign = L.Dense(4, "relu", name="benign")(inp)
    x = L.Concatenate(name="cat")([s, benign])
    for k in range(depth):  # s passes through (it is >= 0); the distractors mix
        x = L.Dense(5, "relu", name=f"pass{k}")(x)
    out = L.Dense(2, name="logits")(x)
    model = keras.Model(inp, out)
    g = rng.normal(size=(dim, 4)) * 0.3
    weights = [np.concatenate([mix, -mix], axis=1), np.concatenate([-c, c]), np.full((2 * dim, 1), -1 / width), [1.0]]
    weights += [g, rng.normal(size=4) * 0.1]
    for _ in range(depth):
        wk = np.zeros((5, 5))
        wk[0, 0] = 1.0
        wk[1:, 1:] = rng.normal(size=(4, 4)) * 0.5
        weights += [wk, np.zeros(5)]
    head = np.zeros((5, 2))
    head[1:, 0] = -np.abs(rng.normal(size=4)) * 0.2  # benign: logit 0 <= -1 + (spike) everywhere
    model.set_weights([np.asarray(w, np.float32) for w in [*weights, head, [-1.0, 0.0]]])
    objective = fv.ClassLogit(0)
    below = evaluate(model, objective, star[None])[0]  # the benign part at x*: at most -1
    height = np.float32(THRESHOLD - below + excess)
    head[0, 0] = height
    model.set_weights([np.asarray(w, np.float32) for w in [*weights, head, [-1.0, 0.0]]])
    value = evaluate(model, objective, star[None])[0]
    constraint = fv.Box(0, 1) & fv.LpBall(x0[None].astype(np.float32), radius, p=np.inf)
    return Planted(model, objective, constraint, x0[None].astype(np.float32), star[None], float(value))


def _check_never_proven(p: Planted, method: str) -> None:
    assert p.value > THRESHOLD, "the planted counterexample must be real"
    assert p.constraint.contains(p.counterexample, atol=0).all()
    b = bounds(p.model, p.objective, constraints=p.constraint, method=method, start=p.x0)
    assert b.upper[0] >= p.value, (p.value, b)
    cert = certify_not_reaches(p.model, p.objective, THRESHOLD, constraints=p.constraint, method=method, start=p.x0)
    assert cert.status == ("unknown",), (p.value, cert)


HARD = {
    "thin spike, 8 inputs": dict(seed=0, dim=8, width=1e-3, depth=0, excess=1e-3),
    "thin spike, deep": dict(seed=1, dim=6, width=1e-3, depth=3, excess=1e-3),
    "barely above the threshold": dict(seed=2, dim=4, width=1e-2, depth=1, excess=1e-5),
    "one input": dict(seed=3, dim=1, width=1e-4, depth=2, excess=1e-4),
    "at a vertex of the ball": dict(seed=4, dim=5, width=1e-3, depth=1, excess=1e-4, corner=True),
}


@pytest.mark.parametrize("name", sorted(HARD))
def test_planted_counterexamples_are_hidden_from_sampling_and_never_proven(name):
    p = planted(**HARD[name])
    rng = np.random.default_rng(0)
    canon = p.constraint.canonical(p.x0.shape)
    low = np.maximum(canon.low, p.x0 - 0.1)
    high = np.minimum(canon.high, p.x0 + 0.1)
    samples = (low + rng.uniform(size=(2000, p.x0.shape[1])) * (high - low)).astype(np.float32)
    assert evaluate(p.model, p.objective, samples).max() < THRESHOLD  # hard to find by sampling
    for method in METHODS:
        _check_never_proven(p, method)


@given(
    seed=st.integers(0, 2**31 - 1),
    dim=st.integers(1, 6),
    log_width=st.floats(-4, -1),
    depth=st.integers(0, 3),
    log_excess=st.floats(-6, -1),
    method=st.sampled_from(METHODS),
)
def test_random_planted_counterexamples_are_never_proven(seed, dim, log_width, depth, log_excess, method):
    p = planted(seed, dim, 10.0**log_width, depth, 10.0**log_excess)
    if p.value <= THRESHOLD:  # float32 may round a tiny excess away: then there is nothing planted
        return
    _check_never_proven(p, method)
    rng = np.random.default_rng(seed)
    inside = p.constraint.project(p.x0 + rng.uniform(-0.1, 0.1, (200, p.x0.shape[1]))).astype(np.float32)
    values = evaluate(p.model, p.objective, inside)
    b = bounds(p.model, p.objective, constraints=p.constraint, method=method, start=p.x0)
    assert b.lower[0] <= values.min() and values.max() <= b.upper[0]


@pytest.mark.parametrize("name", sorted(HARD))
def test_branch_and_bound_never_proves_a_planted_counterexample(name):
    """With branching (a small domain budget), the hard cases end 'counterexample' (checked on the
    model) or 'unknown': never 'proven'."""
    p = planted(**HARD[name])
    options = BranchAndBound(domains=100, restarts=2, steps=20)
    cert = certify_not_reaches(p.model, p.objective, THRESHOLD, constraints=p.constraint, start=p.x0, branch=options)
    assert cert.status[0] in ("counterexample", "unknown"), cert.reasons
    assert cert.bounds.upper[0] >= p.value
    if cert.status[0] == "counterexample":
        x = cert.counterexamples
        assert p.constraint.contains(x, atol=0).all() and evaluate(p.model, p.objective, x)[0] >= THRESHOLD
    else:
        assert cert.reasons[0].startswith("budget: ")
