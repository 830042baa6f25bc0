"""Tiny Keras models with known answers, shared by the tests (fixtures for them: tests/conftest.py).

Each builds in milliseconds and has a closed-form maximiser, so a test can check the engine's answer
rather than its own copy of it. Keras is imported inside each function: importing this module costs
nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def ones_model(n_inputs: int = 3, classes: int = 2, name: str = "ones") -> Any:
    """``Input((n_inputs,))`` -> Dense ``head`` with every weight 1 and no bias: each logit is ``sum(x)``,
    so its maximum over the box [0, 1]^n is ``n_inputs`` (at the corner of ones)."""
    import keras

    inp = keras.Input((n_inputs,))
    return keras.Model(inp, keras.layers.Dense(classes, kernel_initializer="ones", name="head")(inp), name=name)


def saved(model: Any, folder: Path, name: str | None = None) -> Path:
    """``model`` saved as ``folder/<name or model.name>.keras``; the path."""
    path = Path(folder) / f"{name or model.name}.keras"
    model.save(path)
    return path


def linear_model(seed: int = 0, classes: int = 4, shape: tuple[int, ...] = (6, 5)) -> Any:
    """``Input(shape)`` -> ``flatten`` -> ``dense`` (``classes`` linear units, normal weights and biases
    drawn with ``seed``): logit k is ``w_k . x + b_k``, maximised over a box at its sign corner."""
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape)
    out = keras.layers.Dense(classes, name="dense")(keras.layers.Flatten(name="flatten")(inp))
    model = keras.Model(inp, out, name="linear")
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    model.get_layer("dense").set_weights(
        [rng.normal(size=(n, classes)).astype("float32"), rng.normal(size=classes).astype("float32")]
    )
    return model


def dense_stack(weights: list[tuple[Any, Any]], *, activations: list[str | None] | None = None) -> Any:
    """A functional stack of Dense layers ``d0, d1, ...`` with the given (kernel, bias) pairs."""
    import keras

    acts = activations or [None] * len(weights)
    inp = keras.Input((np.shape(weights[0][0])[0],))
    x = inp
    for i, ((kernel, _), act) in enumerate(zip(weights, acts)):
        x = keras.layers.Dense(np.shape(kernel)[1], activation=act, name=f"d{i}")(x)
    model = keras.Model(inp, x)
    model.set_weights([np.asarray(a, np.float32) for pair in weights for a in pair])
    return model


def mlp(n_inputs: int = 5, hidden: int = 4, classes: int = 3, seed: int = 0, activation: str = "tanh") -> Any:
    """``Input((n_inputs,))`` -> ``hidden`` (Dense, ``activation``) -> ``out`` (Dense, linear), seeded."""
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input((n_inputs,))
    h = keras.layers.Dense(hidden, activation=activation, name="hidden")(inp)
    return keras.Model(inp, keras.layers.Dense(classes, name="out")(h))


def conv_model(size: int = 6, channels: int = 3, classes: int = 2, seed: int = 0) -> Any:
    """``Input((size, size, 1))`` -> ``conv`` (Conv2D ``channels`` 3x3, linear) -> flatten -> ``out``."""
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input((size, size, 1))
    h = keras.layers.Conv2D(channels, 3, name="conv")(inp)
    return keras.Model(inp, keras.layers.Dense(classes, name="out")(keras.layers.Flatten()(h)))
