"""Cost of sound bounds (IBP, CROWN) relative to one 256-step ascent, and CROWN's memory.

Run ``python bench/bounds.py`` from the repository root (needs ``examples/models/``).
For the seed MLP and the small CNN (and MobileNetV2 with random weights on 4 random
32x32 pictures, eps / 10), on a batch of test digits inside
``Box(0, 1) & LpBall(x, eps, p=inf)``, it times (best of ``--repeats``, after a warm-up
call that compiles the ascent) one ``fv.ascend`` of 256 steps and one ``bounds`` call
per method, all on the same objective (a logit margin), and prints the ratios
measured in this one run, with the peak numpy memory of each bounds call
(``tracemalloc``).
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

MODELS = Path(__file__).resolve().parents[1] / "examples" / "models"


def best_time(fn: Callable[[], Any], repeats: int) -> float:
    """The fastest of ``repeats`` calls, in seconds."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def peak_memory(fn: Callable[[], Any]) -> int:
    """Peak bytes allocated (numpy and Python) during one call."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def bench_model(name: str, channel_axis: bool, batch: int, eps: float, repeats: int) -> None:
    import pytest_featviz as fv

    model = fv.load_model(MODELS / f"{name}.keras")
    data = np.load(MODELS / "digits_test.npz")
    x = data["x_test"][:batch].astype(np.float32) / 255
    y = data["y_test"][:batch]
    if channel_axis:
        x = x[..., None]
    compare(name, model, x, y, eps, repeats)


def bench_mobilenet(batch: int, eps: float, repeats: int) -> None:
    """MobileNetV2 (alpha 0.35, 32x32x3, random weights: ``weights=None``) on random pictures:
    depthwise/pointwise convolutions, ReLU6, zero padding and residual adds."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, weights=None, classes=10)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (batch, 32, 32, 3)).astype(np.float32)
    compare("MobileNetV2 (alpha 0.35, 32x32, random weights)", model, x, rng.integers(0, 10, batch), eps, repeats)


def compare(name: str, model: Any, x: np.ndarray, y: np.ndarray, eps: float, repeats: int) -> None:
    """Time one 256-step ascent and one bounds call per method on a logit margin, and print ratios."""
    import pytest_featviz as fv
    from pytest_featviz.verify import bounds

    objective = fv.ClassLogit([(int(k) + 1) % 10 for k in y]) - fv.ClassLogit([int(k) for k in y])
    c = fv.Box(0, 1) & fv.LpBall(x, eps, p=np.inf)

    def ascent() -> Any:
        return fv.ascend(model, objective, start=x, constraints=c, steps=256)

    ascent()  # compile
    t_ascent = best_time(ascent, repeats)
    print(f"{name}: batch {len(x)}, eps {eps}; one 256-step ascent: {t_ascent * 1e3:.1f} ms")
    for method in ("ibp", "crown"):

        def run(method: str = method) -> Any:
            return bounds(model, objective, constraints=c, method=method, start=x)

        result = run()
        t = best_time(run, repeats)
        mem = peak_memory(run)
        print(
            f"  {method:5s} ({result.method}): {t * 1e3:8.1f} ms = {t / t_ascent:6.3f} x ascent, "
            f"peak memory {mem / 2**20:7.1f} MiB, median upper bound {np.median(result.upper):.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--eps", type=float, default=0.01)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    bench_model("digits_mlp", False, args.batch, args.eps, args.repeats)
    bench_model("digits_cnn", True, args.batch, args.eps, args.repeats)
    bench_mobilenet(4, args.eps / 10, args.repeats)


if __name__ == "__main__":
    main()
