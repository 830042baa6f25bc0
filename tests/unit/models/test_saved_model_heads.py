"""A SavedModel's head is read from the last operation of its graph, or declared; never guessed."""

import keras
import numpy as np
import pytest

import pytest_featviz as fv
from pytest_featviz.errors import ConfigurationError
from pytest_featviz.models import Head, model_info


def _model(activation):
    keras.utils.set_random_seed(0)
    inp = keras.Input((4,))
    out = keras.layers.Dense(3, name="head")(keras.layers.Dense(5, activation="tanh")(inp))
    if activation is not None:
        out = keras.layers.Activation(activation, name="squash")(out)
    return keras.Model(inp, out)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """``{head: (keras model, SavedModel directory)}`` for a softmax, a sigmoid, a linear and a relu output."""
    root = tmp_path_factory.mktemp("saved")
    out = {}
    for name, activation in [("softmax", "softmax"), ("sigmoid", "sigmoid"), ("linear", None), ("relu", "relu")]:
        model = _model(activation)
        model.export(str(root / name))
        out[name] = (model, root / name)
    return out


def _value(model, objective):
    return fv.ascend(model, objective, constraints=fv.Box(0, 1), steps=3, seed=0)


@pytest.mark.parametrize("name", ["softmax", "sigmoid"])
def test_a_squashing_last_op_is_read_and_the_output_is_the_probability(exported, name):
    model, path = exported[name]
    loaded = fv.load_model(path)
    head = model_info(loaded).head
    assert (head.squash, head.mode) == (name, None)
    r = _value(loaded, fv.ClassProbability(1))
    np.testing.assert_allclose(r.values[0], model(r.inputs)[0, 1], rtol=1e-5)
    with pytest.raises(ConfigurationError, match=f"applies {name} inside its graph"):
        _value(loaded, fv.ClassLogit(1))


def test_a_softmax_is_read_through_a_cast_of_its_output(tmp_path):
    inp = keras.Input((4,))
    out = keras.layers.Dense(3, activation="softmax")(inp)
    model = keras.Model(inp, keras.layers.Activation("linear", dtype="float64")(out))  # the graph ends with a Cast
    model.export(str(tmp_path / "sm"))
    assert model_info(fv.load_model(tmp_path / "sm")).head.squash == "softmax"


def test_an_affine_last_op_is_logits(exported):
    model, path = exported["linear"]
    loaded = fv.load_model(path)
    assert model_info(loaded).head == Head("none", "output", "", model_info(loaded).head.layer)
    r = _value(loaded, fv.ClassLogit(2))
    np.testing.assert_allclose(r.values[0], model(r.inputs)[0, 2], rtol=1e-5)
    p = _value(loaded, fv.ClassProbability(2))
    np.testing.assert_allclose(p.values[0], keras.ops.softmax(model(p.inputs))[0, 2], rtol=1e-5)


def test_an_unknown_last_op_refuses_class_objectives_and_names_the_remedy(exported):
    loaded = fv.load_model(exported["relu"][1])
    for objective in (fv.ClassProbability(0), fv.ClassLogit(0)):
        with pytest.raises(ConfigurationError) as info:
            _value(loaded, objective)
        text = str(info.value)
        assert "ends with the operation 'Relu'" in text and "will not guess" in text, text
        assert "outputs='probabilities'" in text and "outputs='logits'" in text, text


def test_declared_outputs_decide_an_unknown_head(exported):
    model, path = exported["relu"]
    probabilities = fv.load_model(path, outputs="probabilities")
    r = _value(probabilities, fv.ClassProbability(1))
    np.testing.assert_allclose(r.values[0], model(r.inputs)[0, 1], rtol=1e-5)
    with pytest.raises(ConfigurationError, match="cannot recover the logits"):
        _value(probabilities, fv.ClassLogit(1))
    logits = fv.load_model(path, outputs="logits")
    p = _value(logits, fv.ClassProbability(1))
    np.testing.assert_allclose(p.values[0], keras.ops.softmax(model(p.inputs))[0, 1], rtol=1e-5)


def test_a_declaration_contradicting_the_graph_is_refused(exported):
    with pytest.raises(ConfigurationError, match="ends with the operation 'Softmax', whose output is probabilities"):
        fv.load_model(exported["softmax"][1], outputs="logits")  # at once, not at the first use
    with pytest.raises(ConfigurationError, match="ends with the operation 'BiasAdd', whose output is not"):
        fv.load_model(exported["linear"][1], outputs="probabilities")
    assert model_info(fv.load_model(exported["softmax"][1], outputs="probabilities")).head.squash == "softmax"


def test_outputs_is_checked_and_only_for_saved_model_directories(exported, tmp_path):
    with pytest.raises(ConfigurationError, match="outputs='probs' is not one of 'auto', 'logits', 'probabilities'"):
        fv.load_model(exported["relu"][1], outputs="probs")
    model = exported["relu"][0]
    with pytest.raises(ConfigurationError, match="is for a SavedModel directory"):
        fv.load_model(model, outputs="logits")
    model.save(tmp_path / "m.keras")
    with pytest.raises(ConfigurationError, match="is for a SavedModel directory"):
        fv.load_model(tmp_path / "m.keras", outputs="probabilities")


def test_a_layer_objective_on_the_saved_model_layer_reads_its_output(exported):
    """The SavedModel is one layer, ``saved_model``: its output is a tensor (the serving function's first)."""
    model, path = exported["relu"]
    loaded = fv.load_model(path)
    assert fv.layer_names(loaded)[-1] == "saved_model"
    r = _value(loaded, fv.Neuron("saved_model", 1))
    np.testing.assert_allclose(r.values, model(r.inputs).numpy()[:, 1], rtol=1e-5)


def test_an_add_is_logits_only_when_it_adds_a_bias_to_a_product(tmp_path):
    """Keras 3.3's Dense ends in an add of its bias (read as affine); an Add of two branches is not affine."""
    inp = keras.Input((4,))
    branches = [keras.layers.Dense(3, activation="relu")(inp) for _ in range(2)]
    keras.Model(inp, keras.layers.Add()(branches)).export(str(tmp_path / "added"))
    loaded = fv.load_model(tmp_path / "added")
    assert model_info(loaded).head.squash == "unknown"
    with pytest.raises(ConfigurationError, match="will not guess"):
        _value(loaded, fv.ClassLogit(0))
