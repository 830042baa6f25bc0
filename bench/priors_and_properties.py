"""Cost of the standard image priors per step, and of one Hypothesis example, measured in one run.

Run: ``.venv/bin/python bench/priors_and_properties.py``. Prints ratios (noisy machines: compare
only numbers from the same run).
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from hypothesis import given, settings  # noqa: E402

import pytest_featviz as fv  # noqa: E402
from pytest_featviz import strategies as fvst  # noqa: E402
from pytest_featviz.engine.loop import CACHE_ATTR  # noqa: E402


def small_cnn() -> keras.Model:
    keras.utils.set_random_seed(0)
    inp = keras.Input((64, 64, 3))
    h = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(inp)
    h = keras.layers.MaxPooling2D()(h)
    h = keras.layers.Conv2D(64, 3, padding="same", activation="relu", name="conv")(h)
    return keras.Model(inp, keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(h)))


def per_step(model, steps=40, **options) -> float:
    objective = fv.Channel("conv", list(range(16)))
    fv.ascend(model, objective, constraints=fv.Box(0, 1), steps=steps, **options)  # compile
    times = []
    for seed in range(3):
        t = time.perf_counter()
        fv.ascend(model, objective, constraints=fv.Box(0, 1), steps=steps, seed=seed, **options)
        times.append(time.perf_counter() - t)
    return min(times) / steps


def hypothesis_examples(n=50) -> tuple[float, int]:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    seen = []

    @settings(max_examples=n, deadline=None, database=None, derandomize=True)
    @given(start=fvst.starting_points((28, 28)), c=fvst.constraint_sets((28, 28)), k=fvst.class_indices(model))
    def prop(start, c, k):
        t = time.perf_counter()
        fv.assert_within(fv.ascend(model, fv.ClassLogit(k), start=start, constraints=c, steps=50), c)
        seen.append(time.perf_counter() - t)

    prop()
    traces = sum(fn.experimental_get_tracing_count() for fn in model.__dict__[CACHE_ATTR].values())
    return float(np.median(seen)), traces


def main() -> None:
    model = small_cnn()
    plain = per_step(model)
    standard = per_step(model, priors="standard")
    fourier = per_step(model, parametrization=fv.priors.Fourier())
    print("W3 small CNN 64x64x3, 16 channels, batch 16")
    print(f"  plain pixel ascent        : {1e3 * plain:8.2f} ms/step   1.00x")
    print(f"  Fourier parametrization   : {1e3 * fourier:8.2f} ms/step {fourier / plain:6.2f}x")
    print(f"  standard priors           : {1e3 * standard:8.2f} ms/step {standard / plain:6.2f}x (goal: at most 1.5x)")
    median, traces = hypothesis_examples()
    print("Hypothesis: 50 examples varying starts, boxes, balls, masks and class on the seed MLP (50 steps each)")
    print(
        f"  median time per example   : {1e3 * median:8.1f} ms;  compiled traces in total: {traces} "
        "(one per constraint structure: with or without an L2 ball)"
    )


if __name__ == "__main__":
    main()
