"""The trained models in examples/models/ load, have their documented layout, and still work.

They are made by ``python examples/train_models.py``; a corrupted, retrained-badly or
reshaped file fails here before it confuses the examples, tests and benchmarks using it.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import pytest_featviz as fv

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
MODELS = EXAMPLES / "models"

# name: (input shape, number of classes, layer names in order, stored test split)
SPECS = {
    "digits_mlp": ((28, 28), 10, ["flatten", "dense_1", "dense_2"], "digits_test.npz"),
    "digits_cnn": (
        (28, 28, 1),
        10,
        ["conv1", "pool1", "conv2", "pool2", "flatten", "logits", "softmax"],
        "digits_test.npz",
    ),
    "textures_cnn": ((32, 32, 1), 3, ["conv1", "pool1", "conv2", "gap", "probs"], "textures_test.npz"),
}


@cache
def _model(name: str) -> Any:
    return fv.load_model(MODELS / f"{name}.keras")


def _split(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The model's stored test split, as the float32 inputs the model takes."""
    shape, _, _, filename = SPECS[name]
    data = np.load(MODELS / filename)
    x = data["x_test"].astype(np.float32) / 255.0
    return x.reshape((-1, *shape)), data["y_test"]


def _activations(name: str, layer: str) -> np.ndarray:
    """``layer``'s output on the test split, flattened to (samples * positions, channels)."""
    import keras

    model = _model(name)
    x, _ = _split(name)
    out = keras.Model(model.inputs, model.get_layer(layer).output).predict(x, verbose=0)
    return out.reshape(-1, out.shape[-1])


def _coherence(kernel: np.ndarray) -> float:
    """(l1 - l2) / (l1 + l2) of the structure tensor of a small 2-D kernel."""
    gy, gx = np.gradient(kernel.astype(np.float64))
    jxx, jyy, jxy = np.sum(gx * gx), np.sum(gy * gy), np.sum(gx * gy)
    return float(np.hypot(jxx - jyy, 2 * jxy) / (jxx + jyy))


def _training_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("train_models", EXAMPLES / "train_models.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", sorted(SPECS))
def test_model_has_its_documented_layers_and_shapes(name: str) -> None:
    shape, classes, layers, _ = SPECS[name]
    model = _model(name)
    assert fv.layer_names(model) == layers
    assert tuple(model.input_shape[1:]) == shape
    assert tuple(model.output_shape[1:]) == (classes,)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_model_classifies_its_held_out_split(name: str) -> None:
    x, y = _split(name)
    probs = _model(name).predict(x, verbose=0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    accuracy = float(np.mean(probs.argmax(axis=1) == y))
    assert accuracy >= 0.95, f"{name}: accuracy {accuracy:.3f} on its stored test split"


def test_stored_test_splits_are_balanced_uint8_codes() -> None:
    digits, textures = np.load(MODELS / "digits_test.npz"), np.load(MODELS / "textures_test.npz")
    assert digits["x_test"].shape == (297, 28, 28) and digits["x_test"].dtype == np.uint8
    assert np.bincount(digits["y_test"], minlength=10).min() >= 29
    assert textures["x_test"].shape == (300, 32, 32) and textures["x_test"].dtype == np.uint8
    assert np.bincount(textures["y_test"]).tolist() == [100, 100, 100]
    assert digits["x_test"].max() == 255 and digits["x_test"].min() == 0


def test_stored_test_splits_are_what_the_training_script_makes() -> None:
    script = _training_script()
    codes, labels = script.digits_28()
    _, test = script.digits_split(labels)
    digits = np.load(MODELS / "digits_test.npz")
    np.testing.assert_array_equal(digits["x_test"], codes[test])
    np.testing.assert_array_equal(digits["y_test"], labels[test])
    *_, x_test, y_test = script.texture_split()
    textures = np.load(MODELS / "textures_test.npz")
    np.testing.assert_array_equal(textures["x_test"], x_test)
    np.testing.assert_array_equal(textures["y_test"], y_test)


def test_seed_mlp_ends_in_a_dense_softmax() -> None:
    model = _model("digits_mlp")
    hidden, last = model.get_layer("dense_1"), model.get_layer("dense_2")
    assert (hidden.units, hidden.activation.__name__) == (128, "relu")
    assert (last.units, last.activation.__name__) == (10, "softmax")


def test_digits_cnn_output_is_softmax_of_its_logits_layer() -> None:
    import keras

    model = _model("digits_cnn")
    assert model.get_layer("logits").activation.__name__ == "linear"
    assert isinstance(model.layers[-1], keras.layers.Softmax)
    x, _ = _split("digits_cnn")
    logits = keras.Model(model.inputs, model.get_layer("logits").output).predict(x[:32], verbose=0)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected = shifted / shifted.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.predict(x[:32], verbose=0), expected, atol=1e-5)


@pytest.mark.parametrize(
    ("name", "layer"), [("digits_cnn", "conv1"), ("textures_cnn", "conv1"), ("textures_cnn", "conv2")]
)
def test_every_channel_responds_to_some_test_input(name: str, layer: str) -> None:
    """Channel objectives on these layers have a gradient: no channel is dark on real data."""
    silent = np.flatnonzero(np.all(_activations(name, layer) <= 0, axis=0))
    assert silent.size == 0, f"{name}/{layer}: channels {silent.tolist()} never respond"


def test_coherence_helper_known_answers() -> None:
    ramp = np.tile(np.arange(5.0), (5, 1))
    rows, cols = np.indices((5, 5)) - 2
    assert _coherence(ramp) == pytest.approx(1.0)
    assert _coherence(ramp.T + ramp) == pytest.approx(1.0)
    assert _coherence(np.exp(-(rows**2 + cols**2) / 2.0)) == pytest.approx(0.0, abs=1e-12)


def test_texture_first_layer_has_oriented_filters() -> None:
    """At least 3 of the 8 conv1 filters are more oriented than 99% of random zero-mean filters.

    If the filters were random, 3 or more of 8 beating the 99th percentile would happen with
    probability about 5e-5.
    """
    kernel = _model("textures_cnn").get_layer("conv1").kernel.numpy()
    assert kernel.shape == (5, 5, 1, 8)
    random = np.random.default_rng(0).normal(size=(2000, 5, 5))
    random -= random.mean(axis=(1, 2), keepdims=True)
    threshold = np.quantile([_coherence(k) for k in random], 0.99)
    scores = np.array([_coherence(kernel[:, :, 0, i]) for i in range(8)])
    assert np.sum(scores > threshold) >= 3, f"coherences {scores.round(2)} vs random 99% {threshold:.2f}"


def test_model_files_stay_small() -> None:
    """The files train_models.py writes stay under 300 KiB each (they live in git)."""
    names = [f"{name}.keras" for name in SPECS] + ["digits_test.npz", "textures_test.npz"]
    sizes = {name: (MODELS / name).stat().st_size for name in names}
    big = {name: size for name, size in sizes.items() if size >= 300 * 1024}
    assert not big, f"files over 300 KiB: {big}"
