"""Cost of ``fv.top_examples`` relative to a plain batched ``model.predict`` over the same data.

Run ``python bench/exemplars.py`` from the repository root (needs ``examples/models/``).
The digits CNN's held-out digits, repeated to ``--inputs`` inputs, are streamed through
``top_examples`` (all 16 ``conv2`` channels, k=9, batches of 256, from an array and from a
generator of 100-input batches) and through ``model.predict(batch_size=256)``; each is timed
as the best of ``--repeats`` calls after a warm-up call, and the ratios measured in this one
run are printed (the issue's bound: within 1.2x of predict), and for one channel from the array.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import bounds  # noqa: E402  (bench/bounds.py: the scripts run from bench/ on sys.path)
import numpy as np  # noqa: E402

MODELS = Path(__file__).resolve().parents[1] / "examples" / "models"


def best_time(fn: Callable[[], Any], repeats: int) -> float:
    """The fastest of ``repeats`` calls after one warm-up call, in seconds."""
    fn()
    return bounds.best_time(fn, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--inputs", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import pytest_featviz as fv

    model = fv.load_model(MODELS / "digits_cnn.keras")
    digits = np.load(MODELS / "digits_test.npz")["x_test"].astype("float32")[..., None] / 255
    data = np.resize(digits, (args.inputs, *digits.shape[1:]))
    objective = fv.Channel("conv2", list(range(16)))

    def generator() -> Any:
        return (data[i : i + 100] for i in range(0, len(data), 100))

    predict = best_time(lambda: model.predict(data, batch_size=256, verbose=0), args.repeats)
    array = best_time(lambda: fv.top_examples(model, objective, data, batch_size=256), args.repeats)
    stream = best_time(lambda: fv.top_examples(model, objective, generator(), batch_size=256), args.repeats)
    one = best_time(lambda: fv.top_examples(model, fv.Channel("conv2", 5), data, batch_size=256), args.repeats)
    print(f"digits_cnn, {args.inputs} inputs, 16 conv2 channels, k=9, batch 256 (best of {args.repeats})")
    print(f"  model.predict          {predict:.3f} s")
    print(f"  top_examples (array)   {array:.3f} s   {array / predict:.2f}x predict")
    print(f"  top_examples (stream)  {stream:.3f} s   {stream / predict:.2f}x predict")
    print(f"  one channel (array)    {one:.3f} s   {one / predict:.2f}x predict")


if __name__ == "__main__":
    main()
