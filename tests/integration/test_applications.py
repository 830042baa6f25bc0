"""keras.applications architectures (weights=None, no downloads) at small input sizes."""

import functools

import keras
import numpy as np
import pytest
import tensorflow as tf

import pytest_featviz as fv
from pytest_featviz import cli
from pytest_featviz.models import FeatureExtractor

# (factory, input size, an inner layer people visualise)
APPS = {
    "MobileNetV2": (keras.applications.MobileNetV2, 32, "block_13_expand_relu"),
    "EfficientNetB0": (keras.applications.EfficientNetB0, 32, "block5a_expand_activation"),
    "ResNet50V2": (keras.applications.ResNet50V2, 32, "conv4_block1_out"),
    "ConvNeXtTiny": (keras.applications.ConvNeXtTiny, 32, "convnext_tiny_stage_2_block_0_depthwise_conv"),
}
BOX = fv.Box(0, 1)


@functools.cache
def head_on(name):
    """A transfer-learning model: the application as a layer inside a Sequential with a softmax head (built
    once per worker: the tests only read it)."""
    factory, size, _ = APPS[name]
    keras.utils.set_random_seed(0)
    base = factory(include_top=False, weights=None, input_shape=(size, size, 3))
    model = keras.Sequential(
        [
            keras.Input((size, size, 3)),
            base,
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(4, activation="softmax", name="head"),
        ],
        name="tl",
    )
    return base, model


@pytest.mark.parametrize("name", sorted(APPS))
def test_channel_of_an_inner_layer_through_a_transfer_learning_head(name):
    base, model = head_on(name)
    layer = APPS[name][2]
    path = f"{base.name}/{layer}"
    assert path in fv.layer_names(model)
    x = np.random.default_rng(0).uniform(0, 1, (2, *base.input_shape[1:])).astype("float32")
    got = FeatureExtractor(model, frozenset({path}))(tf.constant(x)).features[path].numpy()
    want = keras.Model(base.inputs[0], base.get_layer(layer).output)(x, training=False).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    r = fv.ascend(model, fv.Channel(path, 0), constraints=BOX, steps=2)
    fv.assert_within(r, BOX)
    assert np.isfinite(r.values).all()


def test_class_objectives_on_the_head_of_an_application():
    base, model = head_on("MobileNetV2")
    x = np.random.default_rng(1).uniform(0, 1, (2, 32, 32, 3)).astype("float32")
    ctx = FeatureExtractor(model, frozenset({"__logits__", "__probabilities__"}))(tf.constant(x))
    pooled = base(x, training=False).numpy().mean(axis=(1, 2))
    kernel, bias = model.get_layer("head").get_weights()
    np.testing.assert_allclose(ctx.logits.numpy(), pooled @ kernel + bias, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ctx.probabilities().numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)
    r = fv.ascend(model, fv.ClassLogit(2), constraints=BOX, steps=2)
    fv.assert_within(r, BOX)


def test_cli_renders_an_inner_layer_of_a_saved_transfer_learning_model(tmp_path, capsys):
    base, model = head_on("MobileNetV2")
    model.save(tmp_path / "tl.keras")
    out = tmp_path / "grid.png"
    code = cli.main(
        [
            "render",
            str(tmp_path / "tl.keras"),
            "--layer",
            f"{base.name}/block_13_expand_relu",
            "--channels",
            "0:2",
            "--steps",
            "2",
            "--out",
            str(out),
        ]
    )
    assert code == 0 and out.exists()
    assert f"Channel('{base.name}/block_13_expand_relu', [0, 1])" in capsys.readouterr().out
