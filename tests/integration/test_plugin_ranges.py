"""The plugin's pictures of raw-unit results, and where the marker's paths point (pytester subprocess)."""

import io

import numpy as np
from PIL import Image

from pytest_featviz._io import sanitize

pytest_plugins = ["pytester"]

PATHS_TEST = """
import dataclasses

import keras
import pytest
import pytest_featviz as fv


@pytest.mark.featviz(artifacts="art", baselines="stored")
def test_paths(featviz):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(2)])
    unit = featviz.ascend(model, fv.ClassLogit(0), constraints=fv.Box(0, 1), steps=3, restarts=2)
    raw = dataclasses.replace(unit, inputs=unit.inputs * 255.0, start=unit.start * 255.0,
                              constraints=fv.Box(0, 255))
    featviz.save("raw", raw)
    featviz.save("unit", unit)
    featviz.save("raw-as-array", raw.inputs)
    featviz.assert_matches_baseline("raw", raw)
    featviz.assert_matches_baseline("unit", unit)
"""


def _pixels(path):
    return np.asarray(Image.open(io.BytesIO(path.read_bytes())))


def test_marker_paths_and_the_pictures_of_a_raw_result(pytester):
    """One run checks both what the README says of the marker's paths
    (artifacts= and baselines= from the test file's folder, not the invocation folder) and that
    featviz.save and baseline pictures draw a 0..255 result like its 0..1 version."""
    (pytester.path / "sub").mkdir()
    (pytester.path / "sub" / "test_paths.py").write_text(PATHS_TEST)
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "-p", "no:randomly", "sub/test_paths.py", "--featviz-update-baselines"
    )
    result.assert_outcomes(passed=1)
    root, node_id = pytester.path, "sub/test_paths.py::test_paths"
    assert (root / "sub" / "art" / sanitize(node_id) / "raw.png").is_file()
    assert not (root / "art").exists()
    assert (root / "sub" / "stored" / sanitize(node_id) / "raw.npz").is_file()
    assert not (root / "stored").exists()
    art, stored = root / "sub" / "art" / sanitize(node_id), root / "sub" / "stored" / sanitize(node_id)
    np.testing.assert_array_equal(_pixels(art / "raw.png"), _pixels(art / "unit.png"))
    assert not np.array_equal(_pixels(art / "raw-as-array.png"), _pixels(art / "unit.png"))  # an array: (0, 1)
    np.testing.assert_array_equal(_pixels(stored / "raw.png"), _pixels(stored / "unit.png"))
