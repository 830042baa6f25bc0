"""A regression gate: "model v2 must still see what v1 saw", judged by behaviour.

The baselines under ``featviz_baselines/`` (next to this file) were written from
``models/digits_mlp.keras`` with

    pytest examples/test_regression_gate.py --featviz-update-baselines

and are committed with the tests. With ``model=`` a baseline also stores v1's activations
of a reference layer at its inputs (the logits for the class maximisers, ``dense_1`` for
the hidden units), and a plain run judges the model under test by behaviour: its
objective at v1's stored input must reach 90% of its own optimum (cross-activation), the
reference layer at v1's inputs must point the same way as v1's (cosine >= 0.999), and its
best values must stay within 5%. Rounding-sized changes (weight noise up to 1e-4, XLA on
or off, float64 evaluation) move none of these past its threshold, while a swapped class
head, a replaced unit or a destroyed feature does (see the README's calibration table). A
missing baseline fails and prints the command that creates it.

``models/digits_mlp_v2_perturbed.keras`` (``make_perturbed_model.py``) plays a v2 whose
hidden layer moved; its test is expected to fail (``xfail(strict=True, raises=AssertionError)``). Run

    pytest examples/test_regression_gate.py -rx --featviz-artifacts demo_out/artifacts

to read its failure account and see the obtained, expected and difference pictures.
"""

import pytest

import pytest_featviz as fv

V1 = "models/digits_mlp.keras"
V2_PERTURBED = "models/digits_mlp_v2_perturbed.keras"


def class_maximisers(featviz, model):
    """The input in the unit box that maximises each class logit: 10 targets, one batch, fixed seed."""
    return featviz.ascend(model, fv.ClassLogit(list(range(10))), constraints=fv.Box(0.0, 1.0), steps=100, seed=0)


@pytest.mark.featviz_model(V1)
def test_class_maximisers_match_the_baseline(featviz_model, featviz):
    featviz.assert_matches_baseline("class_maximisers", class_maximisers(featviz, featviz_model), model=featviz_model)


def hidden_units(featviz, model):
    """The input in the unit box that maximises each of the first 16 hidden units."""
    return featviz.ascend(model, fv.Neuron("dense_1", list(range(16))), constraints=fv.Box(0.0, 1.0), steps=100, seed=0)


@pytest.mark.featviz_model(V1)
def test_hidden_units_match_the_baseline(featviz_model, featviz):
    """The reference layer is the units' own layer: its 128 activations at each stored maximiser."""
    featviz.assert_matches_baseline("hidden_units", hidden_units(featviz, featviz_model), model=featviz_model)


@pytest.mark.featviz_model(V1)
def test_reachability_of_class_3_matches_the_baseline(featviz_model, featviz):
    """A reachability baseline: which of 4 restarts reach p(3) >= 0.95, how fast, and where."""
    r = fv.assert_reaches(
        featviz_model, fv.ClassProbability(3), 0.95, constraints=fv.Box(0.0, 1.0), restarts=4, steps=100, seed=0
    )
    featviz.assert_matches_baseline("reach_3", r, model=featviz_model)


@pytest.mark.xfail(
    strict=True, raises=AssertionError, reason="demo of a failure account: the perturbed v2 no longer sees what v1 saw"
)
@pytest.mark.featviz_model(V2_PERTURBED)
def test_perturbed_model_fails_the_gate(featviz_model, featviz):
    """v2 against v1's baseline (read only: the update flag never writes another test's baseline).

    Its hidden units respond to other pictures: cross-activation, similarity and values all fail.
    (Its class logits move less: at v1's class maximisers they still point within 0.2% of
    v1's direction, which the class gate's similarity >= 0.999 catches on 4 of 10 classes.)
    """
    featviz.assert_matches_baseline(
        "hidden_units",
        hidden_units(featviz, featviz_model),
        baseline_of="test_hidden_units_match_the_baseline",
        model=featviz_model,
    )
