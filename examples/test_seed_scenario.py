"""The question pytest-featviz was started from, as a test file a user would copy.

"My Keras classifier is trained (Flatten, Dense 128 relu, Dense 10 softmax on 28x28 digits).
Find me the input that maximises class k, under constraints on the values the input may take."

Run with pictures:  pytest examples/test_seed_scenario.py --featviz-artifacts demo_out/artifacts
"""

from pathlib import Path

import numpy as np
import pytest

import pytest_featviz as fv

HERE = Path(__file__).parent
MODEL = "models/digits_mlp.keras"


def real_digits():
    data = np.load(HERE / "models" / "digits_test.npz")
    return data["x_test"].astype(np.float32) / 255.0, data["y_test"]


@pytest.mark.featviz_model(MODEL)
def test_each_class_has_a_maximiser_in_the_unit_box(featviz_model, featviz):
    """All 10 classes at once, as one batch: the input in [0, 1] that maximises each logit."""
    unit = fv.Box(0.0, 1.0)
    r = featviz.ascend(featviz_model, fv.ClassLogit(list(range(10))), constraints=unit, steps=300)
    featviz.save("class_maximisers", r.inputs, labels=[f"class {k}" for k in range(10)])
    fv.assert_within(r, unit)
    # each maximiser is classified as its own class, with high confidence
    assert (r.outputs.argmax(axis=1) == np.arange(10)).all()
    assert (r.outputs.max(axis=1) > 0.99).all()


@pytest.mark.featviz_model(MODEL)
def test_maximiser_near_a_real_digit(featviz_model, featviz):
    """The same question with a stricter constraint: stay within 0.1 (L-inf) of a real 3."""
    x, y = real_digits()
    three = x[np.flatnonzero(y == 3)[0]]
    near = fv.Box(0.0, 1.0) & fv.LpBall(three, radius=0.1, p=np.inf)
    r = featviz.ascend(featviz_model, fv.ClassLogit(8), start=three, constraints=near, steps=200)
    featviz.save("eight_near_a_three", np.stack([three, r.inputs[0]]), labels=["real 3", "max class 8"])
    fv.assert_within(r, near)
    assert np.abs(r.inputs[0] - three).max() <= 0.1 + 1e-6
    # pushing toward 8 inside the ball raises the class-8 logit above where it started
    assert r.values[0] > r.history[0, 0]
