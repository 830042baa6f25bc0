"""Benchmark of the ascent engine on real architectures: keras.applications MobileNetV2 and ResNet50V2.

Run: ``make bench`` (or ``.venv/bin/python bench/applications.py [--steps N] [--models mobilenet,resnet]``).

Workload: 8 channels of an inner top-level layer (one channel per batch item, batch 8), 224x224x3
inputs in the box [-1, 1], 50 steps, weights=None (nothing is downloaded). Measured in one run, on
the same model, batch and steps:
  floor   compiled forward+backward passes w.r.t. the input on the whole batch, `steps` of them in
          one graph loop with no update rule;
  ascend  pytest_featviz.ascend (plain pixel ascent, the default optimizer), after its first call;
  compile the first call's extra time (trace + compile);
  memory  the rise of the process's peak resident memory (ru_maxrss) during the first ascend call,
          per batch item (TensorFlow's CPU allocator reports no peak of its own).
Each model runs in its own process so that peaks are not shared. Timings on shared machines are
noisy: compare only the ratios measured in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MODELS = {"mobilenet": ("MobileNetV2", "block_13_expand_relu"), "resnet": ("ResNet50V2", "conv4_block6_out")}
BATCH = 8


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def measure(key: str, steps: int) -> dict:
    """Everything for one model, in this process."""
    import keras
    import numpy as np
    import tensorflow as tf

    import pytest_featviz as fv

    arch, layer = MODELS[key]
    keras.utils.set_random_seed(0)
    model = getattr(keras.applications, arch)(weights=None, input_shape=(224, 224, 3))
    channels = list(range(BATCH))
    x = tf.constant(np.random.default_rng(0).uniform(-1, 1, (BATCH, 224, 224, 3)).astype(np.float32))
    model(x[:1])  # build; the baseline memory includes the weights
    base = peak_mib()
    objective = fv.Channel(layer, channels)
    t = time.perf_counter()
    fv.ascend(model, objective, constraints=fv.Box(-1, 1), steps=steps, seed=0)
    first = time.perf_counter() - t
    peak = peak_mib()
    t = time.perf_counter()
    fv.ascend(model, objective, constraints=fv.Box(-1, 1), steps=steps, seed=1)
    per_call = time.perf_counter() - t

    feature = keras.Model(model.inputs, model.get_layer(layer).output)
    index = tf.constant(channels)

    @tf.function
    def passes(x):
        def body(i, x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                h = feature(x, training=False)
                total = tf.reduce_sum(tf.gather(tf.reduce_mean(h, axis=[1, 2]), index[:, None], batch_dims=1))
            return i + 1, x + 1e-12 * tape.gradient(total, x)

        return tf.while_loop(lambda i, x: i < steps, body, (tf.constant(0), x))[1]

    passes(x).numpy()
    t = time.perf_counter()
    passes(x).numpy()
    floor = time.perf_counter() - t
    return {
        "model": arch,
        "layer": layer,
        "steps": steps,
        "floor": floor,
        "ascend": per_call,
        "compile": first - per_call,
        "mib_per_item": (peak - base) / BATCH,
    }


def report(r: dict) -> None:
    ts = BATCH * r["steps"]
    print(f"\n{r['model']} at 224 px: {BATCH} channels of {r['layer']!r} x {r['steps']} steps, batch {BATCH}")
    print(f"  floor (compiled fwd+bwd on the batch) : {1e3 * r['floor'] / ts:8.2f} ms per target-step   1.00x")
    print(
        f"  fv.ascend                             : {1e3 * r['ascend'] / ts:8.2f} ms per target-step "
        f"  {r['ascend'] / r['floor']:.2f}x"
    )
    print(f"  first call's extra time (trace+compile): {r['compile']:.1f} s")
    print(f"  peak memory rise in ascend            : {r['mib_per_item']:.0f} MiB per batch item")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--models", default="mobilenet,resnet", help="comma-separated: " + ", ".join(MODELS))
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure one model, print JSON
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.steps)))
        return
    for key in args.models.split(","):
        if key not in MODELS:
            parser.error(f"unknown model {key!r}; choose from {', '.join(MODELS)}")
        out = subprocess.run(
            [sys.executable, __file__, "--one", key, "--steps", str(args.steps)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        report(json.loads(out.strip().splitlines()[-1]))


if __name__ == "__main__":
    main()
