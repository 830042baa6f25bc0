"""Many objectives in one call (a specification matrix) against one call per objective.

For each network, the first ``n`` test digits and their 9 logit margins ``z_j - z_true``
(``fv.logit_margins(y, 10)``: margin ``k`` reads each digit's ``k``-th other class) in
``Box(0, 1) & LpBall(x, eps, p=inf)``: the time of 9 ``bounds`` calls (one per margin, each
with its own forward pass) and of one call with the list of 9 (one forward pass, one
backward pass over the 18 rows), the speed-up, and the largest difference between the
bounds found (0 up to float rounding: each margin gets the bounds it gets alone).

Run through ``python bench/bounds.py --specs`` (it builds the networks). ``python bench/bounds.py
--crown-time [--lirpa PYTHON]`` times CROWN's list call on the CNN against auto_LiRPA's CROWN
(:func:`crown_time`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

MODELS = Path(__file__).resolve().parents[1] / "examples" / "models"


def digits(n: int, channel_axis: bool) -> tuple[np.ndarray, np.ndarray]:
    data = np.load(MODELS / "digits_test.npz")
    x, y = data["x_test"][:n].astype(np.float32) / 255, data["y_test"][:n]
    return (x[..., None] if channel_axis else x), y


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def largest_difference(one_by_one: list[Any], together: tuple[Any, ...]) -> float:
    """The largest absolute difference between the bounds of the two runs (every field)."""
    worst = 0.0
    for a, b in zip(one_by_one, together):
        for name in ("lower", "upper", "real_lower", "real_upper"):
            diff = np.abs(getattr(a, name) - getattr(b, name))
            worst = max(worst, float(np.nanmax(diff)) if diff.size else 0.0)
    return worst


def compare_specs(name: str, model: Any, method: str = "crown", eps: float = 0.01, n: int = 20) -> None:
    """Print the time of 9 calls and of 1 list call on ``model``, and their largest difference."""
    import pytest_featviz as fv
    from pytest_featviz.verify import bounds

    x, y = digits(n, len(model.inputs[0].shape) == 4)
    margins = fv.logit_margins([int(k) for k in y], 10)
    c = fv.Box(0, 1) & fv.LpBall(x, eps, p=np.inf)
    t_each, each = timed(lambda: [bounds(model, m, constraints=c, method=method, start=x) for m in margins])
    t_list, together = timed(lambda: bounds(model, margins, constraints=c, method=method, start=x))
    proven = np.all([b.upper < 0 for b in together], axis=0).mean()
    print(
        f"  {name:44s} {method:6s} {t_each:8.2f} {t_list:8.2f} {t_each / t_list:6.1f}x "
        f"{largest_difference(each, together):10.2e} {proven:7.2f}"
    )


def specs(networks: list[tuple[str, Callable[[], tuple[Any, str]]]], eps: float = 0.01, n: int = 20) -> None:
    """:func:`compare_specs` on each network (a label and a builder returning ``(model, how)``)."""
    print(f"{n} test digits x 9 logit margins z_j - z_true, Box(0, 1) & L-inf ball eps {eps}")
    print(
        f"  {'network':44s} {'method':6s} {'9 calls':>8s} {'1 call':>8s} {'ratio':>7s} {'max diff':>10s} {'proven':>7s}"
    )
    for label, build in networks:
        model, how = build()
        print(f"  ({label}: {how})")
        compare_specs(label, model, "crown", eps, n)


def crown_time(name: str, model: Any, lirpa_python: str | None, repeats: int, n: int = 20) -> None:
    """CROWN's time on ``model``: one list call of the 9 margins of ``n`` digits per eps (median
    of ``repeats`` calls) against auto_LiRPA's CROWN on the same weights and margins (median
    of ``repeats`` runs, each in a fresh interpreter), with the mean widths."""
    from lirpa_export import run_lirpa

    import pytest_featviz as fv
    from pytest_featviz.verify import bounds

    x, y = digits(n, len(model.inputs[0].shape) == 4)
    margins = fv.logit_margins([int(k) for k in y], 10)
    balls = [(np.inf, eps) for eps in (0.001, 0.01, 0.03)]
    runs = [run_lirpa(name, model, lirpa_python, x, y, balls, ("CROWN",), show=False) for _ in range(repeats)]
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    print(f"{name}: CROWN, {n} digits x 9 margins, one list call (median of {repeats}; OpenBLAS threads {threads})")
    print(f"  {'eps':>6s} {'width':>8s} {'s/call':>7s} {'LiRPA width':>11s} {'s/call':>7s} {'ratio':>6s}")
    for p, eps in balls:
        c = fv.Box(0, 1) & fv.LpBall(x, eps, p=np.inf)
        times, found = [], None
        for _ in range(repeats):
            t, found = timed(lambda c=c: bounds(model, margins, constraints=c, method="crown", start=x))
            times.append(t)
        width = np.mean([b.upper - b.lower for b in found])
        theirs = [r[(p, eps, "CROWN")] for r in runs if (p, eps, "CROWN") in r]
        t_ours = float(np.median(times))
        if theirs:
            t_lirpa = float(np.median([s for _, _, s in theirs]))
            lirpa = f"{theirs[0][0]:11.4f} {t_lirpa:7.2f} {t_ours / t_lirpa:6.2f}"
        else:
            lirpa = f"{'-':>11s} {'-':>7s} {'-':>6s}"
        print(f"  {eps:6.3f} {width:8.4f} {t_ours:7.2f} {lirpa}")
