"""fv.assert_faithful catches a fooling circuit (Geirhos et al. 2024), passes the honest unit, fails a silent one."""

import numpy as np
import pytest
from fooling_models import digits, fooling_model, silent_model, smiley

import pytest_featviz as fv
from pytest_featviz import claims as _context  # the test context lives in claims
from pytest_featviz.errors import ConfigurationError, FaithfulnessWarning

UNIT = fv.Neuron("unit", 0)


@pytest.fixture(scope="module")
def natural():
    return digits()


@pytest.fixture(scope="module")
def fooled():
    return fooling_model(5)


@pytest.fixture(scope="module")
def honest():
    return fooling_model(5, honest=True)


def _likeness(x):
    """Correlation of each visualization with the smiley."""
    face = smiley().reshape(-1)
    return np.array([np.corrcoef(v.reshape(-1), face)[0, 1] for v in np.asarray(x)])


@pytest.fixture(scope="module")
def fooled_picture(fooled):
    return fv.ascend(fooled, UNIT, constraints=fv.Box(0, 1), steps=128, seed=0)


def test_the_fooled_units_picture_shows_the_smiley_and_continuity_catches_it(fooled, fooled_picture, natural):
    assert _likeness(fooled_picture.inputs)[0] > 0.9  # the picture is the hand-set template, not the digit feature
    with pytest.raises(AssertionError) as info:
        fv.assert_faithful(fooled, UNIT, fooled_picture, natural=natural)
    text = str(info.value)
    assert "caught by: continuity)" in text and "FAIL: continuity" in text
    assert "the unit jumps by" in text and "max_jump=5" in text
    assert "natural data: 297 inputs; target 0: 99th percentile" in text


def test_calibration_alone_would_miss_it_and_path_similarity_catches_it_when_enforced(fooled, fooled_picture, natural):
    """D is scaled to twice the natural 99th percentile: calibration passes. The layers below the unit
    (conv2, its mean) process the smiley unlike the unit's exemplars (< 0)."""
    r = fv.assert_faithful(fooled, UNIT, fooled_picture, natural=natural, max_jump=None)
    assert r.passed and r.scores.calibration[0].ratio_p99 == pytest.approx(2.0, rel=0.01)
    assert r.scores.path_mean[0] < -3.0
    assert set(r.scores.paths[0]) >= {"conv1", "pool1", "conv2", "gap", "laplacian", "gate", "template"}
    with pytest.raises(AssertionError, match=r"caught by: path similarity, continuity\)"):
        fv.assert_faithful(fooled, UNIT, fooled_picture, natural=natural, min_path_similarity=0.0)


def test_with_the_standard_priors_the_fooled_picture_still_shows_the_smiley_and_is_caught(fooled, natural):
    r = fv.ascend(fooled, UNIT, constraints=fv.Box(0, 1), steps=128, seed=0, priors="standard")
    assert _likeness(r.inputs)[0] > 0.4
    with pytest.raises(AssertionError, match=r"caught by: continuity\)"):
        fv.assert_faithful(fooled, UNIT, r, natural=natural)


def test_the_honest_unit_with_the_same_feature_passes(honest, natural):
    r = fv.ascend(honest, UNIT, constraints=fv.Box(0, 1), steps=128, seed=0)
    assert _likeness(r.inputs)[0] < 0.3
    out = fv.assert_faithful(honest, UNIT, r, natural=natural, min_path_similarity=0.0)
    assert out.passed and out.failed == ((),)
    assert out.scores.continuity[0].jump < 2.0 and out.scores.path_mean[0] > 0.5
    assert out.scores.calibration[0].ratio_p99 > 2.0


def test_a_silent_unit_fails_calibration(natural):
    model = silent_model()
    top = fv.top_examples(model, UNIT, natural)
    assert top.values[0] == 0.0  # no digit activates it
    r = fv.ascend(model, UNIT, constraints=fv.Box(0, 1), steps=64, seed=0)
    assert r.values[0] > 1.0
    with pytest.raises(AssertionError, match=r"caught by: calibration\)") as info:
        fv.assert_faithful(model, UNIT, r, natural=top)
    assert "the unit is silent on the natural data (maximum 0 <= eps 1e-06)" in str(info.value)


def test_warn_gives_a_pytest_warning_the_record_says_so_and_the_picture_sits_beside_the_exemplars(
    fooled, fooled_picture, natural, tmp_path
):
    ctx = _context.TestContext("t.py::test_warned", 0, tmp_path)
    with _context.activate(ctx):
        with pytest.warns(FaithfulnessWarning, match=r"caught by: continuity\)"):
            out = fv.assert_faithful(fooled, UNIT, fooled_picture, natural=natural, k=4, on_fail="warn")
    assert not out.passed and out.failed == (("continuity",),)
    (record,) = ctx.records
    assert record.kind == "assert_faithful" and not record.passed and record.status == "warned"
    assert record.extra["failed_checks"] == [["continuity"]] and record.extra["on_fail"] == "warn"
    assert record.metrics[0]["jump"] > 5 and record.bounds["jump"] == [None, 5.0]
    from PIL import Image

    (path,) = record.pictures.values()
    picture = Image.open(path)
    assert path.endswith("assert_faithful.png")
    tiles = Image.open(fv.render.save_png(tmp_path / "one.png", fooled_picture.inputs[:1]))
    assert picture.width > 4.5 * tiles.width  # the visualization and 4 exemplars in a row


def test_one_visualization_per_target_and_reused_top_examples(honest, natural):
    import keras

    cnn = keras.Model(honest.inputs, honest.get_layer("conv2").output)
    objective = fv.Channel("conv2", [5, 7])
    tops = fv.top_examples(cnn, objective, natural)
    r = fv.ascend(cnn, objective, constraints=fv.Box(0, 1), steps=64, seed=0)
    out = fv.assert_faithful(cnn, objective, r, natural=tops)
    assert out.scores.targets == (0, 1) and out.natural == tuple(tops)
    assert out.scores.layers == ("conv1", "pool1")
    with pytest.raises(ConfigurationError, match="natural= holds 1 TopExamples but Channel"):
        fv.assert_faithful(cnn, objective, r, natural=tops[0])


def test_configuration_errors(honest, natural):
    x = np.zeros((2, 28, 28, 1), "float32")
    with pytest.raises(ConfigurationError, match=r"visualizations of shape \(2, 28, 28\); the model takes"):
        fv.assert_faithful(honest, UNIT, x[..., 0], natural=natural)
    with pytest.raises(ConfigurationError, match="on_fail"):
        fv.assert_faithful(honest, UNIT, x, natural=natural, on_fail="ignore")
    with pytest.raises(ConfigurationError, match="min_ratio=None"):
        fv.assert_faithful(honest, UNIT, x, natural=natural, min_ratio=None)
    with pytest.raises(ConfigurationError, match=r"has 3 targets but 2 visualizations were given"):
        fv.assert_faithful(honest, fv.Neuron("unit", [0, 0, 0]), x, natural=natural)


def test_the_readme_quotes_the_account_as_assert_faithful_writes_it(fooled, fooled_picture, natural):
    """Word for word; the numbers to 2% (float differences across machines)."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    quoted = ("assert_faithful failed:" + readme.split("```\nassert_faithful failed:", 1)[1].split("```", 1)[0]).strip()
    with pytest.raises(AssertionError) as info:
        fv.assert_faithful(fooled, UNIT, fooled_picture, natural=natural)
    found = "\n".join(str(info.value).splitlines()[: len(quoted.splitlines())])
    number = re.compile(r"-?\d+(?:\.\d+)?")
    assert number.sub("#", found).split() == number.sub("#", quoted).split()
    np.testing.assert_allclose(
        [float(n) for n in number.findall(found)], [float(n) for n in number.findall(quoted)], rtol=0.02
    )
