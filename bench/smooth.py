"""CROWN on smooth activations (issue 20): ours against auto_LiRPA's on sigmoid and tanh MLPs.

Run ``python bench/smooth.py [--lirpa PYTHON]`` from the repository root. It trains two MLPs
64-64-64-10 (sigmoid, tanh) for 30 epochs (seeded) on the first 1,297 of scikit-learn's
8x8 digits (bundled with scikit-learn, pixels scaled to ``[0, 1]``; no download), and bounds
the 9 logit margins ``z_j - z_true`` of the first 20 of the remaining 500 digits in
``Box(0, 1) & LpBall(x, eps, p=inf)`` at eps 0.001/0.01/0.03 and in ``LpBall(x, eps, p=2)``
(no box: auto_LiRPA 0.3 ignores one on an L2 ball) at eps 0.1/0.3/1.0. Per ball it prints our
IBP and CROWN: the mean width of the float32-sound bounds, the exact-arithmetic width
(``real``: no rounding terms, what auto_LiRPA computes), the fraction of the 20 digits whose
margins are all proven negative, and the time per call (180 margins); with
``--lirpa PYTHON`` (an interpreter with PyTorch and auto_LiRPA) auto_LiRPA's CROWN on the same
weights, and the ratio of our exact-arithmetic CROWN width to its width.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]  # this checkout's package first
from lirpa_export import run_lirpa  # noqa: E402

BALLS = [(np.inf, 0.001), (np.inf, 0.01), (np.inf, 0.03), (2.0, 0.1), (2.0, 0.3), (2.0, 1.0)]
TRAIN = 1297
N = 20


def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits in ``[0, 1]``: the first 1,297 for training, the rest for testing."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    return x[:TRAIN], y[:TRAIN], x[TRAIN:], y[TRAIN:]


def mlp(activation: str, epochs: int = 30) -> Any:
    """64-64-64-10 with ``activation``, trained ``epochs`` epochs (seeded)."""
    import keras

    keras.utils.set_random_seed(0)
    L = keras.layers
    model = keras.Sequential(
        [keras.Input((64,)), L.Dense(64, activation=activation), L.Dense(64, activation=activation), L.Dense(10)]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    x, y, _, _ = digits()
    model.fit(x, y, batch_size=32, epochs=epochs, verbose=0)
    return model


def ball_name(p: float, eps: float) -> str:
    return f"{'Linf' if p == np.inf else 'L2'} {eps:g}"


def ours(name: str, model: Any, x: np.ndarray, y: np.ndarray) -> dict[tuple[float, float], tuple[float, float]]:
    """Print our IBP and CROWN per ball; returns ``(p, eps) -> (CROWN real width, proven)``."""
    import pytest_featviz as fv
    from pytest_featviz.verify import bounds

    pairs = [(i, j) for i in range(len(y)) for j in range(10) if j != y[i]]
    items = np.array([i for i, _ in pairs])
    objective = fv.ClassLogit([j for _, j in pairs]) - fv.ClassLogit([int(y[i]) for i, _ in pairs])
    accuracy = float(np.mean(np.argmax(model.predict(x, verbose=0), axis=1) == y))
    print(f"{name}: {len(y)} test digits (accuracy {accuracy:.2f}) x 9 logit margins z_j - z_true")
    print(f"  {'ball':>10s} {'run':24s} {'width':>10s} {'real':>10s} {'proven':>7s} {'s/call':>7s}")
    found = {}
    for p, eps in BALLS:
        ball = fv.LpBall(x[items], eps, p=p)
        c = fv.Box(0, 1) & ball if p == np.inf else ball
        for method in ("ibp", "crown"):
            t0 = time.perf_counter()
            b = bounds(model, objective, constraints=c, method=method, start=x[items])
            t = time.perf_counter() - t0
            proven = np.ones(len(y), dtype=bool)
            np.logical_and.at(proven, items, b.upper < 0)
            real = float(np.mean(b.real_upper - b.real_lower))
            print(
                f"  {ball_name(p, eps):>10s} {method:24s} {np.mean(b.upper - b.lower):10.4f} "
                f"{real:10.4f} {proven.mean():7.2f} {t:7.2f}"
            )
            if method == "crown":
                found[(p, eps)] = (real, float(proven.mean()))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lirpa", metavar="PYTHON", help="an interpreter with PyTorch and auto_LiRPA: compare on the same weights"
    )
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    _, _, x_test, y_test = digits()
    x, y = x_test[:N], y_test[:N]
    rows = []
    for activation in ("sigmoid", "tanh"):
        model = mlp(activation, args.epochs)
        name = f"{activation} MLP 64-64-64-10"
        mine = ours(name, model, x, y)
        theirs = run_lirpa(name, model, args.lirpa, x, y, BALLS, ("CROWN",))
        for (p, eps), (width, proven) in mine.items():
            other = theirs.get((p, eps, "CROWN"))
            if other is not None:
                rows.append((activation, ball_name(p, eps), width, other[0], width / other[0], proven, other[1]))
    if rows:
        print("exact-arithmetic CROWN, ours vs auto_LiRPA (width, proven fraction of the 20 digits)")
        print(f"  {'net':8s} {'ball':>10s} {'ours':>10s} {'auto_LiRPA':>10s} {'ratio':>6s} {'proven':>13s}")
        for act, ball, width, other, ratio, proven, other_proven in rows:
            print(
                f"  {act:8s} {ball:>10s} {width:10.4f} {other:10.4f} {ratio:6.3f} {proven:6.2f} vs {other_proven:4.2f}"
            )


if __name__ == "__main__":
    main()
