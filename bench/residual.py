"""Full CROWN through residual connections (issue 20): ours against auto_LiRPA's on a residual CNN.

Run ``python bench/residual.py [--lirpa PYTHON]`` from the repository root. It trains a residual
CNN on the first 1,297 of scikit-learn's 8x8 digits (bundled with scikit-learn, pixels scaled to
``[0, 1]``; no download) for 20 epochs (seeded)::

    conv 8 3x3 relu -> [conv 8 3x3 relu -> conv 8 3x3] + skip -> relu
        -> conv 16 4x4 stride 2 relu -> flatten -> dense 10

(``--scale K``: each pixel repeated K x K times; ``--width C``: C channels, 2C after the
strided convolution; ``--budget`` sets ``verify.propagation.FULL_CROWN_BUDGET``) and bounds,
in one call (``fv.bounds(model, fv.logit_margins(y, 10), ...)``), the 9 logit margins ``z_j - z_true`` of the first 20 of the remaining 500 digits in
``Box(0, 1) & LpBall(x, eps, p=inf)`` at eps 0.001/0.01/0.03. Per eps it prints our IBP and
CROWN: the mean width of the float32-sound bounds, the exact-arithmetic width (``real``: no
rounding terms, what auto_LiRPA computes), the fraction of the 20 digits whose margins are all
proven negative, the time of the call (180 margins), and the layers whose intermediate bounds
fell back to IBP (``b.ibp_layers``; '-' for none); with ``--lirpa PYTHON`` (an interpreter with
PyTorch and auto_LiRPA) auto_LiRPA's IBP and CROWN on the same weights (exported with the residual add,
its logits checked against Keras's), and the ratio of our exact-arithmetic width to its width.
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
from smooth import digits  # noqa: E402

EPSILONS = (0.001, 0.01, 0.03)
N = 20


def upsample(x: np.ndarray, scale: int) -> np.ndarray:
    """8x8 digits ``(N, 64)`` as ``(N, 8 scale, 8 scale, 1)`` images, each pixel repeated."""
    x = x.reshape(-1, 8, 8, 1)
    return np.repeat(np.repeat(x, scale, axis=1), scale, axis=2)


def residual_cnn(epochs: int = 20, scale: int = 1, width: int = 8) -> Any:
    """The residual CNN of the module docstring on ``8 scale`` pixels square with ``width``
    channels (``2 width`` after the strided convolution), trained ``epochs`` epochs (seeded)."""
    import keras

    keras.utils.set_random_seed(0)
    L = keras.layers
    inp = keras.Input((8 * scale, 8 * scale, 1))
    x = L.Conv2D(width, 3, padding="same", activation="relu", name="stem")(inp)
    y = L.Conv2D(width, 3, padding="same", activation="relu", name="branch_a")(x)
    y = L.Conv2D(width, 3, padding="same", name="branch_b")(y)
    x = L.ReLU(name="block_out")(L.Add(name="add")([x, y]))
    x = L.Conv2D(2 * width, 4, strides=2, padding="same", activation="relu", name="down")(x)
    model = keras.Model(inp, L.Dense(10, name="logits")(L.Flatten()(x)))
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    x_train, y_train, _, _ = digits()
    model.fit(upsample(x_train, scale), y_train, batch_size=32, epochs=epochs, verbose=0)
    return model


def ours(model: Any, x: np.ndarray, y: np.ndarray) -> dict[float, tuple[float, float]]:
    """Print our IBP and CROWN per eps; returns ``eps -> (CROWN real width, proven)``."""
    import pytest_featviz as fv

    margins = fv.logit_margins([int(k) for k in y], 10)
    accuracy = float(np.mean(np.argmax(model.predict(x, verbose=0), axis=1) == y))
    print(f"residual CNN: {len(y)} test digits (accuracy {accuracy:.2f}) x 9 logit margins z_j - z_true, one call")
    print(f"  {'eps':>6s} {'method':8s} {'width':>10s} {'real':>10s} {'proven':>7s} {'s/call':>7s}  ibp layers")
    found = {}
    for eps in EPSILONS:
        c = fv.Box(0, 1) & fv.LpBall(x, eps, p=np.inf)
        for method in ("ibp", "crown"):
            t0 = time.perf_counter()
            bs = fv.bounds(model, margins, constraints=c, method=method, start=x)
            t = time.perf_counter() - t0
            width = float(np.mean([b.upper - b.lower for b in bs]))
            real = float(np.mean([b.real_upper - b.real_lower for b in bs]))
            proven = float(np.all([b.upper < 0 for b in bs], axis=0).mean())
            fell_back = sorted({name for b in bs for name in b.ibp_layers})
            kinds = "/".join(sorted({b.method for b in bs}))
            print(
                f"  {eps:6g} {kinds:8s} {width:10.4f} {real:10.4f} {proven:7.2f} {t:7.2f}  "
                f"{', '.join(fell_back) or '-'}"
            )
            if method == "crown":
                found[eps] = (real, proven)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lirpa", metavar="PYTHON", help="an interpreter with PyTorch and auto_LiRPA: compare on the same weights"
    )
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--scale", type=int, default=1, help="repeat each pixel: 8 scale pixels square")
    parser.add_argument("--width", type=int, default=8, help="channels of the residual block")
    parser.add_argument("--budget", type=int, help="verify.propagation.FULL_CROWN_BUDGET for this run")
    args = parser.parse_args()
    _, _, x_test, y_test = digits()
    x, y = upsample(x_test[:N], args.scale), y_test[:N]
    model = residual_cnn(args.epochs, args.scale, args.width)
    if args.budget is not None:
        from pytest_featviz.verify import propagation

        propagation.FULL_CROWN_BUDGET = args.budget
    mine = ours(model, x, y)
    theirs = run_lirpa("residual CNN", model, args.lirpa, x, y, [(np.inf, eps) for eps in EPSILONS], ("IBP", "CROWN"))
    rows = [(eps, *mine[eps], theirs[(np.inf, eps, "CROWN")]) for eps in EPSILONS if (np.inf, eps, "CROWN") in theirs]
    if rows:
        print("exact-arithmetic CROWN, ours vs auto_LiRPA (width, proven fraction of the 20 digits)")
        print(f"  {'eps':>6s} {'ours':>10s} {'auto_LiRPA':>10s} {'ratio':>6s} {'proven':>13s}")
        for eps, width, proven, (other, other_proven, _) in rows:
            print(f"  {eps:6g} {width:10.4f} {other:10.4f} {width / other:6.3f} {proven:6.2f} vs {other_proven:4.2f}")


if __name__ == "__main__":
    main()
