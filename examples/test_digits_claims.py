"""Interpretability claims about the digits MLP, written as a CI gate.

No conftest needed: the plugin provides the `featviz_model` marker and fixture and the
`featviz` fixture; the assertion helpers come from `pytest_featviz`.
"""

from pathlib import Path

import numpy as np
import pytest

import pytest_featviz as fv

HERE = Path(__file__).parent


def first_of_each_class(n=3):
    data = np.load(HERE / "models" / "digits_test.npz")
    x, y = data["x_test"].astype(np.float32) / 255.0, data["y_test"]
    return x[[np.flatnonzero(y == k)[0] for k in range(n)]], np.arange(n)


@pytest.mark.featviz_model("models/digits_mlp.keras")
def test_class_3_is_reachable_with_high_confidence(featviz_model):
    """Some input in the unit box is classified '3' with probability >= 0.95."""
    fv.assert_reaches(featviz_model, fv.ClassProbability(3), 0.95, constraints=fv.Box(0, 1), steps=200)


@pytest.mark.featviz_model("models/digits_mlp.keras")
@pytest.mark.parametrize("index", range(3))
def test_real_digits_resist_tiny_perturbations(featviz_model, index):
    """No input within 0.01 (L-inf) of a real digit pushes another class over 0.5."""
    x, y = first_of_each_class()
    ball = fv.Box(0, 1) & fv.LpBall(x[index], radius=0.01, p=np.inf)
    for other in range(10):
        if other != y[index]:
            fv.assert_not_reaches(
                featviz_model, fv.ClassProbability(other), 0.5, constraints=ball, start=x[index], restarts=2, steps=60
            )


@pytest.mark.featviz_model("models/digits_mlp.keras")
def test_real_digits_provably_keep_their_class(featviz_model):
    """Proof, not search: within 0.01 (L-inf) of each real digit no other logit reaches the true
    one. The 9 margins z_j - z_true of every digit are bounded in one call (a list of objectives)."""
    x, y = first_of_each_class()
    ball = fv.Box(0, 1) & fv.LpBall(x, radius=0.01, p=np.inf)
    certs = fv.certify_not_reaches(featviz_model, fv.logit_margins(y, 10), 0.0, constraints=ball, start=x)
    assert all(cert.proven for cert in certs), certs


@pytest.mark.featviz_model("models/digits_mlp.keras")
def test_maximisers_stay_in_the_box_and_are_saved(featviz_model, featviz):
    r = featviz.ascend(featviz_model, fv.ClassLogit([1, 7]), constraints=fv.Box(0, 1), steps=150)
    featviz.save("ones_and_sevens", r)
    fv.assert_within(r, fv.Box(0, 1))


@pytest.mark.xfail(strict=True, reason="demo of a failure account: a '7' cannot become a '1' within 0.02")
@pytest.mark.featviz_model("models/digits_mlp.keras")
def test_demo_failure_account_unreachable_class(featviz_model):
    """Deliberately false: run with --featviz-artifacts DIR to see the pictures this leaves."""
    data = np.load(HERE / "models" / "digits_test.npz")
    x, y = data["x_test"].astype(np.float32) / 255.0, data["y_test"]
    seven = x[np.flatnonzero(y == 7)[0]]
    near = fv.Box(0, 1) & fv.LpBall(seven, radius=0.02, p=np.inf)
    fv.assert_reaches(featviz_model, fv.ClassProbability(1), 0.9, constraints=near, start=seven, steps=100)
