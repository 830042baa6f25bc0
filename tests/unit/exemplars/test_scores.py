"""The faithfulness scores against closed forms (pure NumPy; no model)."""

import numpy as np
import pytest
from scipy.stats import spearmanr

from pytest_featviz.exemplars import calibration, continuity, path_similarity, spearman


def test_calibration_places_the_value_in_the_natural_distribution():
    natural = np.arange(1, 101, dtype=float)  # 1..100: the 99th percentile is 99.01
    c = calibration(198.02, natural)
    assert c.percentile == 100.0 and c.ratio_p99 == pytest.approx(2.0) and not c.silent
    assert calibration(50.0, natural).percentile == 50.0
    assert calibration(0.5, natural).ratio_p99 == pytest.approx(0.5 / 99.01)


def test_a_silent_unit_and_a_unit_off_everywhere():
    off = np.zeros(20)
    assert calibration(3.0, off).silent and calibration(3.0, off).ratio_p99 == np.inf
    assert np.isnan(calibration(0.0, off).ratio_p99)
    rare = np.r_[np.zeros(299), 5e-5]  # active on one input in 300: not silent, but p99 is 0
    assert not calibration(0.0, rare).silent and np.isnan(calibration(0.0, rare).ratio_p99)


def test_spearman_matches_scipy_row_by_row():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 7)), rng.normal(size=(4, 7))
    b[0] = a[1] ** 3  # a monotone transform: rank correlation 1
    expected = np.array([[spearmanr(x, y)[0] for y in b] for x in a])
    np.testing.assert_allclose(spearman(a, b), expected, atol=1e-12)
    assert spearman(a, b)[1, 0] == pytest.approx(1.0)


def test_path_similarity_is_one_for_a_visualization_like_its_exemplars_and_zero_for_an_unrelated_one():
    rng = np.random.default_rng(1)
    pattern = np.arange(16.0)
    exemplars = pattern + rng.normal(0, 2, (9, 16))
    random = rng.normal(0, 1, (40, 16))
    like = path_similarity(exemplars[0] + rng.normal(0, 2, 16), exemplars[1:], random)
    assert like.score == pytest.approx(1.0, abs=0.25)
    unrelated = path_similarity(rng.normal(0, 1, 16), exemplars, random)
    assert unrelated.score == pytest.approx(0.0, abs=0.5)
    assert unrelated.among_exemplars > 0.8 and abs(unrelated.to_random) < 0.2


def test_path_similarity_is_undefined_where_the_layer_cannot_tell_exemplars_from_random_inputs():
    same = np.tile(np.arange(8.0), (5, 1))
    assert np.isnan(path_similarity(np.arange(8.0), same, same).score)  # gap 0
    assert np.isnan(path_similarity(np.arange(2.0), np.eye(2), np.ones((3, 2))).score)  # 2 channels


def test_continuity_of_a_line_a_jump_and_a_unit_that_is_off_over_half_the_path():
    assert continuity(np.linspace(0, 2, 65)).jump == pytest.approx(1.0)
    step = np.r_[np.linspace(0.0, 1.0, 32), np.linspace(3.0, 4.0, 33)]
    jump = continuity(step)
    assert jump.jump > 50 and jump.at == pytest.approx(31.5 / 64)
    relu = np.maximum(np.linspace(-1, 1, 65), 0)  # flat, then a straight line: no jump
    assert continuity(relu).jump < 2.1
    assert continuity(np.zeros(65)).jump == 1.0
