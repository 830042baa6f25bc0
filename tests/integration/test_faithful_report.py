"""assert_faithful in a pytest run: its picture (visualization beside its exemplars) reaches the HTML report,
and on_fail="warn" is a pytest warning in the summary with a "warned" record."""

import pytest

pytestmark = pytest.mark.integration

pytest_plugins = ["pytester"]

TEST_FILE = """
import keras, numpy as np, pytest_featviz as fv

def model():
    return keras.Sequential([keras.Input((4, 4)), keras.layers.Flatten(), keras.layers.Dense(1, kernel_initializer="ones", name="d")])

DATA = np.random.default_rng(0).random((64, 4, 4)).astype("float32")

def test_faithful():
    m = model()
    r = fv.ascend(m, fv.Neuron("d", 0), constraints=fv.Box(0, 1), steps=100)
    fv.assert_faithful(m, fv.Neuron("d", 0), r, natural=DATA, k=3)

def test_warned():
    m = model()
    fv.assert_faithful(m, fv.Neuron("d", 0), np.zeros((4, 4)), natural=DATA, k=3, on_fail="warn")
"""


def test_the_report_shows_the_picture_and_the_warning_is_in_the_summary(pytester):
    pytester.makepyfile(test_faith=TEST_FILE)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--featviz-report", "report.html")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["*FaithfulnessWarning: assert_faithful failed: Neuron('d', 0)*caught by: calibration*"]
    )
    page = (pytester.path / "report.html").read_text()
    assert page.count('alt="visualizations, each beside its top natural exemplars"') == 2
    assert (
        "<b>status</b> <code>warned</code>" in page and "<b>failed_checks</b> <code>[[&#x27;calibration&#x27;]]" in page
    )
