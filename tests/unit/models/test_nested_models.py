"""Models with nested models (base models used as layers), re-called layers and several inputs."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import pytest_featviz as fv
from pytest_featviz import cli
from pytest_featviz.errors import ConfigurationError, LayerNotFoundError
from pytest_featviz.models import FeatureExtractor, model_info

X = np.random.default_rng(0).uniform(0, 1, (3, 6, 6, 2)).astype("float32")


def features(model, names, x=X):
    return {n: v.numpy() for n, v in FeatureExtractor(model, frozenset(names))(tf.constant(x)).features.items()}


def base(name="base"):
    """A small functional CNN with a BatchNormalization (training=False must hold)."""
    keras.utils.set_random_seed(0)
    inp = keras.Input((6, 6, 2))
    h = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inp)
    h = keras.layers.BatchNormalization(name="bn")(h)
    h = keras.layers.ReLU(name="relu")(h)
    model = keras.Model(inp, keras.layers.Conv2D(5, 3, name="conv2")(h), name=name)
    model.get_layer("bn").set_weights([np.full(4, 2.0), np.full(4, 0.5), np.full(4, 0.1), np.full(4, 4.0)])
    return model


def direct(model, layer, x=X):
    """The layer's output computed independently: a model of the base's own graph."""
    return keras.Model(model.inputs[0], model.get_layer(layer).output)(x, training=False).numpy()


def transfer(kind, b):
    if kind == "sequential":
        return keras.Sequential(
            [
                keras.Input((6, 6, 2)),
                b,
                keras.layers.GlobalAveragePooling2D(name="gap"),
                keras.layers.Dense(3, activation="softmax", name="head"),
            ],
            name="tl",
        )
    inp = keras.Input((6, 6, 2))
    h = keras.layers.GlobalAveragePooling2D(name="gap")(b(inp, training=False))
    return keras.Model(inp, keras.layers.Dense(3, activation="softmax", name="head")(h), name="tl")


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_layers_inside_a_base_used_as_a_layer_equal_a_direct_pass(kind):
    b = base()
    model = transfer(kind, b)
    got = features(model, ["base/relu", "base/conv2", "base"])
    np.testing.assert_allclose(got["base/relu"], direct(b, "relu"), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got["base/conv2"], direct(b, "conv2"), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got["base"], b(X, training=False).numpy(), rtol=1e-5, atol=1e-5)
    assert fv.layer_names(model)[-7:] == ["base", "base/conv", "base/bn", "base/relu", "base/conv2", "gap", "head"]
    assert model_info(model).shapes["base/relu"] == (6, 6, 4)


def test_class_objectives_through_a_transfer_learning_head_read_the_head_dense():
    model = transfer("functional", base())
    pooled = b_out = base()(X, training=False).numpy().mean(axis=(1, 2))
    kernel, bias = model.get_layer("head").get_weights()
    z = pooled @ kernel + bias
    ctx = FeatureExtractor(model, frozenset({"__logits__", "__probabilities__"}))(tf.constant(X))
    np.testing.assert_allclose(ctx.logits.numpy(), z, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ctx.probabilities().numpy(), tf.nn.softmax(z).numpy(), rtol=1e-5, atol=1e-6)
    assert b_out.shape == (3, 5)


def test_two_levels_of_nesting_and_a_softmax_layer_inside_the_nested_head():
    b = base()
    keras.utils.set_random_seed(1)
    head = keras.Sequential(
        [keras.Input((5,)), keras.layers.Dense(3, name="logits"), keras.layers.Softmax(name="sm")], name="head"
    )
    middle = keras.Sequential([keras.Input((6, 6, 2)), b, keras.layers.GlobalAveragePooling2D(name="gap")], name="mid")
    model = keras.Sequential([keras.Input((6, 6, 2)), middle, head], name="outer")
    got = features(model, ["mid/base/relu"])
    np.testing.assert_allclose(got["mid/base/relu"], direct(b, "relu"), rtol=1e-5, atol=1e-5)
    assert model_info(model).head.layer == "head/sm"
    ctx = FeatureExtractor(model, frozenset({"__logits__"}))(tf.constant(X))
    kernel, bias = head.get_layer("logits").get_weights()
    z = b(X, training=False).numpy().mean(axis=(1, 2)) @ kernel + bias
    np.testing.assert_allclose(ctx.logits.numpy(), z, rtol=1e-5, atol=1e-5)
    assert fv.get_layer(model, "mid/base/conv").name == "conv"


def recalled():
    """Rescaling in front of another model's layers, each re-called on the new tensors."""
    b = base()
    inp = keras.Input((6, 6, 2))
    x = keras.layers.Rescaling(2.0, name="scale")(inp)
    for layer in b.layers[1:]:
        x = layer(x)
    return b, keras.Model(inp, x, name="recalled")


def test_re_called_layers_give_the_outputs_of_the_new_graph():
    b, model = recalled()
    got = features(model, ["relu", "conv2", "bn"])
    for name in ("relu", "conv2", "bn"):
        np.testing.assert_allclose(got[name], direct(b, name, 2.0 * X), rtol=1e-5, atol=1e-5)
    r = fv.ascend(model, fv.Channel("relu", 1), constraints=fv.Box(0, 1), steps=3)
    fv.assert_within(r, fv.Box(0, 1))
    assert np.isfinite(r.values).all()


def test_class_objectives_on_re_called_layers_read_the_new_graph_s_head():
    b = base()
    clf = transfer("sequential", b)
    inp = keras.Input((6, 6, 2))
    x = keras.layers.Rescaling(2.0, name="scale")(inp)
    for layer in clf.layers:
        x = layer(x)
    model = keras.Model(inp, x, name="rescaled")
    kernel, bias = clf.get_layer("head").get_weights()
    z = b(2.0 * X, training=False).numpy().mean(axis=(1, 2)) @ kernel + bias
    ctx = FeatureExtractor(model, frozenset({"__logits__", "__probabilities__"}))(tf.constant(X))
    np.testing.assert_allclose(ctx.logits.numpy(), z, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ctx.probabilities().numpy(), clf(2.0 * X).numpy(), rtol=1e-5, atol=1e-6)
    assert fv.layer_names(model)[1:4] == ["scale", "base", "base/conv"]


def test_unknown_paths_list_the_layers_and_suggest_the_closest():
    model = transfer("sequential", base())
    with pytest.raises(LayerNotFoundError) as info:
        fv.ascend(model, fv.Channel("base/rleu", 0), steps=1)
    assert "layer 'base/rleu' not found in model 'tl'; did you mean 'base/relu'?" in str(info.value)
    assert "base/conv2" in str(info.value)
    with pytest.raises(LayerNotFoundError, match="did you mean 'base/relu'.*named by its path"):
        fv.get_layer(model, "relu")


def test_cli_layers_and_render_take_nested_paths(tmp_path, capsys):
    path = tmp_path / "tl.keras"
    transfer("functional", base()).save(path)
    assert cli.main(["layers", str(path)]) == 0
    table = capsys.readouterr().out
    assert "base/relu" in table and "Channel 0-3" in table
    out = tmp_path / "g.png"
    assert (
        cli.main(["render", str(path), "--layer", "base/relu", "--channels", "0:2", "--steps", "2", "--out", str(out)])
        == 0
    )
    assert out.exists() and "Channel('base/relu', [0, 1])" in capsys.readouterr().out
    assert cli.main(["render", str(path), "--layer", "base", "--channels", "4", "--steps", "2", "--out", str(out)]) == 0
    assert "Channel('base', [4])" in capsys.readouterr().out


def two_inputs():
    keras.utils.set_random_seed(3)
    image, meta = keras.Input((4,), name="image"), keras.Input((2,), name="meta")
    h = keras.layers.Concatenate(name="cat")([keras.layers.Dense(3, name="d")(image), meta])
    return keras.Model([image, meta], keras.layers.Dense(2, name="out")(h), name="two")


@pytest.mark.parametrize("how", ["name", "position"])
def test_fix_inputs_holds_the_other_input_and_matches_the_full_model(how):
    model = two_inputs()
    meta = np.array([0.5, -2.0], "float32")
    one = fv.fix_inputs(model, meta=meta) if how == "name" else fv.fix_inputs(model, None, meta)
    x = np.random.default_rng(1).normal(size=(3, 4)).astype("float32")
    np.testing.assert_allclose(one(x).numpy(), model([x, np.tile(meta, (3, 1))]).numpy(), rtol=1e-6)
    r = fv.ascend(one, fv.ClassLogit(1), constraints=fv.Box(-1, 1), steps=100)
    fv.assert_within(r, fv.Box(-1, 1))
    np.testing.assert_allclose(r.values, model([r.inputs, meta[None]]).numpy()[:, 1], rtol=1e-5)
    w = model.get_layer("d").get_weights()[0] @ model.get_layer("out").get_weights()[0][:3, 1]
    np.testing.assert_allclose(r.inputs[0], np.sign(w), atol=1e-5)  # linear in x: the box corner


def test_fix_inputs_refuses_bad_names_shapes_and_free_counts():
    model = two_inputs()
    with pytest.raises(ConfigurationError, match="no input 'meat'; did you mean 'meta'.*inputs are: image, meta"):
        fv.fix_inputs(model, meat=np.zeros(2))
    with pytest.raises(ConfigurationError, match=r"input 'meta' has shape \(3,\); .*\(2,\)"):
        fv.fix_inputs(model, meta=np.zeros(3))
    with pytest.raises(ConfigurationError, match="2 inputs free \\('image', 'meta'\\)"):
        fv.fix_inputs(model)
    with pytest.raises(ConfigurationError, match="no input free"):
        fv.fix_inputs(model, np.zeros(4), meta=np.zeros((1, 2)))
    with pytest.raises(ConfigurationError, match="fv.fix_inputs"):
        fv.ascend(model, fv.ClassLogit(0), steps=1)


def test_a_small_fixed_model_is_bounded_exactly_like_the_linear_function_it_is():
    model = two_inputs()
    meta = np.array([0.5, -2.0], "float32")
    one = fv.fix_inputs(model, meta=meta)
    (wd, bd), (wo, bo) = model.get_layer("d").get_weights(), model.get_layer("out").get_weights()
    w = wd @ wo[:3, 1]
    c = bd @ wo[:3, 1] + meta @ wo[3:, 1] + bo[1]
    b = fv.bounds(one, fv.ClassLogit(1), constraints=fv.Box(0, 1))
    np.testing.assert_allclose(
        [b.lower[0], b.upper[0]], [c + np.minimum(w, 0).sum(), c + np.maximum(w, 0).sum()], rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("small", [True, False])
def test_held_values_of_any_rank_and_integer_inputs_are_repeated_per_example(small, monkeypatch):
    from pytest_featviz.models import fixed_inputs as _fixed_inputs

    if not small:  # the HeldInput layer, used where a zero kernel would be large
        monkeypatch.setattr(_fixed_inputs, "_SMALL", 0)
    keras.utils.set_random_seed(5)
    free, grid, ids = (
        keras.Input((4,), name="free"),
        keras.Input((2, 3), name="grid"),
        keras.Input((3,), name="ids", dtype="int32"),
    )
    tokens = keras.layers.Flatten()(keras.layers.Embedding(5, 2, name="emb")(ids))
    h = keras.layers.Concatenate()([free, keras.layers.Flatten()(grid), tokens])
    model = keras.Model([free, grid, ids], keras.layers.Dense(2, name="out")(h))
    g, t = np.arange(6, dtype="float32").reshape(2, 3), np.array([[4, 0, 2]], "int32")
    one = fv.fix_inputs(model, grid=g, ids=t)
    x = np.random.default_rng(2).normal(size=(3, 4)).astype("float32")
    want = model([x, np.tile(g, (3, 1, 1)), np.tile(t, (3, 1))]).numpy()
    np.testing.assert_allclose(one(x).numpy(), want, rtol=1e-6, atol=1e-6)
    assert ("held_grid_flat_value" in fv.layer_names(one)) is small  # the zero-kernel Dense


def test_bounds_refuse_a_head_inside_a_nested_model_with_a_configuration_error():
    model = transfer("sequential", base())
    inner = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, activation="softmax", name="p")], name="inner")
    outer = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, name="hidden"), inner])
    with pytest.raises(ConfigurationError, match="head 'inner/p' sits inside the nested model 'inner'"):
        fv.bounds(outer, fv.ClassLogit(0), constraints=fv.Box(0, 1))
    assert model_info(model).head.layer == "head"  # a top-level head is unaffected
