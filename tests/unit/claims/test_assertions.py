"""Assertion helpers: pass/fail semantics, the failure account, and configuration errors."""

import keras
import numpy as np
import pytest
from tiny_models import ones_model

import pytest_featviz as fv
from pytest_featviz.errors import ConfigurationError, FeatvizTypeError


@pytest.fixture(scope="module")
def ones():
    """logit_k = x0 + x1 + x2 for both classes: max 3 on the unit box."""
    return ones_model()


@pytest.fixture(scope="module")
def steep():
    """A softmax classifier that saturates: logits +-100 * sum(x)."""
    inp = keras.Input((3,))
    head = keras.layers.Dense(2, activation="softmax", name="head")
    model = keras.Model(inp, head(inp), name="steep")
    head.set_weights([np.stack([np.full(3, 100.0), np.full(3, -100.0)], 1).astype("float32"), np.zeros(2, "float32")])
    return model


def test_reaches_passes_and_returns_the_result(ones):
    r = fv.assert_reaches(ones, fv.ClassLogit(1), 2.5, constraints=fv.Box(0, 1), steps=80)
    assert isinstance(r, fv.AscentResult) and r.reached.all() and r.values[0] >= 2.5


def test_reaches_failure_is_a_full_account(ones):
    with pytest.raises(AssertionError) as info:
        fv.assert_reaches(ones, fv.ClassLogit(0), 3.25, constraints=fv.Box(0, 1), steps=40, restarts=3, seed=11)
    text = str(info.value)
    for words in (
        "expected ClassLogit(0) reaches >= 3.25",
        "model 'ones'",
        "constraints Box(0.0, 1.0)",
        "seed 11",
        "up to 40 steps",
        "best value",
        "top classes",
        "remedy: more steps (steps=80)",
        "--featviz-artifacts",
    ):
        assert words in text, words
    assert sum(line.strip().startswith(("0 ", "1 ", "2 ")) for line in text.splitlines()) == 3  # one row per restart


def test_require_all_needs_every_target(ones):
    fv.assert_reaches(ones, fv.ClassLogit([0, 1]), 2.5, constraints=fv.Box(0, 1), steps=80, require="all")
    box = fv.Box([0, 0, 0], [1, 1, 1])
    with pytest.raises(AssertionError, match="for every item"):
        fv.assert_reaches(
            ones,
            fv.ClassLogit([0, 1]),
            2.5,
            constraints=box & fv.Mask(np.array([True, False, False])),
            start=np.zeros(3),
            steps=40,
            require="all",
        )


def test_not_reaches_passes_when_the_ball_is_too_small(ones):
    center = np.full(3, 0.5)
    r = fv.assert_not_reaches(
        ones, fv.ClassLogit(0), 1.8, constraints=fv.LpBall(center, 0.05, p=np.inf), start=center, steps=60
    )
    assert r.values.max() <= 1.65 + 1e-5
    assert r.status is None


def test_not_reaches_reports_the_counterexample_and_its_distance(ones):
    center = np.full(3, 0.5)
    with pytest.raises(AssertionError) as info:
        fv.assert_not_reaches(
            ones, fv.ClassLogit(0), 1.6, constraints=fv.LpBall(center, 0.05, p=np.inf), start=center, steps=60
        )
    text = str(info.value)
    assert "expected ClassLogit(0) stays below 1.6, but a counterexample was found" in text
    assert "from the ball's centre" in text and "real counterexample" in text


def test_saturated_softmax_is_detected_and_logits_suggested(steep):
    with pytest.raises(AssertionError) as info:
        fv.assert_reaches(steep, fv.ClassProbability(1), 0.5, constraints=fv.Box(0.5, 1), steps=20)
    assert "softmax saturates" in str(info.value) and "ClassLogit" in str(info.value)


def test_within_names_the_item_and_the_worst_entry():
    fv.assert_within(np.array([[0.0, 1.0]]), fv.Box(0, 1))
    with pytest.raises(AssertionError) as info:
        fv.assert_within(np.array([[0.5, 0.5], [0.2, 1.25]]), fv.Box(0, 1))
    text = str(info.value)
    assert "1 of 2 inputs lie outside Box(0.0, 1.0)" in text
    assert "item 1: breaks part 0 Box(0.0, 1.0) by 0.25 (atol=1e-06); entry (1,) = 1.25, allowed [0, 1]" in text


def test_within_accepts_results_and_checks_masks_against_their_start(ones):
    mask = fv.Mask(np.array([True, False, True]))
    r = fv.ascend(ones, fv.ClassLogit(0), start=np.full(3, 0.3), constraints=fv.Box(0, 1) & mask, steps=10)
    fv.assert_within(r, fv.Box(0, 1) & mask)
    moved = r.inputs.copy()
    moved[0, 1] = 0.9
    with pytest.raises(AssertionError, match="item 0"):
        fv.assert_within(moved, fv.Box(0, 1) & mask, start=r.start)


def stripes(angle_deg=0.0, size=48, period=8):
    yy, xx = np.mgrid[:size, :size]
    t = np.deg2rad(angle_deg)
    return 0.5 + 0.5 * np.sin(2 * np.pi * (-xx * np.sin(t) - yy * np.cos(t)) / period)


def test_structure_passes_on_stripes_and_fails_on_noise_with_every_value():
    values = fv.assert_structure(stripes(), orientation_coherence=(0.9, None), high_frequency_ratio=(None, 0.5))
    assert set(values) == {"orientation_coherence", "high_frequency_ratio"}
    noise = np.random.default_rng(0).random((2, 48, 48))
    with pytest.raises(AssertionError) as info:
        fv.assert_structure(noise, orientation_coherence=(0.9, None), entropy=(1.0, None))
    text = str(info.value)
    assert "2 of 2 images" in text and "image 1: orientation_coherence" in text and "FAIL" in text and "ok" in text


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda m: fv.assert_reaches(m, fv.ClassLogit(0), "high"), FeatvizTypeError, "threshold must be a"),
        (lambda m: fv.assert_reaches(m, fv.ClassLogit(0), 1.0, require="most"), ConfigurationError, "'any'"),
        (
            lambda m: fv.assert_reaches(m, fv.ClassLogit(0), 1.0, restarts=0),
            ConfigurationError,
            "restarts must be an int >= 1",
        ),
        (
            lambda m: fv.assert_reaches(m, fv.ClassLogit([0, 1]), 1.0, restarts=2),
            ConfigurationError,
            "needs a single target",
        ),
        (
            lambda m: fv.assert_not_reaches(m, fv.ClassLogit(0), 1.0, constraints=None),
            ConfigurationError,
            "needs constraints",
        ),
        (lambda m: fv.assert_reaches(m, fv.ClassLogit(5), 1.0), ConfigurationError, "valid indices are 0..1"),
        (lambda m: fv.assert_structure(np.zeros((8, 8)), sharpness=(0, 1)), ConfigurationError, "sharpness"),
        (lambda m: fv.assert_structure(np.zeros((8, 8)), entropy=0.5), ConfigurationError, "(min, max) pair"),
        (
            lambda m: fv.assert_structure(np.zeros((8, 8)), entropy=(2, 1)),
            ConfigurationError,
            "min=2 is larger than max=1",
        ),
    ],
)
def test_configuration_mistakes_are_not_assertion_errors(ones, call, error, words):
    with pytest.raises(error) as info:
        call(ones)
    assert words in str(info.value)
    assert not isinstance(info.value, AssertionError)


def absolute_value_model():
    """|x| = relu(x) + relu(-x): on [-1, 1] the true max is 1, IBP's bound is 2, CROWN's is 1."""
    inp = keras.Input((1,))
    hidden = keras.layers.Dense(2, activation="relu", name="hidden")
    head = keras.layers.Dense(1, name="head")
    model = keras.Model(inp, head(hidden(inp)))
    hidden.set_weights([np.array([[1.0, -1.0]], "float32"), np.zeros(2, "float32")])
    head.set_weights([np.ones((2, 1), "float32"), np.zeros(1, "float32")])
    return model


def test_not_reaches_with_certify_proves_or_says_unknown():
    model = absolute_value_model()
    box = fv.Box(-1, 1)
    proven = fv.assert_not_reaches(model, fv.ClassLogit(0), 1.5, constraints=box, steps=30, certify=True)
    assert proven.status == "proven" and proven.certificate.bounds.upper[0] < 1.5
    assert isinstance(proven, fv.ClaimResult) and not hasattr(proven.result, "certificate")
    unknown = fv.assert_not_reaches(model, fv.ClassLogit(0), 1.5, constraints=box, steps=30, certify=True, method="ibp")
    assert unknown.status == "unknown" and unknown.values.max() <= 1.0 + 1e-6
    with pytest.raises(AssertionError, match="certification: unknown"):
        fv.assert_not_reaches(
            model, fv.ClassLogit(0), 1.5, constraints=box, steps=30, certify=True, method="ibp", require_proof=True
        )


def test_records_carry_best_input_metrics_only_where_pictures_are_kept(tmp_path):
    from pytest_featviz.claims import TestContext, activate

    inp = keras.Input((8, 8))
    model = keras.Model(inp, keras.layers.Dense(2, kernel_initializer="ones")(keras.layers.Flatten()(inp)))
    for artifacts, has_metrics in ((tmp_path / "art", True), (None, False)):
        ctx = TestContext("t.py::test_x", 0, artifacts)
        with activate(ctx):
            fv.assert_reaches(model, fv.ClassLogit(0), 1.0, constraints=fv.Box(0, 1), steps=20)
        metrics = ctx.records[-1].metrics
        assert (metrics is not None) == has_metrics
        if has_metrics:
            assert set(metrics) == set(fv.metrics.METRICS)


def test_the_record_keeps_the_value_that_decided_the_claim(ones):
    """require="all" stands or falls with its worst item (the record's deciding value), "any" with its best."""
    from pytest_featviz.claims import TestContext, activate

    box = fv.Box([0, 0, 0], [1, 1, 1]) & fv.Mask(np.array([True, False, False]))  # item i can reach 1 + its start
    starts = np.array([[0.0, 0.0, 0.0], [0.0, 0.5, 0.5]])
    ctx = TestContext("t.py::test_x", 0, None)
    with activate(ctx):
        fv.assert_reaches(ones, fv.ClassLogit([0, 1]), 1.5, constraints=box, start=starts, steps=40)
        with pytest.raises(AssertionError, match="for every item"):
            fv.assert_reaches(ones, fv.ClassLogit([0, 1]), 1.5, constraints=box, start=starts, steps=40, require="all")
    anyone, every = ctx.records
    assert anyone.deciding_value == pytest.approx(anyone.best_value) and anyone.best_value >= 1.5
    assert every.deciding_value == pytest.approx(1.0, abs=1e-4) and every.best_value >= 1.5
