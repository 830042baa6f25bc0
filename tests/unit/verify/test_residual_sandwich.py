"""Full CROWN through residual connections (issue 20): on random small residual conv networks
(identity or 1x1-projection skips, one or two blocks, an optional strided convolution), sampled
points, vertices and a short projected-gradient attack on every logit margin never leave CROWN's
bounds, CROWN is never looser than IBP, and no layer falls back to IBP."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

import pytest_featviz as fv
from pytest_featviz.verify import bounds

L = keras.layers
SHAPE = (6, 6, 1)
CLASSES = 3


def residual_net(rng, blocks, projection, down, channels):
    """conv-relu, then ``blocks`` x ([conv-relu-conv] + skip -> relu), then maybe a strided
    conv-relu, flatten, dense: random weights drawn from ``rng``."""
    inp = keras.Input(SHAPE)
    x = L.Conv2D(channels, 3, padding="same", activation="relu")(inp)
    for _ in range(blocks):
        y = L.Conv2D(channels, 3, padding="same", activation="relu")(x)
        y = L.Conv2D(channels, 3, padding="same")(y)
        skip = L.Conv2D(channels, 1)(x) if projection else x
        x = L.ReLU()(L.Add()([skip, y]))
    if down:
        x = L.Conv2D(channels, 2, strides=2, activation="relu")(x)
    model = keras.Model(inp, L.Dense(CLASSES)(L.Flatten()(x)))
    for layer in model.layers:
        if layer.get_weights():
            w, b = layer.get_weights()
            scale = rng.uniform(0.5, 2.0) / np.sqrt(np.prod(w.shape[:-1]))
            layer.set_weights([(rng.normal(size=w.shape) * scale).astype(np.float32), rng.normal(size=b.shape) * 0.3])
    return model


def margins_of(model, x):
    """``(n, CLASSES - 1)``: the margins ``z_j - z_0``, ``j = 1, 2``, of the float32 model."""
    out = model(x.astype(np.float32)).numpy().astype(np.float64)
    return out[:, 1:] - out[:, :1]


def attack(model, constraint, starts, radius, steps=12):
    """Projected sign-gradient ascent and descent of every margin from ``starts``: every iterate."""
    found = []
    for j in range(1, CLASSES):
        for sign in (1.0, -1.0):
            x = starts.copy()
            for _ in range(steps):
                xt = tf.constant(x, tf.float32)
                with tf.GradientTape() as tape:
                    tape.watch(xt)
                    out = model(xt)
                    value = tf.reduce_sum(sign * (out[:, j] - out[:, 0]))
                grad = tape.gradient(value, xt).numpy()
                x = constraint.project(x + radius / 4 * np.sign(grad)).astype(np.float32)
                found.append(x)
    return np.concatenate(found)


@settings(settings.get_profile("featviz"), max_examples=5)
@given(
    seed=st.integers(0, 2**31 - 1),
    blocks=st.integers(1, 2),
    projection=st.booleans(),
    down=st.booleans(),
    radius=st.floats(0.01, 0.3),
)
def test_crown_sandwiches_small_residual_conv_networks(seed, blocks, projection, down, radius):
    rng = np.random.default_rng(seed)
    model = residual_net(rng, blocks, projection, down, channels=2)
    x0 = rng.uniform(0.2, 0.8, size=(1, *SHAPE))
    constraint = fv.Box(0, 1) & fv.LpBall(x0[0], radius, p=np.inf)
    margins = fv.logit_margins(0, CLASSES)
    crown = bounds(model, margins, constraints=constraint, method="crown")
    ibp = bounds(model, margins, constraints=constraint, method="ibp")
    vertices = x0 + radius * rng.choice([-1.0, 1.0], size=(400, *SHAPE))
    inside = x0 + radius * rng.uniform(-1, 1, size=(400, *SHAPE))
    x = constraint.project(np.concatenate([vertices, inside])).astype(np.float32)
    x = np.concatenate([x, attack(model, constraint, x[::100], radius)])
    values = margins_of(model, x)
    for j, (c, i) in enumerate(zip(crown, ibp)):
        assert c.method == "crown" and c.ibp_layers == (), c
        low, high = values[:, j].min(), values[:, j].max()
        assert c.lower[0] <= low and high <= c.upper[0], (j, low, high, c)
        assert i.lower[0] <= c.lower[0] and c.upper[0] <= i.upper[0], (j, c, i)
        assert c.real_lower[0] <= low + 1e-5 and high - 1e-5 <= c.real_upper[0], (j, low, high, c)
