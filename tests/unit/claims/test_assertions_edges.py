"""Assertion helpers at their edges: proof requirements, arguments owned by the assertion,
plain numbers in claims, and how assert_structure reads shapes and bad values."""

import keras
import numpy as np
import pytest
from tiny_models import ones_model

import pytest_featviz as fv
from pytest_featviz import metrics
from pytest_featviz.errors import ConfigurationError, FeatvizTypeError


@pytest.fixture(scope="module")
def ones():
    """logit_k = x0 + x1 + x2 for both classes: max 3 on the unit box."""
    return ones_model()


def relu_net(hidden_weights, head_weights):
    """One input -> ReLU hidden layer -> one output, no biases."""
    inp = keras.Input((1,))
    hidden = keras.layers.Dense(len(hidden_weights), activation="relu")
    head = keras.layers.Dense(1)
    model = keras.Model(inp, head(hidden(inp)))
    hidden.set_weights([np.array([hidden_weights], "float32"), np.zeros(len(hidden_weights), "float32")])
    head.set_weights([np.array(head_weights, "float32")[:, None], np.zeros(1, "float32")])
    return model


@pytest.fixture(scope="module")
def absolute():
    """|x| = relu(x) + relu(-x) on [-1, 1]: true max 1; IBP's upper bound is 2, CROWN's is 1."""
    return relu_net([1.0, -1.0], [1.0, 1.0])


@pytest.fixture(scope="module")
def zero():
    """relu(x) - relu(x) = 0 on [-1, 1]: true max 0; IBP's and CROWN's upper bounds are both 1."""
    return relu_net([1.0, 1.0], [1.0, -1.0])


# ------------------------------------------------------------------ assert_not_reaches: proof


def test_require_proof_without_certify_is_a_configuration_error(ones):
    # 3.5 is out of reach (max 3): before, this failed as "a real counterexample" although nothing reached it
    with pytest.raises(ConfigurationError, match=r"require_proof=True needs certify=True"):
        fv.assert_not_reaches(ones, fv.ClassLogit(0), 3.5, constraints=fv.Box(0, 1), steps=20, require_proof=True)


def test_unknown_certificate_gives_the_bound_the_threshold_and_tighter_options(absolute):
    with pytest.raises(AssertionError) as info:
        fv.assert_not_reaches(
            absolute,
            fv.ClassLogit(0),
            1.5,
            constraints=fv.Box(-1, 1),
            steps=30,
            certify=True,
            method="ibp",
            require_proof=True,
        )
    text = str(info.value)
    assert "with a proof (require_proof=True), but the sound bound could not prove it" in text
    assert (
        "certification: unknown: no counterexample was found, but the sound upper bound, 2, "
        "is at or above the threshold 1.5 (method 'ibp'"
    ) in text
    assert "remedy: try method=\"crown\" (tighter than 'ibp'), a smaller radius" in text
    assert "a higher threshold" in text
    assert "real counterexample" not in text and ", but a counterexample was found" not in text


def test_unknown_under_crown_does_not_suggest_crown(zero):
    r = fv.assert_not_reaches(zero, fv.ClassLogit(0), 0.5, constraints=fv.Box(-1, 1), steps=20, certify=True)
    assert r.status == "unknown" and r.values.max() == 0.0 and r.certificate.bounds.upper[0] >= 1.0
    with pytest.raises(AssertionError) as info:
        fv.assert_not_reaches(
            zero, fv.ClassLogit(0), 0.5, constraints=fv.Box(-1, 1), steps=20, certify=True, require_proof=True
        )
    text = str(info.value)
    assert "the sound upper bound, 1, is at or above the threshold 0.5 (method 'crown'" in text
    assert "remedy: try a smaller radius (or tighter constraints) or a higher threshold" in text
    assert 'method="crown"' not in text


@pytest.mark.parametrize("certify", [False, True])
def test_method_is_checked_before_anything_runs(ones, certify):
    with pytest.raises(ConfigurationError) as info:
        fv.assert_not_reaches(
            ones, fv.ClassLogit(0), 3.5, constraints=fv.Box(0, 1), steps=5, certify=certify, method="crwn"
        )
    assert str(info.value) == (
        "method='crwn' is not one of 'crown', 'ibp', 'crown-ibp', 'alpha-crown'; did you mean 'crown'?"
    )


@pytest.mark.parametrize(
    "certify, how",
    [
        (False, "a search result; no bounds were computed (certify=False)"),
        (True, "certification skipped: the counterexample settles the claim"),
    ],
)
def test_counterexample_account_says_plainly_what_ran(ones, certify, how):
    with pytest.raises(AssertionError) as info:
        fv.assert_not_reaches(
            ones,
            fv.ClassLogit(0),
            2.5,
            constraints=fv.Box(0, 1),
            start=np.ones(3),
            restarts=1,
            steps=5,
            certify=certify,
        )
    text = str(info.value)
    assert f"gradient ascent found inputs inside the constraints with ClassLogit(0) >= 2.5 (items 0); {how}" in text
    assert "certification: counterexample" not in text
    assert "remedy: this is a real counterexample inside the constraints" in text


# ------------------------------------------------------------------ claims and arguments


@pytest.mark.parametrize(
    "threshold, written",
    [
        (np.float64(5.0), "5.0"),
        (np.float32(4.5), "4.5"),
        (np.int64(4), "4"),
        (3.25, "3.25"),
        (1e6, "1000000.0"),
    ],
)
def test_thresholds_are_written_as_plain_numbers(ones, threshold, written):
    with pytest.raises(AssertionError) as reaches:
        fv.assert_reaches(ones, fv.ClassLogit(0), threshold, constraints=fv.Box(0, 1), steps=5)
    assert f"expected ClassLogit(0) reaches >= {written}\n" in str(reaches.value)
    with pytest.raises(AssertionError) as stays:
        fv.assert_not_reaches(ones, fv.ClassLogit(0), -threshold, constraints=fv.Box(0, 1), steps=5)
    assert f"expected ClassLogit(0) stays below -{written}, but" in str(stays.value)
    assert "np." not in str(reaches.value) + str(stays.value)


@pytest.mark.parametrize("assertion", [fv.assert_reaches, fv.assert_not_reaches])
@pytest.mark.parametrize(
    "option, words",
    [
        ({"until": None}, "sets until= itself (objective >= threshold"),
        ({"batch": 3}, "takes restarts= instead of batch="),
        (
            {"step": 5},
            "got an unexpected keyword argument 'step'; besides its own arguments it passes these to ascend(): "
            "steps, lr,",
        ),
    ],
)
def test_arguments_the_assertion_owns_are_refused_by_name(ones, assertion, option, words):
    with pytest.raises(FeatvizTypeError) as info:
        assertion(ones, fv.ClassLogit(0), 1.0, constraints=fv.Box(0, 1), **option)
    assert f"{assertion.__name__} {words}" in str(info.value)
    if "step" in option:
        assert str(info.value).endswith("did you mean 'steps'?")


@pytest.mark.parametrize(
    "atol, error",
    [
        (float("nan"), ConfigurationError),
        (-1e-3, ConfigurationError),
        (float("inf"), ConfigurationError),
        ("0.1", FeatvizTypeError),
    ],
)
def test_within_checks_atol(atol, error):
    with pytest.raises(error, match="atol"):
        fv.assert_within(np.array([[0.5, 0.5]]), fv.Box(0, 1), atol=atol)


def test_within_atol_zero_and_positive_are_used():
    fv.assert_within(np.array([[0.0, 1.0]]), fv.Box(0, 1), atol=0)
    fv.assert_within(np.array([[0.0, 1.05]]), fv.Box(0, 1), atol=0.1)
    with pytest.raises(AssertionError, match=r"atol=0.01"):
        fv.assert_within(np.array([[0.0, 1.05]]), fv.Box(0, 1), atol=0.01)


# ------------------------------------------------------------------ assert_structure


def noise(*shape):
    return np.random.default_rng(0).random(shape)


@pytest.mark.parametrize(
    "shape, images",
    [
        ((8, 8), None),  # one grey image
        ((4, 4, 3), None),  # one RGB image (was read as a batch of four 4x3 images)
        ((4, 4, 1), None),  # one image with a channel axis (was a batch of four 4x1 slices)
        ((6, 32, 3), None),  # last axis 3: one RGB image, whatever the first axis
        ((6, 32, 3, 1), 6),  # the same pixels as a batch of grey images
        ((5, 8, 8), 5),  # other 3-D: a batch of grey images
        ((2, 8, 8, 3), 2),  # 4-D: a batch
    ],
)
def test_structure_reads_shapes_by_the_documented_rule(shape, images):
    x = noise(*shape)
    got = fv.assert_structure(x, entropy=(0.0, None))
    if images is None:
        assert got == {"entropy": metrics.entropy(x)}
    else:
        assert got == [{"entropy": metrics.entropy(image)} for image in x]


@pytest.mark.parametrize(
    "call, error, words",
    [
        (
            lambda: fv.assert_structure(noise(8, 8)),
            ConfigurationError,
            "give at least one metric bound, e.g. orientation_coherence=(0.6, None); metrics are: high_frequency_ratio, ",
        ),
        (
            lambda: fv.assert_structure(np.zeros((0, 8, 8)), entropy=(0, None)),
            ConfigurationError,
            "empty batch (shape (0, 8, 8))",
        ),
        (lambda: fv.assert_structure(np.zeros((0, 8, 8, 3)), entropy=(0, None)), ConfigurationError, "empty batch"),
        (
            lambda: fv.assert_structure(noise(8, 8), entropy=(float("nan"), None)),
            ConfigurationError,
            "bounds for 'entropy' contain NaN: (nan, None)",
        ),
        (lambda: fv.assert_structure(noise(8, 8), entropy=(0, np.nan)), ConfigurationError, "bounds for 'entropy'"),
        (
            lambda: fv.assert_structure(noise(8), entropy=(0, None)),
            ConfigurationError,
            "got an array of shape (8,); accepted shapes are (H, W), (H, W, 1), (H, W, 3)",
        ),
        (
            lambda: fv.assert_structure(noise(1, 2, 8, 8, 1), entropy=(0, None)),
            ConfigurationError,
            "shape (1, 2, 8, 8, 1)",
        ),
        (lambda: fv.assert_structure(np.array([["a"] * 4] * 4), entropy=(0, None)), FeatvizTypeError, "real numbers"),
    ],
)
def test_structure_configuration_mistakes(call, error, words):
    with pytest.raises(error) as info:
        call()
    assert words in str(info.value)


def test_structure_names_the_batch_item_with_a_nan():
    batch = noise(3, 8, 8)
    batch[2, 4, 4] = np.nan
    with pytest.raises(ConfigurationError, match=r"batch item 2 of 3: image of shape \(8, 8\) has 1 NaN"):
        fv.assert_structure(batch, entropy=(0, None))
    single = noise(8, 8)
    single[0, 0] = np.inf
    with pytest.raises(ConfigurationError, match=r"^image of shape \(8, 8\) has 1 NaN or infinite"):
        fv.assert_structure(single, entropy=(0, None))


def test_structure_failure_writes_bounds_plainly():
    with pytest.raises(AssertionError) as info:
        fv.assert_structure(np.zeros((8, 8)), entropy=(np.float64(0.5), None))
    assert "image 0: entropy = 0  bounds (0.5, None)  FAIL" in str(info.value)
