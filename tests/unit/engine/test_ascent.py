"""The ascent engine against closed-form optima, batching, determinism, tracing and errors."""

import dataclasses

import keras
import numpy as np
import pytest
from tiny_models import linear_model

import pytest_featviz as fv
from pytest_featviz.engine.loop import CACHE_ATTR
from pytest_featviz.errors import ConfigurationError, FeatvizTypeError, GradientError, LayerNotFoundError

SHAPE = (6, 5)  # rank-2 inputs, like 28x28 digits but small


@pytest.fixture(scope="module")
def lin():
    return linear_model()


def weights(model, k):
    w = model.get_layer("dense").get_weights()[0][:, k].astype(np.float64)
    return w.reshape(SHAPE), float(model.get_layer("dense").get_weights()[1][k])


def gap(model, k, x, x_star):
    """Relative optimality gap of x against the known maximiser x_star."""
    w, _ = weights(model, k)
    best = float((w * x_star).sum())
    got = float((w * x).sum())
    return (best - got) / max(abs(best), 1e-12)


def check_optimum(model, k, r, x_star, c):
    assert gap(model, k, r.inputs[0], x_star) < 1e-4
    np.testing.assert_allclose(r.inputs[0], x_star, atol=1e-3)
    assert c.violation(r.inputs, start=r.start).max() <= 1e-6


def test_box_optimum_is_the_vertex_of_the_weight_signs(lin):
    w, _ = weights(lin, 2)
    c = fv.Box(-0.5, 1.5)
    r = fv.ascend(lin, fv.ClassLogit(2), constraints=c)
    check_optimum(lin, 2, r, np.where(w > 0, 1.5, -0.5), c)


@pytest.mark.parametrize("radius", [0.05, 1.0])
def test_l2_ball_optimum_is_centre_plus_radius_along_w(lin, radius):
    w, _ = weights(lin, 1)
    center = np.random.default_rng(1).random(SHAPE)
    c = fv.LpBall(center, radius, p=2)
    r = fv.ascend(lin, fv.ClassLogit(1), constraints=c)
    check_optimum(lin, 1, r, center + radius * w / np.linalg.norm(w), c)


def test_linf_ball_optimum_is_centre_plus_radius_times_sign(lin):
    w, _ = weights(lin, 0)
    center = np.random.default_rng(2).random(SHAPE)
    c = fv.LpBall(center, 0.1, p=np.inf)
    r = fv.ascend(lin, fv.ClassLogit(0), constraints=c)
    check_optimum(lin, 0, r, center + 0.1 * np.sign(w), c)


def test_box_and_linf_optimum(lin):
    w, _ = weights(lin, 3)
    center = np.random.default_rng(3).random(SHAPE)
    c = fv.Box(0, 1) & fv.LpBall(center, 0.2, p=np.inf)
    r = fv.ascend(lin, fv.ClassLogit(3), constraints=c)
    check_optimum(lin, 3, r, np.clip(center + 0.2 * np.sign(w), 0, 1), c)


def box_l2_maximiser(w, low, high, center, radius):
    """max w.x over box & L2 ball: x(mu) = clip(center + w / mu), bisection on mu (written here)."""
    lo, hi = 1e-9, 1e9
    for _ in range(300):
        mu = np.sqrt(lo * hi)
        x = np.clip(center + w / mu, low, high)
        if np.linalg.norm(x - center) > radius:
            lo = mu
        else:
            hi = mu
    return np.clip(center + w / hi, low, high)


def test_box_and_l2_optimum_matches_a_dual_bisection(lin):
    w, _ = weights(lin, 1)
    center = np.random.default_rng(4).random(SHAPE)
    c = fv.Box(0, 1) & fv.LpBall(center, 0.8, p=2)
    r = fv.ascend(lin, fv.ClassLogit(1), constraints=c)
    check_optimum(lin, 1, r, box_l2_maximiser(w, 0, 1, center, 0.8), c)


def test_mask_optimum_changes_only_free_entries(lin):
    w, _ = weights(lin, 2)
    mask = np.zeros(SHAPE, bool)
    mask[:, :2] = True
    start = np.full(SHAPE, 0.5)
    c = fv.Box(0, 1) & fv.Mask(mask)
    r = fv.ascend(lin, fv.ClassLogit(2), constraints=c, start=start)
    x_star = np.where(mask, np.where(w > 0, 1.0, 0.0), 0.5)
    check_optimum(lin, 2, r, x_star, c)
    assert np.array_equal(r.inputs[0][~mask], start[~mask].astype(np.float32))


def test_projected_adam_on_raw_gradient_would_stall_but_default_does_not(lin):
    """Sanity check of the closed form: the sign point is strictly worse on an L2 ball."""
    w, _ = weights(lin, 1)
    sign_point = np.sign(w) / np.sqrt(w.size)
    assert gap(lin, 1, sign_point, w / np.linalg.norm(w)) > 1e-2


def test_values_outputs_and_inputs_agree(lin):
    r = fv.ascend(lin, fv.ClassLogit([0, 1]), constraints=fv.Box(0, 1), steps=30)
    logits = lin(r.inputs).numpy()
    np.testing.assert_allclose(r.outputs, logits, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(r.values, logits[[0, 1], [0, 1]], rtol=1e-5, atol=1e-5)
    assert r.history.shape == (31, 2) and r.steps.tolist() == [30, 30]  # x_0 .. x_30
    assert r.reached is None
    assert r.value_range == (0.0, 1.0)  # the box, for pictures
    free = fv.ascend(lin, fv.ClassLogit(0), start=np.linspace(0, 2, 30).reshape(SHAPE), steps=1)
    assert free.value_range == (float(free.inputs.min()), float(free.inputs.max()))  # unbounded: own range
    flat = dataclasses.replace(free, inputs=np.full((1, *SHAPE), 0.25, np.float32))
    assert flat.value_range == (0.25, 1.25)  # a constant input still gets a drawable range


def test_batch_equals_targets_one_at_a_time(lin):
    start = np.random.default_rng(5).random(SHAPE)
    c = fv.Box(0, 1) & fv.LpBall(start, 0.5, p=2)
    batch = fv.ascend(lin, fv.ClassLogit([0, 1, 2]), start=start, constraints=c, steps=40)
    for k in range(3):
        one = fv.ascend(lin, fv.ClassLogit(k), start=start, constraints=c, steps=40)
        np.testing.assert_allclose(batch.inputs[k], one.inputs[0], atol=1e-5)
        np.testing.assert_allclose(batch.values[k], one.values[0], rtol=1e-5)


def test_same_seed_same_bits_and_seed_changes_start(lin):
    a = fv.ascend(lin, fv.ClassLogit([0, 3]), constraints=fv.Box(0, 1), steps=10, seed=7)
    b = fv.ascend(lin, fv.ClassLogit([0, 3]), constraints=fv.Box(0, 1), steps=10, seed=7)
    c = fv.ascend(lin, fv.ClassLogit([0, 3]), constraints=fv.Box(0, 1), steps=10, seed=8)
    assert np.array_equal(a.inputs, b.inputs) and np.array_equal(a.history, b.history)
    assert not np.array_equal(a.start, c.start)


def test_until_stops_each_item_and_reports_reached(lin):
    r = fv.ascend(lin, fv.ClassLogit([0, 1]), constraints=fv.Box(0, 1), until=fv.ClassLogit([0, 1]) >= 1e9, steps=20)
    assert r.reached.tolist() == [False, False]
    low_bar = fv.ascend(lin, fv.ClassLogit(0), constraints=fv.Box(0, 1), until=fv.ClassLogit(0) >= -1e9, steps=50)
    assert low_bar.reached.tolist() == [True] and low_bar.steps.tolist() == [0]
    assert low_bar.history.shape == (1, 1)


def test_separate_softmax_and_fused_softmax_give_the_same_logits():
    lin = linear_model(seed=3)
    inp = keras.Input(SHAPE)
    flat = keras.layers.Flatten()(inp)
    fused = keras.Model(inp, keras.layers.Dense(4, activation="softmax", name="head")(flat))
    fused.get_layer("head").set_weights(lin.get_layer("dense").get_weights())
    inp2 = keras.Input(SHAPE)
    dense = keras.layers.Dense(4, name="head")(keras.layers.Flatten()(inp2))
    separate = keras.Model(inp2, keras.layers.Softmax()(dense))
    separate.get_layer("head").set_weights(lin.get_layer("dense").get_weights())
    start = np.random.default_rng(0).random(SHAPE)
    runs = [
        fv.ascend(m, fv.ClassLogit(2), start=start, constraints=fv.Box(0, 1), steps=5) for m in (lin, fused, separate)
    ]
    np.testing.assert_allclose(runs[1].values, runs[0].values, rtol=1e-5)
    np.testing.assert_allclose(runs[2].values, runs[0].values, rtol=1e-5)
    prob = fv.ascend(fused, fv.ClassProbability(2), start=start, constraints=fv.Box(0, 1), steps=1)
    np.testing.assert_allclose(prob.values, fused(prob.inputs).numpy()[:, 2], rtol=1e-5)


def test_changing_values_never_retraces(lin):
    rng = np.random.default_rng(0)
    lin.__dict__.pop(CACHE_ATTR, None)
    for i in range(20):
        center = rng.random(SHAPE)
        c = fv.Box(-rng.random(), 1 + rng.random()) & fv.LpBall(center, rng.uniform(0.1, 1), p=2)
        fv.ascend(
            lin,
            fv.ClassLogit(int(rng.integers(4))) - rng.random() * fv.L2(),
            start=rng.random(SHAPE),
            constraints=c,
            lr=rng.uniform(0.01, 0.1),
            steps=8,
            seed=i,
        )
    cache = lin.__dict__[CACHE_ATTR]
    assert len(cache) == 1
    assert next(iter(cache.values())).experimental_get_tracing_count() == 1


def test_conv_channel_and_neuron_objectives_reach_higher_values():
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(3, 3, activation="relu", name="conv")(inp)
    out = keras.layers.Dense(2, name="dense")(keras.layers.Flatten()(h))
    model = keras.Model(inp, out)
    for obj in (
        fv.Channel("conv", [0, 1, 2]),
        fv.Channel("conv", 1, reduce="max", crop=1),
        fv.Neuron("dense", 1),
        fv.LayerEnergy("conv"),
        fv.Direction("conv", [1.0, -1.0, 0.5]),
    ):
        r = fv.ascend(model, obj, constraints=fv.Box(0, 1), steps=40, seed=1)
        assert (r.history[-1] >= r.history[0] - 1e-6).all(), obj
        assert (r.values >= r.history[0] - 1e-6).all(), obj
        assert fv.Box(0, 1).contains(r.inputs).all()


def test_dead_relu_start_is_reported_as_zero_gradient():
    inp = keras.Input((3,))
    out = keras.layers.Dense(
        1, activation="relu", name="d", kernel_initializer="ones", bias_initializer=keras.initializers.Constant(-10.0)
    )(inp)
    model = keras.Model(inp, out)
    r = fv.ascend(model, fv.Neuron("d", 0), constraints=fv.Box(0, 1), steps=5)
    assert r.zero_gradient.tolist() == [True]


class SqrtThenLinear(keras.layers.Layer):
    """out = [sqrt(x0) - 2 x0, x1]: NaN once x0 goes negative."""

    def call(self, x):
        import tensorflow as tf

        return tf.stack([tf.sqrt(x[:, 0]) - 2.0 * x[:, 0], x[:, 1]], axis=1)


def test_diverging_item_stops_at_its_last_finite_input_and_others_continue():
    inp = keras.Input((2,))
    model = keras.Model(inp, SqrtThenLinear(name="sq")(inp))
    start = np.array([[0.02, 0.5], [0.5, 0.5]])
    # item 0 maximises sqrt(x0) - 2 x0 from 0.02 with huge steps past 0 -> NaN; item 1 climbs x1 to 1
    r = fv.ascend(
        model,
        fv.Neuron("sq", [0, 1]),
        start=start,
        constraints=fv.Box(-1, 1),
        lr=[5.0, 0.1],
        optimizer="sign",
        schedule="constant",
        steps=20,
    )
    assert r.diverged.tolist() == [True, False]
    assert r.diverged_at[0] >= 0 and r.diverged_at[1] == -1
    assert np.isfinite(r.inputs).all() and np.isfinite(r.values).all()
    assert r.inputs[0, 0] >= 0
    np.testing.assert_allclose(r.inputs[1], [0.5, 1.0], atol=1e-6)


def test_unflowing_gradient_names_the_layer():
    class Rounding(keras.layers.Layer):
        def call(self, x):
            import tensorflow as tf

            return tf.stop_gradient(tf.round(x))

    inp = keras.Input((3,))
    h = Rounding(name="rounding")(keras.layers.Dense(3, name="first")(inp))
    model = keras.Model(inp, keras.layers.Dense(2, name="last")(h))
    with pytest.raises(GradientError, match="rounding") as info:
        fv.ascend(model, fv.ClassLogit(0), constraints=fv.Box(0, 1), steps=2)
    # raised as the typed error found while tracing (not rebuilt from TensorFlow's text), nothing cached
    assert type(info.value) is GradientError and str(info.value).startswith("the gradient of ClassLogit(0)")
    assert info.value.__cause__ is None and not getattr(model, CACHE_ATTR, {})


def test_model_information_is_computed_once_per_ascent(monkeypatch):
    import pytest_featviz.models as models
    import pytest_featviz.models.loading as loading

    calls = []
    real = loading.model_info

    def counting(model):
        calls.append(model)
        return real(model)

    monkeypatch.setattr(loading, "model_info", counting)
    monkeypatch.setattr(models, "model_info", counting)
    inp = keras.Input((3,))
    model = keras.Model(inp, keras.layers.Dense(2)(inp))
    fv.ascend(model, fv.ClassLogit(0), constraints=fv.Box(0, 1), steps=2)  # compiles: FeatureExtractor too
    assert len(calls) == 1


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        (dict(objective=fv.ClassLogit(4)), ConfigurationError, "class 4 is out of range; valid indices are 0..3"),
        (dict(objective=fv.Neuron("dens", 0)), LayerNotFoundError, "did you mean 'dense'"),
        (
            dict(objective=fv.Channel("flatten", 30)),
            ConfigurationError,
            "Channel index of layer 'flatten' (output shape (30,)) 30 is out of range",
        ),
        (dict(objective="logit 3"), FeatvizTypeError, "expected an objective"),
        (dict(start=np.zeros((5, 6))), ConfigurationError, "the model expects (6, 5)"),
        (dict(start=np.full(SHAPE, np.nan)), ConfigurationError, "NaN or inf"),
        (dict(constraints=fv.Box(0, 1) & fv.LpBall(np.full(SHAPE, 9.0), 0.1)), ConfigurationError, "is empty"),
        (dict(constraints="unit box"), FeatvizTypeError, "constraints must be"),
        (dict(optimizer="sgd"), ConfigurationError, "'adam'"),
        (dict(steps=0), ConfigurationError, "steps must be an int >= 1"),
        (dict(lr=-1.0), ConfigurationError, "lr must be a finite number > 0; got -1.0"),
        (
            dict(objective=fv.ClassLogit([0, 1]), start=np.zeros((3, *SHAPE))),
            ConfigurationError,
            "3 items but the objective has 2 targets",
        ),
        (dict(until=0.9), FeatvizTypeError, "until must be a Condition"),
        (dict(model="no/such/model.keras"), ConfigurationError, "model file not found: no/such/model.keras"),
    ],
)
def test_bad_configuration_is_a_clear_error(lin, kwargs, error, words):
    args = dict(model=lin, objective=fv.ClassLogit(0), constraints=fv.Box(0, 1), steps=2)
    args.update(kwargs)
    model, objective = args.pop("model"), args.pop("objective")
    with pytest.raises(error) as info:
        fv.ascend(model, objective, **args)
    assert words in str(info.value)
    assert not isinstance(info.value, AssertionError)
