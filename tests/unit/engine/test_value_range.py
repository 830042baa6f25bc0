"""Inputs in raw units (0..255): pictures and metrics follow the result's value range, not (0, 1)."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
from PIL import Image

import pytest_featviz as fv
from pytest_featviz import metrics
from pytest_featviz.claims import TestContext, activate
from pytest_featviz.errors import ConfigurationError
from pytest_featviz.render import grid, save_png


@pytest.fixture(scope="module")
def results():
    """The same ascent result found in Box(0, 1) and rescaled to Box(0, 255)."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(2, name="head")])
    unit = fv.ascend(model, fv.ClassLogit(0), constraints=fv.Box(0, 1), steps=3, restarts=2, seed=0)
    raw = dataclasses.replace(unit, inputs=unit.inputs * 255.0, start=unit.start * 255.0, constraints=fv.Box(0, 255))
    assert raw.value_range == (0.0, 255.0) and unit.value_range == (0.0, 1.0)
    assert 0.05 < float(unit.inputs.mean()) < 0.95  # a picture drawn over (0, 1) from raw would be near white
    return unit, raw


def _pixels(path) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(path.read_bytes())))


def test_a_grid_of_a_raw_result_has_the_pixels_of_its_unit_version(results):
    unit, raw = results
    np.testing.assert_array_equal(grid(raw, scale=1), grid(unit, scale=1))
    np.testing.assert_array_equal(grid(raw, scale=1), grid(unit.inputs, scale=1))  # an array: (0, 1)
    assert (grid(raw.inputs, scale=1, padding=0) == 255).mean() > 0.9  # the raw array over (0, 1): near white


def test_an_explicit_value_range_overrides_the_results(results):
    unit, raw = results
    np.testing.assert_array_equal(grid(raw, value_range=(0, 510), scale=1), grid(unit.inputs / 2, scale=1))


def test_save_png_and_the_context_draw_a_result_over_its_value_range(results, tmp_path):
    unit, raw = results
    a, b = save_png(tmp_path / "raw.png", raw), save_png(tmp_path / "unit.png", unit)
    np.testing.assert_array_equal(_pixels(a), _pixels(b))
    ctx = TestContext("t.py::test_x", 0, tmp_path / "art")
    c, d = ctx.save_images("raw", raw), ctx.save_images("unit", unit.inputs)
    np.testing.assert_array_equal(_pixels(c), _pixels(d))


def test_a_baseline_is_drawn_over_its_value_range(results, tmp_path):
    unit, raw = results
    np.testing.assert_array_equal(grid(fv.baselines.capture(raw), scale=1), grid(unit, scale=1))


# ----------------------------------------------------------------------------- metrics
def _image_255() -> np.ndarray:
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, size=(16, 16)).astype(np.float64)
    image[:4] = 255.0
    image[-3:] = 0.0
    return image


def test_a_raw_image_and_its_unit_copy_have_the_same_summary_under_matching_ranges():
    image = _image_255()
    raw = metrics.summarize(image, value_range=(0, 255))
    unit = metrics.summarize(image / 255.0)
    assert raw == pytest.approx(unit, rel=1e-9, abs=1e-12)
    assert raw["saturation"] == pytest.approx(metrics.saturation(image / 255.0))
    assert raw["saturation"] >= 7 / 16  # the top 4 and bottom 3 rows at least
    assert metrics.summarize(image)["saturation"] > raw["saturation"]  # over (0, 1) nearly all of it saturates


def test_saturation_value_range_known_answers():
    image = np.array([[0.0, 127.5, 255.0], [255.0, 254.9999, 1.0], [-3.0, 300.0, 100.0]])
    assert metrics.saturation(image, value_range=(0, 255)) == pytest.approx(6 / 9)  # 254.9999 within 2.55e-4
    assert metrics.saturation(image, value_range=(0, 255), atol=0.0) == pytest.approx(5 / 9)
    assert metrics.saturation(image / 255.0, value_range=(0, 1)) == pytest.approx(6 / 9)
    assert metrics.saturation(image, low=0, high=255) == metrics.saturation(image, value_range=(0, 255))


def test_summarize_keeps_the_saturation_options_given_by_name():
    image = _image_255()
    given = metrics.summarize(image, value_range=(0, 1000), saturation={"value_range": (0, 255)})
    assert given["saturation"] == metrics.saturation(image, value_range=(0, 255))


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: metrics.saturation(np.zeros((4, 4)), value_range=(0, 255), high=255),
            r"give value_range=\(0, 255\) or low=/high=, not both",
        ),
        (
            lambda: metrics.saturation(np.zeros((4, 4)), value_range=(255, 0)),
            r"value_range high must be a finite number > 255; got 0",
        ),
        (lambda: metrics.saturation(np.zeros((4, 4)), value_range=255), r"value_range=255 is not valid"),
        (
            lambda: metrics.summarize(np.zeros((4, 4)), value_range=(1, 1)),
            r"value_range high must be a finite number > 1; got 1$",
        ),
    ],
)
def test_bad_value_ranges_name_the_value(call, message):
    with pytest.raises(ConfigurationError, match=message):
        call()


def test_assert_structure_takes_a_value_range():
    image = _image_255()
    assert fv.assert_structure(image, value_range=(0, 255), saturation=(None, 0.6))["saturation"] == pytest.approx(
        metrics.saturation(image / 255.0)
    )
    with pytest.raises(AssertionError, match="saturation"):
        fv.assert_structure(image, saturation=(None, 0.6))  # over the default (0, 1) almost all saturates


def test_assert_structure_of_a_result_uses_its_value_range(results, tmp_path):
    unit, raw = results
    want = [metrics.saturation(x) for x in unit.inputs]
    got = fv.assert_structure(raw, saturation=(None, None))
    assert [v["saturation"] for v in got] == pytest.approx(want)
    ctx = TestContext("t.py::test_x", 0, tmp_path / "art")
    with activate(ctx), pytest.raises(AssertionError):
        fv.assert_structure(raw, saturation=(2.0, None))
    np.testing.assert_array_equal(_pixels(ctx.saved[-1]), grid(unit, padding=2))


def test_the_recorded_metrics_of_a_failure_use_the_results_value_range(results):
    from pytest_featviz.claims.account import _best_input_metrics

    unit, raw = results
    got, want = _best_input_metrics(raw), _best_input_metrics(unit)
    assert got == pytest.approx(want, rel=1e-6)  # float32 inputs: x * 255 rounds
    assert got["saturation"] == want["saturation"] < 0.5


def test_assert_structure_names_a_bad_value_range_whichever_metrics_are_asked_for():
    with pytest.raises(ConfigurationError, match=r"value_range=\(0, 255, 3\) is not valid"):
        fv.assert_structure(_image_255(), value_range=(0, 255, 3), entropy=(0.0, None))
