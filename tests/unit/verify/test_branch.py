"""Branch and bound (``certify_not_reaches(..., branch=BranchAndBound(...))``): proofs where CROWN alone
is unknown (the truth from a dense grid), counterexamples planted in tiny regions (found and checked
on the model, never proven), budget exhaustion with its reason, the claim's integration, and a
Hypothesis property: never "proven" where dense sampling reaches the threshold.

Budgets are domain counts, never seconds."""

from __future__ import annotations

import re

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_bounds import evaluate
from test_selftest import THRESHOLD, planted

import pytest_featviz as fv
from pytest_featviz.errors import ConfigurationError, FeatvizTypeError
from pytest_featviz.verify import BranchAndBound, bounds, certify_not_reaches

BOX = fv.Box(-1, 1)
CHEAP = dict(restarts=2, steps=10)


def relu_net(seed: int, widths: tuple[int, ...], dim: int = 2) -> keras.Model:
    """A seeded ReLU network ``dim -> widths -> 1`` (weights scaled by 1/sqrt(fan-in))."""
    rng = np.random.default_rng(seed)
    inp = keras.Input((dim,))
    x = inp
    for w in widths:
        x = keras.layers.Dense(w, "relu")(x)
    model = keras.Model(inp, keras.layers.Dense(1)(x))
    weights = [
        rng.normal(size=w.shape) / np.sqrt(w.shape[0]) if w.ndim == 2 else 0.5 * rng.normal(size=w.shape)
        for w in model.get_weights()
    ]
    model.set_weights([np.asarray(w, np.float32) for w in weights])
    return model


def grid_max(model: keras.Model, n: int = 301) -> float:
    """The largest float32 value of logit 0 on an ``n x n`` grid of [-1, 1]^2."""
    axis = np.linspace(-1, 1, n)
    grid = np.stack(np.meshgrid(axis, axis), -1).reshape(-1, 2).astype(np.float32)
    return float(evaluate(model, fv.ClassLogit(0), grid).max())


@pytest.fixture(scope="module")
def net():
    """A 2-12-12-1 ReLU net, its CROWN bound on [-1, 1]^2, and its grid maximum; a threshold
    between the two (10% of the gap above the maximum) that CROWN cannot prove."""
    model = relu_net(0, (12, 12))
    top = grid_max(model)
    crown = float(bounds(model, fv.ClassLogit(0), constraints=BOX).upper[0])
    return model, crown, top, top + 0.1 * (crown - top)


def domains_of(reason: str) -> int:
    return int(re.search(r"(\d+) domains", reason).group(1))


@pytest.mark.parametrize("split", ["input", "relu"])
def test_branch_and_bound_proves_what_crown_alone_cannot(net, split):
    model, crown, top, threshold = net
    assert top < threshold < crown
    assert certify_not_reaches(model, fv.ClassLogit(0), threshold, constraints=BOX).status == ("unknown",)
    cert = certify_not_reaches(
        model, fv.ClassLogit(0), threshold, constraints=BOX, branch=BranchAndBound(domains=200, split=split, **CHEAP)
    )
    assert cert.status == ("proven",), cert.reasons
    assert cert.reasons[0].startswith("proven: ") and domains_of(cert.reasons[0]) > 1  # it had to branch
    assert top <= cert.bounds.upper[0] < threshold  # the bound over the leaves: sound, and below
    assert np.isnan(cert.counterexamples).all()


def test_a_tight_budget_ends_unknown_with_the_reason(net):
    model, _, top, threshold = net
    cert = certify_not_reaches(
        model, fv.ClassLogit(0), threshold, constraints=BOX, branch=BranchAndBound(domains=2, split="relu", **CHEAP)
    )
    assert cert.status == ("unknown",)
    found = re.fullmatch(r"budget: (\d+) domains left, worst bound (\S+) \(after (\d+) domains\)", cert.reasons[0])
    assert found, cert.reasons
    assert int(found.group(1)) >= 1 and int(found.group(3)) <= 3
    assert float(found.group(2)) >= threshold and cert.bounds.upper[0] >= top


def test_a_counterexample_above_the_threshold_is_reported_and_real(net):
    model, _, top, _ = net
    cert = certify_not_reaches(model, fv.ClassLogit(0), top - 0.01, constraints=BOX, branch=BranchAndBound(**CHEAP))
    assert cert.status == ("counterexample",)
    x = cert.counterexamples
    assert x.dtype == np.float32 and BOX.contains(x, atol=0).all()
    assert evaluate(model, fv.ClassLogit(0), x)[0] >= top - 0.01
    assert cert.bounds.upper[0] >= evaluate(model, fv.ClassLogit(0), x)[0]


PLANTED = {
    "2 inputs": dict(seed=0, dim=2, width=1e-3, depth=1, excess=1e-3),
    "3 inputs, deeper": dict(seed=1, dim=3, width=1e-3, depth=2, excess=1e-3),
    "narrower": dict(seed=1, dim=2, width=1e-4, depth=1, excess=1e-4),
}


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_a_planted_counterexample_is_found_by_branching_and_never_proven(name):
    """After SoundnessBench: a spike too thin for the search before branching, found inside a domain."""
    p = planted(**PLANTED[name])
    assert p.value > THRESHOLD
    options = BranchAndBound(domains=400, restarts=2, steps=20)
    cert = certify_not_reaches(p.model, p.objective, THRESHOLD, constraints=p.constraint, start=p.x0, branch=options)
    assert cert.status == ("counterexample",), cert.reasons
    assert "found in a domain" in cert.reasons[0]  # the search before branching missed it
    x = cert.counterexamples
    assert p.constraint.contains(x, atol=0).all()
    assert evaluate(p.model, p.objective, x)[0] >= THRESHOLD


def test_items_proven_by_the_bounds_alone_are_not_branched(net):
    model, _, _, threshold = net
    cert = certify_not_reaches(
        model,
        fv.ClassLogit([0, 0]),
        threshold,
        constraints=BOX & fv.LpBall(np.array([[0.0, 0.0], [0.9, 0.9]], np.float32), [1.0, 0.01], p=np.inf),
        branch=BranchAndBound(domains=200, **CHEAP),
    )
    assert cert.status == ("proven", "proven")
    assert cert.reasons[0].startswith("proven: ") and domains_of(cert.reasons[0]) > 1
    assert cert.reasons[1].startswith("proven by the bounds alone: upper bound")


def test_assert_not_reaches_branches_and_fails_on_a_counterexample_found_by_branching():
    p = planted(**PLANTED["2 inputs"])
    kwargs = dict(constraints=p.constraint, start=p.x0, steps=10, restarts=1, certify=True)
    options = BranchAndBound(domains=400, restarts=2, steps=20)
    with pytest.raises(AssertionError, match="branch and bound found a counterexample") as info:
        fv.assert_not_reaches(p.model, p.objective, THRESHOLD, branch=options, **kwargs)
    assert "counterexample: float32 value" in str(info.value)
    r = fv.assert_not_reaches(p.model, p.objective, p.value + 0.01, branch=options, require_proof=True, **kwargs)
    assert r.status == "proven" and r.certificate.reasons[0].startswith("proven")
    with pytest.raises(ConfigurationError, match=r"branch=\.\.\. needs certify=True"):
        fv.assert_not_reaches(p.model, p.objective, 1.0, constraints=p.constraint, steps=5, branch=options)


def exact_max(model: keras.Model, low: np.ndarray, high: np.ndarray) -> float:
    """The exact maximum of a one-hidden-layer ReLU net's output over the box ``[low, high]``
    (float64 arithmetic on its weights): a mixed-integer program, one binary per unstable ReLU."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    w1, b1, w2, b2 = (np.asarray(w, np.float64) for w in model.get_weights())
    n, h = w1.shape
    zl = b1 + np.where(w1 > 0, w1 * low[:, None], w1 * high[:, None]).sum(axis=0)
    zu = b1 + np.where(w1 > 0, w1 * high[:, None], w1 * low[:, None]).sum(axis=0)
    rows, lb, ub = [], [], []  # variables: x (n), relu outputs (h), active flags (h)

    def add(x: np.ndarray, out: int, out_coef: float, flag: float, lo: float, hi: float) -> None:
        row = np.zeros(n + 2 * h)
        row[:n], row[n + out], row[n + h + out] = x, out_coef, flag
        rows.append(row), lb.append(lo), ub.append(hi)

    for k in range(h):
        if zu[k] <= 0:
            add(np.zeros(n), k, 1.0, 0.0, 0.0, 0.0)
        elif zl[k] >= 0:
            add(w1[:, k], k, -1.0, 0.0, -b1[k], -b1[k])
        else:  # y >= z, y <= z - zl (1 - a), y <= zu a
            add(w1[:, k], k, -1.0, 0.0, -np.inf, -b1[k])
            add(-w1[:, k], k, 1.0, -zl[k], -np.inf, b1[k] - zl[k])
            add(np.zeros(n), k, 1.0, -zu[k], -np.inf, 0.0)
    cost = np.concatenate([np.zeros(n), -w2[:, 0], np.zeros(h)])
    box = Bounds(np.concatenate([low, np.zeros(2 * h)]), np.concatenate([high, np.full(h, np.inf), np.ones(h)]))
    integral = np.concatenate([np.zeros(n + h), np.ones(h)])
    found = milp(cost, constraints=LinearConstraint(np.array(rows), lb, ub), integrality=integral, bounds=box)
    assert found.success, found.message
    return float(-found.fun + b2[0])


def test_relu_splitting_proves_an_exact_maximum_in_twelve_dimensions():
    """Twelve inputs (so 'auto' splits ReLUs): proven just above the exact maximum, never below it."""
    model = relu_net(3, (24,), dim=12)
    box = fv.Box(-1, 1)
    top = exact_max(model, np.full(12, -1.0), np.full(12, 1.0))
    crown = float(bounds(model, fv.ClassLogit(0), constraints=box).upper[0])
    above = top + 0.05 * (crown - top)
    options = BranchAndBound(domains=300, **CHEAP)
    cert = certify_not_reaches(model, fv.ClassLogit(0), above, constraints=box, branch=options)
    assert cert.status == ("proven",) and domains_of(cert.reasons[0]) > 1, cert.reasons
    assert top <= cert.bounds.upper[0] < above
    below = certify_not_reaches(model, fv.ClassLogit(0), top - 1e-3, constraints=box, branch=options)
    assert below.status[0] != "proven" and below.bounds.upper[0] >= top


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        (dict(domains=0), ConfigurationError, "domains"),
        (dict(domains=1.5), FeatvizTypeError, "domains"),
        (dict(seconds=0.0), ConfigurationError, "seconds"),
        (dict(split="neurons"), ConfigurationError, "split"),
        (dict(batch=0), ConfigurationError, "batch"),
        (dict(restarts=0), ConfigurationError, "restarts"),
        (dict(iterations=-1), ConfigurationError, "iterations"),
    ],
)
def test_bad_options_are_refused_by_name(kwargs, error, words):
    with pytest.raises(error, match=words):
        BranchAndBound(**kwargs)


@settings(max_examples=8, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    widths=st.sampled_from([(4,), (8,), (6, 6), (8, 4)]),
    offset=st.floats(-0.3, 0.3),
    split=st.sampled_from(["input", "relu"]),
)
def test_never_proven_where_dense_sampling_reaches_the_threshold(seed, widths, offset, split):
    model = relu_net(seed, widths)
    top = grid_max(model, 201)
    crown = float(bounds(model, fv.ClassLogit(0), constraints=BOX).upper[0])
    threshold = top + offset * max(crown - top, 1e-3)  # below the sampled maximum when offset <= 0
    options = BranchAndBound(domains=60, split=split, **CHEAP)
    cert = certify_not_reaches(model, fv.ClassLogit(0), threshold, constraints=BOX, branch=options)
    assert cert.bounds.upper[0] >= top  # sound, whatever the status
    if top >= threshold:
        assert cert.status[0] != "proven", (top, threshold, cert.reasons)
    if cert.status[0] == "counterexample":
        x = cert.counterexamples
        assert BOX.contains(x, atol=0).all() and evaluate(model, fv.ClassLogit(0), x)[0] >= threshold
