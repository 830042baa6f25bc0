"""Tightness and cost of sound bounds (IBP, CROWN): widths and certified fractions before and
after the float32 rounding model of issue 19, time per call, and cost relative to one
256-step ascent with CROWN's memory; with ``--bab SECONDS``, only branch and bound on the
margins of the seed MLP that alpha-CROWN leaves unknown at eps 0.03 (``SECONDS`` per case; another
radius with ``--bab-eps``); with ``--specs``, only 9 calls against 1 list call (``spec_matrix.py``);
with ``--crown-time``, only CROWN's list call on the CNN against auto_LiRPA's CROWN (``--lirpa``).

Run ``python bench/bounds.py`` from the repository root (needs ``examples/models/``).

Tightness (``--widths-only`` runs only this part): on the seed MLP and a deep MLP
784-256-256-128-10 (trained here on the digits training split for 20 epochs, seeded; seeded
random weights when scikit-learn or scikit-image is missing), for the first 20 test digits
and every other class ``j``, the logit margin ``z_j - z_true`` in
``Box(0, 1) & LpBall(x, eps, p=inf)`` at eps 0.001/0.01/0.03 (and, on the deep MLP, in
``Box(0, 1) & LpBall(x, 0.1, p=2)``): the mean bound width
(``upper - lower``), the width without the rounding terms (``real``), the fraction of the
20 digits whose 9 margins are all proven negative, and the time per call (180 items). "before"
is the ``verify`` package of commit ``aa4be8a`` (rounding propagated forward through
``|W|`` and doubled), loaded from git as a separate package; it is skipped when git or
that commit is not available.

Cost:
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
import importlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lirpa_export import run_lirpa  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "examples" / "models"
BEFORE_COMMIT = "aa4be8a"
MAIN_COMMIT = "2bdd0a4"  # before full CROWN on convolutions (patches) and alpha-CROWN
EPSILONS = (0.001, 0.01, 0.03)
Ball = tuple[float, float]
LINF: tuple[Ball, ...] = tuple((np.inf, eps) for eps in EPSILONS)
"""The L-inf balls of the tables, ``(p, eps)``."""
DEEP_MLP_BALLS = LINF + ((2.0, 0.1),)
"""The deep MLP's balls: issue 19's table adds the L2 ball of radius 0.1."""


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


def load_before(commit: str = BEFORE_COMMIT) -> Callable[..., Any] | None:
    """``bounds`` of the ``verify`` package at ``commit``, imported from git as
    ``pytest_featviz._verify_<commit>`` (its relative imports reach today's package); None
    when git or the commit is not available."""
    import pytest_featviz  # noqa: F401  (the parent package of the old one)

    try:
        names = subprocess.run(
            ["git", "ls-tree", "--name-only", commit, "pytest_featviz/verify/"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        folder = Path(tempfile.mkdtemp(prefix="verify_before_"))
        for name in names:
            text = subprocess.run(
                ["git", "show", f"{commit}:{name}"], cwd=ROOT, capture_output=True, text=True, check=True
            )
            (folder / Path(name).name).write_text(text.stdout)
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"before ({commit}): not available ({exc})")
        return None
    package = f"pytest_featviz._verify_{commit}"
    spec = importlib.util.spec_from_file_location(
        package, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[package] = module
    spec.loader.exec_module(module)
    return importlib.import_module(f"{package}.certificates").bounds


def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """``(train x, train labels, test x, test labels, how)``: the digits training split when
    scikit-learn and scikit-image are installed, else empty training arrays."""
    data = np.load(MODELS / "digits_test.npz")
    x_test, y_test = data["x_test"].astype(np.float32) / 255, data["y_test"]
    try:
        sys.path.insert(0, str(ROOT / "examples"))
        from train_models import digits_28, digits_split

        codes, labels = digits_28()
    except ImportError as exc:
        return x_test[:0], y_test[:0], x_test, y_test, f"seeded random weights ({exc})"
    train, _ = digits_split(labels)
    return codes[train].astype(np.float32) / 255, labels[train], x_test, y_test, "trained on the digits training split"


def trained(model: Any, channel_axis: bool, epochs: int) -> tuple[Any, str]:
    """``model`` trained ``epochs`` epochs on the digits training split (seeded), when it is available."""
    import keras

    x, y, _, _, how = digits()
    if len(x):
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        )
        model.fit(x[..., None] if channel_axis else x, y, batch_size=32, epochs=epochs, verbose=0)
        how = f"{how}, {epochs} epochs"
    return model, how


def deep_mlp() -> tuple[Any, str]:
    """784-256-256-128-10 (ReLU) on flattened 28x28 digits: trained 20 epochs on the digits
    training split when scikit-learn and scikit-image are installed, else seeded random weights."""
    import keras

    keras.utils.set_random_seed(0)
    L = keras.layers
    model = keras.Sequential(
        [keras.Input((28, 28)), L.Flatten()] + [L.Dense(n, activation="relu") for n in (256, 256, 128)] + [L.Dense(10)]
    )
    return trained(model, False, 20)


def issue_cnn() -> tuple[Any, str]:
    """conv16-conv32s2-dense64-10 of issue 19: Conv2D(16, 3, 'same'), Conv2D(32, 4, strides 2,
    'same' (symmetric padding 1)), Dense(64), Dense(10), ReLU, on 28x28x1 digits; trained 5 epochs."""
    import keras

    keras.utils.set_random_seed(0)
    L = keras.layers
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            L.Conv2D(16, 3, padding="same", activation="relu"),
            L.Conv2D(32, 4, strides=2, padding="same", activation="relu"),
            L.Flatten(),
            L.Dense(64, activation="relu"),
            L.Dense(10),
        ]
    )
    return trained(model, True, 5)


def widths(
    name: str, model: Any, runs: dict[str, tuple[Callable[..., Any], str]], n: int = 20, balls: tuple[Ball, ...] = LINF
) -> None:
    """Print mean width, exact width, certified fraction, time per call (and, for convolutional
    models, peak memory) per ball ``(p, eps)`` and run (a label: a ``bounds`` function and its method)."""
    import pytest_featviz as fv

    data = np.load(MODELS / "digits_test.npz")
    x = data["x_test"][:n].astype(np.float32) / 255
    y = data["y_test"][:n]
    if len(model.inputs[0].shape) == 4:
        x = x[..., None]
    pairs = [(i, j) for i in range(n) for j in range(10) if j != y[i]]
    items = np.array([i for i, _ in pairs])
    objective = fv.ClassLogit([j for _, j in pairs]) - fv.ClassLogit([int(y[i]) for i, _ in pairs])
    print(f"{name}: {n} test digits x 9 logit margins z_j - z_true, Box(0, 1) & Lp ball")
    print(f"  {'ball':>10s} {'run':24s} {'width':>10s} {'real':>10s} {'proven':>7s} {'s/call':>7s} {'MiB':>7s}")
    for p, eps in balls:
        c = fv.Box(0, 1) & fv.LpBall(x[items], eps, p=p)
        for label, (bounds, method) in runs.items():

            def run(bounds: Callable[..., Any] = bounds, method: str = method, c: Any = c) -> Any:
                return bounds(model, objective, constraints=c, method=method, start=x[items])

            t0 = time.perf_counter()
            b = run()
            t = time.perf_counter() - t0
            mem = f"{peak_memory(run) / 2**20:7.0f}" if x.ndim == 4 and method != "ibp" else f"{'':7s}"
            proven = np.ones(n, dtype=bool)
            np.logical_and.at(proven, items, b.upper < 0)
            print(
                f"  {'Linf' if p == np.inf else 'L2':>4s} {eps:5.3f} {label:24s} {np.mean(b.upper - b.lower):10.4f} "
                f"{np.mean(b.real_upper - b.real_lower):10.4f} {proven.mean():7.2f} {t:7.2f} {mem}"
            )


def lirpa(name: str, model: Any, python: str | None, n: int = 20, balls: tuple[Ball, ...] = LINF) -> None:
    """auto_LiRPA's CROWN and alpha-CROWN on the same weights and the first ``n`` test digits,
    run by ``python`` (optional)."""
    data = np.load(MODELS / "digits_test.npz")
    x = data["x_test"][:n].astype(np.float32) / 255
    x = x[..., None] if len(model.inputs[0].shape) == 4 else x
    run_lirpa(name, model, python, x, data["y_test"][:n], list(balls))


def tightness(lirpa_python: str | None) -> None:
    import pytest_featviz as fv
    from pytest_featviz.verify import bounds

    runs: dict[str, tuple[Callable[..., Any], str]] = {}
    before, main = load_before(), load_before(MAIN_COMMIT)
    if before is not None:
        runs = {"ibp (rounding before)": (before, "ibp"), "crown (rounding before)": (before, "crown")}
    runs.update({"ibp": (bounds, "ibp"), "crown": (bounds, "crown"), "alpha-crown": (bounds, "alpha-crown")})
    widths("seed MLP (digits_mlp.keras)", fv.load_model(MODELS / "digits_mlp.keras"), runs)
    model, how = deep_mlp()
    widths(f"deep MLP 784-256-256-128-10, {how}", model, runs, balls=DEEP_MLP_BALLS)
    lirpa("deep MLP", model, lirpa_python, balls=DEEP_MLP_BALLS)
    runs = {"crown-ibp": (bounds, "crown-ibp"), "crown": (bounds, "crown"), "alpha-crown": (bounds, "alpha-crown")}
    if main is not None:
        runs = {"crown (before patches)": (main, "crown"), **runs}
    widths("small CNN (digits_cnn.keras)", fv.load_model(MODELS / "digits_cnn.keras"), runs)
    model, how = issue_cnn()
    widths(f"CNN conv16-conv32s2-dense64-10, {how}", model, runs)
    lirpa("CNN conv16-conv32s2-dense64-10", model, lirpa_python)


def branch_and_bound(seconds: float, eps: float = 0.03, n: int = 20) -> None:
    """On the seed MLP, the logit margins ``z_j - z_true`` of the first ``n`` test digits that
    alpha-CROWN leaves unknown in ``Box(0, 1) & LpBall(x, eps, p=inf)``: what branch and bound makes of
    each, with ``seconds`` per case."""
    import pytest_featviz as fv
    from pytest_featviz.verify import BranchAndBound, bounds, certify_not_reaches

    model = fv.load_model(MODELS / "digits_mlp.keras")
    data = np.load(MODELS / "digits_test.npz")
    x, y = data["x_test"][:n].astype(np.float32) / 255, data["y_test"][:n]
    pairs = [(i, j) for i in range(n) for j in range(10) if j != y[i]]
    items = np.array([i for i, _ in pairs])
    objective = fv.ClassLogit([j for _, j in pairs]) - fv.ClassLogit([int(y[i]) for i, _ in pairs])
    ball = fv.Box(0, 1) & fv.LpBall(x[items], eps, p=np.inf)
    root = bounds(model, objective, constraints=ball, start=x[items], method="alpha-crown")
    unknown = np.flatnonzero(~(root.upper < 0))
    print(f"branch and bound, seed MLP, eps {eps}, {seconds:g} s per case: {len(unknown)} of {len(pairs)} margins")
    print(f"  ({len(set(items[unknown]))} of {n} digits) left unknown by alpha-CROWN")
    print(f"  {'digit':>5s} {'j':>2s} {'alpha':>8s} {'status':14s} {'s':>6s}  reason")
    status: dict[str, list[int]] = {}
    for k in unknown:
        i, j = pairs[k]
        c = fv.Box(0, 1) & fv.LpBall(x[i : i + 1], eps, p=np.inf)
        margin = fv.ClassLogit(j) - fv.ClassLogit(int(y[i]))
        t0 = time.perf_counter()
        options = BranchAndBound(domains=10**9, seconds=seconds)
        cert = certify_not_reaches(model, margin, 0.0, constraints=c, start=x[i : i + 1], branch=options)
        t = time.perf_counter() - t0
        status.setdefault(cert.status[0], []).append(int(k))
        print(f"  {i:5d} {j:2d} {root.upper[k]:8.4f} {cert.status[0]:14s} {t:6.1f}  {cert.reasons[0]}")
    counts = ", ".join(f"{len(v)} {s}" for s, v in sorted(status.items()))
    print(f"  margins: {counts} (of {len(unknown)})")
    proven = set(np.flatnonzero(root.upper < 0)) | set(status.get("proven", []))
    digits = sum(all(k in proven for k in np.flatnonzero(items == i)) for i in range(n))
    before = sum(bool((root.upper[items == i] < 0).all()) for i in range(n))
    print(f"  digits with every margin proven: {before} of {n} by alpha-CROWN, {digits} of {n} with branch and bound")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--eps", type=float, default=0.01)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--widths-only", action="store_true", help="only the tightness tables")
    parser.add_argument("--bab", type=float, metavar="SECONDS", help="only branch and bound (see above)")
    parser.add_argument("--bab-eps", type=float, default=0.03, help="the L-inf radius of --bab")
    parser.add_argument("--lirpa", metavar="PYTHON", help="an interpreter with PyTorch and auto_LiRPA")
    parser.add_argument("--specs", action="store_true", help="only 9 calls against 1 list call (CROWN)")
    parser.add_argument(
        "--crown-time", action="store_true", help="only CROWN's list call on the CNN against auto_LiRPA (--lirpa)"
    )
    args = parser.parse_args()
    if args.crown_time:
        from spec_matrix import crown_time

        model, how = issue_cnn()
        return crown_time(f"CNN conv16-conv32s2-dense64-10, {how}", model, args.lirpa, args.repeats)
    if args.specs:
        from spec_matrix import specs

        return specs([("deep MLP 784-256-256-128-10", deep_mlp), ("CNN conv16-conv32s2-dense64-10", issue_cnn)])
    if args.bab is not None:
        branch_and_bound(args.bab, args.bab_eps)
        return
    tightness(args.lirpa)
    if args.widths_only:
        return
    bench_model("digits_mlp", False, args.batch, args.eps, args.repeats)
    bench_model("digits_cnn", True, args.batch, args.eps, args.repeats)
    bench_mobilenet(4, args.eps / 10, args.repeats)


if __name__ == "__main__":
    main()
