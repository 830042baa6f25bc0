"""Peak memory per batch item of ``bounds`` on objectives with many rows (issue 20): method x objective.

Two objectives whose specification has many rows:

- ``Channel("conv", 3, reduce="max")`` on a 26x26x16 convolutional layer (a 28x28x1 input,
  ``Conv2D(16, 3)`` with ReLU, then a dense head): one row per spatial position, 676;
- ``ClassProbability(0)`` on a 4000-class head (16 inputs, 32 hidden ReLUs): one row
  ``z_j - z_0`` per other class, 3999.

For each, and each method (ibp, crown, alpha-crown), one ``bounds`` call on a batch of
random inputs inside ``Box(0, 1) & LpBall(x, eps, p=inf)`` is measured: the peak of the
numpy and Python memory allocated during the call (``tracemalloc``; TensorFlow is not
involved), divided by the batch size, and the time of the call. "dense" is the path every
objective took before (rows ``(B, K, *shape)`` materialised and bounded whole:
:func:`pytest_featviz.verify.unitrows.dense` applied to the groups); "rows" is the
index-based path (:mod:`pytest_featviz.verify.unitrows`). The dense alpha-CROWN case on the
convolution needs about 1.7 GB per item, hence the small default batch.

Run ``python bench/bounds_memory.py [--batch 2] [--skip-dense] [--methods ibp crown]`` from
the repository root.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # this checkout's package

METHODS = ("ibp", "crown", "alpha-crown")
MIB = 2.0**20


def conv_model() -> Any:
    """28x28x1 -> Conv2D(16, 3, relu) (26x26x16) -> Flatten -> Dense(10), seeded."""
    import keras

    keras.utils.set_random_seed(0)
    layers = keras.layers
    inp = keras.Input((28, 28, 1))
    x = layers.Conv2D(16, 3, activation="relu", name="conv")(inp)
    return keras.Model(inp, layers.Dense(10, name="logits")(layers.Flatten()(x)))


def wide_model(classes: int) -> Any:
    """16 -> Dense(32, relu) -> Dense(classes) logits, seeded."""
    import keras

    keras.utils.set_random_seed(0)
    layers = keras.layers
    inp = keras.Input((16,))
    x = layers.Dense(32, activation="relu", name="hidden")(inp)
    return keras.Model(inp, layers.Dense(classes, name="logits")(x))


def measure(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """``(peak MiB, seconds, result)`` of one call (numpy and Python allocations)."""
    tracemalloc.start()
    try:
        t0 = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - t0
        return tracemalloc.get_traced_memory()[1] / MIB, seconds, result
    finally:
        tracemalloc.stop()


def forced_dense() -> Any:
    """A context in which every group's rows are dense arrays (the path taken before)."""
    from contextlib import contextmanager
    from dataclasses import replace
    from unittest import mock

    from pytest_featviz.verify import certificates, specs, unitrows

    original = specs.groups_of

    def dense_groups(*args: Any, **kwargs: Any) -> list:
        return [replace(g, rows=unitrows.dense(g.rows)) for g in original(*args, **kwargs)]

    @contextmanager
    def ctx() -> Any:
        with mock.patch.object(certificates, "groups_of", dense_groups):
            yield

    return ctx()


def cases(classes: int, batch: int, eps: float) -> list[tuple[str, Any, Any, Any, np.ndarray]]:
    import pytest_featviz as fv

    rng = np.random.default_rng(0)
    picture = rng.uniform(0, 1, (batch, 28, 28, 1)).astype(np.float32)
    vector = rng.uniform(0, 1, (batch, 16)).astype(np.float32)
    return [
        (
            "Channel max 26x26x16",
            conv_model(),
            fv.Channel("conv", 3, reduce="max"),
            fv.Box(0, 1) & fv.LpBall(picture, eps, p=np.inf),
            picture,
        ),
        (
            f"ClassProbability {classes} classes",
            wide_model(classes),
            fv.ClassProbability(0),
            fv.Box(0, 1) & fv.LpBall(vector, eps, p=np.inf),
            vector,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--classes", type=int, default=4000)
    parser.add_argument("--eps", type=float, default=0.02)
    parser.add_argument("--skip-dense", action="store_true", help="only the index-based path")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    args = parser.parse_args()

    from contextlib import nullcontext

    from pytest_featviz.verify import bounds

    print(f"peak numpy+Python memory per batch item (tracemalloc), batch {args.batch}, eps {args.eps}")
    print(f"{'objective':<28} {'method':<12} {'dense MiB/item':>15} {'rows MiB/item':>14} {'dense s':>8} {'rows s':>7}")
    for name, model, objective, constraint, start in cases(args.classes, args.batch, args.eps):
        bounds(model, objective, constraints=constraint, method="ibp", start=start)  # warm-up
        for method in args.methods:
            found = {}
            for path in ("dense", "rows"):
                if path == "dense" and args.skip_dense:
                    continue
                ctx = forced_dense() if path == "dense" else nullcontext()
                with ctx:
                    run = partial(bounds, model, objective, constraints=constraint, method=method, start=start)
                    peak, seconds, result = measure(run)
                found[path] = (peak / args.batch, seconds, result)
            if "dense" in found:
                same = np.allclose(found["dense"][2].upper, found["rows"][2].upper, rtol=1e-6, atol=1e-9)
                dense_text = f"{found['dense'][0]:15.1f}"
                dense_s = f"{found['dense'][1]:8.2f}"
            else:
                same, dense_text, dense_s = True, f"{'-':>15}", f"{'-':>8}"
            rows = found["rows"]
            note = "" if same else "  (upper bounds differ)"
            print(f"{name:<28} {method:<12} {dense_text} {rows[0]:14.1f} {dense_s} {rows[1]:7.2f}{note}")


if __name__ == "__main__":
    main()
