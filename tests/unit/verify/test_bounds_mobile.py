"""Sound bounds of mobile-architecture layers (depthwise/separable convolutions, zero padding,
ReLU6, squeeze-and-excitation products, global max pooling, hard/silu activations) and of
nested models: sampled points, random box vertices and a projected-gradient search never
leave the bounds; exact answers where they are known."""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest
from test_bounds import _set_random_weights, evaluate

import pytest_featviz as fv
from pytest_featviz.errors import ConfigurationError
from pytest_featviz.verify import bounds
from pytest_featviz.verify.nonlinear import Multiply

L = keras.layers
METHODS = ["ibp", "crown"]
SHAPE = (6, 6, 2)


def _randomise(model, seed):
    """Random weights, and BatchNormalization statistics that are not the identity."""
    rng = np.random.default_rng(seed)
    _set_random_weights(model, rng)
    for layer in _all_layers(model):
        if isinstance(layer, L.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights(
                [
                    rng.uniform(0.5, 2, gamma.shape).astype(np.float32),
                    rng.normal(0, 0.3, beta.shape).astype(np.float32),
                    rng.normal(0, 0.3, mean.shape).astype(np.float32),
                    rng.uniform(0.3, 2, var.shape).astype(np.float32),
                ]
            )
    return model


def _all_layers(model):
    for layer in model.layers:
        yield from (_all_layers(layer) if isinstance(layer, keras.Model) else [layer])


def mobile_block(inp, name="block"):
    """Conv-BN-ReLU6, depthwise-BN-ReLU6, squeeze-excite, pointwise conv, residual Add."""
    x = L.Conv2D(4, 1, name=f"{name}_expand")(inp)
    x = L.BatchNormalization()(x)
    x = L.ReLU(6.0)(x)
    x = L.DepthwiseConv2D(3, padding="same")(x)
    x = L.BatchNormalization()(x)
    x = L.ReLU(max_value=6)(x)
    s = L.GlobalAveragePooling2D()(x)
    s = L.Dense(2, activation="relu")(s)
    s = L.Dense(4, activation="sigmoid")(s)
    s = L.Reshape((1, 1, 4))(s)
    x = L.Multiply(name=f"{name}_se")([x, s])
    x = L.Conv2D(2, 1, name=f"{name}_project")(x)
    return L.Add(name=f"{name}_out")([inp, x])


def head(x):
    x = L.GlobalAveragePooling2D()(x)
    return L.Dense(3, name="logits")(x)


def mobile_model(seed=0):
    inp = keras.Input(SHAPE)
    return _randomise(keras.Model(inp, head(mobile_block(inp))), seed)


def nested_mobile_model(seed=0, sequential=False, sequential_base=False):
    inp = keras.Input(SHAPE)
    base = keras.Model(inp, mobile_block(inp), name="base")
    if sequential_base:  # a Sequential base holding the block as a nested Functional model
        base = keras.Sequential([keras.Input(SHAPE), base, L.Identity()], name="outer_base")
    if sequential:
        model = keras.Sequential([base, L.GlobalAveragePooling2D(), L.Dense(3, name="logits")])
        if not model.built:  # Keras 3.3 does not build a Sequential from its first layer's (a model's) input
            model.build((None, *SHAPE))  # shape; newer ones do, exactly like this, when it is constructed
    else:
        outer = keras.Input(SHAPE)
        model = keras.Model(outer, head(base(outer)))
    return _randomise(model, seed)


def samples(box, rng, n=400):
    """Uniform points, random vertices and the centre of the box ``(low, high)``."""
    low, high = box
    inside = low + rng.uniform(size=(n, *low.shape)) * (high - low)
    vertices = np.where(rng.integers(0, 2, size=(n, *low.shape)).astype(bool), high, low)
    return np.concatenate([inside, vertices, [(low + high) / 2]]).astype(np.float32)


def assert_sound(model, objective, box, rng, *, search=True, steps=24):
    """Samples, vertices and (``search``) projected gradient ascent/descent stay inside the bounds."""
    x = samples(box, rng)
    values = evaluate(model, objective, x)
    found = []
    for method in METHODS:
        b = bounds(model, objective, constraints=fv.Box(*box), method=method)
        assert b.known.all() and np.all(b.lower <= b.upper)
        assert values.max() <= b.upper[0] and values.min() >= b.lower[0], (method, values.min(), values.max(), b)
        if search:
            kw = dict(constraints=fv.Box(*box), steps=steps, optimizer="sign", seed=0)
            top = fv.ascend(model, objective, **kw).values
            bottom = -fv.ascend(model, -objective, **kw).values
            found.append((top, bottom))
            assert np.all(top <= b.upper) and np.all(bottom >= b.lower), (method, top, bottom, b)
    return found


def single_layer_model(layer, shape=SHAPE, seed=0):
    inp = keras.Input(shape)
    x = layer(inp)
    x = L.Flatten()(x)
    return _randomise(keras.Model(inp, L.Dense(3, name="logits")(x)), seed)


LAYERS = {
    "depthwise-same-mult2": lambda: L.DepthwiseConv2D(3, padding="same", depth_multiplier=2, activation="relu6"),
    "depthwise-valid-stride2": lambda: L.DepthwiseConv2D(3, strides=2, use_bias=False),
    "depthwise-dilated": lambda: L.DepthwiseConv2D(2, dilation_rate=2, activation="tanh"),
    "separable": lambda: L.SeparableConv2D(3, 3, padding="same", depth_multiplier=2, activation="relu"),
    "separable-stride2": lambda: L.SeparableConv2D(2, 2, strides=2, activation="hard_swish"),
    "zero-padding": lambda: L.ZeroPadding2D(((1, 2), (0, 1))),
    "identity": lambda: L.Identity(),
    "relu6-leaky": lambda: L.ReLU(max_value=0.8, negative_slope=0.3),
    "hard-sigmoid": lambda: L.Activation("hard_sigmoid"),
    "hard-swish": lambda: L.Activation("hard_swish"),
    "swish": lambda: L.Activation("swish"),
    "global-max": lambda: L.GlobalMaxPooling2D(),
    "global-max-keepdims": lambda: L.GlobalMaxPooling2D(keepdims=True),
    "max-pool-same": lambda: L.MaxPooling2D(2, padding="same"),
}


@pytest.mark.parametrize("kind", LAYERS)
def test_each_layer_is_bounded_soundly(kind):
    rng = np.random.default_rng(1)
    model = single_layer_model(LAYERS[kind]())
    box = (rng.uniform(-1.5, 0.5, SHAPE), None)
    box = (box[0], box[0] + rng.uniform(0.1, 1.5, SHAPE))
    objective = fv.ClassLogit(0) - fv.ClassLogit(1)
    assert_sound(model, objective, box, rng, search=False)
    x = box[0][None].astype(np.float32)  # a single point: the layer's own value, exactly
    value = evaluate(model, objective, x)
    for method in METHODS:
        b = bounds(model, objective, constraints=fv.Box(x[0], x[0]), method=method)
        np.testing.assert_allclose([b.real_lower[0], b.real_upper[0]], [value[0]] * 2, rtol=1e-5, atol=1e-6)


def test_multiply_of_two_branches_is_bounded_soundly():
    rng = np.random.default_rng(2)
    inp = keras.Input((5,))
    a, b = L.Dense(4, activation="tanh")(inp), L.Dense(4)(inp)
    c = L.Dense(1)(inp)
    x = L.Multiply()([a, b, c])  # three factors, one broadcast
    model = _randomise(keras.Model(inp, L.Dense(2)(x)), 2)
    low = rng.uniform(-1, 0, 5)
    assert_sound(model, fv.ClassLogit(0), (low, low + 1.0), rng)


def test_multiply_relaxation_holds_on_its_box():
    """McCormick planes bound ``a . (x * y)`` for every point of the box, with broadcasting."""
    rng = np.random.default_rng(3)
    op = Multiply(((3, 4, 2), (1, 1, 2)), (3, 4, 2))
    lx = rng.normal(size=(1, 3, 4, 2))
    ly = rng.normal(size=(1, 1, 1, 2))
    ux, uy = lx + rng.uniform(0, 2, lx.shape), ly + rng.uniform(0, 2, ly.shape)
    a = rng.normal(size=(1, 5, 3, 4, 2))
    (ax, ay), const = op.backward(a, op.relax([lx, ly], [ux, uy]))
    low, high = op.interval([lx, ly], [ux, uy])
    x = lx + rng.uniform(size=(300, 3, 4, 2)) * (ux - lx)
    y = ly + rng.uniform(size=(300, 1, 1, 2)) * (uy - ly)
    z = op.f(x, y)
    assert np.all(low <= z) and np.all(z <= high)
    lhs = np.einsum("kijc,nijc->nk", a[0], z)
    rhs = np.einsum("kijc,nijc->nk", ax[0], x) + np.einsum("kijc,nijc->nk", ay[0], y) + const
    assert np.all(lhs <= rhs + 1e-12)
    corners = np.stack([lx * ly, lx * uy, ux * ly, ux * uy])
    np.testing.assert_array_equal(low, corners.min(axis=0))  # the interval is exact
    np.testing.assert_array_equal(high, corners.max(axis=0))


@pytest.mark.parametrize("layer", [L.ZeroPadding2D(((1, 0), (2, 1))), L.Identity()], ids=["pad", "identity"])
def test_ibp_of_padding_and_identity_is_the_padded_input_interval(layer):
    rng = np.random.default_rng(4)
    inp = keras.Input((2, 3, 1))
    model = keras.Model(inp, L.Flatten(name="flat")(layer(inp)))
    low = rng.uniform(-1, 0, (2, 3, 1))
    high = low + rng.uniform(0, 1, low.shape)
    pads = ((1, 0), (2, 1), (0, 0)) if isinstance(layer, L.ZeroPadding2D) else ((0, 0),) * 3
    want_low, want_high = np.pad(low, pads).ravel(), np.pad(high, pads).ravel()
    b = bounds(model, fv.Neuron("flat", list(range(want_low.size))), constraints=fv.Box(low, high), method="ibp")
    np.testing.assert_array_equal(b.real_lower, want_low)
    np.testing.assert_array_equal(b.real_upper, want_high)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    "build",
    [mobile_model, nested_mobile_model, lambda: nested_mobile_model(sequential=True)],
    ids=["flat", "nested", "nested-sequential"],
)
def test_a_single_point_gives_the_mobile_block_value(method, build):
    model = build()
    x = np.random.default_rng(5).uniform(0, 1, (1, *SHAPE)).astype(np.float32)
    objective = fv.ClassLogit(0) - fv.ClassLogit(2)
    b = bounds(model, objective, constraints=fv.Box(x[0], x[0]), method=method)
    value = evaluate(model, objective, x)
    np.testing.assert_allclose(b.real_lower, value, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(b.real_upper, value, rtol=1e-4, atol=1e-5)
    assert b.lower[0] <= value[0] <= b.upper[0]


@pytest.mark.parametrize(
    "build",
    [
        mobile_model,
        nested_mobile_model,
        lambda: nested_mobile_model(sequential=True),
        lambda: nested_mobile_model(sequential_base=True),
    ],
    ids=["flat", "nested", "nested-sequential", "twice-nested"],
)
def test_mobile_block_bounds_hold_what_sampling_and_search_find(build):
    rng = np.random.default_rng(6)
    model = build()
    x0 = rng.uniform(0.2, 0.8, SHAPE)
    box = (x0 - 0.2, x0 + 0.2)
    for objective in (fv.ClassLogit(1), fv.ClassProbability(0)):
        assert_sound(model, objective, box, rng)


def test_nested_and_flat_models_get_the_same_bounds():
    """The nested model's graph is translated through the outer call, not the layers' first calls."""
    flat = mobile_model(7)
    for nested in (
        nested_mobile_model(7),
        nested_mobile_model(7, sequential=True),
        nested_mobile_model(7, sequential_base=True),
    ):
        nested.set_weights(flat.get_weights())
        box = fv.Box(0, 1)
        for method in METHODS:
            a = bounds(flat, fv.ClassLogit(2), constraints=box, method=method)
            b = bounds(nested, fv.ClassLogit(2), constraints=box, method=method)
            np.testing.assert_allclose([a.real_lower, a.real_upper], [b.real_lower, b.real_upper], rtol=1e-12)


def test_a_nested_layer_path_is_translated_like_the_flat_layer():
    """``'base/block_se'``: the layer ``block_se`` inside the nested model ``base`` (the graph
    level; objectives accept such paths once models.py resolves them)."""
    from pytest_featviz.verify.targets import build_graph

    flat, nested = mobile_model(8), nested_mobile_model(8)
    g_flat, n_flat = build_graph(flat, ["block_se"])
    g_nested, n_nested = build_graph(nested, ["base/block_se"])
    assert [(type(n.op), n.inputs, n.shape) for n in g_flat.nodes] == [
        (type(n.op), n.inputs, n.shape) for n in g_nested.nodes
    ]
    assert n_flat["block_se"] == n_nested["base/block_se"] == len(g_flat.nodes) - 1
    with pytest.raises(ConfigurationError, match="'block_expand' is a Conv2D, not a nested model"):
        build_graph(flat, ["block_expand/x"])


def test_a_shared_layer_called_in_two_graphs_uses_the_model_own_call():
    """A layer first called in another graph: its ``output`` belongs to that call."""
    shared = L.Dense(3, activation="relu", name="shared")
    other = keras.Input((4,))
    shared(other)  # first call, in a graph that is not the model's
    inp = keras.Input((4,))
    first = L.Dense(4)
    model = _randomise(keras.Model(inp, L.Dense(2)(shared(first(inp)))), 9)
    rng = np.random.default_rng(9)
    assert_sound(model, fv.ClassLogit(0), (np.zeros(4), np.ones(4)), rng, search=False)
    x = rng.uniform(size=(1, 4)).astype(np.float32)
    value = keras.ops.convert_to_numpy(shared(first(x)))[0, 1]
    b = bounds(model, fv.Neuron("shared", 1), constraints=fv.Box(x[0], x[0]))
    np.testing.assert_allclose([b.real_lower[0], b.real_upper[0]], [value, value], rtol=1e-5, atol=1e-6)


def test_arithmetic_on_symbolic_tensors_is_bounded_soundly():
    """``keras.ops`` arithmetic (not layers): with constants, and of two tensors."""
    rng = np.random.default_rng(13)
    inp = keras.Input((3, 3, 2))
    x = L.Conv2D(2, 1)(inp)
    h = L.ReLU(6.0)(x + 3.0) * (1.0 / 6.0)  # MobileNetV3's hard sigmoid
    y = (2.0 - x) / 4.0 - 0.5
    z = h * y + x
    model = _randomise(keras.Model(inp, L.Dense(2)(L.Flatten()(z))), 13)
    low = rng.uniform(-2, 0, (3, 3, 2))
    assert_sound(model, fv.ClassLogit(0), (low, low + 2.0), rng, search=False)
    x0 = rng.uniform(size=(1, 3, 3, 2)).astype(np.float32)
    b = bounds(model, fv.ClassLogit(1), constraints=fv.Box(x0[0], x0[0]), method="crown")
    value = evaluate(model, fv.ClassLogit(1), x0)
    np.testing.assert_allclose([b.real_lower[0], b.real_upper[0]], [value[0]] * 2, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("app", ["MobileNetV2", "MobileNetV3Small"])
def test_keras_mobilenets_are_translated_exactly(app):
    """A degenerate box gives the model's own value (every layer and constant translated right);
    a small box is sound against sampled points."""
    build = getattr(keras.applications, app)
    model = build(input_shape=(32, 32, 3), alpha=0.35 if app == "MobileNetV2" else 0.75, weights=None, classes=3)
    rng = np.random.default_rng(14)
    x0 = rng.uniform(0, 1, (1, 32, 32, 3)).astype(np.float32)
    objective = fv.ClassLogit(0) - fv.ClassLogit(1)
    value = evaluate(model, objective, x0)
    b = bounds(model, objective, constraints=fv.Box(x0[0], x0[0]), method="ibp")
    np.testing.assert_allclose([b.real_lower[0], b.real_upper[0]], [value[0]] * 2, rtol=1e-4, atol=1e-5)
    box = (x0[0] - 1e-3, x0[0] + 1e-3)
    values = evaluate(model, objective, samples(box, rng, n=50))
    for method in METHODS:
        b = bounds(model, objective, constraints=fv.Box(*box), method=method)
        assert b.lower[0] <= values.min() and values.max() <= b.upper[0]


# -- refusals ---------------------------------------------------------------------------------------


def test_relu_threshold_is_refused_by_name():
    model = single_layer_model(L.ReLU(threshold=0.5, name="thr"))
    with pytest.raises(ConfigurationError, match=r"'thr' \(ReLU\).*threshold.*Supported layers:.*DepthwiseConv2D"):
        bounds(model, fv.ClassLogit(0), constraints=fv.Box(0, 1))


def test_unsupported_keras_ops_are_refused_as_operations():
    inp = keras.Input((3,))
    model = keras.Model(inp, L.Dense(2)(keras.ops.sin(inp)))
    with pytest.raises(ConfigurationError, match=r"\(Sin\): it is a keras.ops operation .* not a layer"):
        bounds(model, fv.ClassLogit(0), constraints=fv.Box(0, 1))
    inp = keras.Input((3,))
    model = keras.Model(inp, L.Dense(2)(2.0 / inp))
    with pytest.raises(ConfigurationError, match="dividing a constant by a tensor"):
        bounds(model, fv.ClassLogit(0), constraints=fv.Box(0, 1))


def test_certify_refuses_an_unsupported_layer_before_any_search(monkeypatch):
    import pytest_featviz.claims.reach as reach
    import pytest_featviz.claims.search as search

    def no_search(*args, **kwargs):
        raise AssertionError("the search ran before the unsupported layer was refused")

    monkeypatch.setattr(reach, "run_search", no_search)
    monkeypatch.setattr(search, "ascend", no_search)
    inp = keras.Input((3,))
    x = L.Lambda(lambda t: t * 2, name="doubler")(inp)
    model = keras.Model(inp, L.Dense(2)(x))
    with pytest.raises(ConfigurationError, match=r"'doubler' \(Lambda\).*Supported layers: InputLayer, Dense"):
        fv.assert_not_reaches(model, fv.ClassLogit(0), 10.0, constraints=fv.Box(0, 1), certify=True)


def test_batchnorm_bounds_raise_no_warnings():
    model = mobile_model(10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for method in METHODS:
            assert bounds(model, fv.ClassLogit(0), constraints=fv.Box(0, 1), method=method).known.all()


def test_overflowing_bounds_are_unknown_without_warnings():
    """Weights of 3e38 overflow float64 after a few layers: infinite or NaN bounds, never a warning."""
    model = keras.Sequential([keras.Input((4,)), *[L.Dense(4) for _ in range(12)], L.BatchNormalization(), L.Dense(2)])
    model.set_weights([np.full_like(w, 3e38) for w in model.get_weights()])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for method in METHODS:
            b = bounds(model, fv.ClassLogit(0), constraints=fv.Box(0, 1), method=method)
            assert not b.known.any()
            assert not certify_not_reaches_proven(model, method)


def certify_not_reaches_proven(model, method):
    from pytest_featviz.verify import certify_not_reaches

    return certify_not_reaches(model, fv.ClassLogit(0), 1.0, constraints=fv.Box(0, 1), method=method).proven


def test_a_saturating_activation_caps_the_float_error_bound():
    """After ReLU6 the computed and exact values both lie in [0, 6]: the float32 error bound
    carried on is at most 6 however large it was before (it used to grow by |W| per layer)."""
    rng = np.random.default_rng(12)
    model = keras.Sequential([keras.Input((4,)), L.Dense(64), L.Dense(64), L.ReLU(6.0), L.Dense(1)])
    weights = [rng.normal(size=w.shape).astype(np.float32) * (1e6 if w.ndim == 2 else 1.0) for w in model.get_weights()]
    weights[-2] = np.abs(weights[-2]) * 1e-6  # the last layer: positive, of order 1
    model.set_weights(weights)
    b = bounds(model, fv.ClassLogit(0), constraints=fv.Box(0, 1), method="ibp")
    widening = b.upper[0] - b.real_upper[0]
    assert 0 < widening <= 2 * 6.001 * weights[-2].sum() + 1e-5
    x = samples((np.zeros(4), np.ones(4)), rng)
    values = evaluate(model, fv.ClassLogit(0), x)
    assert b.lower[0] <= values.min() and values.max() <= b.upper[0]


def test_a_layer_called_twice_in_the_model_is_bounded_at_its_first_call():
    """As Keras' ``layer.output`` and the search's feature extractor: the earliest call."""
    shared = L.Dense(4, activation="tanh", name="twice")
    inp = keras.Input((4,))
    model = _randomise(keras.Model(inp, L.Dense(2)(shared(L.Dense(4)(shared(inp))))), 15)
    x = np.random.default_rng(15).uniform(size=(1, 4)).astype(np.float32)
    objective = fv.Neuron("twice", 2)
    b = bounds(model, objective, constraints=fv.Box(x[0], x[0]))
    want = keras.ops.convert_to_numpy(shared(x))[0, 2]
    np.testing.assert_allclose(
        [b.real_lower[0], b.real_upper[0], evaluate(model, objective, x)[0]], [want] * 3, rtol=1e-5, atol=1e-6
    )
