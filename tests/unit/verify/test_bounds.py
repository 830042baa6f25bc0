"""Sound bounds (IBP, CROWN): exact answers on linear models, the sandwich property on random
networks evaluated by Keras itself, refusals, and certification figures on the seed MLP."""

from __future__ import annotations

import itertools
from pathlib import Path

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pytest_featviz as fv
from pytest_featviz.errors import ConfigurationError, FeatvizTypeError
from pytest_featviz.models import FeatureExtractor
from pytest_featviz.verify import Bounds, bounds, certify_not_reaches, linear
from pytest_featviz.verify.linear import (
    Conv2D,
    Dense,
    DepthwiseConv2D,
    Pad2D,
    geometry,
)
from pytest_featviz.verify.nonlinear import Activation, MaxPool2D
from pytest_featviz.verify.pooling import GlobalAvgPool2D, avg_pool

MODELS = Path(__file__).resolve().parents[3] / "examples" / "models"
METHODS = ["ibp", "crown"]


def evaluate(model, objective, x):
    """The objective on the real Keras model (float32), one value per row of ``x``."""
    import tensorflow as tf

    ctx = FeatureExtractor(model, objective.layers())(tf.constant(np.asarray(x, np.float32)))
    params = [tf.constant(p) for p in objective.params(len(x))]
    return objective.evaluate(ctx, params).numpy().astype(np.float64)


def dense_model(weights, *, activations=None):
    """A functional stack of Dense layers with the given (kernel, bias) pairs."""
    acts = activations or [None] * len(weights)
    inp = keras.Input((weights[0][0].shape[0],))
    x = inp
    for i, ((k, _), act) in enumerate(zip(weights, acts)):
        x = keras.layers.Dense(k.shape[1], activation=act, name=f"d{i}")(x)
    model = keras.Model(inp, x)
    model.set_weights([np.asarray(a, np.float32) for pair in weights for a in pair])
    return model


def linear_model(seed=0, n=6, classes=3):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(n, classes)).astype(np.float32)
    b = rng.normal(size=classes).astype(np.float32)
    return dense_model([(w, b)]), w.astype(np.float64), b.astype(np.float64)


def rel_close(got, want, rel=1e-6):
    np.testing.assert_allclose(got, want, rtol=rel, atol=rel * np.abs(want).max())


# -- exactness ---------------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("p", [np.inf, 2])
def test_linear_model_is_bounded_exactly(method, p):
    model, w, b = linear_model()
    x0 = np.linspace(-0.5, 0.5, 6)
    eps = 0.1
    b_ = bounds(model, fv.ClassLogit([0, 1, 2]), constraints=fv.LpBall(x0, eps, p=p), method=method)
    norm = np.abs(w).sum(axis=0) if p == np.inf else np.sqrt((w**2).sum(axis=0))
    centre = x0 @ w + b
    rel_close(b_.real_upper, centre + eps * norm)
    rel_close(b_.real_lower, centre - eps * norm)
    assert np.all(b_.upper >= b_.real_upper) and np.all(b_.lower <= b_.real_lower)
    assert np.all(b_.upper - b_.real_upper < 1e-4)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("p", [np.inf, 2])
def test_sigmoid_head_probability_is_the_sigmoid_of_the_logit_bounds(method, p):
    """A multi-label (sigmoid) head: p_k = sigmoid(z_k), not a softmax over the classes."""
    model, w, b = linear_model(seed=3)
    sig = dense_model([(w.astype(np.float32), b.astype(np.float32))], activations=["sigmoid"])
    x0, eps = np.linspace(-0.5, 0.5, 6), 0.1
    b_ = bounds(sig, fv.ClassProbability([0, 1, 2]), constraints=fv.LpBall(x0, eps, p=p), method=method)
    norm = np.abs(w).sum(axis=0) if p == np.inf else np.sqrt((w**2).sum(axis=0))
    centre = x0 @ w + b
    want_hi, want_lo = 1 / (1 + np.exp(-(centre + eps * norm))), 1 / (1 + np.exp(-(centre - eps * norm)))
    assert np.all(b_.upper >= want_hi) and np.all(b_.lower <= want_lo)
    np.testing.assert_allclose(b_.upper, want_hi, atol=1e-4)
    np.testing.assert_allclose(b_.lower, want_lo, atol=1e-4)
    ascent = fv.ascend(sig, fv.ClassProbability([0, 1, 2]), start=x0, constraints=fv.LpBall(x0, eps, p=p), steps=50)
    assert np.all(ascent.values <= b_.upper)


@pytest.mark.parametrize("method", METHODS)
def test_logit_margin_is_one_quantity(method):
    model, w, b = linear_model(seed=1)
    x0 = np.full(6, 0.2)
    d = w[:, 0] - w[:, 2]
    b_ = bounds(model, fv.ClassLogit(0) - fv.ClassLogit(2), constraints=fv.LpBall(x0, 0.05, p=2), method=method)
    rel_close(b_.real_upper, [x0 @ d + b[0] - b[2] + 0.05 * np.linalg.norm(d)])


@pytest.mark.parametrize("method", METHODS)
def test_box_and_l2_ball_keeps_the_smaller_bound(method):
    model, w, b = linear_model(seed=2, n=4, classes=1)
    x0 = np.full(4, 0.5)
    tight_box = fv.Box(0.45, 0.55) & fv.LpBall(x0, 1.0, p=2)
    tight_ball = fv.Box(0.0, 1.0) & fv.LpBall(x0, 0.01, p=2)
    u_box = bounds(model, fv.ClassLogit(0), constraints=tight_box, method=method).real_upper
    u_ball = bounds(model, fv.ClassLogit(0), constraints=tight_ball, method=method).real_upper
    rel_close(u_box, x0 @ w[:, 0] + b + 0.05 * np.abs(w).sum())
    rel_close(u_ball, x0 @ w[:, 0] + b + 0.01 * np.linalg.norm(w))


def test_cancelling_affine_stack_crown_exact_ibp_loose():
    mix = np.array([[1.0, 1.0], [1.0, -1.0]])
    model = dense_model([(mix, np.zeros(2)), (mix, np.zeros(2)), (np.array([[1.0], [0.0]]), np.zeros(1))])
    box = fv.Box(-1, 1)
    crown = bounds(model, fv.ClassLogit(0), constraints=box, method="crown")
    ibp = bounds(model, fv.ClassLogit(0), constraints=box, method="ibp")
    rel_close(crown.real_upper, [2.0])
    rel_close(crown.real_lower, [-2.0])
    rel_close(ibp.real_upper, [4.0])
    assert crown.upper_from == ("crown",) and ibp.upper_from == ("ibp",)


def test_absolute_value_relu_network():
    model = dense_model(
        [(np.array([[1.0, -1.0]]), np.zeros(2)), (np.ones((2, 1)), np.zeros(1))], activations=["relu", None]
    )
    box = fv.Box(-1, 1)
    ibp = bounds(model, fv.ClassLogit(0), constraints=box, method="ibp")
    crown = bounds(model, fv.ClassLogit(0), constraints=box, method="crown")
    rel_close(ibp.real_upper, [2.0])
    rel_close(crown.real_upper, [1.0])
    rel_close(crown.real_lower, [0.0])
    assert crown.method == "crown" and crown.upper_from == ("crown",)


def test_mask_freezes_entries_at_the_start():
    model, w, b = linear_model(seed=3, n=4, classes=1)
    start = np.array([0.1, 0.2, 0.3, 0.4])
    mask = np.array([True, False, True, False])
    c = fv.Box(0, 1) & fv.LpBall(start, 0.05) & fv.Mask(mask)
    got = bounds(model, fv.ClassLogit(0), constraints=c, start=start)
    rel_close(got.real_upper, start @ w[:, 0] + b + 0.05 * np.abs(w[mask, 0]).sum())
    with pytest.raises(ConfigurationError, match="start="):
        bounds(model, fv.ClassLogit(0), constraints=c)


def test_unbounded_set_gives_infinite_bounds_never_proven():
    model, _, _ = linear_model()
    b_ = bounds(model, fv.ClassLogit(0), constraints=fv.Box(0, np.inf))
    assert b_.upper[0] == np.inf and not b_.known[0]
    assert certify_not_reaches(model, fv.ClassLogit(0), 1e9, constraints=None).status == ("unknown",)


# -- the sandwich property on random networks -----------------------------------------------------

ACTS = [None, "relu", "tanh", "sigmoid", "elu", "softplus", "leaky_relu", "relu6"]


def _set_random_weights(model, rng):
    for layer in model.layers:
        ws = layer.get_weights()
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = ws
            ws = [
                rng.normal(size=gamma.shape),
                rng.normal(size=beta.shape) * 0.3,
                rng.normal(size=mean.shape) * 0.3,
                rng.uniform(0.3, 2.0, size=var.shape),
            ]
        else:
            ws = [rng.normal(size=w.shape) * (1.2 / np.sqrt(max(1, np.prod(w.shape[:-1])))) for w in ws]
        layer.set_weights([np.asarray(w, np.float32) for w in ws])


def mlp(rng, dim):
    L = keras.layers
    inp = keras.Input((dim,))
    x = inp
    if rng.integers(3) == 0:
        x = L.Normalization(mean=rng.normal(size=dim), variance=rng.uniform(0.5, 2, size=dim))(x)
        x = L.Rescaling(0.5, offset=0.25)(x)
    x = L.Dense(int(rng.integers(3, 6)), activation=ACTS[rng.integers(len(ACTS))], name="h1")(x)
    extra = rng.integers(6)
    if extra == 0:
        x = L.BatchNormalization(name="bn")(x)
    elif extra == 1:
        x = L.ReLU(max_value=[None, 2.0][rng.integers(2)], negative_slope=[0.0, 0.1][rng.integers(2)])(x)
    elif extra == 2:
        side = L.Dense(x.shape[-1], name="side")(inp)
        x = L.Add(name="add")([x, L.LeakyReLU(0.1)(side)])
    elif extra == 3:
        x = L.Concatenate(name="cat")([x, L.Dropout(0.5)(L.Dense(2, activation="elu")(inp))])
    elif extra == 4:
        x = L.Flatten()(L.Dense(2)(L.Reshape((x.shape[-1], 1))(x)))
    else:
        x = L.ELU(alpha=float(rng.choice([0.5, 1.5])))(x)
    x = L.Dense(int(rng.integers(2, 5)), activation=ACTS[rng.integers(len(ACTS))], name="h2")(x)
    out = L.Dense(3, name="logits")(x)
    return keras.Model(inp, out)


def cnn(rng):
    L = keras.layers
    inp = keras.Input((6, 6, 2))
    x = L.Conv2D(
        3,
        int(rng.integers(2, 4)),
        strides=int(rng.integers(1, 3)),
        padding=["valid", "same"][rng.integers(2)],
        activation=["relu", "tanh", None][rng.integers(3)],
        name="conv",
    )(inp)
    pool = [L.MaxPooling2D, L.AveragePooling2D][rng.integers(2)]
    x = pool(2, strides=int(rng.integers(1, 3)), padding=["valid", "same"][rng.integers(2)], name="pool")(x)
    x = L.BatchNormalization(name="bn")(x)
    x = L.Conv2D(
        2,
        int(rng.integers(1, 3)),
        dilation_rate=int(rng.integers(1, 3)),
        padding="same",
        activation="relu",
        name="conv2",
    )(x)
    x = L.GlobalAveragePooling2D(name="gap")(x) if rng.integers(2) else L.Flatten(name="flat")(x)
    return keras.Model(inp, L.Dense(3, name="logits")(x))


def objective_for(kind, rng, model):
    if kind == "logit":
        return fv.ClassLogit(int(rng.integers(3)))
    if kind == "margin":
        return fv.ClassLogit(0) - 0.5 * fv.ClassLogit(2)
    if kind == "prob":
        return fv.ClassProbability(int(rng.integers(3)))
    conv = any(layer.name == "conv" for layer in model.layers)
    if kind == "hidden" and conv:
        return fv.Channel("conv", 1, reduce=["mean", "max"][rng.integers(2)])
    if kind == "hidden":
        units = model.get_layer("h2").output.shape[-1]
        return fv.Direction("h2", rng.normal(size=units)) + fv.Neuron("h2", 0)
    return fv.ClassLogit(1) + 2.0 * fv.ClassProbability(0)


def constraint_for(kind, rng, shape, radius):
    x0 = rng.uniform(0.2, 0.8, size=shape)
    if kind == "linf":
        return fv.Box(0, 1) & fv.LpBall(x0, radius, p=np.inf)
    if kind == "l2":
        return fv.LpBall(x0, radius * np.sqrt(np.prod(shape)) / 2, p=2)
    return fv.Box(0.2, 0.8) & fv.LpBall(x0, radius * 2, p=2)


def points_in(constraint, shape, rng, n=1000):
    """Random points of the set: uniform in its bounding box, pulled into it by the exact projection,
    plus points on the ball's surface; and every vertex of the box when the dimension is <= 8."""
    canon = constraint.canonical((1, *shape))
    low, high = canon.low[0], canon.high[0]
    if canon.has_ball:
        r = canon.radius[0]
        low, high = np.maximum(low, canon.center[0] - r), np.minimum(high, canon.center[0] + r)
        d = rng.normal(size=(n // 2, *shape))
        d *= r / np.sqrt((d**2).reshape(n // 2, -1).sum(axis=1)).reshape((-1,) + (1,) * len(shape))
        surface = canon.center[0] + d
    else:
        surface = np.empty((0, *shape))
    pts = [low + rng.uniform(size=(n, *shape)) * (high - low), surface]
    if int(np.prod(shape)) <= 8:
        corners = np.array(list(itertools.product([0.0, 1.0], repeat=int(np.prod(shape))))).reshape((-1, *shape))
        pts.append(low + corners * (high - low))
    x = np.concatenate(pts)
    return constraint.project(x).astype(np.float32)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    arch=st.sampled_from(["mlp", "cnn"]),
    dim=st.integers(2, 8),
    set_kind=st.sampled_from(["linf", "l2", "box_l2"]),
    radius=st.floats(0.01, 0.4),
    obj_kind=st.sampled_from(["logit", "margin", "prob", "hidden", "mixed"]),
    method=st.sampled_from(["ibp", "crown", "crown-ibp"]),
)
def test_bounds_sandwich_the_real_model(seed, arch, dim, set_kind, radius, obj_kind, method):
    rng = np.random.default_rng(seed)
    model = mlp(rng, dim) if arch == "mlp" else cnn(rng)
    _set_random_weights(model, rng)
    shape = tuple(model.inputs[0].shape[1:])
    objective = objective_for(obj_kind, rng, model)
    constraint = constraint_for(set_kind, rng, shape, radius)
    b_ = bounds(model, objective, constraints=constraint, method=method)
    x = points_in(constraint, shape, rng)
    assert constraint.contains(x, atol=1e-5).all()
    values = evaluate(model, objective, x)
    assert b_.known[0]
    assert values.max() <= b_.upper[0], (values.max(), b_)
    assert values.min() >= b_.lower[0], (values.min(), b_)
    if method == "ibp":
        wider = bounds(model, objective, constraints=_grown(constraint), method="ibp")
        assert wider.upper[0] >= b_.upper[0] and wider.lower[0] <= b_.lower[0]


def _grown(constraint):
    """The same set with its ball's radius doubled (same centre)."""
    parts = constraint._parts()
    ball = next(p for p in parts if isinstance(p, fv.LpBall))
    grown = fv.LpBall(ball.center, ball.radius * 2, p=ball.p)
    return fv.Intersection(tuple(grown if p is ball else p for p in parts))


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), arch=st.sampled_from(["mlp", "cnn"]), method=st.sampled_from(METHODS))
def test_a_single_point_gives_the_model_value(seed, arch, method):
    """A degenerate box is one point: both bounds must be the Keras model's own value there
    (checks the translation of every layer: padding, pooling counts, BN epsilon...)."""
    rng = np.random.default_rng(seed)
    model = mlp(rng, 5) if arch == "mlp" else cnn(rng)
    _set_random_weights(model, rng)
    x = rng.uniform(0, 1, size=(1, *model.inputs[0].shape[1:])).astype(np.float32)
    objective = fv.ClassLogit(0) - fv.ClassLogit(1)
    b_ = bounds(model, objective, constraints=fv.Box(x[0], x[0]), method=method)
    value = evaluate(model, objective, x)
    np.testing.assert_allclose(b_.real_lower, value, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(b_.real_upper, value, rtol=1e-4, atol=1e-5)
    assert b_.lower[0] <= value[0] <= b_.upper[0]


RELAXED = [
    Activation("relu"),
    Activation("leaky_relu", 0.2),
    Activation("relu6", 0.0, 6.0),
    Activation("sigmoid"),
    Activation("tanh"),
    Activation("elu", 0.5),
    Activation("elu", 1.0),
    Activation("elu", 2.0),
    Activation("softplus"),
    Activation("hard_sigmoid"),
]


@pytest.mark.parametrize("act", RELAXED, ids=lambda a: f"{a.name}-{a.alpha}")
def test_activation_relaxations_hold_on_their_interval(act):
    rng = np.random.default_rng(0)
    centre = rng.uniform(-8, 8, size=400)
    width = np.concatenate([rng.uniform(0, 10, size=390), np.zeros(5), np.full(5, 1e-13)])
    low, high = centre - width / 2, centre + width / 2
    al, bl, au, bu = act.relax(low, high)
    x = low[:, None] + np.linspace(0, 1, 201)[None, :] * (high - low)[:, None]
    fx = act.f(x)
    slack = 1e-12 * (1 + np.abs(fx))
    assert np.all(al[:, None] * x + bl[:, None] <= fx + slack)
    assert np.all(au[:, None] * x + bu[:, None] >= fx - slack)
    relu = Activation("relu")
    al, _, au, _ = relu.relax(np.array([-1.0, -3.0]), np.array([3.0, 1.0]))
    assert au.tolist() == [0.75, 0.25] and al.tolist() == [1.0, 0.0]


def test_max_pool_relaxation_holds_on_its_box():
    rng = np.random.default_rng(1)
    gh, gw = geometry(5, 2, 2, 1, "same"), geometry(5, 3, 1, 1, "valid")
    pool = MaxPool2D(gh, gw)
    low = rng.normal(size=(1, 5, 5, 2))
    high = low + rng.uniform(0, 1.5, size=low.shape)
    a = rng.normal(size=(1, 4, gh.out, gw.out, 2))
    a_in, const = pool.backward(a, pool.relax(low, high), (5, 5, 2))
    x = low + rng.uniform(size=(500, 5, 5, 2)) * (high - low)
    lhs = np.einsum("kijc,nijc->nk", a[0], pool.f(x))
    rhs = np.einsum("kijc,nijc->nk", a_in[0], x) + const
    assert np.all(lhs <= rhs + 1e-12)


@pytest.mark.parametrize(
    "op",
    [
        Dense(np.random.default_rng(0).normal(size=(4, 3)), np.arange(3.0)),
        Conv2D(
            np.random.default_rng(1).normal(size=(3, 2, 4, 3)),
            np.arange(3.0),
            geometry(6, 3, 2, 1, "same"),
            geometry(5, 2, 1, 2, "same"),
        ),
        Conv2D(
            np.random.default_rng(2).normal(size=(2, 2, 4, 2)),
            np.zeros(2),
            geometry(6, 2, 2, 1, "valid"),
            geometry(5, 2, 1, 1, "valid"),
        ),
        avg_pool((6, 5), (2, 3), (2, 2), "same"),
        GlobalAvgPool2D((6, 5, 4), False),
        DepthwiseConv2D(
            np.random.default_rng(4).normal(size=(3, 2, 4, 2)),
            np.arange(8.0),
            geometry(6, 3, 2, 1, "same"),
            geometry(5, 2, 1, 2, "valid"),
        ),
        Pad2D(((1, 2), (0, 3))),
    ],
    ids=["dense", "conv-same", "conv-valid", "avgpool-same", "gap", "depthwise", "pad"],
)
def test_linear_ops_adjoints(op):
    """``<op(x), a> = <x, op^T(a)> + <a, bias>``: the backward pass is the forward's transpose."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 4) if isinstance(op, Dense) else (2, 6, 5, 4))
    y = op.apply([x], "value")
    a = rng.normal(size=y.shape)
    lhs = (y * a).reshape(2, -1).sum(axis=1)
    rhs = (x * op.transpose(a)[0]).reshape(2, -1).sum(axis=1) + op.bias_dot(a)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("depthwise", [False, True], ids=["conv", "depthwise"])
def test_convolution_adjoint_is_the_same_in_any_chunk_of_rows(monkeypatch, depthwise):
    """The adjoint makes its products a chunk of rows at a time: one row per chunk gives the same
    array, bitwise; a stride past the kernel (positions no offset reads) and a dilation included."""
    rng = np.random.default_rng(5)
    gh, gw = geometry(8, 2, 3, 1, "valid"), geometry(9, 3, 2, 2, "same")
    kernel = rng.normal(size=(2, 3, 4, 2))
    op = DepthwiseConv2D(kernel, np.zeros(8), gh, gw) if depthwise else Conv2D(kernel, np.zeros(2), gh, gw)
    x = rng.normal(size=(5, 8, 9, 4))
    y = op.apply([x], "value")
    a = rng.normal(size=y.shape)
    whole = op.transpose(a)[0]
    lhs = (y * a).reshape(5, -1).sum(axis=1)
    np.testing.assert_allclose(lhs, (x * whole).reshape(5, -1).sum(axis=1), rtol=1e-12, atol=1e-12)
    monkeypatch.setattr(linear, "COLUMNS_CHUNK", 1)
    np.testing.assert_array_equal(op.transpose(a)[0], whole)


# -- refusals and unknowns -------------------------------------------------------------------------


def test_lambda_layer_is_refused_by_name_and_class():
    inp = keras.Input((3,))
    x = keras.layers.Lambda(lambda t: t * 2, name="doubler")(inp)
    model = keras.Model(inp, keras.layers.Dense(2)(x))
    with pytest.raises(ConfigurationError, match=r"'doubler' \(Lambda\)"):
        bounds(model, fv.ClassLogit(0), constraints=fv.Box(0, 1))


def test_unsupported_activation_is_refused():
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4, activation="gelu", name="g"), keras.layers.Dense(2)]
    )
    with pytest.raises(ConfigurationError, match=r"'g' \(Dense\).*'gelu'"):
        bounds(model, fv.ClassLogit(0), constraints=fv.Box(0, 1))
    probs = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax", name="p")])
    assert bounds(probs, fv.ClassLogit(1), constraints=fv.Box(0, 1)).known.all()
    with pytest.raises(ConfigurationError, match=r"'p' \(Dense\).*'softmax'.*ClassProbability"):
        bounds(probs, fv.Neuron("p", 1), constraints=fv.Box(0, 1))


@pytest.mark.parametrize("objective", [fv.TotalVariation(), fv.LayerEnergy("d0"), fv.ClassLogit(0) - 0.1 * fv.L2()])
def test_unsupported_objectives_are_refused(objective):
    model, _, _ = linear_model()
    with pytest.raises(ConfigurationError, match="not affine"):
        bounds(model, objective, constraints=fv.Box(0, 1))


def test_bad_arguments_are_refused():
    model, _, _ = linear_model()
    choices = "'alpha-crown', 'crown', 'crown-ibp', 'ibp'; did you mean 'alpha-crown'"
    with pytest.raises(ConfigurationError, match=f"method='alpha' is not one of {choices}"):
        bounds(model, fv.ClassLogit(0), constraints=fv.Box(0, 1), method="alpha")
    with pytest.raises(ConfigurationError, match="threshold must be a finite number; got nan"):
        certify_not_reaches(model, fv.ClassLogit(0), float("nan"), constraints=fv.Box(0, 1))
    with pytest.raises(FeatvizTypeError, match=r"threshold must be a finite number; got '1' \(str\)"):
        certify_not_reaches(model, fv.ClassLogit(0), "1", constraints=fv.Box(0, 1))


def test_nan_weights_give_unknown_never_proven():
    model, w, b = linear_model()
    hidden = dense_model([(np.full((6, 3), np.nan), np.zeros(3)), (w[:3], b)], activations=["relu", None])
    cert = certify_not_reaches(hidden, fv.ClassLogit(0), 1e9, constraints=fv.Box(0, 1))
    assert cert.status == ("unknown",) and np.isnan(cert.bounds.upper[0])
    assert not cert.proven


def test_certificate_and_bounds_describe_themselves():
    model, w, b = linear_model()
    cert = certify_not_reaches(model, fv.ClassLogit([0, 1]), 100.0, constraints=fv.Box(0, 1))
    assert cert.proven and cert.status == ("proven", "proven")
    assert repr(cert).startswith("Certificate(ClassLogit([0, 1]) < 100: proven 2/2")
    assert "method='crown'" in repr(cert.bounds) and isinstance(cert.bounds, Bounds)


# -- the seed models -------------------------------------------------------------------------------


def _digits():
    data = np.load(MODELS / "digits_test.npz")
    return data["x_test"].astype(np.float32) / 255, data["y_test"]


@pytest.mark.skipif(not (MODELS / "digits_mlp.keras").exists(), reason="seed MLP not trained")
def test_seed_mlp_certification_figures():
    """Fraction of 100 correctly classified test digits for which no other class provably reaches
    probability 0.5 in Box(0, 1) & L-inf ball(eps)."""
    model = fv.load_model(MODELS / "digits_mlp.keras")
    x, y = _digits()
    correct = np.argmax(model.predict(x, verbose=0), axis=1) == y
    x, y = x[correct][:100], y[correct][:100]
    pairs = [(i, j) for i in range(len(y)) for j in range(10) if j != y[i]]
    items = np.array([i for i, _ in pairs])
    others = [j for _, j in pairs]
    figures = {}
    for eps in (0.001, 0.01, 0.03):
        c = fv.Box(0, 1) & fv.LpBall(x[items], eps, p=np.inf)
        for method in METHODS:
            cert = certify_not_reaches(
                model, fv.ClassProbability(others), 0.5, constraints=c, method=method, start=x[items]
            )
            proven = np.ones(len(y), dtype=bool)
            np.logical_and.at(proven, items, np.array(cert.status) == "proven")
            figures[eps, method] = proven.mean()
    print("certified fractions:", figures)
    assert figures[0.001, "ibp"] >= 0.95 and figures[0.001, "crown"] >= 0.95
    assert figures[0.01, "crown"] >= 0.9 and figures[0.03, "crown"] >= 0.6
    for eps in (0.001, 0.01, 0.03):
        assert figures[eps, "crown"] >= figures[eps, "ibp"]
    assert figures[0.03, "ibp"] < figures[0.03, "crown"]


@pytest.mark.skipif(not (MODELS / "digits_cnn.keras").exists(), reason="seed CNN not trained")
def test_seed_cnn_bounds_hold_what_ascent_finds():
    model = fv.load_model(MODELS / "digits_cnn.keras")
    x, y = _digits()
    x0 = x[:2, ..., None]
    c = fv.Box(0, 1) & fv.LpBall(x0, 0.02, p=np.inf)
    objective = fv.ClassLogit([1, 2]) - fv.ClassLogit(list(y[:2]))
    b_ = bounds(model, objective, constraints=c, start=x0)
    found = fv.ascend(model, objective, start=x0, constraints=c, steps=64, optimizer="sign")
    low = fv.ascend(model, -objective, start=x0, constraints=c, steps=64, optimizer="sign")
    assert np.all(found.values <= b_.upper) and np.all(-low.values >= b_.lower)
    assert b_.method == "crown"  # full CROWN on every convolution (patches), no IBP fallback
