"""Tangent and chord relaxations of the smooth activations (issue 20): every line holds on its
interval (dense sampling, lopsided, tiny and huge intervals), the lines are tighter than the
constants ``f(l)``, ``f(u)`` where an interval straddles the inflection point and never looser
on average, and CROWN on small sigmoid/tanh/ELU/softplus networks sandwiches the real model."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pytest_featviz as fv
from pytest_featviz.verify import bounds
from pytest_featviz.verify.nonlinear import Activation
from pytest_featviz.verify.tangents import line_violation, lower_line, tangent_point, upper_line

SMOOTH = [
    Activation(name, alpha)
    for name, alpha in [("sigmoid", 0.0), ("tanh", 0.0), ("softplus", 0.0), ("hard_sigmoid", 0.0)]
    + [("elu", 0.5), ("elu", 1.0), ("elu", 2.0)]
]
S_SHAPED = [a for a in SMOOTH if np.isfinite(a.inflection)]
EPS = np.finfo(np.float64).eps


def act_id(act):
    return f"{act.name}-{act.alpha}"


def intervals(rng, n=160):
    """Random intervals: ordinary, straddling the inflection point, lopsided, tiny and huge."""
    centre = rng.uniform(-10, 10, n)
    width = np.exp(rng.uniform(np.log(1e-6), np.log(40), n))
    ordinary = (centre - width * rng.uniform(0, 1, n), width)
    lows = [ordinary[0], -rng.uniform(0, 6, n), -rng.uniform(5, 30, n // 4), -rng.uniform(0, 0.3, n // 4)]
    widths = [ordinary[1], rng.uniform(0, 12, n), rng.uniform(4, 31, n // 4), rng.uniform(0.2, 30, n // 4)]
    lows += [centre[:20], centre[20:40] * 1e4, np.array([-1e6, -1e3, -50.0, 0.0, -1e-3])]
    widths += [np.full(20, 1e-9), np.abs(centre[40:60]) * 1e4, np.array([2e6, 1e3 + 0.5, 50.5, 1e-7, 2e-3])]
    low = np.concatenate(lows)
    return low, low + np.concatenate(widths)


def dense_points(low, high, k=1501):
    """``k`` points per interval, spread evenly, plus the ends and the inflection point when inside."""
    t = np.linspace(0.0, 1.0, k)
    x = low[:, None] + t[None, :] * (high - low)[:, None]
    x = np.concatenate([x, low[:, None], high[:, None], np.clip(0.0, low, high)[:, None]], axis=1)
    return np.clip(x, low[:, None], high[:, None])


@pytest.mark.parametrize("act", SMOOTH, ids=act_id)
def test_lines_hold_everywhere_on_their_interval(act):
    low, high = intervals(np.random.default_rng(0))
    al, bl, au, bu = act.relax(low, high)
    x = dense_points(low, high)
    fx = act.f(x)
    lower, upper = al[:, None] * x + bl[:, None], au[:, None] * x + bu[:, None]
    # only the rounding of this check itself: a few ulps of the terms it adds
    slack = 4 * EPS * (np.abs(fx) + np.abs(al[:, None] * x) + np.abs(bl[:, None]) + np.abs(au[:, None] * x))
    slack += 4 * EPS * np.abs(bu[:, None])
    assert np.all(lower <= fx + slack), np.max(lower - fx - slack)
    assert np.all(upper >= fx - slack), np.max(fx - upper - slack)
    assert np.isfinite(al).all() and np.isfinite(au).all()


@pytest.mark.parametrize("act", SMOOTH, ids=act_id)
def test_the_violation_bound_covers_any_line(act):
    """``line_violation`` is an upper bound on the sampled gap ``f - line`` for arbitrary lines
    (through, above and below the function), on which the soundness of every line rests."""
    rng = np.random.default_rng(1)
    low, high = intervals(rng)
    keep = high - low > 1e-6
    low, high = low[keep], high[keep]
    x = dense_points(low, high)
    fx = act.f(x)
    for _ in range(3):
        anchor = low + rng.uniform(0, 1, len(low)) * (high - low)
        slope = act.df(anchor) * rng.uniform(0.0, 1.5, len(low))
        intercept = act.f(anchor) - slope * anchor + rng.normal(0, 0.05, len(low))
        bound = line_violation(act.f, act.df, low, high, act.inflection, slope, intercept, anchor)
        gap = (fx - slope[:, None] * x - intercept[:, None]).max(axis=1)
        assert np.all(bound >= gap - 1e-9 * (1 + np.abs(intercept) + np.abs(slope * low))), np.max(gap - bound)


def test_the_tangent_point_is_where_the_tangent_meets_the_far_end():
    act = Activation("sigmoid")
    low, high = np.array([-1.0, -4.0, -0.2]), np.array([1.0, 6.0, 7.0])
    d = tangent_point(act.f, act.df, low, high, 0.0)
    line_at_low = act.f(d) + act.df(d) * (low - d)
    np.testing.assert_allclose(line_at_low, act.f(low), atol=1e-12)
    assert np.all((d > 0) & (d < high))


def _gaps(act, low, high):
    """Mean gaps (over ``[l, u]``) of the upper and lower lines and of the constants ``f(u)``, ``f(l)``."""
    al, bl, au, bu = act.relax(low, high)
    x = dense_points(low, high, 2001)[:, :2001]
    fx = act.f(x)
    upper = (au[:, None] * x + bu[:, None] - fx).mean(axis=1)
    lower = (fx - al[:, None] * x - bl[:, None]).mean(axis=1)
    return upper, lower, (act.f(high)[:, None] - fx).mean(axis=1), (fx - act.f(low)[:, None]).mean(axis=1)


@pytest.mark.parametrize("act", S_SHAPED, ids=act_id)
def test_straddling_lines_are_tighter_than_the_constants(act):
    rng = np.random.default_rng(2)
    low = np.concatenate([-rng.uniform(0.05, 8, 300), [-8.0, -0.5, -30.0, -0.01]])
    high = np.concatenate([rng.uniform(0.05, 8, 300), [0.5, 8.0, 0.01, 30.0]])
    upper, lower, const_upper, const_lower = _gaps(act, low, high)
    tol = 1e-9 * (1 + const_upper + const_lower)
    assert np.all(upper <= const_upper + tol) and np.all(lower <= const_lower + tol)  # never looser
    smooth = act.name != "hard_sigmoid"  # hard sigmoid is exact (a chord) on [-3, 3]
    assert np.mean(upper / const_upper) < (0.75 if smooth else 0.9)
    assert np.mean(lower / const_lower) < (0.75 if smooth else 0.9)
    assert np.mean(upper < 0.99 * const_upper) > 0.3 and np.mean(lower < 0.99 * const_lower) > 0.3


def test_sigmoid_lines_are_the_chord_or_the_best_valid_tangent():
    act = Activation("sigmoid")
    # [-2, 0.5]: the chord lies above (its slope is below f'(0.5)); [-1, 1]: the tangent through
    # (-1, f(-1)); [-0.5, 6]: the tangent at the midpoint (it already passes above f(-0.5))
    low, high = np.array([-2.0, -1.0, -0.5]), np.array([0.5, 1.0, 6.0])
    _, _, au, bu = act.relax(low, high)
    chord = (act.f(high[0]) - act.f(low[0])) / 2.5
    assert au[0] == pytest.approx(chord, abs=1e-12) and bu[0] == pytest.approx(act.f(low[0]) + 2 * chord, abs=1e-12)
    assert au[1] * -1.0 + bu[1] == pytest.approx(act.f(-1.0), abs=1e-10)
    assert au[2] == pytest.approx(act.df(2.75), abs=1e-12) and au[2] * 2.75 + bu[2] == pytest.approx(act.f(2.75))


def test_lines_on_one_side_of_the_inflection_point_are_chord_and_midpoint_tangent():
    act = Activation("tanh")
    al, bl, au, bu = act.relax(np.array([-3.0, 0.5]), np.array([-1.0, 2.0]))
    chord = (act.f(np.array([-1.0, 2.0])) - act.f(np.array([-3.0, 0.5]))) / np.array([2.0, 1.5])
    assert au[0] == pytest.approx(chord[0]) and al[1] == pytest.approx(chord[1])  # the chord
    assert al[0] == pytest.approx(act.df(-2.0)) and au[1] == pytest.approx(act.df(1.25))  # the midpoint tangent
    s, b = upper_line(np.tanh, act.df, np.array([0.5]), np.array([2.0]), 0.0)
    s2, b2 = lower_line(np.tanh, act.df, np.array([-2.0]), np.array([-0.5]), 0.0)
    assert s == pytest.approx(s2) and b == pytest.approx(-b2)  # tanh is odd: the lines mirror


# -- small networks: sampled values, CROWN and IBP nest --------------------------------------------


def smooth_net(rng, activations):
    L = keras.layers
    model = keras.Sequential(
        [keras.Input((4,)), L.Dense(8, activation=activations[0]), L.Dense(8, activation=activations[1]), L.Dense(3)]
    )
    for layer in model.layers:
        w, b = layer.get_weights()
        scale = rng.uniform(0.5, 3.0) / np.sqrt(w.shape[0])
        layer.set_weights([(rng.normal(size=w.shape) * scale).astype(np.float32), rng.normal(size=b.shape) * 0.5])
    return model


@settings(settings.get_profile("featviz"), max_examples=6)
@given(
    seed=st.integers(0, 2**31 - 1),
    activations=st.tuples(*[st.sampled_from(["sigmoid", "tanh", "elu", "softplus"])] * 2),
    p=st.sampled_from([np.inf, 2.0]),
    radius=st.floats(0.01, 1.0),
)
def test_crown_sandwiches_small_smooth_networks(seed, activations, p, radius):
    rng = np.random.default_rng(seed)
    model = smooth_net(rng, activations)
    x0 = rng.uniform(0.2, 0.8, size=(1, 4))
    constraint = fv.Box(0, 1) & fv.LpBall(x0[0], radius, p=p)
    objective = fv.ClassLogit(0) - fv.ClassLogit(1)
    crown = bounds(model, objective, constraints=constraint, method="crown")
    ibp = bounds(model, objective, constraints=constraint, method="ibp")
    d = rng.normal(size=(3000, 4))
    d /= np.abs(d).max(axis=1, keepdims=True) if p == np.inf else np.linalg.norm(d, axis=1, keepdims=True)
    x = constraint.project(x0 + d * radius * rng.uniform(0, 1, (3000, 1)) ** 0.25).astype(np.float32)
    out = model(x).numpy().astype(np.float64)
    values = out[:, 0] - out[:, 1]
    assert crown.lower[0] <= values.min() and values.max() <= crown.upper[0], (values.min(), values.max(), crown)
    assert ibp.lower[0] <= crown.lower[0] and crown.upper[0] <= ibp.upper[0]
    assert crown.real_lower[0] <= values.min() + 1e-5 and values.max() - 1e-5 <= crown.real_upper[0]
