"""Features of very different scales: per-coordinate steps by box width (no false passes),
ClassProbability that does not die of softmax underflow, and the zero-gradient remedy."""

import keras
import numpy as np
import pytest

import pytest_featviz as fv
from pytest_featviz.engine.step_sizes import step_widths as _step_widths

N = 6
LO = np.array([-3.0, 0.0, 10.0, -1e-3, 5.0, 0.0])
WIDTHS = np.array([1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2])  # five orders of magnitude
HI = LO + WIDTHS


def dense(kernel, bias, activation=None):
    inp = keras.Input((kernel.shape[0],))
    layer = keras.layers.Dense(kernel.shape[1], activation=activation)
    model = keras.Model(inp, layer(inp))
    layer.set_weights([np.asarray(kernel, "float32"), np.asarray(bias, "float32")])
    return model


def test_linear_optimum_on_a_box_whose_widths_span_five_orders_of_magnitude():
    w = np.array([[1.5], [-2.0], [0.7], [-1.1], [0.3], [-0.9]])
    m = dense(w, [0.25])
    r = fv.ascend(m, fv.ClassLogit(0), constraints=fv.Box(LO, HI), restarts=3, steps=100)
    corner = np.where(w[:, 0] > 0, HI, LO)
    best = corner @ w[:, 0] + 0.25
    worst = np.where(w[:, 0] > 0, LO, HI) @ w[:, 0] + 0.25
    assert np.all(np.abs(r.values - best) <= 1e-3 * (best - worst)), (r.values, best)
    assert fv.Box(LO, HI).contains(r.inputs).all()


def nonlinear(first):
    """``first`` (a layer mapping the input to unit scale), then a fixed tanh network."""
    inp = keras.Input((N,))
    h1 = keras.layers.Dense(8, activation="tanh")
    out = keras.layers.Dense(2)
    model = keras.Model(inp, out(h1(first(inp))))
    rng = np.random.default_rng(3)
    h1.set_weights([rng.normal(size=(N, 8)).astype("float32"), rng.normal(size=8).astype("float32")])
    out.set_weights([rng.normal(size=(8, 2)).astype("float32"), np.zeros(2, "float32")])
    return model


def test_the_same_function_in_raw_and_unit_coordinates_has_the_same_optimum():
    raw = nonlinear(keras.layers.Rescaling(1 / WIDTHS, offset=-LO / WIDTHS))  # x in the box -> [0, 1]
    unit = nonlinear(keras.layers.Identity())
    r_raw = fv.ascend(raw, fv.ClassLogit(1), constraints=fv.Box(LO, HI), restarts=4, steps=150)
    r_unit = fv.ascend(unit, fv.ClassLogit(1), constraints=fv.Box(0, 1), restarts=4, steps=150)
    np.testing.assert_allclose(r_raw.values.max(), r_unit.values.max(), rtol=1e-3)


def test_step_widths_are_relative_box_widths_and_one_with_an_l2_ball():
    shape = (1, N)
    canon = fv.Box(LO, HI).canonical(shape)
    np.testing.assert_allclose(_step_widths(canon, True, shape)[0], WIDTHS / np.median(WIDTHS), rtol=1e-6)
    ball = (fv.Box(LO, HI) & fv.LpBall(LO + WIDTHS / 2, 0.1, p=2)).canonical(shape)
    assert (_step_widths(ball, True, shape) == 1).all()  # a diagonal rescaling would move the ball's optima
    assert (_step_widths(fv.Box(0, np.inf).canonical(shape), True, shape) == 1).all()


def breast_cancer_models():
    """A tiny classifier with a Normalization layer adapted on sklearn's breast-cancer data (features 0.05..2357 wide)."""
    datasets = pytest.importorskip("sklearn.datasets")
    data = datasets.load_breast_cancer().data.astype("float32")
    lo, hi = data.min(axis=0), data.max(axis=0)
    keras.utils.set_random_seed(0)
    norm = keras.layers.Normalization()
    norm.adapt(data)
    h1, out = keras.layers.Dense(16, activation="relu"), keras.layers.Dense(2)
    inp = keras.Input((data.shape[1],))
    raw = keras.Model(inp, out(h1(norm(inp))))
    # the identical function of unit coordinates u = (x - lo) / (hi - lo)
    u = keras.Input((data.shape[1],))
    unit = keras.Model(u, out(h1(norm(keras.layers.Rescaling(hi - lo, offset=lo)(u)))))
    return raw, unit, lo, hi


def test_breast_cancer_like_false_pass_is_now_a_counterexample():
    raw, unit, lo, hi = breast_cancer_models()
    best_unit = fv.ascend(unit, fv.ClassLogit(1), constraints=fv.Box(0, 1), restarts=4, steps=256).values.max()
    best_raw = fv.ascend(raw, fv.ClassLogit(1), constraints=fv.Box(lo, hi), restarts=4, steps=256).values.max()
    np.testing.assert_allclose(best_raw, best_unit, rtol=1e-3)
    threshold = 0.9 * best_unit
    with pytest.raises(AssertionError, match="counterexample"):
        fv.assert_not_reaches(raw, fv.ClassLogit(1), threshold, constraints=fv.Box(lo, hi), seed=0)


def dead_softmax_model():
    """Linear logits with gaps of hundreds: softmax underflows to exactly 0 at most inputs of the box."""
    w = np.array([[300.0, -300.0, 0.0], [-300.0, 300.0, 0.0]])
    return dense(w, [0.0, 0.0, 0.0])


def test_class_probability_on_logits_does_not_die_of_softmax_underflow():
    m = dead_softmax_model()
    r = fv.ascend(m, fv.ClassProbability(1), constraints=fv.Box(-1, 1), restarts=10, seed=1, steps=60)
    assert (r.history[0] == 0).sum() >= 3  # these starts had a probability of exactly 0 (a zero gradient)
    assert (r.values > 0.999).all(), r.values  # the optimum (x = (-1, 1)) has probability 1
    assert ((r.values >= 0) & (r.values <= 1)).all()  # reported values are probabilities
    assert not r.zero_gradient[r.history[0] == 0].any()  # (at probability 1 the gradient is 0: the optimum)


@pytest.mark.parametrize("head", ["softmax", "sigmoid"])
def test_class_probability_through_a_dense_squashing_head_is_followed_by_its_logits(head):
    w = np.array([[300.0, -300.0, 0.0], [-300.0, 300.0, 0.0]])
    m = dense(w, [0.0, 0.0, 0.0], activation=head)
    r = fv.ascend(m, fv.ClassProbability(1), constraints=fv.Box(-1, 1), restarts=10, seed=1, steps=60)
    assert (r.history[0] == 0).sum() >= 3
    assert (r.values > 0.999).all(), r.values


def test_until_on_a_probability_stops_at_the_probability_threshold():
    m = dead_softmax_model()
    cond = fv.ClassProbability(1) >= 0.5
    r = fv.ascend(m, fv.ClassProbability(1), constraints=fv.Box(-1, 1), restarts=4, seed=1, steps=200, until=cond)
    assert r.reached.all() and (r.values >= 0.5).all() and (r.steps < 200).all()


def test_in_a_sum_a_probability_counts_as_its_value():
    """The documented rule: a logarithm inside a sum would change the trade-off, so the dead start stays dead."""
    m = dead_softmax_model()
    x0 = np.array([1.0, -1.0])  # probability of class 1 exactly 0
    r = fv.ascend(m, fv.ClassProbability(1) + 0.001 * fv.L2(), start=x0, constraints=fv.Box(-1, 1), steps=20)
    alone = fv.ascend(m, fv.ClassProbability(1), start=x0, constraints=fv.Box(-1, 1), steps=20)
    assert r.values[0] < 0.01 and alone.values[0] > 0.999


def test_zero_gradient_at_the_start_gets_its_own_remedy():
    dead = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)])
    dead.layers[0].set_weights([np.ones((3, 4), "float32"), np.full(4, -100.0, "float32")])
    with pytest.raises(AssertionError) as info:
        fv.assert_reaches(dead, fv.ClassLogit(0), 1.0, constraints=fv.Box(0, 1), steps=5)
    remedy = str(info.value).split("remedy:", 1)[1]
    assert "gradient is exactly zero" in remedy and "more steps cannot move" in remedy
    assert "steps=10" not in remedy  # not the generic "more steps" advice


def test_assert_not_reaches_defaults_to_one_start_per_target():
    m = dense(np.ones((3, 2)), [0.0, 0.0])
    r = fv.assert_not_reaches(m, fv.ClassLogit([0, 1]), 3.5, constraints=fv.Box(0, 1), steps=30)
    assert len(r.values) == 2
    with pytest.raises(fv.errors.ConfigurationError, match="Pass restarts=1"):
        fv.assert_not_reaches(m, fv.ClassLogit([0, 1]), 3.5, constraints=fv.Box(0, 1), restarts=3)
