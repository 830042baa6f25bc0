"""Bounds of objectives with many rows in memory linear in the layer's size (issue 20): a
``Channel(..., reduce="max")`` on a 26x26x16 convolution and a ``ClassProbability`` on
thousands of classes stay within a few MiB per batch item with every method (the dense rows
took 640 MiB and 1.4 GB per item), and the index-based rows give the dense rows' bounds."""

from __future__ import annotations

import tracemalloc
from dataclasses import replace

import keras
import numpy as np
import pytest
from test_bounds_mobile import _randomise

import pytest_featviz as fv
from pytest_featviz.verify import alpha, bounds, certificates, rowbounds, specs
from pytest_featviz.verify.certificates import _input_set, _translate
from pytest_featviz.verify.domains import Problem, bound, root
from pytest_featviz.verify.lagrange import splittable
from pytest_featviz.verify.unitrows import UnitRows, concat, dense

L = keras.layers
MIB = 2.0**20
PER_ITEM_MIB = 32.0  # the dense rows: 640 MiB per item on the convolution, 1400 MiB on 3000 classes


def conv_model():
    """28x28x1 -> Conv2D(16, 3, relu): 26x26x16 -> Flatten -> Dense(10)."""
    inp = keras.Input((28, 28, 1))
    x = L.Conv2D(16, 3, activation="relu", name="conv")(inp)
    return _randomise(keras.Model(inp, L.Dense(10, name="logits")(L.Flatten()(x))), 0)


def wide_model(classes, seed=0):
    inp = keras.Input((8,))
    x = L.Dense(16, activation="relu", name="hidden")(inp)
    return _randomise(keras.Model(inp, L.Dense(classes, name="logits")(x)), seed)


def small_cnn(seed):
    """Convolutions, pooling and a dense layer reshaped back to a picture (which patches cannot reach through)."""
    inp = keras.Input((7, 7, 1))
    x = L.Conv2D(3, 3, activation="relu", name="conv1")(inp)
    x = L.MaxPooling2D(2, strides=1, name="pool")(x)
    x = L.Conv2D(4, 2, name="conv2")(x)
    x = L.Activation("relu", name="relu2")(x)
    y = L.Reshape((4, 4, 2), name="back")(L.Dense(32, activation="relu", name="dense")(L.Flatten()(x)))
    y = L.Conv2D(2, 2, activation="relu", name="conv3")(y)
    return _randomise(keras.Model(inp, L.Dense(3, name="logits")(L.Flatten()(y))), seed)


def peak_per_item(fn, batch):
    """The peak numpy and Python memory allocated during ``fn()``, in MiB per batch item."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / MIB / batch
    finally:
        tracemalloc.stop()


@pytest.fixture
def one_iteration(monkeypatch):
    """alpha-CROWN with one optimisation step: its memory per step is what is measured, not its time."""
    monkeypatch.setattr(alpha, "ALPHA_ITERATIONS", 1)


def _dense_groups(monkeypatch):
    """Make :func:`bounds` take every group's rows dense (the path before index-based rows)."""
    original = specs.groups_of
    monkeypatch.setattr(
        certificates, "groups_of", lambda *a, **k: [replace(g, rows=dense(g.rows)) for g in original(*a, **k)]
    )


@pytest.mark.parametrize("method", ["ibp", "crown", "alpha-crown"])
def test_channel_max_on_a_large_convolution_is_linear_in_memory(method, one_iteration):
    model = conv_model()
    x = np.random.default_rng(0).uniform(0, 1, (1, 28, 28, 1)).astype(np.float32)  # one item: alpha takes 3 s
    c = fv.Box(0, 1) & fv.LpBall(x, 0.02, p=np.inf)
    objective = fv.Channel("conv", 3, reduce="max")
    found = []
    mib = peak_per_item(lambda: found.append(bounds(model, objective, constraints=c, method=method, start=x)), 1)
    assert mib < PER_ITEM_MIB, f"{method}: {mib:.1f} MiB per item"
    inner = keras.Model(model.inputs[0], model.get_layer("conv").output)  # the bounds hold at the start
    at_start = np.asarray(inner(x))[..., 3].reshape(1, -1).max(axis=1)
    assert (found[0].lower <= at_start).all() and (at_start <= found[0].upper).all()


@pytest.mark.parametrize("method", ["ibp", "crown", "alpha-crown"])
def test_class_probability_on_many_classes_is_linear_in_memory(method, one_iteration):
    model = wide_model(3000)
    x = np.random.default_rng(1).uniform(0, 1, (2, 8)).astype(np.float32)
    c = fv.Box(0, 1) & fv.LpBall(x, 0.05, p=np.inf)
    found = []
    run = lambda: found.append(bounds(model, fv.ClassProbability([0, 7]), constraints=c, method=method, start=x))  # noqa: E731
    mib = peak_per_item(run, 2)
    assert mib < PER_ITEM_MIB, f"{method}: {mib:.1f} MiB per item"
    p = keras.activations.softmax(model(x)).numpy()[[0, 1], [0, 7]]
    assert (found[0].lower <= p).all() and (p <= found[0].upper).all()


def normalised(seed):
    """An element-wise layer on the input: its node carries the L2 ball's image."""
    inp = keras.Input((5, 5, 2))
    x = L.BatchNormalization(name="bn")(inp)
    return _randomise(keras.Model(inp, L.Dense(2, name="logits")(L.Flatten()(x))), seed)


CASES = {
    "channel max (patches)": (lambda: small_cnn(3), fv.Channel("relu2", [0, 2], reduce="max"), (7, 7, 1)),
    "channel max, cropped": (lambda: small_cnn(4), fv.Channel("conv1", 1, reduce="max", crop=1), (7, 7, 1)),
    "channel max after a dense layer": (lambda: small_cnn(5), fv.Channel("conv3", [1, 0], reduce="max"), (7, 7, 1)),
    "channel max on the input's image": (lambda: normalised(10), fv.Channel("bn", 1, reduce="max"), (5, 5, 2)),
    "class probability": (lambda: wide_model(7, 6), fv.ClassProbability([2, 5]), (8,)),
    "class probability on a convolution": (lambda: small_cnn(7), fv.ClassProbability(1), (7, 7, 1)),
    "a sum of max and probability": (
        lambda: small_cnn(8),
        fv.Channel("pool", 2, reduce="max") - 0.5 * fv.ClassProbability(0) + fv.ClassLogit(1),
        (7, 7, 1),
    ),
}


@pytest.mark.parametrize("ball", [np.inf, 2])
@pytest.mark.parametrize("case", list(CASES))
def test_index_rows_give_the_dense_rows_bounds(case, ball, monkeypatch):
    build, objective, shape = CASES[case]
    model = build()
    x = np.random.default_rng(2).uniform(0, 1, (2, *shape)).astype(np.float32)
    c = fv.Box(0, 1) & fv.LpBall(x, 0.1 if ball == np.inf else 0.5, p=ball)
    methods = ("ibp", "crown", "crown-ibp", "alpha-crown")
    ours = [bounds(model, objective, constraints=c, method=m, start=x) for m in methods]
    monkeypatch.setattr(rowbounds, "ROWS_CHUNK", 40)  # several chunks of items and rows
    chunked = [bounds(model, objective, constraints=c, method=m, start=x) for m in methods[:3]]
    with monkeypatch.context() as m:
        _dense_groups(m)
        want = [bounds(model, objective, constraints=c, method=m, start=x) for m in methods]
    for got, small, ref in zip(ours, chunked + [None], want):
        for name in ("lower", "upper", "real_lower", "real_upper"):
            np.testing.assert_allclose(getattr(got, name), getattr(ref, name), rtol=1e-9, atol=1e-9, err_msg=name)
            if small is not None:
                np.testing.assert_allclose(getattr(small, name), getattr(ref, name), rtol=1e-9, atol=1e-9)


def test_groups_hold_max_and_probability_rows_by_index():
    objective = fv.Channel("c", [1, 0], reduce="max", crop=1) + fv.ClassProbability([3, 0])
    groups = specs.groups_of(objective, {"c": (4, 5, 2), specs.LOGITS_TARGET: (5,)}, 2)
    assert [g.kind for g in groups] == ["max", "prob"] and all(isinstance(g.rows, UnitRows) for g in groups)
    rows = dense(groups[0].rows)
    assert rows.shape == (2, 6, 4, 5, 2) and (rows.sum(axis=(2, 3, 4)) == 1).all()
    assert rows[0, :, 1:3, 1:4, 1].sum() == 6 and rows[1, :, 1:3, 1:4, 0].sum() == 6  # cropped, per-item channel
    probs = dense(groups[1].rows)
    assert probs.shape == (2, 4, 5) and (probs[0, :, 3] == -1).all() and (probs[1, :, 0] == -1).all()
    assert probs[0, :, [0, 1, 2, 4]].trace() == 4 and probs[1, :, 1:].trace() == 4  # z_j - z_k, j in order


def test_branch_and_bound_domains_bound_index_rows_as_dense_ones():
    """Branch and bound still takes a group's rows dense (its optimiser needs them): the same bound."""
    model = small_cnn(9)
    x = np.random.default_rng(3).uniform(0, 1, (1, 7, 7, 1)).astype(np.float32)
    c = fv.Box(0, 1) & fv.LpBall(x, 0.05, p=np.inf)
    objective, info, graph, nodes = _translate(model, fv.Channel("relu2", 1, reduce="max") + fv.ClassProbability(2))
    groups = specs.groups_of(objective, {t: graph.nodes[n].shape for t, n in nodes.items()}, 1, info.head.squash)
    relus = splittable(graph, max(nodes.values()))
    inset = _input_set(c, x.shape, x)
    found = []
    for rows in (lambda r: r, dense):
        problem = Problem(graph, nodes, tuple(replace(g, rows=rows(g.rows)) for g in groups), inset, relus, 1.0, 3)
        found.append(bound(problem, root(problem))[0].upper)
    assert isinstance(groups[0].rows, UnitRows) and np.isfinite(found[0]).all()
    np.testing.assert_allclose(found[0], found[1], rtol=1e-9)


def test_rows_of_several_groups_stack_by_index_when_they_can():
    groups = specs.groups_of(fv.Channel("c", 1, reduce="max") + fv.Channel("c", 0), {"c": (3, 3, 2)}, 2)
    mean, top = groups[0].rows, groups[1].rows  # the sum group first
    both = concat([top, top])
    assert isinstance(both, UnitRows) and both.index.shape == (2, 18, 1)
    np.testing.assert_array_equal(dense(both), np.concatenate([dense(top)] * 2, axis=1))
    mixed = concat([top, mean])
    assert isinstance(mixed, np.ndarray)
    np.testing.assert_array_equal(mixed, np.concatenate([dense(top), mean], axis=1))
