"""Engine edge cases: float32 soundness at pixel scale, restarts under masks, the last step, argument checks."""

import keras
import numpy as np
import pytest

import pytest_featviz as fv
from pytest_featviz.errors import ConfigurationError, FeatvizTypeError

N = 64


def dense(n=N, classes=2, seed=0):
    inp = keras.Input((n,))
    layer = keras.layers.Dense(classes, name="dense")
    model = keras.Model(inp, layer(inp))
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.normal(size=(n, classes)).astype("float32"), rng.normal(size=classes).astype("float32")])
    return model


@pytest.fixture(scope="module")
def lin():
    return dense()


def logit(model, x, k=0):
    """The linear logit in float64 (exact up to float64 rounding) at inputs x."""
    w, b = (a.astype(np.float64) for a in model.get_layer("dense").get_weights())
    return np.asarray(x, np.float64) @ w[:, k] + b[k]


@pytest.mark.parametrize("scale", [1.0, 255.0, 1000.0])
def test_inputs_are_exactly_inside_box_and_linf_ball_at_any_scale(lin, scale):
    x0 = np.random.default_rng(0).uniform(0, scale, N)
    eps = 2.0 * scale / 255
    c = fv.Box(0, scale) & fv.LpBall(x0, eps, p=np.inf)
    r = fv.ascend(lin, fv.ClassLogit(0), start=x0, constraints=c, steps=60)
    assert (c.violation(r.inputs) == 0).all() and c.contains(r.inputs, atol=0).all()
    # so the value never exceeds the closed-form maximum of the linear logit over the set
    w = lin.get_layer("dense").get_weights()[0][:, 0].astype(np.float64)
    best = logit(lin, np.clip(x0 + eps * np.sign(w), 0, scale))
    assert logit(lin, r.inputs).max() <= best + 1e-9 * abs(best)
    assert logit(lin, r.inputs).max() >= best - 1e-3 * abs(best)


@pytest.mark.parametrize("scale", [1.0, 255.0, 1000.0])
def test_inputs_are_exactly_inside_an_l2_ball_at_any_scale(lin, scale):
    center = np.random.default_rng(1).uniform(0, scale, N) + 1 / 3
    w = lin.get_layer("dense").get_weights()[0][:, 0].astype(np.float64)
    best = logit(lin, center + 0.05 * w / np.linalg.norm(w))  # item 0's maximum without a mask
    for c, unmasked in (
        (fv.LpBall(center, 0.05, p=2), True),
        (fv.Box(0, scale + 1) & fv.LpBall(center, 0.05, p=2), True),
        (fv.Mask(np.arange(N) % 2 == 0) & fv.LpBall(center, 0.05, p=2), False),
    ):
        r = fv.ascend(lin, fv.ClassLogit([0, 1]), start=center, constraints=c, steps=40)
        assert (c.violation(r.inputs, start=r.start) == 0).all(), c
        if unmasked:
            assert logit(lin, r.inputs[:1])[0] <= best + 1e-9 * abs(best)


def test_assert_not_reaches_fails_just_below_the_closed_form_maximum_at_pixel_scale(lin):
    x0 = np.random.default_rng(0).uniform(0, 255, N)
    c = fv.Box(0, 255) & fv.LpBall(x0, 2.0, p=np.inf)
    w = lin.get_layer("dense").get_weights()[0][:, 0].astype(np.float64)
    base, best = logit(lin, x0), logit(lin, np.clip(x0 + 2 * np.sign(w), 0, 255))
    with pytest.raises(AssertionError):
        fv.assert_not_reaches(
            lin, fv.ClassLogit(0), float(base + 0.9999 * (best - base)), constraints=c, start=x0, steps=100
        )


def test_every_restart_keeps_the_frozen_entries_at_the_start():
    model = dense(n=6, seed=3)
    start = np.array([0.0, 0.25, 1.0, 0.75, 0.5, 0.5])
    mask = np.array([False, False, False, False, True, True])
    c = fv.Box(0, 1) & fv.Mask(mask)
    r = fv.ascend(model, fv.ClassLogit(0), start=start, constraints=c, restarts=3, steps=50)
    assert np.array_equal(r.start[:, ~mask], np.tile(start[~mask], (3, 1)).astype(np.float32))
    assert np.array_equal(r.inputs[:, ~mask], r.start[:, ~mask])
    assert len({tuple(s) for s in r.start[:, mask].round(6)}) == 3  # the free entries were drawn
    w = model.get_layer("dense").get_weights()[0][:, 0].astype(np.float64)
    best = logit(model, np.where(mask, w > 0, start))
    np.testing.assert_allclose(logit(model, r.inputs), best, rtol=1e-5)


def test_restarts_around_a_start_under_a_mask_and_an_l2_ball_stay_inside(lin):
    start = np.random.default_rng(4).random(N)
    mask = np.arange(N) < N // 2
    c = fv.Mask(mask) & fv.LpBall(start, 0.3, p=2)
    r = fv.ascend(lin, fv.ClassLogit(0), start=start, constraints=c, restarts=4, steps=20)
    assert np.array_equal(r.inputs[:, ~mask], np.tile(start[~mask].astype(np.float32), (4, 1)))
    assert (c.violation(r.inputs, start=start) <= 1e-7).all()


def test_one_step_is_one_update_and_its_result_is_evaluated():
    """pgd, constant schedule, box: x_1 = clip(x_0 + lr * g / rms(g)) with g = w for a linear logit."""
    model = dense(n=4, seed=5)
    w = model.get_layer("dense").get_weights()[0][:, 0].astype(np.float64)
    x0 = np.full(4, 0.5)
    x1 = np.clip(x0 + 0.1 * w / np.sqrt(np.mean(w**2)), 0, 1)
    r = fv.ascend(
        model,
        fv.ClassLogit(0),
        start=x0,
        constraints=fv.Box(0, 1),
        steps=1,
        lr=0.1,
        optimizer="pgd",
        schedule="constant",
    )
    np.testing.assert_allclose(r.inputs[0], x1, atol=1e-6)
    np.testing.assert_allclose(r.history[:, 0], [logit(model, x0), logit(model, x1)], rtol=1e-5)
    assert r.steps.tolist() == [1] and r.history.shape == (2, 1)
    np.testing.assert_allclose(r.values, logit(model, r.inputs), rtol=1e-5)


def test_until_met_on_the_last_iterate_counts_as_reached():
    model = dense(n=4, seed=5)
    w = model.get_layer("dense").get_weights()[0][:, 0].astype(np.float64)
    x0 = np.full(4, 0.5)
    x1 = np.clip(x0 + 0.1 * w / np.sqrt(np.mean(w**2)), 0, 1)
    bar = 0.5 * (logit(model, x0) + logit(model, x1))  # above x_0, below x_1
    r = fv.ascend(
        model,
        fv.ClassLogit(0),
        start=x0,
        constraints=fv.Box(0, 1),
        steps=1,
        lr=0.1,
        optimizer="pgd",
        schedule="constant",
        until=fv.ClassLogit(0) >= float(bar),
    )
    assert r.reached.tolist() == [True] and r.steps.tolist() == [1]
    np.testing.assert_allclose(r.inputs[0], x1, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        (dict(seed=-1), ConfigurationError, "seed must be an int >= 0; got -1"),
        (dict(seed=1.5), FeatvizTypeError, "seed must be an int >= 0"),
        (dict(lr="a"), FeatvizTypeError, "lr must be a finite number > 0; got 'a' (str)"),
        (dict(lr=True), FeatvizTypeError, "lr must be a finite number > 0; got True (bool)"),
        (dict(lr=["a", "b", "c"]), FeatvizTypeError, "lr must be a finite number > 0 or one per batch item"),
        (dict(lr=[0.1, 0.2]), ConfigurationError, "lr must be a finite number > 0 or one per batch item (1)"),
        (dict(seed="3"), FeatvizTypeError, "seed must be an int >= 0; got '3' (str)"),
        (dict(steps="3"), FeatvizTypeError, "steps must be an int >= 1; got '3' (str)"),
        (dict(restarts="3"), FeatvizTypeError, "restarts must be an int >= 1; got '3' (str)"),
        (dict(restarts=0), ConfigurationError, "restarts must be an int >= 1; got 0"),
        (dict(max_batch=2.0), FeatvizTypeError, "max_batch must be an int >= 1; got 2.0 (float)"),
        (dict(schedule="cos"), ConfigurationError, "schedule='cos' is not one of 'constant', 'cosine'"),
        (dict(jit_compile=1), FeatvizTypeError, "jit_compile must be True, False or None"),
        (dict(jit_compile="yes"), FeatvizTypeError, "jit_compile must be True, False or None"),
        (
            dict(constraints=fv.LpBall(np.zeros((2, N)), [0.1, 0.2, 0.3], p=2), start=np.zeros((2, N))),
            ConfigurationError,
            "LpBall has 3 radii for 2 items",
        ),
        (
            dict(constraints=fv.Box(0, 1) & fv.Mask(np.arange(N) < 2, values=5.0)),
            ConfigurationError,
            "the Mask value 5 at index (0, 2) lies outside the bounds [0, 1]",
        ),
        (
            dict(constraints=fv.Mask(np.arange(N) < 2) & fv.LpBall(np.zeros(N), 1.0, p=2), start=np.ones(N)),
            ConfigurationError,
            "is empty for batch item 0",
        ),
    ],
)
def test_bad_arguments_are_clear_errors(lin, kwargs, error, words):
    args = dict(constraints=fv.Box(0, 1), steps=2)
    args.update(kwargs)
    with pytest.raises(error) as info:
        fv.ascend(lin, fv.ClassLogit(0), **args)
    assert words in str(info.value)


@pytest.mark.parametrize("layer", ["dense", "conv"])
def test_xla_is_off_unless_asked_for(layer):
    """Compile time dominates a test suite's ascents, and XLA's is about twice TensorFlow's tracing."""
    from pytest_featviz.engine.loop import CACHE_ATTR

    body = keras.layers.Dense(3) if layer == "dense" else keras.layers.Conv2D(3, 3)
    model = keras.Sequential([keras.Input((6, 6, 1)), body, keras.layers.Flatten(), keras.layers.Dense(2)])
    fv.ascend(model, fv.ClassLogit(0), constraints=fv.Box(0, 1), steps=2)
    assert [spec.jit for spec in model.__dict__[CACHE_ATTR]] == [False]
    fv.ascend(model, fv.ClassLogit(0), constraints=fv.Box(0, 1), steps=2, jit_compile=True)
    assert sorted(spec.jit for spec in model.__dict__[CACHE_ATTR]) == [False, True]


@pytest.mark.parametrize("until", [None, fv.ClassLogit([0, 1, 0, 1, 0, 1, 0]) >= 2.0])
def test_max_batch_gives_the_unchunked_results(lin, until):
    obj = fv.ClassLogit([0, 1, 0, 1, 0, 1, 0]) - 0.01 * fv.L2()
    kw = dict(constraints=fv.Box(0, 1), steps=30, seed=3, until=until)
    whole = fv.ascend(lin, obj, **kw)
    chunked = fv.ascend(lin, obj, max_batch=3, **kw)  # chunks of 3, 3 and 1 (padded to 3)
    for name in ("inputs", "steps", "diverged", "zero_gradient", "start"):
        np.testing.assert_array_equal(getattr(chunked, name), getattr(whole, name), err_msg=name)
    for name in ("values", "history", "outputs"):  # the same inputs; a batch of another size may round differently
        np.testing.assert_allclose(getattr(chunked, name), getattr(whole, name), rtol=1e-6, atol=1e-5, err_msg=name)
    if until is not None:
        np.testing.assert_array_equal(chunked.reached, whole.reached)
    assert chunked.history.shape == whole.history.shape == (31 if until is None else whole.history.shape[0], 7)


def test_max_batch_is_checked(lin):
    with pytest.raises(ConfigurationError, match="max_batch must be an int >= 1"):
        fv.ascend(lin, fv.ClassLogit(0), max_batch=0)


@pytest.mark.parametrize("seed", range(4))
def test_numpy_and_compiled_projections_agree(seed):
    """One algorithm in two namespaces: float64 numpy and the float32 compiled loop agree on boxes & L2 balls."""
    from pytest_featviz.engine.steps import project_tf

    rng = np.random.default_rng(seed)
    shape = (5, 7)
    low = -rng.random(shape[1]) * rng.choice([0.1, 1.0, 100.0])
    high = rng.random(shape[1]) * rng.choice([0.1, 1.0, 100.0])
    center = rng.uniform(low, high, shape)
    radius = rng.uniform(0.05, 1.0, shape[0]) * np.abs(high - low).max()
    x = center + rng.normal(size=shape) * 3 * radius[:, None]
    canon = (fv.Box(low, high) & fv.LpBall(center, radius, p=2)).canonical(shape)
    want = canon.project(x)
    low32, high32, center32, radius32 = canon.float32()
    got = project_tf(x.astype(np.float32), low32, high32, center32, radius32, True).numpy()
    scale = np.abs(want).max(axis=1, keepdims=True) + 1
    assert (np.abs(got - want) <= 1e-5 * scale).all()
    assert not np.array_equal(want, np.clip(x, canon.low, canon.high))  # the ball binds: the bisection ran
