"""The behavioural gate: cross-activation, representation similarity, format version 2, known answers on tiny models.

The noise/change matrix on the shipped models is tests/integration/test_gate_calibration.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import pytest_featviz as fv
from pytest_featviz import baselines
from pytest_featviz.baselines import capture, compare, cross_activation, load, save, similarity
from pytest_featviz.errors import BaselineFormatError, ConfigurationError

V1_FILE = Path(__file__).parent / "data" / "v1_digits_mlp_class_maximisers.npz"
KERNEL = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, -1.0]], dtype=np.float32)


def tiny(kernel=KERNEL, head=None):
    """x (4,) -> relu(x @ kernel) ('units', 3) -> @ head ('head', 2 classes; default: sums of units 0,1 and 2)."""
    import keras

    head = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=np.float32) if head is None else head
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(3, activation="relu", use_bias=False, name="units"),
            keras.layers.Dense(2, use_bias=False, name="head"),
        ]
    )
    model.get_layer("units").set_weights([kernel])
    model.get_layer("head").set_weights([head])
    return model


def units_run(model, steps=40):
    return fv.ascend(model, fv.Neuron("units", [0, 1, 2]), constraints=fv.Box(0.0, 1.0), steps=steps, seed=0)


# -- the numbers, known answers ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("at_stored", "own_best", "old_best", "expected"),
    [
        (3.0, 4.0, None, 0.75),  # a positive best: the plain ratio
        (5.0, 4.0, None, 1.0),  # the stored input beats the new ascent: it is the best known
        (-6.0, -4.0, None, 0.5),  # a negative best: the gap relative to |best|
        (0.0, 0.0, 0.0, 1.0),  # dead before and after: nothing to compare
        (0.0, 0.0, 2.0, 0.0),  # it fired before and is silent now
        (np.nan, 1.0, None, 0.0),  # a NaN fails
    ],
)
def test_cross_activation_known_answers(at_stored, own_best, old_best, expected):
    old = None if old_best is None else np.array([old_best])
    assert cross_activation(np.array([at_stored]), np.array([own_best]), 1e-6, old) == pytest.approx([expected])


def test_similarity_known_answers():
    a, b = np.array([[1.0, 0.0], [1.0, 2.0]]), np.array([[1.0, 1.0], [-1.0, -2.0]])
    assert similarity(a, b) == pytest.approx([1 / np.sqrt(2), -1.0])
    ranks = similarity(np.array([[1.0, 5.0, 2.0, 9.0]]), np.array([[0.1, 0.7, 0.2, 0.8]]), "spearman")
    assert ranks == pytest.approx([1.0])  # the same order, different values
    assert similarity(np.zeros((1, 3)), np.array([[0.0, 1.0, 0.0]])).tolist() == [0.0]


def test_objective_values_and_activations_are_the_forward_pass():
    x = np.array([[1.0, 0.5, 0.0, 1.0], [0.0, 0.0, 1.0, 0.0]], dtype=np.float32)
    hidden = np.maximum(x @ KERNEL, 0.0)  # [[2, 2, 0], [0, 0, 1]]
    model = tiny()
    assert baselines.activations(model, "units", x) == pytest.approx(hidden)
    assert baselines.activations(model, "logits", x) == pytest.approx(np.array([[4.0, 0.0], [0.0, 1.0]]))
    assert baselines.objective_values(model, fv.Neuron("units", [1, 2]), x) == pytest.approx([2.0, 1.0])
    assert baselines.objective_values(model, fv.ClassLogit(1), x) == pytest.approx([0.0, 1.0])
    with pytest.raises(ConfigurationError, match="'nope' is not a layer of .* choose one of \\['logits', "):
        baselines.activations(model, "nope", x)


# -- the gate on a tiny model -------------------------------------------------------------------
def test_the_same_model_passes_every_behavioural_comparison_with_numbers_one():
    model = tiny()
    baseline = capture(units_run(model), model=model)
    assert baseline.metadata["reference"] == "units" and baseline.reference.shape == (3, 3)
    c = compare(units_run(model), baseline, model=model, old_model=model)
    assert c.passed and c.judged == ("values", "cross", "cross_back", "similarity")
    for name in ("cross", "cross_back", "similarity"):
        assert c.check(name).numbers == pytest.approx(np.ones(3))
    assert not c.check("ssim").judged  # reported only


def test_a_replaced_unit_fails_cross_activation_and_similarity_and_the_account_says_what_it_means():
    model, kernel = tiny(), KERNEL.copy()
    baseline = capture(units_run(model), model=model)
    kernel[:, 1] = [1.0, -2.0, 0.0, 0.0]  # unit 1 now prefers input 0 instead of inputs 1 and 3
    v2 = tiny(kernel)
    c = compare(units_run(v2), baseline, model=v2)
    assert c.check("cross").failing.tolist() == [False, True, False]  # only unit 1 responds to something else
    assert c.check("similarity").failing.all()  # unit 1 is part of the layer's response to every stored input
    stored = baseline.inputs[1]  # maximises 2 x1 + x3: (., 1, ., 1); v2's unit 1 gives max(x0 - 2, 0) there
    assert c.check("cross").numbers[1] == pytest.approx(max(stored[0] - 2 * stored[1], 0.0))
    text = c.describe()
    assert text.startswith("3 of 3 items differ from the baseline, judged by: cross >= 0.9; similarity >= 0.999")
    assert "cross >= 0.9 failed for item(s) 1, worst 0 at item 1" in text
    assert "Failing means: the new unit no longer responds to what the old unit responded to" in text
    assert "similarity >= 0.999 failed for item(s) 0, 1, 2" in text
    assert "Failing means: the layer represents the old inputs differently" in text


def test_a_swapped_class_head_fails_by_cross_activation():
    model = tiny()
    run = fv.ascend(model, fv.ClassLogit([0, 1]), constraints=fv.Box(0.0, 1.0), steps=40, seed=0)
    baseline = capture(run, model=model)
    assert baseline.metadata["reference"] == "logits"
    swapped = tiny(head=np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]], dtype=np.float32))
    c = compare(
        fv.ascend(swapped, fv.ClassLogit([0, 1]), constraints=fv.Box(0.0, 1.0), steps=40, seed=0),
        baseline,
        model=swapped,
    )
    assert c.failing.tolist() == [True, True] and c.check("cross").numbers[0] == 0.0  # class 0's picture: now 0
    assert (c.check("similarity").numbers == 0.0).all()  # the logits at the stored inputs are orthogonal now


def test_permutation_pairs_units_by_cross_activation():
    model = tiny()
    baseline = capture(units_run(model), model=model)
    order = [2, 0, 1]  # v2's unit i is v1's unit order[i]
    v2 = tiny(KERNEL[:, order])
    assert not compare(units_run(v2), baseline, model=v2, checks=("cross",)).passed
    c = compare(units_run(v2), baseline, model=v2, checks=("cross",), match="permutation")
    assert c.passed and c.mapping == tuple(order)


def test_another_objective_than_the_baselines_cannot_be_compared():
    model = tiny()
    baseline = capture(units_run(model), model=model)
    other = fv.ascend(model, fv.Neuron("units", [2, 1, 0]), constraints=fv.Box(0.0, 1.0), steps=5, seed=0)
    c = compare(other, baseline, model=model)
    assert not c.passed and "captured for the objective Neuron('units', [0, 1, 2])" in c.problem


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"checks": ("cross", "pixels")},
            "checks entry='pixels' is not one of 'cross', 'cross_back', 'reached', 'similarity', 'ssim', 'values'",
        ),
        ({"checks": ()}, "checks is empty"),
        ({"checks": ("cross",), "model": None}, "the comparisons ['cross'] run the new model: pass model="),
        ({"checks": ("cross_back",)}, "'cross_back' runs the old model: pass old_model="),
        ({"min_similarity": 1.5}, "min_similarity must be a finite number in [-1, 1]; got 1.5"),
        ({"similarity": "pearson"}, "similarity='pearson' is not one of 'cosine', 'spearman'"),
    ],
)
def test_bad_gate_options_name_the_value_and_the_choices(options, message):
    model = tiny()
    run = units_run(model, steps=3)
    with pytest.raises(ConfigurationError) as info:
        compare(run, capture(run, model=model), **{"model": model, **options})
    assert message in str(info.value)


def test_behavioural_comparisons_need_the_result_itself():
    model = tiny()
    run = units_run(model, steps=3)
    with pytest.raises(ConfigurationError, match="pass the AscentResult itself"):
        compare(run.inputs, capture(run, model=model), model=model, checks=("cross",))
    with pytest.raises(ConfigurationError, match="pass the AscentResult"):
        capture(run.inputs, model=model)


# -- format version 2, and version-1 files ------------------------------------------------------
def test_version_2_stores_the_reference_activations_and_reads_them_back(tmp_path):
    model = tiny()
    baseline = capture(units_run(model), model=model, reference="logits")
    stored = load(save(tmp_path / "b.npz", baseline))
    assert stored.metadata["version"] == baselines.FORMAT_VERSION == 2 and stored.metadata["reference"] == "logits"
    assert np.array_equal(stored.reference, baseline.reference) and stored.reference.shape == (3, 2)
    assert compare(units_run(model), stored, model=model).passed


def test_a_version_2_file_whose_reference_does_not_fit_is_a_format_error(tmp_path):
    model = tiny()
    path = save(tmp_path / "b.npz", capture(units_run(model), model=model))
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    np.savez(path, **{**arrays, "reference": arrays["reference"][:2]})
    with pytest.raises(BaselineFormatError, match="do not fit together"):
        load(path)


def test_a_committed_version_1_file_loads_and_compares_as_before():
    stored = load(V1_FILE)
    assert stored.metadata["version"] == 1 and stored.reference is None
    c = compare(stored, stored)
    assert c.passed and c.judged == baselines.LEGACY_CHECKS[:2]  # a v1 ascent file: SSIM and values, no flags
    assert c.describe().startswith("0 of 10 items differ from the baseline (min_ssim=0.95, value_rtol=0.05")
    moved = capture(stored.inputs[::-1])  # pictures only: compared by SSIM, as before
    assert not compare(moved, capture(stored.inputs)).passed


def test_a_version_1_file_with_a_model_is_judged_as_before_unless_asked_for_cross_activation():
    model = fv.load_model(Path(__file__).parents[3] / "examples" / "models" / "digits_mlp.keras")
    stored = load(V1_FILE)
    run = fv.ascend(model, fv.ClassLogit(list(range(10))), constraints=fv.Box(0.0, 1.0), steps=100, seed=0)
    assert compare(run, stored, model=model).judged == ("ssim", "values")
    c = compare(run, stored, model=model, checks=("cross", "values"))
    assert c.passed and (c.check("cross").numbers > 0.99).all()
    with pytest.raises(ConfigurationError, match="stores no reference activations .* before format version 2"):
        compare(run, stored, model=model, checks=("similarity",))


# -- the fixture's method ------------------------------------------------------------------------
def test_the_fixture_stores_reference_activations_and_judges_by_behaviour(tmp_path):
    from test_baselines import bound_fixture

    model, kernel = tiny(), KERNEL.copy()
    assert bound_fixture(tmp_path, update=True).assert_matches_baseline("units", units_run(model), model=model) is None
    stored = load(baselines.baseline_path(tmp_path / "sub" / "featviz_baselines", "sub/test_m.py::test_x", "units"))
    assert stored.metadata["version"] == 2 and stored.metadata["reference"] == "units"
    c = bound_fixture(tmp_path).assert_matches_baseline("units", units_run(model), model=model)
    assert c.passed and c.judged == ("values", "cross", "similarity")
    kernel[:, 1] = [1.0, -2.0, 0.0, 0.0]
    v2 = tiny(kernel)
    with pytest.raises(AssertionError) as failure:
        bound_fixture(tmp_path).assert_matches_baseline("units", units_run(v2), model=v2)
    text = str(failure.value)
    assert "cross >= 0.9 failed for item(s) 1, worst 0 at item 1" in text
    assert (
        "if the change is intended, update the baseline: pytest sub/test_m.py::test_x --featviz-update-baselines"
        in text
    )


def test_the_fixture_says_when_a_version_1_file_is_judged_by_pictures_despite_model(tmp_path):
    from test_baselines import bound_fixture

    model = tiny()
    path = baselines.baseline_path(tmp_path / "sub" / "featviz_baselines", "sub/test_m.py::test_x", "units")
    save(path, units_run(model))  # without model=: no reference activations
    moved = fv.ascend(model, fv.Neuron("units", [2, 0, 1]), constraints=fv.Box(0.0, 1.0), steps=40, seed=0)
    with pytest.raises(AssertionError) as failure:
        bound_fixture(tmp_path).assert_matches_baseline("units", moved, model=model)
    assert "judged by pictures: this baseline stores no reference activations (format version 2)" in str(failure.value)


def test_checks_choose_what_decides_and_the_rest_is_reported():
    model, kernel = tiny(), KERNEL.copy()
    baseline = capture(units_run(model), model=model)
    kernel[:, 1] = [1.0, -2.0, 0.0, 0.0]
    v2 = tiny(kernel)
    c = compare(units_run(v2), baseline, model=v2, checks=("ssim",), similarity="spearman")
    assert c.judged == ("ssim",) and c.check("cross") is None  # behavioural numbers are computed only when named
    assert c.failing.tolist() == c.check("ssim").failing.tolist()
    by_rank = compare(units_run(v2), baseline, model=v2, checks=("similarity",), similarity="spearman")
    assert by_rank.judged == ("similarity",) and by_rank.check("similarity").numbers[1] < 0.999


def test_the_fixture_records_the_behavioural_numbers_for_the_report(tmp_path):
    from test_baselines import bound_fixture

    model = tiny()
    bound_fixture(tmp_path, update=True).assert_matches_baseline("units", units_run(model), model=model)
    featviz = bound_fixture(tmp_path)
    featviz.assert_matches_baseline("units", units_run(model), model=model)
    record = featviz.context.records[-1]
    assert sorted(record.extra) == ["cross", "similarity"]
    assert np.allclose(record.extra["cross"], 1.0) and np.allclose(record.extra["similarity"], 1.0)
    assert record.claim.endswith("judged by values+cross+similarity)")
