"""Benchmark of the ascent engine: ratios measured in one run, on the same model, batch and steps.

Run: ``make bench`` (or ``.venv/bin/python bench/ascent.py [--quick]``).

Workloads
  W1  16 channels of the last conv layer of a small CNN on 64x64x3
      (conv 32-64-pool-128-128-pool-256), 50 steps;
  W2  the seed MLP (Flatten, Dense 128 relu, Dense 10 softmax), all 10 classes, 200 steps.
Approaches
  (a) floor: compiled forward+backward passes w.r.t. the input on the whole batch, `steps` of them in
      one graph loop with no update rule;
  (b) keras-io "visualizing what convnets learn": a Python loop over targets and steps around a
      tf.function gradient step;
  (c) tf-keras-vis ActivationMaximization: not measured here, it needs tf-keras (Keras 2), which
      cannot run beside Keras 3 in one process;
  (d) pytest_featviz.ascend: the whole loop in one compiled call.
Timings are noisy on shared machines: only ratios measured in the same run are meaningful.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import pytest_featviz as fv  # noqa: E402


def cnn() -> keras.Model:
    keras.utils.set_random_seed(0)
    inp = keras.Input((64, 64, 3))
    h = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(inp)
    h = keras.layers.Conv2D(64, 3, padding="same", activation="relu")(h)
    h = keras.layers.MaxPooling2D()(h)
    h = keras.layers.Conv2D(128, 3, padding="same", activation="relu")(h)
    h = keras.layers.Conv2D(128, 3, padding="same", activation="relu")(h)
    h = keras.layers.MaxPooling2D()(h)
    h = keras.layers.Conv2D(256, 3, padding="same", activation="relu", name="last_conv")(h)
    out = keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(h))
    return keras.Model(inp, out)


def mlp() -> keras.Model:
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10, activation="softmax", name="probs"),
        ]
    )


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def floor(model, feature, batch, steps, repeats):
    """`steps` compiled forward+backward passes on the batch, in one graph loop, with no update rule."""
    x = tf.constant(np.random.default_rng(0).random((batch, *model.inputs[0].shape[1:]), dtype=np.float32))

    @tf.function
    def passes(x):
        def body(i, x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                total = tf.reduce_sum(feature(x))
            return i + 1, x + 1e-12 * tape.gradient(total, x)

        return tf.while_loop(lambda i, x: i < steps, body, (tf.constant(0), x))[1]

    passes(x)
    return best_of(lambda: passes(x).numpy(), repeats)


def python_loop(model, feature_one, targets, steps, repeats):
    """keras-io style: one target at a time, a Python loop around a compiled step."""
    shape = (1, *model.inputs[0].shape[1:])

    @tf.function
    def step(x, k):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(feature_one(x, k))
        g = tape.gradient(loss, x)
        return x + 0.05 * tf.math.l2_normalize(g)

    def run():
        for k in range(targets):
            x = tf.constant(np.random.default_rng(k).random(shape, dtype=np.float32))
            for _ in range(steps):
                x = step(x, tf.constant(k))
        x.numpy()

    step(tf.zeros(shape), tf.constant(0))
    return best_of(run, repeats)


def featviz(model, objective, steps, repeats, jit):
    t = time.perf_counter()
    fv.ascend(model, objective, constraints=fv.Box(0, 1), steps=steps, jit_compile=jit, until=None)
    first = time.perf_counter() - t
    seeds = iter(range(1, 1000))
    per_call = best_of(
        lambda: fv.ascend(model, objective, constraints=fv.Box(0, 1), steps=steps, jit_compile=jit, seed=next(seeds)),
        repeats,
    )
    return first, per_call


def report(name, targets, steps, t_floor, t_loop, first, per_call, jit):
    ts = targets * steps
    print(f"\n{name}: {targets} targets x {steps} steps (jit_compile={jit})")
    print(f"  (a) floor, compiled fwd+bwd on the batch : {1e6 * t_floor / ts:9.1f} us per target-step   1.00x")
    print(
        f"  (b) python loop around tf.function step  : {1e6 * t_loop / ts:9.1f} us per target-step "
        f"{t_loop / t_floor:6.2f}x floor"
    )
    print("  (c) tf-keras-vis                         :       not measured: it needs tf-keras (Keras 2)")
    print(
        f"  (d) fv.ascend                            : {1e6 * per_call / ts:9.1f} us per target-step "
        f"{per_call / t_floor:6.2f}x floor;  {t_loop / per_call:6.1f}x faster than (b)"
    )
    print(
        f"      first call (trace + compile)         : {first:7.2f} s;  later calls (values change): {per_call:.3f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    repeats = 1 if args.quick else 3

    model = cnn()
    last = keras.Model(model.inputs, model.get_layer("last_conv").output)
    t_floor = floor(model, lambda x: tf.reduce_mean(last(x)[..., :16], axis=[1, 2]), 16, 50, repeats)
    t_loop = python_loop(model, lambda x, k: tf.reduce_mean(tf.gather(last(x), k, axis=-1)), 16, 50, 1)
    first, per_call = featviz(model, fv.Channel("last_conv", list(range(16))), 50, repeats, jit=False)
    report("W1 small CNN 64x64x3, last conv", 16, 50, t_floor, t_loop, first, per_call, False)

    model = mlp()
    probs = model
    t_floor = floor(model, lambda x: tf.gather(probs(x), tf.range(10), axis=1, batch_dims=0)[:, 0], 10, 200, repeats)
    t_loop = python_loop(model, lambda x, k: probs(x)[:, k], 10, 200, 1)
    found = {}
    targets, steps = 10, 200
    for jit in (False, True):
        first, per_call = featviz(model, fv.ClassLogit(list(range(targets))), steps, repeats, jit=jit)
        report("W2 seed MLP, all 10 classes", targets, steps, t_floor, t_loop, first, per_call, jit)
        found[jit] = (first - per_call, per_call / (targets * steps))  # compile, seconds per target-step
    (c0, s0), (c1, s1) = found[False], found[True]
    saved = s0 - s1
    even = f"{(c1 - c0) / saved:,.0f} target-steps" if saved > 0 and c1 > c0 else "never (XLA is not faster here)"
    print(f"\nXLA on the seed MLP: compile {c1:.2f} s vs {c0:.2f} s; it breaks even after {even} per compiled loop")
    print(
        "\nchosen default: jit_compile=False (XLA repays its longer first call only after the target-steps"
        " printed above as break-even, on dense models)"
    )


if __name__ == "__main__":
    main()
