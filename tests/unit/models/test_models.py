"""Model loading from every supported source, safe mode, layer lookup and broken files."""

import sys

import keras
import numpy as np
import pytest

import pytest_featviz as fv
from pytest_featviz.errors import LayerNotFoundError, ModelLoadError
from pytest_featviz.models import model_info


def small_model():
    keras.utils.set_random_seed(0)
    inp = keras.Input((4,))
    h = keras.layers.Dense(5, activation="relu", name="hidden")(inp)
    return keras.Model(inp, keras.layers.Dense(3, activation="softmax", name="head")(h), name="small")


def make_factory():
    return small_model()


@pytest.fixture(scope="module")
def model():
    return small_model()


def same_outputs(a, b):
    x = np.random.default_rng(0).random((2, 4)).astype("float32")
    np.testing.assert_allclose(a(x).numpy(), b(x).numpy(), rtol=1e-6)


def test_keras_file_loads_uncompiled(model, tmp_path):
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = fv.load_model(path)
    same_outputs(model, loaded)
    assert loaded.compiled is False or loaded.optimizer is None


def test_h5_file_loads(model, tmp_path):
    path = tmp_path / "m.h5"
    model.save(path)
    same_outputs(model, fv.load_model(str(path)))


def test_saved_model_directory_loads_and_ascends(model, tmp_path):
    path = tmp_path / "sm"
    model.export(str(path))  # no verbose=: Keras 3.3/3.5 lacks it
    loaded = fv.load_model(path)
    same_outputs(model, loaded)
    r = fv.ascend(loaded, fv.ClassProbability(1), constraints=fv.Box(0, 1), steps=5, seed=0)
    same = fv.ascend(model, fv.ClassProbability(1), constraints=fv.Box(0, 1), steps=5, seed=0)
    assert r.values.shape == (1,) and r.inputs.shape == (1, 4)
    np.testing.assert_allclose(r.inputs, same.inputs, rtol=1e-5, atol=1e-6)  # the same ascent as on the Keras model


def test_saved_model_class_probability_is_the_models_output(model, tmp_path):
    model.export(str(tmp_path / "sm"))
    r = fv.ascend(fv.load_model(tmp_path / "sm"), fv.ClassProbability(1), constraints=fv.Box(0, 1), steps=5, seed=0)
    np.testing.assert_allclose(r.values[0], model(r.inputs)[0, 1], rtol=1e-5)


def test_factory_string_loads(monkeypatch):
    monkeypatch.setitem(sys.modules, "featviz_factory_mod", sys.modules[__name__])
    loaded = fv.load_model("featviz_factory_mod:make_factory")
    assert loaded.name == "small"
    with pytest.raises(ModelLoadError, match="has no attribute 'make_factroy'; did you mean 'make_factory'"):
        fv.load_model("featviz_factory_mod:make_factroy")


def test_model_instance_is_returned_as_is(model):
    assert fv.load_model(model) is model


def test_lambda_layer_file_is_refused_unless_unsafe_is_allowed(tmp_path):
    inp = keras.Input((3,))
    out = keras.layers.Lambda(lambda t: t * 2.0, name="double")(inp)
    path = tmp_path / "lambda.keras"
    keras.Model(inp, keras.layers.Dense(2)(out)).save(path)
    with pytest.raises(ModelLoadError, match="safe_mode=False"):
        fv.load_model(path)
    assert fv.load_model(path, safe_mode=False).get_layer("double") is not None


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda d: d / "missing.keras", "model file not found"),
        (
            lambda d: (d / "trunc.keras").write_bytes(b"PK\x03\x04garbage") and d / "trunc.keras",
            "truncated or corrupted",
        ),
        (lambda d: (d / "text.keras").write_text("hello") and d / "text.keras", "not a zip archive"),
        (lambda d: (d / "bad.h5").write_bytes(b"\x89HDF") and d / "bad.h5", "could not be loaded"),
        (lambda d: (d / "notsm").mkdir() or d / "notsm", "not a SavedModel"),
        (lambda d: (d / "m.onnx").write_text("x") and d / "m.onnx", "unknown model format '.onnx'"),
    ],
)
def test_broken_sources_name_the_file_and_the_problem(tmp_path, make, words):
    path = make(tmp_path)
    with pytest.raises(ModelLoadError) as info:
        fv.load_model(path)
    assert words in str(info.value) and path.name in str(info.value)


def test_truncated_real_keras_file_is_a_clear_error(model, tmp_path):
    path = tmp_path / "m.keras"
    model.save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match="m.keras"):
        fv.load_model(path)


def test_layer_lookup_lists_layers_and_suggests(model):
    assert fv.get_layer(model, "hidden").name == "hidden"
    with pytest.raises(LayerNotFoundError) as info:
        fv.get_layer(model, "hiden")
    text = str(info.value)
    assert "layer 'hiden' not found; did you mean 'hidden'?" in text and "head" in text
    assert isinstance(info.value, LookupError) and isinstance(info.value, ValueError)


def test_model_info_reads_shapes(model):
    info = model_info(model)
    assert info.input_shape == (4,) and info.num_classes == 3
    assert info.shapes["hidden"] == (5,)
