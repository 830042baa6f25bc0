"""alpha-CROWN: its slope gradients equal finite differences, it is never looser than CROWN (per
item), strictly tighter where CROWN's slope is wrong, and always sound: sampled points and a
projected-gradient attack evaluated by the float32 model never leave its bounds."""

from __future__ import annotations

from dataclasses import replace

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_bounds import _set_random_weights, cnn, evaluate, mlp, points_in

import pytest_featviz as fv
from pytest_featviz.verify import alpha, bounds, propagation
from pytest_featviz.verify.certificates import _input_set
from pytest_featviz.verify.specs import targets_of
from pytest_featviz.verify.targets import build_graph

L = keras.layers


def relu_mlp(seed, width=8):
    keras.utils.set_random_seed(seed)
    hidden = [L.Dense(width, activation=act) for act in ("relu", "leaky_relu", "relu6")]
    return keras.Sequential([keras.Input((6,)), *hidden, L.Dense(3)])


def relu_cnn(seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((6, 6, 2)),
            L.Conv2D(3, 3, padding="same", activation="relu"),
            L.MaxPooling2D(2),
            L.Conv2D(4, 2, activation="relu"),
            L.Flatten(),
            L.Dense(5, activation="relu"),
            L.Dense(3),
        ]
    )


@pytest.mark.parametrize(
    ("make", "p", "unit"),
    [(relu_mlp, np.inf, 0), (relu_mlp, 2, 0), (relu_cnn, np.inf, 0)]
    + [
        (relu_mlp, np.inf, 1e-3),  # large rounding terms: their gradient counts
        (relu_mlp, 2, 1e-3),
    ],
)
def test_slope_gradients_equal_finite_differences(make, p, unit):
    model = make(1)
    shape = tuple(model.inputs[0].shape[1:])
    x = np.random.default_rng(0).uniform(0, 1, (2, *shape))
    graph, _ = build_graph(model, targets_of(fv.ClassLogit(0)))
    graph = replace(graph, unit=unit or graph.unit)
    inset = _input_set(fv.Box(0, 1) & fv.LpBall(x, 0.15 if p == np.inf else 0.4, p=p), x.shape, x)
    state = propagation.forward(graph, inset, "full")
    last = len(graph.nodes) - 1
    rows = np.random.default_rng(1).normal(size=(2, 2, 3))
    free = alpha._free(graph, state, last)
    assert sum(int(mask.sum()) for mask, _ in free.values()) >= 10
    rng = np.random.default_rng(2)
    slopes = {n: rng.uniform(0.1, 0.9, (2, 2, *graph.nodes[n].shape)) for n in free}
    record: dict = {}
    base, _ = propagation.backward(graph, state, None, last, rows, slopes=slopes, record=record)
    grads = alpha._gradients(graph, state, record, slopes)
    checked = 0
    for n, (mask, _) in free.items():
        for index in np.argwhere(np.broadcast_to(mask[:, None], slopes[n].shape))[:8]:
            moved = {m: s.copy() for m, s in slopes.items()}
            moved[n][tuple(index)] += 1e-6
            bumped, _ = propagation.backward(graph, state, None, last, rows, slopes=moved)
            numeric = (bumped - base)[index[0], index[1]] / 1e-6
            assert numeric == pytest.approx(grads[n][tuple(index)], rel=1e-4, abs=1e-7)
            checked += abs(numeric) > 1e-6
    assert checked >= 3


def hinge():
    """``z = -relu(x) + 0.5 x`` on ``x in [-1, 1.5]``: its maximum is 0, CROWN's lower slope 1
    (``u > -l``) gives 0.5, the best slope 0.5 gives 0 (x passes through a stable ReLU)."""
    model = keras.Sequential([keras.Input((1,)), L.Dense(2, activation="relu"), L.Dense(1)])
    model.set_weights(
        [np.array([[1.0, 1.0]], np.float32), np.array([0.0, 10.0], np.float32)]
        + [np.array([[-1.0], [0.5]], np.float32), np.array([-5.0], np.float32)]
    )
    return model


def test_alpha_crown_is_strictly_tighter_where_crown_slope_is_wrong():
    c = fv.Box(-1.0, 1.5)
    crown = bounds(hinge(), fv.ClassLogit(0), constraints=c, method="crown")
    best = bounds(hinge(), fv.ClassLogit(0), constraints=c, method="alpha-crown")
    assert best.method == "alpha-crown"
    assert crown.real_upper[0] == pytest.approx(0.5, abs=1e-6)
    assert 0.0 <= best.real_upper[0] < 0.02 and 0.0 <= best.upper[0] < 0.02
    assert best.lower[0] == pytest.approx(crown.lower[0], abs=1e-9)  # the lower bound has no free slope


def test_the_best_bound_met_is_kept_even_when_the_steps_overshoot():
    model = relu_mlp(4)
    x = np.random.default_rng(4).uniform(0, 1, (3, 6))
    graph, _ = build_graph(model, targets_of(fv.ClassLogit(0)))
    state = propagation.forward(graph, _input_set(fv.Box(0, 1) & fv.LpBall(x, 0.2, p=np.inf), x.shape, x), "full")
    rows = np.random.default_rng(5).normal(size=(3, 4, 3))
    last = len(graph.nodes) - 1
    crown = propagation.backward(graph, state, None, last, rows)
    wild = alpha.alpha_backward(graph, state, last, rows, iterations=6, step=3.0)
    for got, want in zip(wild, crown):
        assert np.all(got <= want)


@settings(max_examples=8, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    arch=st.sampled_from(["mlp", "cnn", "relu_mlp", "relu_cnn"]),
    radius=st.floats(0.02, 0.3),
    p=st.sampled_from([np.inf, 2]),
)
def test_alpha_crown_is_sound_and_never_looser_than_crown(seed, arch, radius, p):
    rng = np.random.default_rng(seed)
    if arch in ("mlp", "cnn"):
        model = mlp(rng, 4) if arch == "mlp" else cnn(rng)
        _set_random_weights(model, rng)
    else:
        model = relu_mlp(seed % 1000) if arch == "relu_mlp" else relu_cnn(seed % 1000)
    shape = tuple(model.inputs[0].shape[1:])
    x0 = rng.uniform(0.2, 0.8, (2, *shape)).astype(np.float32)
    c = fv.Box(0, 1) & fv.LpBall(x0, radius if p == np.inf else radius * 3, p=p)
    objective = fv.ClassLogit([0, 1]) - fv.ClassLogit([2, 0])
    crown = bounds(model, objective, constraints=c, start=x0, method="crown")
    best = bounds(model, objective, constraints=c, start=x0, method="alpha-crown")
    assert np.all(best.upper <= crown.upper) and np.all(best.lower >= crown.lower)
    assert np.all(best.real_upper <= crown.real_upper) and np.all(best.real_lower >= crown.real_lower)
    for i in range(2):
        item = fv.Box(0, 1) & fv.LpBall(x0[i], radius if p == np.inf else radius * 3, p=p)
        values = evaluate(model, fv.ClassLogit([0, 1][i]) - fv.ClassLogit([2, 0][i]), points_in(item, shape, rng, 100))
        assert best.lower[i] <= values.min() and values.max() <= best.upper[i]
    found = fv.ascend(model, objective, start=x0, constraints=c, steps=30, optimizer="sign")
    low = fv.ascend(model, -objective, start=x0, constraints=c, steps=30, optimizer="sign")
    assert np.all(found.values <= best.upper) and np.all(-low.values >= best.lower)
