"""Model shapes featviz meets in the wild: output heads (softmax, sigmoid, several outputs),
dtypes (mixed precision, float64), and the models it cannot use, refused with a clear message."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import pytest_featviz as fv
from pytest_featviz.errors import ConfigurationError, LayerNotFoundError, ModelLoadError
from pytest_featviz.models import FeatureExtractor, model_info

X = np.random.default_rng(0).uniform(0, 1, (2, 4)).astype("float32")


def value(model, objective, x=X):
    """The objective at ``x``, computed the way the ascent computes it."""
    objective.validate(model_info(model))
    ctx = FeatureExtractor(model, objective.layers())(tf.constant(x))
    return objective.evaluate(ctx, objective.params(len(x))).numpy()


def logits_of(dense, x=X):
    kernel, bias = dense.get_weights()
    return x @ kernel + bias


def dense_then(last, seed=0):
    """Input(4) -> Dense(3, name='logits') -> ``last``; returns (model, the Dense layer)."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input((4,))
    dense = keras.layers.Dense(3, name="logits")
    return keras.Model(inp, last(dense(inp))), dense


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


SOFTMAX_HEADS = {
    "Activation(tf.nn.softmax)": lambda: keras.layers.Activation(tf.nn.softmax),
    "Activation(keras.activations.softmax)": lambda: keras.layers.Activation(keras.activations.softmax),
    "Activation('softmax')": lambda: keras.layers.Activation("softmax"),
    "Activation(lambda)": lambda: keras.layers.Activation(lambda z: tf.nn.softmax(z)),
    "Softmax()": lambda: keras.layers.Softmax(),
}


@pytest.mark.parametrize("head", list(SOFTMAX_HEADS))
def test_separate_softmax_layers_are_recognised(head):
    model, dense = dense_then(SOFTMAX_HEADS[head]())
    z = logits_of(dense)
    np.testing.assert_allclose(value(model, fv.ClassLogit([0, 2])), z[[0, 1], [0, 2]], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(value(model, fv.ClassProbability(1)), softmax(z)[:, 1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("act", ["softmax", tf.nn.softmax, keras.activations.softmax])
def test_dense_with_softmax_activation_gives_its_pre_activation_as_logits(act):
    keras.utils.set_random_seed(1)
    inp = keras.Input((4,))
    model = keras.Model(inp, keras.layers.Dense(3, activation=act, name="head")(inp))
    kernel, bias = model.get_layer("head").get_weights()
    z = X @ kernel + bias
    np.testing.assert_allclose(value(model, fv.ClassLogit(2)), z[:, 2], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(value(model, fv.ClassProbability(2)), softmax(z)[:, 2], rtol=1e-5, atol=1e-6)


def test_softmax_dense_inside_a_nested_model_gives_its_pre_activation_as_logits():
    keras.utils.set_random_seed(2)
    inner = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, activation="softmax", name="p")], name="inner")
    outer = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, name="hidden"), inner])
    np.testing.assert_allclose(value(outer, fv.ClassProbability(0)), outer(X).numpy()[:, 0], rtol=1e-6)
    hidden = logits_of(outer.get_layer("hidden"))
    kernel, bias = inner.get_layer("p").get_weights()
    np.testing.assert_allclose(value(outer, fv.ClassLogit(0)), (hidden @ kernel + bias)[:, 0], rtol=1e-5, atol=1e-5)


def test_softmax_activation_on_a_non_dense_layer_refuses_logits_only():
    keras.utils.set_random_seed(6)
    inp = keras.Input((4,))
    model = keras.Model(inp, keras.layers.EinsumDense("ab,bc->ac", 3, activation="softmax", name="einsum")(inp))
    x = X
    with pytest.raises(ConfigurationError, match="cannot recover the logits") as info:
        fv.ascend(model, fv.ClassLogit(0), steps=1)
    assert "'einsum' (EinsumDense) applies softmax" in str(info.value)
    assert np.allclose(value(model, fv.ClassProbability(1), x), model(x).numpy()[:, 1], rtol=1e-6)


@pytest.mark.parametrize("head", ["dense", "activation"])
def test_sigmoid_heads_give_pre_sigmoid_logits_and_the_sigmoid_as_probability(head):
    keras.utils.set_random_seed(3)
    inp = keras.Input((4,))
    if head == "dense":
        model = keras.Model(inp, keras.layers.Dense(3, activation="sigmoid", name="logits")(inp))
    else:
        model = keras.Model(inp, keras.layers.Activation(tf.nn.sigmoid)(keras.layers.Dense(3, name="logits")(inp)))
    z = logits_of(model.get_layer("logits"))
    np.testing.assert_allclose(value(model, fv.ClassLogit(1)), z[:, 1], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(value(model, fv.ClassProbability(1)), model(X).numpy()[:, 1], rtol=1e-6)
    np.testing.assert_allclose(value(model, fv.ClassProbability(1)), 1 / (1 + np.exp(-z[:, 1])), rtol=1e-5)


def two_heads():
    keras.utils.set_random_seed(4)
    inp = keras.Input((4,))
    hidden = keras.layers.Dense(5, name="hidden")(inp)
    a = keras.layers.Dense(3, activation="softmax", name="head_a")(hidden)
    b = keras.layers.Dense(2, name="head_b")(hidden)
    return keras.Model(inp, [a, b])


@pytest.mark.parametrize("objective", [fv.ClassLogit(0), fv.ClassProbability(0), fv.ClassLogit(0) >= 1.0])
def test_class_objectives_on_a_multi_output_model_are_refused_with_the_fix(objective):
    until = objective if isinstance(objective, fv.Condition) else None
    objective = fv.Channel("hidden", 0) if until is not None else objective
    with pytest.raises(ConfigurationError) as info:
        fv.ascend(two_heads(), objective, until=until, steps=1)
    assert "2 outputs" in str(info.value) and "keras.Model(m.inputs, m.outputs[k])" in str(info.value)


def test_internal_layers_of_a_multi_output_model_are_targetable():
    model = two_heads()
    hidden = X @ model.get_layer("hidden").get_weights()[0] + model.get_layer("hidden").get_weights()[1]
    b = hidden @ model.get_layer("head_b").get_weights()[0] + model.get_layer("head_b").get_weights()[1]
    np.testing.assert_allclose(value(model, fv.Neuron("head_b", 1)), b[:, 1], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(value(model, fv.Channel("hidden", [3, 4])), hidden[[0, 1], [3, 4]], rtol=1e-5)
    r = fv.ascend(model, fv.Neuron("head_b", 1), constraints=fv.Box(0, 1), steps=3)
    assert r.values.shape == (1,) and np.isfinite(r.values).all()


def test_multi_input_models_are_refused_with_the_count_and_the_fix():
    i1, i2 = keras.Input((3,)), keras.Input((2,))
    model = keras.Model([i1, i2], keras.layers.Dense(2, name="d")(keras.layers.Concatenate()([i1, i2])))
    for objective in (fv.ClassLogit(0), fv.Neuron("d", 0)):
        with pytest.raises(ConfigurationError, match="has 2 inputs") as info:
            fv.ascend(model, objective, steps=1)
        assert "one input" in str(info.value)


def test_an_unbuilt_sequential_model_is_refused_with_the_fix():
    model = keras.Sequential([keras.layers.Dense(2, name="d")], name="unbuilt")  # no Input: no input shape yet
    with pytest.raises(ModelLoadError, match="'unbuilt' has no defined inputs; build it with keras.Input"):
        fv.ascend(model, fv.ClassLogit(0), steps=1)


def tiny(dtype=None):
    keras.utils.set_random_seed(5)
    inp = keras.Input((4,), dtype=dtype)
    hidden = keras.layers.Dense(5, activation="relu", name="hidden", dtype=dtype)(inp)
    return keras.Model(inp, keras.layers.Dense(3, activation="softmax", name="head", dtype=dtype)(hidden))


@pytest.fixture
def mixed_precision():
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)


def test_mixed_float16_model_ascends(mixed_precision):
    model = tiny()
    keras.config.set_dtype_policy("float32")
    assert model.get_layer("head").compute_dtype == "float16"
    objective = fv.ClassLogit(1) + fv.ClassProbability(1) + fv.Channel("hidden", 0) - 0.1 * fv.L2()
    reference = tiny()  # the same weights in float32
    np.testing.assert_allclose(value(model, objective), value(reference, objective), rtol=2e-2, atol=2e-2)
    r = fv.ascend(model, fv.ClassLogit(1), constraints=fv.Box(0, 1), steps=3)
    assert r.values.dtype == np.float32 and np.isfinite(r.values).all()


def test_float64_model_ascends():
    model, reference = tiny("float64"), tiny()
    reference.set_weights([w.astype("float32") for w in model.get_weights()])
    objective = fv.ClassLogit(0) + fv.ClassProbability(2) + fv.Neuron("hidden", 1) - 0.5 * fv.L1()
    np.testing.assert_allclose(value(model, objective), value(reference, objective), rtol=1e-5, atol=1e-5)
    r = fv.ascend(model, fv.ClassLogit(0) - fv.TotalVariation(), constraints=fv.Box(0, 1), steps=3)
    assert np.isfinite(r.values).all()


def test_sequence_output_refuses_class_objectives_and_names_the_shape():
    inp = keras.Input((5, 3))
    model = keras.Model(inp, keras.layers.Dense(4, name="per_step")(inp))
    with pytest.raises(ConfigurationError, match=r"output of shape \(B, 5, 4\)") as info:
        fv.ascend(model, fv.ClassLogit(0), steps=1)
    assert "(B, classes)" in str(info.value) and "Neuron('per_step'" in str(info.value)
    r = fv.ascend(model, fv.Neuron("per_step", 7), constraints=fv.Box(0, 1), steps=2)
    assert np.isfinite(r.values).all()


def test_scalar_output_is_described_and_class_objectives_refused():
    inp = keras.Input((5,))
    model = keras.Model(inp, keras.layers.Reshape(())(keras.layers.Dense(1)(inp)))
    assert model_info(model).input_shape == (5,)
    with pytest.raises(ConfigurationError, match=r"output of shape \(B,\)") as info:
        fv.ascend(model, fv.ClassLogit(0), steps=1)
    assert "Reshape((1,))" in str(info.value)


@pytest.mark.parametrize("start", [None, np.zeros((6, 3))])
def test_variable_length_input_asks_for_a_fixed_size(start):
    inp = keras.Input((None, 3))
    model = keras.Model(inp, keras.layers.GlobalAveragePooling1D()(keras.layers.Dense(4, name="d")(inp)))
    for objective in (fv.ClassLogit(0), fv.Neuron("d", 1)):
        with pytest.raises(ConfigurationError, match=r"input shape \(None, 3\)") as info:
            fv.ascend(model, objective, start=start, steps=1)
        assert "fixed-size" in str(info.value) and "clone_model" in str(info.value)


def test_the_suggested_fixed_size_clone_works():
    inp = keras.Input((None, 3))
    model = keras.Model(inp, keras.layers.GlobalAveragePooling1D()(keras.layers.Dense(4, name="d")(inp)))
    fixed = keras.models.clone_model(model, input_tensors=keras.Input((6, 3)))
    fixed.set_weights(model.get_weights())
    assert model_info(fixed).input_shape == (6, 3)
    r = fv.ascend(fixed, fv.Neuron("d", 1), constraints=fv.Box(0, 1), steps=2)
    assert r.inputs.shape == (1, 6, 3)


def nested():
    inner = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(5, name="inner_dense"), keras.layers.Dense(3, name="inner_out")],
        name="inner",
    )
    return keras.Sequential([keras.Input((4,)), inner], name="outer")


def test_layer_inside_a_nested_model_named_without_its_path_suggests_the_path():
    with pytest.raises(LayerNotFoundError) as info:
        fv.ascend(nested(), fv.Neuron("inner_dense", 0), steps=1)
    text = str(info.value)
    assert "did you mean 'inner/inner_dense'? (a layer inside a nested model is named by its path)" in text
    assert "layers are: inner, inner/inner_dense, inner/inner_out" in text
    with pytest.raises(LayerNotFoundError, match="did you mean 'inner/inner_dense'"):
        fv.get_layer(nested(), "inner_dense")
    assert fv.get_layer(nested(), "inner/inner_dense").name == "inner_dense"


def test_typo_still_suggests_the_closest_layer():
    with pytest.raises(LayerNotFoundError, match="layer 'iner' not found in model 'outer'; did you mean 'inner'"):
        fv.ascend(nested(), fv.Neuron("iner", 0), steps=1)
