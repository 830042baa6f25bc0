"""How much of the float32 rounding allowance a real float32 evaluation can use, on the CNN of issue 19.

The bounds cover the model's float32 evaluation in *any* summation order (the order of a
dot product is the backend's: oneDNN's blocking, a GPU's split reductions, XLA's fusions,
the batch size and the thread count all change it). This prints, for the logit margins
``z_j - z_true`` of the first ``--digits`` test digits in ``Box(0, 1) & LpBall(x, eps,
p=inf)`` (CNN conv16-conv32s2-dense64-10, trained as in ``bounds.py``):

- the mean width of our float32-sound CROWN bounds and of the same bounds in exact
  arithmetic (auto_LiRPA's CROWN gives the latter, within 0.1%);
- the range of the model as TensorFlow runs it, at the two ends of a sign-gradient step
  (``x +- eps sign(grad)``, clipped to the box);
- the range of *valid float32 evaluations* at the same points, with the 6272-input dense
  layer summed in an order picked against the bounds (:func:`.rounding.adverse_dense`, each
  unit pushed the way that raises, or lowers, the margin; the other layers as NumPy and
  TensorFlow run them), and how many of them leave the exact-arithmetic bounds and the
  float32-sound ones (never: that would be a soundness bug);
- the sum of the partial sums' magnitudes in one valid order (positive terms from the
  largest down, then negative terms from the smallest up), as a fraction of the
  ``k max(P, N)`` that the rounding bound charges: no bound that charges every addition
  ``u`` times its partial sum can be below it.

Run ``python bench/rounding_orders.py [--digits N] [--eps E]`` from the repository root.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bounds import MODELS, issue_cnn  # noqa: E402


def sorted_order_share(terms: np.ndarray) -> float:
    """``sum_k |s_k| / (k max(P, N))`` for the order positives-largest-first, negatives-smallest-first."""
    pos, neg = np.sort(terms[terms > 0])[::-1], np.sort(terms[terms < 0])[::-1]
    up, down = pos.sum(), -neg.sum()
    order = np.concatenate([pos, neg]) if up >= down else np.concatenate([neg[::-1], pos[::-1]])
    return float(np.abs(np.cumsum(order)[1:]).sum() / (len(terms) * max(up, down)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", type=int, default=5)
    parser.add_argument("--eps", type=float, default=0.001)
    args = parser.parse_args()
    import keras
    import tensorflow as tf

    import pytest_featviz as fv
    from pytest_featviz.verify.rounding import adverse_dense

    model, how = issue_cnn()
    data = np.load(MODELS / "digits_test.npz")
    x = (data["x_test"][: args.digits].astype(np.float32) / 255)[..., None]
    y = data["y_test"][: args.digits].astype(int)
    pairs = [(i, j) for i in range(len(y)) for j in range(10) if j != y[i]]
    items = np.array([i for i, _ in pairs])
    objective = fv.ClassLogit([j for _, j in pairs]) - fv.ClassLogit([int(y[i]) for i, _ in pairs])
    box = fv.Box(0, 1) & fv.LpBall(x[items], args.eps, p=np.inf)
    b = fv.bounds(model, objective, constraints=box, method="crown", start=x[items])

    features = keras.Model(model.inputs[0], model.layers[2].output)  # the flattened conv features, float32
    kernel, bias = (np.asarray(v) for v in model.layers[3].weights)
    head, head_bias = (np.asarray(v) for v in model.layers[4].weights)
    start = tf.constant(x[items])
    with tf.GradientTape() as tape:
        tape.watch(start)
        logits = model(start)
        total = tf.add_n([logits[k, j] - logits[k, int(y[i])] for k, (i, j) in enumerate(pairs)])
    grad = np.sign(tape.gradient(total, start).numpy())

    def evaluate(point: np.ndarray, j: int, label: int, sign: float) -> tuple[float, float]:
        """(TensorFlow's float32 margin, a float32 margin with the dense layer summed against the bound)."""
        z = model(point[None]).numpy()[0]
        h = features(point[None]).numpy()[0]
        pre = (h @ kernel + bias).astype(np.float32)  # NumPy's order: a valid float32 evaluation
        live = np.flatnonzero(pre > -1e-3)  # units a rounding could carry through the ReLU
        push = sign * np.sign(head[:, j] - head[:, label])
        pre[live] = adverse_dense(kernel[:, live], h, bias[live], push[live])
        logits = (np.maximum(pre, np.float32(0)) @ head + head_bias).astype(np.float32)
        return float(z[j] - z[label]), float(logits[j] - logits[label])

    t0 = time.perf_counter()
    rows = []
    for k, (i, j) in enumerate(pairs):
        high = np.clip(x[i] + args.eps * grad[k], 0, 1).astype(np.float32)
        low = np.clip(x[i] - args.eps * grad[k], 0, 1).astype(np.float32)
        rows.append([*evaluate(high, j, y[i], 1.0), *evaluate(low, j, y[i], -1.0)])
    r = np.array(rows)
    tf_range, adverse_range = r[:, 0] - r[:, 2], r[:, 1] - r[:, 3]
    exact, sound = b.real_upper - b.real_lower, b.upper - b.lower
    outside_sound = int(np.sum(r[:, [0, 1]].max(1) > b.upper) + np.sum(r[:, [2, 3]].min(1) < b.lower))
    outside_exact = int(np.sum(r[:, 1] > b.real_upper) + np.sum(r[:, 3] < b.real_lower))
    shares = []
    for i in range(len(y)):
        h = features(x[i : i + 1]).numpy()[0]
        for m in np.flatnonzero(h @ kernel + bias > 0):
            terms = kernel[:, m].astype(np.float64) * h
            shares.append(sorted_order_share(np.append(terms[terms != 0], bias[m])))

    print(f"CNN conv16-conv32s2-dense64-10 ({how}); {len(pairs)} margins, eps {args.eps}")
    print(
        f"  mean width, float32-sound CROWN:           {sound.mean():.4f}  ({sound.mean() / exact.mean():.3f}x exact)"
    )
    print(f"  mean width, exact-arithmetic CROWN:        {exact.mean():.4f}")
    print(
        f"  range of TensorFlow's float32 evaluation:  {tf_range.mean():.4f}  ({tf_range.mean() / exact.mean():.3f}x)"
    )
    print(
        f"  range of adversarial float32 evaluations: {adverse_range.mean():.4f}  ({adverse_range.mean() / exact.mean():.3f}x)"
    )
    print(f"  adversarial ends outside the exact bounds: {outside_exact} of {2 * len(pairs)}")
    print(f"  float32 values outside the sound bounds:   {outside_sound} of {4 * len(pairs)}")
    print(
        f"  sorted order: sum |s_k| / (k max(P, N)) = {np.mean(shares):.3f} (min {np.min(shares):.3f}) over {len(shares)} units"
    )
    print(f"  ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
