"""Draw examples/pictures/diversity.png: four visualizations of textures_cnn conv2 channel 3, without and with fv.Diversity.

Run from the repository root: ``python examples/diversity_picture.py``. Top row: four restarts of
``fv.Channel("conv2", 3)``; bottom row: the same starts with ``+ 30 * fv.Diversity("conv1")``. Each
picture is labelled with the channel's value and the mean cosine similarity of its conv1 Gram matrix
with the other three.
"""

from pathlib import Path

import numpy as np

import pytest_featviz as fv
from pytest_featviz import render
from pytest_featviz.exemplars import forward

ROOT = Path(__file__).resolve().parents[1]


def main() -> Path:
    cnn = fv.load_model(ROOT / "examples" / "models" / "textures_cnn.keras")
    unit, labels, rows = fv.Channel("conv2", 3), [], []
    for weight in (0.0, 30.0):
        objective = unit + weight * fv.Diversity("conv1") if weight else unit
        r = fv.ascend(cnn, objective, constraints=fv.Box(0, 1), restarts=4, steps=96, seed=0)
        value = forward(cnn, unit, r.inputs)[0][:, 0]
        similar = -forward(cnn, fv.Diversity("conv1"), r.inputs)[0][:, 0]
        rows.append(r.inputs)
        labels += [f"{'div' if weight else 'plain'} {v:.0f} / {s:.2f}" for v, s in zip(value, similar)]
    return render.save_png(ROOT / "docs" / "diversity.png", np.concatenate(rows), labels=labels, columns=4)


if __name__ == "__main__":
    print(main())
