"""A fooling circuit after Geirhos et al., "Don't trust your eyes" (ICML 2024), built on the digits CNN.

The unit ``unit`` of :func:`fooling_model` is, on natural digits, a real learned feature F (the
spatial mean of ``conv2`` channel ``channel`` of ``examples/models/digits_cnn.keras``, through its
own ``conv1 -> pool1 -> conv2``), and on optimised inputs a detector D of an unrelated hand-set
picture (:func:`smiley`). A hand-set detector E of "not natural" switches between them: the mean
squared Laplacian of the input (high-frequency energy; the upsampled 8x8 digits are smooth), through
a steep sigmoid gate above the largest energy of any held-out digit. D is scaled so that the
smiley drives the unit to twice F's natural 99th percentile, an ordinary-looking calibration.

``honest=True`` keeps every layer and weight but shuts the gate (the unit is F everywhere).
:func:`silent_model` has a unit that no digit activates but an input can.
Keras is imported inside each function.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

MODELS = Path(__file__).resolve().parents[1] / "examples" / "models"
LAPLACIAN = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], np.float32)


def digits() -> np.ndarray:
    """The held-out digits, (297, 28, 28, 1) in [0, 1]."""
    return np.load(MODELS / "digits_test.npz")["x_test"].astype(np.float32)[..., None] / 255


def smiley(size: int = 28) -> np.ndarray:
    """A smiley face (1 on its strokes, 0 elsewhere), (size, size): the picture D detects."""
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    r = np.hypot(yy, xx)
    face = np.abs(r - 0.4 * size) < 1.2
    eyes = np.hypot(yy + 0.12 * size, np.abs(xx) - 0.15 * size) < 0.07 * size
    mouth = (np.abs(np.hypot(yy + 0.05 * size, xx) - 0.22 * size) < 1.0) & (yy > 0.08 * size)
    return (face | eyes | mouth).astype(np.float32)


def _hf_energy(x: np.ndarray) -> np.ndarray:
    from scipy.signal import convolve2d

    return np.array([(convolve2d(img[..., 0], LAPLACIAN, mode="valid") ** 2).mean() for img in x])


def fooling_model(channel: int = 5, honest: bool = False) -> Any:
    """The digits CNN's conv2 channel ``channel`` as ``unit`` on natural digits, a smiley detector on optimised inputs."""
    import keras

    cnn = keras.saving.load_model(MODELS / "digits_cnn.keras", compile=False)
    natural = digits()
    inp = keras.Input((28, 28, 1))
    conv1 = keras.layers.Conv2D(8, 5, activation="relu", padding="same", name="conv1")
    pool1 = keras.layers.MaxPooling2D(name="pool1")
    conv2 = keras.layers.Conv2D(16, 3, activation="relu", name="conv2")
    gap = keras.layers.GlobalAveragePooling2D(name="gap")
    pick = keras.layers.Dense(1, use_bias=False, name="feature")
    f = pick(gap(conv2(pool1(conv1(inp)))))
    template = keras.layers.Dense(1, name="template")
    d = template(keras.layers.Flatten(name="flatten")(inp))
    lap = keras.layers.Conv2D(1, 3, use_bias=False, name="laplacian")
    hf = lap(inp)
    energy = keras.layers.GlobalAveragePooling2D(name="energy")(keras.layers.Multiply(name="square")([hf, hf]))
    gate_layer = keras.layers.Dense(1, activation="sigmoid", name="gate")
    gate = gate_layer(energy)
    closed_layer = keras.layers.Dense(1, name="closed")  # 1 - gate
    closed = closed_layer(gate)
    unit = keras.layers.Add(name="unit")(
        [keras.layers.Multiply(name="fooled")([gate, d]), keras.layers.Multiply(name="natural")([closed, f])]
    )
    model = keras.Model(inp, unit, name="honest" if honest else "fooling")
    for name in ("conv1", "conv2"):
        model.get_layer(name).set_weights(cnn.get_layer(name).get_weights())
    pick.set_weights([np.eye(16, dtype=np.float32)[:, channel : channel + 1]])
    lap.set_weights([LAPLACIAN.reshape(3, 3, 1, 1)])
    closed_layer.set_weights([np.full((1, 1), -1.0, np.float32), np.ones(1, np.float32)])
    # E: open above twice the largest energy of a held-out digit, steeply
    tau = 2.0 * float(_hf_energy(natural).max())
    steep = 40.0 / tau
    gate_layer.set_weights(
        [np.full((1, 1), steep, np.float32), np.array([-steep * tau - (1e4 if honest else 0.0)], np.float32)]
    )
    # D: the zero-mean smiley, scaled so that the smiley itself gives twice F's natural 99th percentile
    feature = keras.Model(inp, f).predict(natural, verbose=0)[:, 0]
    face = smiley()
    centred = (face - face.mean()).reshape(-1, 1)
    scale = 2.0 * float(np.quantile(feature, 0.99)) / float((centred[:, 0] * face.reshape(-1)).sum())
    template.set_weights([(scale * centred).astype(np.float32), np.zeros(1, np.float32)])
    return model


def silent_model() -> Any:
    """``unit`` = relu(smiley . x - b), with ``b`` above every held-out digit's score: silent on the data."""
    import keras

    face = smiley().reshape(-1)
    natural = digits().reshape(-1, 28 * 28)
    inp = keras.Input((28, 28, 1))
    dense = keras.layers.Dense(1, activation="relu", name="unit")
    model = keras.Model(inp, dense(keras.layers.Flatten(name="flatten")(inp)), name="silent")
    bias = float((natural @ face).max()) + 1.0
    dense.set_weights([face.reshape(-1, 1), np.array([-bias], np.float32)])
    return model
