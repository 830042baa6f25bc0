"""The bit-level choices of verify.bits pick the same numbers as numpy's where, bitwise."""

from __future__ import annotations

import numpy as np

from pytest_featviz.verify.bits import box_products, mask_of, select

SPECIAL = np.array([0.0, -0.0, 1.5, -2.25, np.inf, -np.inf, np.nan, 5e-324, -1e308])


def test_select_is_where_bitwise_with_broadcasting_and_special_numbers():
    rng = np.random.default_rng(0)
    x = rng.choice(SPECIAL, size=(1, 3, 9))
    y = rng.choice(SPECIAL, size=(2, 1, 9))
    cond = rng.random((2, 3, 9)) < 0.5
    expected = np.where(cond, x, y)
    assert np.array_equal(select(mask_of(cond), x, y).view(np.int64), expected.view(np.int64))
    mask = mask_of(cond)
    assert np.array_equal(select(mask, x, -0.0, out=mask).view(np.int64), np.where(cond, x, -0.0).view(np.int64))


def test_box_products_are_the_box_ends_times_the_coefficients():
    a = np.array([[2.0, -1.0, 0.0, -0.0, 3.0]])
    low, high = np.array([-1.0, -2.0, -4.0, -8.0, 0.5]), np.array([1.0, 3.0, 5.0, 7.0, 0.75])
    np.testing.assert_array_equal(box_products(a, low, high), [[2.0, 2.0, 0.0, 0.0, 2.25]])
    # an infinite end is never multiplied by a zero coefficient
    unbounded = box_products(a, np.full(5, -np.inf), np.full(5, np.inf))
    np.testing.assert_array_equal(unbounded, [[np.inf, np.inf, 0.0, 0.0, np.inf]])
