"""Layers called twice in one graph, and nested base models called twice: ``fv.bounds`` translates
the call that the feature extractor reads (a layer's earliest call in the model's own graph), its
translated graph computes the model itself, and its bounds hold what sampling finds."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_bounds import _set_random_weights
from test_bounds_mobile import assert_sound

import pytest_featviz as fv
from pytest_featviz.models import FeatureExtractor, model_info
from pytest_featviz.verify.graph import LOGITS_TARGET
from pytest_featviz.verify.nonlinear import Activation, MaxPool2D, Multiply
from pytest_featviz.verify.targets import build_graph

L = keras.layers
SHAPE = (6, 6, 2)


def dense_twice():
    """A Dense layer called first on a hidden tensor, then on the input (which a topological walk meets first)."""
    inp = keras.Input((4,))
    shared = L.Dense(5, activation="tanh", name="shared")
    first = shared(L.Dense(4, name="pre")(inp))
    second = shared(inp)
    model = keras.Model(inp, L.Dense(3, name="logits")(L.Add()([second, first])), name="dense_twice")
    return model, "shared", keras.Model(inp, first)


def conv_twice():
    """A Conv2D layer called on a zero-padded input (8x8: first), then on the input (6x6)."""
    inp = keras.Input(SHAPE)
    shared = L.Conv2D(3, 3, activation="relu", name="shared")
    first = shared(L.ZeroPadding2D(1)(inp))
    second = shared(inp)
    pooled = [L.GlobalAveragePooling2D()(t) for t in (first, second)]
    model = keras.Model(inp, L.Dense(3, name="logits")(L.Concatenate()(pooled)), name="conv_twice")
    return model, "shared", keras.Model(inp, first)


def nested_twice():
    """A base model (a Dense layer called twice inside) called on a rescaled input (first), then on the input."""
    base_in = keras.Input(SHAPE)
    h = L.GlobalAveragePooling2D()(L.Conv2D(4, 3, activation="relu", name="conv")(base_in))
    shared = L.Dense(4, activation="tanh", name="shared")
    first_in_base = shared(L.Dense(4, name="pre")(h))
    base = keras.Model(base_in, L.Add()([shared(h), first_in_base]), name="base")
    inp = keras.Input(SHAPE)
    scaled = L.Rescaling(0.5, offset=0.25, name="scale")(inp)
    first, second = base(scaled), base(inp)
    model = keras.Model(inp, L.Dense(3, name="logits")(L.Concatenate()([second, first])), name="nested_twice")
    inner = keras.Model(base_in, first_in_base)
    return model, "base/shared", keras.Sequential([keras.Input(SHAPE), L.Rescaling(0.5, offset=0.25), inner])


BUILDS = [dense_twice, conv_twice, nested_twice]


def build(make, seed=0):
    model, path, first_call = make()
    rng = np.random.default_rng(seed)
    for layer in [model, *(la for la in model.layers if isinstance(la, keras.Model))]:
        _set_random_weights(layer, rng)
    return model, path, first_call


def run_graph(graph, x):
    """The translated graph's own forward pass: the value of every node at the points ``x``."""
    values = [np.asarray(x, np.float64)]
    for node in graph.nodes[1:]:
        ins = [values[i] for i in node.inputs]
        if isinstance(node.op, Multiply):
            values.append(node.op.interval(ins, ins)[0])
        elif isinstance(node.op, (Activation, MaxPool2D)):
            values.append(node.op.f(ins[0]))
        else:
            values.append(node.op.apply(ins, "value"))
    return values


def points(model, n=3, seed=1):
    shape = model.inputs[0].shape[1:]
    return np.random.default_rng(seed).uniform(0, 1, (n, *shape)).astype(np.float32)


@pytest.mark.parametrize("make", BUILDS)
def test_the_translated_graph_computes_the_model_and_the_layer_at_its_first_call(make):
    model, path, first_call = build(make)
    x = points(model)
    graph, nodes = build_graph(model, [LOGITS_TARGET, path])
    values = run_graph(graph, x)
    np.testing.assert_allclose(values[nodes[LOGITS_TARGET]], model(x, training=False), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(values[nodes[path]], first_call(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("make", BUILDS)
def test_the_feature_extractor_and_bounds_mean_the_same_call(make):
    model, path, first_call = build(make)
    x = points(model)
    graph, nodes = build_graph(model, [path])
    features = FeatureExtractor(model, frozenset({path}))(tf.constant(x)).features[path].numpy()
    np.testing.assert_allclose(features, first_call(x), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(run_graph(graph, x)[nodes[path]], features, rtol=1e-5, atol=1e-5)
    assert model_info(model).shapes[path] == graph.nodes[nodes[path]].shape == tuple(first_call.outputs[0].shape[1:])


@pytest.mark.parametrize("make", BUILDS)
def test_bounds_of_a_layer_called_twice_hold_sampled_points(make):
    model, path, _ = build(make)
    rng = np.random.default_rng(2)
    x0 = points(model, n=1, seed=3)[0]
    box = (x0 - 0.1, x0 + 0.1)
    layer = fv.Channel(path, 1) if make is conv_twice else fv.Neuron(path, 2)
    for objective in (fv.ClassLogit(0) - fv.ClassLogit(2), layer):
        assert_sound(model, objective, box, rng, search=False)
