"""Full CROWN on convolutional networks (patches): equal to a brute-force dense-Jacobian CROWN on
a tiny conv net, equal to dense rows on residual/depthwise/padding/concatenate blocks, at least as
tight as CROWN-IBP, and the IBP fallback is reported when the budget cannot hold."""

from __future__ import annotations

from dataclasses import replace

import keras
import numpy as np
import pytest
from test_bounds_mobile import _randomise

import pytest_featviz as fv
from pytest_featviz.verify import bounds, intermediate, patches, propagation
from pytest_featviz.verify.certificates import _input_set
from pytest_featviz.verify.linear import Conv2D, Dense, LinearOp, Reshape
from pytest_featviz.verify.nonlinear import Activation, MaxPool2D
from pytest_featviz.verify.specs import targets_of
from pytest_featviz.verify.targets import build_graph

L = keras.layers


def tiny_cnn(seed):
    inp = keras.Input((6, 6, 1))
    x = L.Conv2D(2, 3, padding="same", activation="relu", name="conv1")(inp)
    x = L.MaxPooling2D(2, strides=1, name="pool")(x)
    x = L.BatchNormalization(name="bn")(x)
    x = L.Conv2D(3, 2, strides=2, padding="same", activation="relu", name="conv2")(x)
    x = L.Conv2D(3, 2, padding="same", name="linear_conv")(x)  # its bias must not reach conv3's padding
    x = L.Conv2D(2, 2, dilation_rate=2, padding="same", activation="relu", name="conv3")(x)
    x = L.Flatten()(x)
    x = L.Dense(4, activation="relu", name="dense")(x)
    return _randomise(keras.Model(inp, L.Dense(3, name="logits")(x)), seed)


def exact_graph(model):
    """The translated graph without rounding (unit roundoff 0): bounds in exact arithmetic."""
    graph, nodes = build_graph(model, targets_of(fv.ClassLogit(0)))
    return replace(graph, unit=0.0), nodes


def dense_matrix(op: LinearOp, in_shape):
    """``(M, c)`` with ``op(x) = M @ x.ravel() + c``, by applying ``op`` to every basis vector."""
    size = int(np.prod(in_shape))
    zero = op.apply([np.zeros((1, *in_shape))], "value").reshape(-1)
    cols = op.apply([np.eye(size).reshape((size, *in_shape))], "value").reshape(size, -1) - zero
    return cols.T, zero


def reference_crown(graph, low0, high0):
    """Textbook CROWN on a sequential graph with dense Jacobians, one item: every linear node
    that feeds a non-linearity gets the intersection of its IBP and CROWN bounds (but a
    neuron feeding only a ReLU whose upper bound is already at most 0, the lower bound
    of one whose lower bound is above 0 where no other bound reads it, and both bounds of one
    above 0 whose ReLU feeds only the last layer: in exact arithmetic they reach no other
    bound); returns the bounds of every node, ``upper(rows, n)`` (CROWN's upper bounds of rows
    of node ``n``) and how many lower bounds and pairs of bounds were kept so."""
    los, his, steps, kept, settled = [low0.ravel()], [high0.ravel()], [], 0, 0
    feeds = {nd.inputs[0] for nd in graph.nodes[1:] if isinstance(nd.op, (Activation, MaxPool2D))}
    readers = {n: [m for m, nd in enumerate(graph.nodes) if n in nd.inputs] for n in range(len(graph.nodes))}

    def reached(n):  # the nodes that read n, through reshapes
        for m in readers[n]:
            yield from reached(m) if isinstance(graph.nodes[m].op, Reshape) else [m]

    def lower_unread(n):  # only ReLUs read n, and only dense or conv layers that CROWN recomputes read them
        relus = readers[n]
        return all(isinstance(graph.nodes[r].op, Activation) and graph.nodes[r].op.relu_family for r in relus) and all(
            isinstance(graph.nodes[m].op, (Conv2D, Dense)) and m in feeds for r in relus for m in reached(r)
        )

    def last_only(n):  # only ReLUs read n, and only dense or conv layers that nothing reads read them
        relus = readers[n]
        return all(isinstance(graph.nodes[r].op, Activation) and graph.nodes[r].op.relu_family for r in relus) and all(
            isinstance(graph.nodes[m].op, (Conv2D, Dense)) and not readers[m] for r in relus for m in reached(r)
        )

    def upper(rows, n):
        const = np.zeros(len(rows))
        for kind, *data in reversed(steps[:n]):
            if kind == "linear":
                m, c = data
                const += rows @ c
                rows = rows @ m
            elif kind == "act":
                al, bl, au, bu = data
                pos = rows > 0
                const += np.where(pos, rows * bu, rows * bl).sum(axis=1)
                rows = np.where(pos, rows * au, rows * al)
            else:
                sel_matrix, exact, umax = data
                loose = (rows > 0) & ~exact
                const += np.where(loose, rows * umax, 0.0).sum(axis=1)
                rows = np.where(loose, 0.0, rows) @ sel_matrix
        return const + np.maximum(rows, 0) @ his[0] + np.minimum(rows, 0) @ los[0]

    for n, node in enumerate(graph.nodes[1:], start=1):
        op, in_shape = node.op, graph.nodes[node.inputs[0]].shape
        lo, hi = los[-1], his[-1]
        if isinstance(op, Activation):
            steps.append(("act", *op.relax(lo, hi)))
            los.append(op.f(lo))
            his.append(op.f(hi))
        elif isinstance(op, MaxPool2D):
            sel, exact, umax = (r.ravel() for r in op.relax(lo.reshape((1, *in_shape)), hi.reshape((1, *in_shape))))
            index = np.arange(lo.size, dtype=float).reshape((1, *in_shape))
            windows = op._windows(index)  # the input index of every window entry
            picked = np.take_along_axis(windows, sel.reshape((1, *windows.shape[1:])), 0).ravel().astype(int)
            sel_matrix = np.zeros((sel.size, lo.size))
            sel_matrix[np.arange(sel.size), picked] = 1.0
            steps.append(("pool", sel_matrix, exact, umax))
            los.append(op.f(lo.reshape((1, *in_shape))).ravel())
            his.append(op.f(hi.reshape((1, *in_shape))).ravel())
        else:
            m, c = dense_matrix(op, in_shape)
            steps.append(("linear", m, c))
            mid, rad = m @ (lo + hi) / 2 + c, np.abs(m) @ (hi - lo) / 2
            new_lo, new_hi = mid - rad, mid + rad
            if n in feeds:  # every consumer is a ReLU: a neuron already at most 0 keeps its bounds
                eye = np.eye(len(c))
                dead = new_hi <= 0
                # and one already above 0 keeps its lower bound where no other bound reads it
                active = (new_lo > 0) & lower_unread(n)
                # and one above 0 whose ReLU feeds only the last layer keeps both
                last = (new_lo > 0) & last_only(n)
                kept, settled = kept + int(active.sum()), settled + int(last.sum())
                new_hi = np.where(dead | last, new_hi, np.minimum(new_hi, upper(eye, n)))
                new_lo = np.where(dead | active | last, new_lo, np.maximum(new_lo, -upper(-eye, n)))
            los.append(new_lo)
            his.append(new_hi)
    return los, his, upper, (kept, settled)


@pytest.mark.parametrize("seed", [0, 1])
def test_full_crown_on_a_conv_net_equals_a_dense_jacobian_reference(seed):
    model = tiny_cnn(seed)
    graph, nodes = exact_graph(model)
    x = np.random.default_rng(seed).uniform(0, 1, (1, 6, 6, 1))
    inset = _input_set(fv.Box(0, 1) & fv.LpBall(x, 0.1, p=np.inf), x.shape, x)
    state = propagation.forward(graph, inset, "full")
    assert state.ibp_nodes == []
    los, his, upper, (kept, settled) = reference_crown(graph, inset.low[0], inset.high[0])
    assert kept > 0 and settled > 0  # some bounds are left to IBP (only the upper bound read; neither)
    for n in range(len(graph.nodes)):
        np.testing.assert_allclose(state.low[n].ravel(), los[n], rtol=0, atol=1e-9, err_msg=graph.nodes[n].layer)
        np.testing.assert_allclose(state.high[n].ravel(), his[n], rtol=0, atol=1e-9, err_msg=graph.nodes[n].layer)
    last = len(graph.nodes) - 1
    rows = np.random.default_rng(seed).normal(size=(1, 5, 3))
    _, ours = propagation.backward(graph, state, inset, last, rows)
    np.testing.assert_allclose(ours[0], upper(rows[0], last), rtol=0, atol=1e-9)
    # before the intersection with IBP: every convolutional pre-activation's patches
    convs = [n for n, nd in enumerate(graph.nodes) if isinstance(nd.op, Conv2D) and patches.plan(graph, n)]
    for n in convs:
        size = int(np.prod(graph.nodes[n].shape))
        _, exact = patches.backward_patches(graph, state, n, np.arange(size), patches.plan(graph, n))
        want = np.stack([upper(np.eye(size), n), upper(-np.eye(size), n)])
        np.testing.assert_allclose(exact[0], want, rtol=0, atol=1e-9, err_msg=graph.nodes[n].layer)
    # the conv nodes' CROWN bounds are strictly inside IBP's somewhere (the reference is not trivial)
    conv2 = next(n for n, nd in enumerate(graph.nodes) if nd.layer == "conv2" and not isinstance(nd.op, Activation))
    ibp = propagation.forward(graph, inset, "ibp")
    assert (state.high[conv2] < ibp.high[conv2] - 1e-6).any()


def block_net(seed):
    """Residual adds, zero padding, depthwise and separable convolutions, average pooling, BatchNorm,
    leaky/ReLU6 activations and a channel concatenation: every operation patches handle."""
    inp = keras.Input((8, 8, 2))
    x = L.Conv2D(4, 3, padding="same", activation="relu")(inp)
    y = L.ZeroPadding2D(((1, 0), (0, 1)))(x)
    y = L.DepthwiseConv2D(2, activation="relu6")(y)
    y = L.BatchNormalization()(y)
    x = L.Add()([x, y])
    x = L.Concatenate()([L.LeakyReLU(0.2)(x), L.SeparableConv2D(2, 3, padding="same", activation="relu")(x)])
    x = L.AveragePooling2D(2, padding="same")(x)
    x = L.Conv2D(3, 3, strides=2, padding="same", activation="relu", name="last_conv")(x)
    x = L.MaxPooling2D(2)(x)
    x = L.Flatten()(x)
    return _randomise(keras.Model(inp, L.Dense(3)(L.Dense(5, activation="relu")(x))), seed)


@pytest.mark.parametrize("matrix", [True, False])
def test_patches_equal_dense_rows_on_residual_and_depthwise_blocks(monkeypatch, matrix):
    if not matrix:  # every patch adjoint offset by offset instead of as one matrix product
        monkeypatch.setattr(patches, "MATRIX_ENTRIES", 0)
    model = block_net(3)
    graph, _ = build_graph(model, targets_of(fv.ClassLogit(0)))
    x = np.random.default_rng(3).uniform(0, 1, (2, 8, 8, 2))
    inset = _input_set(fv.Box(0, 1) & fv.LpBall(x, 0.05, p=np.inf), x.shape, x)
    patched = propagation.forward(graph, inset, "full", budget=2**30)
    assert sum(intermediate.crown_cost(graph, n)[1] == "patches" for n in range(1, len(graph.nodes))) >= 5
    monkeypatch.setattr(intermediate, "plan", lambda graph, n: None)
    dense = propagation.forward(graph, inset, "full", budget=2**30)
    assert patched.ibp_nodes == dense.ibp_nodes == []
    for n in range(len(graph.nodes)):
        for name in ("low", "high", "clow", "chigh"):
            got, want = getattr(patched, name)[n], getattr(dense, name)[n]
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-9, err_msg=f"{name} {graph.nodes[n].layer}")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_full_crown_is_at_least_as_tight_as_crown_ibp(seed):
    model = block_net(seed)
    x = np.random.default_rng(seed).uniform(0, 1, (3, 8, 8, 2)).astype(np.float32)
    c = fv.Box(0, 1) & fv.LpBall(x, 0.02, p=np.inf)
    objective = fv.ClassLogit([0, 1, 2]) - fv.ClassLogit([1, 2, 0])
    full = bounds(model, objective, constraints=c, start=x, method="crown")
    ibp = bounds(model, objective, constraints=c, start=x, method="crown-ibp")
    assert full.method == "crown" and full.ibp_layers == ()
    assert np.all(full.upper <= ibp.upper + 1e-9) and np.all(full.lower >= ibp.lower - 1e-9)
    assert np.mean(full.upper - full.lower) < np.mean(ibp.upper - ibp.lower)


def test_the_ibp_fallback_is_reported_when_the_budget_cannot_hold(monkeypatch):
    model = tiny_cnn(0)
    x = np.random.default_rng(0).uniform(0, 1, (2, 6, 6, 1)).astype(np.float32)
    c = fv.Box(0, 1) & fv.LpBall(x, 0.05, p=np.inf)
    full = bounds(model, fv.ClassLogit(0), constraints=c, start=x)
    assert full.method == "crown" and full.ibp_layers == () and "ibp_layers" not in repr(full)
    monkeypatch.setattr(propagation, "FULL_CROWN_BUDGET", 1)
    small = bounds(model, fv.ClassLogit(0), constraints=c, start=x)
    forced = bounds(model, fv.ClassLogit(0), constraints=c, start=x, method="crown-ibp")
    assert small.method == "crown-ibp"
    assert small.ibp_layers == forced.ibp_layers == ("conv2", "conv3", "dense")
    assert "ibp_layers=('conv2', 'conv3', 'dense')" in repr(small)
    np.testing.assert_array_equal(small.upper, forced.upper)
    assert np.all(full.upper <= small.upper)


def test_crown_budget_chooses_per_call_which_layers_get_full_crown(monkeypatch):
    model = tiny_cnn(0)
    x = np.random.default_rng(0).uniform(0, 1, (2, 6, 6, 1)).astype(np.float32)
    c = fv.Box(0, 1) & fv.LpBall(x, 0.05, p=np.inf)
    small = bounds(model, fv.ClassLogit(0), constraints=c, start=x, crown_budget=1)
    assert small.method == "crown-ibp" and small.ibp_layers == ("conv2", "conv3", "dense")
    monkeypatch.setattr(propagation, "FULL_CROWN_BUDGET", 1)  # a default too small: the call's budget wins
    full = bounds(model, [fv.ClassLogit(0)], constraints=c, start=x, crown_budget=2**23)[0]
    assert full.method == "crown" and full.ibp_layers == () and np.all(full.upper <= small.upper)
    cert = fv.certify_not_reaches(model, fv.ClassLogit(0), 1e9, constraints=c, start=x, crown_budget=1)
    assert cert.bounds.ibp_layers == small.ibp_layers
    with pytest.raises(fv.ConfigurationError, match="crown_budget"):
        bounds(model, fv.ClassLogit(0), constraints=c, start=x, crown_budget=0)
    with pytest.raises(fv.FeatvizTypeError, match="crown_budget"):
        bounds(model, fv.ClassLogit(0), constraints=c, start=x, crown_budget=2.5)


def test_an_item_gets_the_same_bounds_alone_and_in_a_batch():
    model = tiny_cnn(1)
    graph, _ = exact_graph(model)
    x = np.random.default_rng(7).uniform(0, 1, (4, 6, 6, 1))
    radii = fv.LpBall(x, np.array([0.01, 0.2, 0.05, 0.3]), p=np.inf)
    together = propagation.forward(graph, _input_set(fv.Box(0, 1) & radii, x.shape, x), "full")
    for i in range(4):
        one = fv.Box(0, 1) & fv.LpBall(x[i : i + 1], float(radii.radius[i]), p=np.inf)
        alone = propagation.forward(graph, _input_set(one, x[i : i + 1].shape, x[i : i + 1]), "full")
        for n in range(len(graph.nodes)):
            # equal up to the summation order of matrix products of other shapes
            np.testing.assert_allclose(together.low[n][i], alone.low[n][0], rtol=0, atol=1e-12)
            np.testing.assert_allclose(together.high[n][i], alone.high[n][0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("how", ["patches", "dense"])
def test_chunks_on_threads_give_the_bounds_of_one_thread_bit_for_bit(monkeypatch, how):
    """Small chunks, so every tightened node is bounded in several, side by side on two threads
    (the BLAS held to one thread meanwhile, and given its threads back after)."""
    model = block_net(4)
    graph, _ = build_graph(model, targets_of(fv.ClassLogit(0)))
    x = np.random.default_rng(4).uniform(0, 1, (3, 8, 8, 2))
    inset = _input_set(fv.Box(0, 1) & fv.LpBall(x, 0.05, p=np.inf), x.shape, x)
    monkeypatch.setattr(intermediate, "CHUNK_ELEMENTS", 2**9)
    if how == "dense":
        monkeypatch.setattr(intermediate, "plan", lambda graph, n: None)
    seen = []
    each = intermediate.each
    monkeypatch.setattr(intermediate, "each", lambda fn, work: seen.append(len(work)) or each(fn, work))
    blas = intermediate._blas().select(user_api="blas").info()
    states = {}
    for threads in (1, 2):
        monkeypatch.setattr(intermediate, "THREADS", threads)
        states[threads] = propagation.forward(graph, inset, "full", budget=2**30)
    busy = [n for n in seen if n]  # a node whose every neuron keeps its bounds has no chunk
    assert len(busy) >= 8 and min(busy) >= 4  # every other tightened node in several chunks
    assert intermediate._blas().select(user_api="blas").info() == blas
    for n in range(len(graph.nodes)):
        for name in ("low", "high", "clow", "chigh"):
            np.testing.assert_array_equal(getattr(states[2], name)[n], getattr(states[1], name)[n], err_msg=name)


@pytest.mark.parametrize("fan_in, settles", [(32, True), (300, False)])
def test_neurons_that_feed_only_a_small_last_layer_keep_their_interval_bounds(monkeypatch, fan_in, settles):
    """Above 0, read by a ReLU that feeds only the logits layer: no CROWN rows when that layer's
    float32 rounding factor is small (32 inputs), rows when it is not (300); the margins' bounds
    then widen by a negligible amount (here none), never narrow."""
    inp = keras.Input((12,))
    h = L.Dense(16, activation="relu")(inp)
    h = L.Dense(16, activation="relu", name="middle")(h)
    h = L.Dense(fan_in, activation="relu", name="last_hidden")(h)
    model = _randomise(keras.Model(inp, L.Dense(3, name="logits")(h)), 7)
    graph, _ = build_graph(model, targets_of(fv.ClassLogit(0)))
    x = np.random.default_rng(7).uniform(0, 1, (4, 12))
    c = fv.Box(0, 1) & fv.LpBall(x, 0.01, p=np.inf)
    inset = _input_set(c, x.shape, x)
    middle, last = (
        next(n for n, nd in enumerate(graph.nodes) if nd.layer == name and isinstance(nd.op, Dense))
        for name in ("middle", "last_hidden")
    )
    kept, before, after = {}, {}, {}
    settled, tighten = intermediate.settled, propagation.tighten

    def spied(graph, state, n, budget, dense):  # each node's bounds before and after its CROWN rows
        names = ("low", "high", "clow", "chigh")
        before[n] = [getattr(state, name)[n].reshape(len(x), -1).copy() for name in names]
        done = tighten(graph, state, n, budget, dense)
        after[n] = [getattr(state, name)[n].reshape(len(x), -1) for name in names]
        return done

    monkeypatch.setattr(intermediate, "settled", lambda g, s, n: kept.setdefault(n, settled(g, s, n)))
    monkeypatch.setattr(propagation, "tighten", spied)
    propagation.forward(graph, inset, "full")
    assert set(kept) == {middle, last}  # the first layer is not tightened (its interval is exact)
    assert kept[middle].size and not kept[middle].any()  # it feeds a hidden layer: never settled
    assert kept[last].any() == settles
    for old, new in zip(before[last], after[last]):  # the settled neurons kept their interval bounds
        np.testing.assert_array_equal(new[kept[last]], old[kept[last]])
    assert (after[last][0] != before[last][0]).any()  # the others' lower bounds were tightened
    margins = fv.logit_margins([0, 1, 2, 0], 3)
    found = bounds(model, margins, constraints=c, method="crown", start=x)
    monkeypatch.setattr(intermediate, "SETTLED_ROUNDING", -1.0)  # every neuron gets its rows
    rows = bounds(model, margins, constraints=c, method="crown", start=x)
    for ours, full in zip(found, rows):
        assert (ours.lower <= full.lower + 1e-12).all() and (ours.upper >= full.upper - 1e-12).all()
        width, full_width = ours.upper - ours.lower, full.upper - full.lower
        assert (width <= full_width * (1 + 1e-4) + 1e-9).all()


def test_the_final_pass_chunks_on_threads_give_the_bounds_of_one_thread_bit_for_bit(monkeypatch):
    """The objective's rows in small chunks, side by side on two threads: bitwise the bounds of one
    thread (alpha-CROWN's chunks stay one after another)."""
    from pytest_featviz.verify import rowbounds

    model = block_net(5)
    x = np.random.default_rng(5).uniform(0, 1, (4, 8, 8, 2))
    c = fv.Box(0, 1) & fv.LpBall(x, 0.05, p=np.inf)
    margins = fv.logit_margins([0, 1, 2, 0], 3)
    monkeypatch.setattr(rowbounds, "ROWS_CHUNK", 2**8)
    seen = []
    each = rowbounds.each
    monkeypatch.setattr(rowbounds, "each", lambda fn, work: seen.append(len(work)) or each(fn, work))
    found = {}
    for threads in (1, 2):
        monkeypatch.setattr(intermediate, "THREADS", threads)
        found[threads] = bounds(model, margins, constraints=c, method="crown", start=x)
    assert seen and min(seen) >= 4  # the final pass in several chunks
    for one, two in zip(found[1], found[2]):
        np.testing.assert_array_equal(one.lower, two.lower)
        np.testing.assert_array_equal(one.upper, two.upper)
    seen.clear()
    bounds(model, margins, constraints=c, method="alpha-crown", start=x)
    assert not seen
