"""The bit-level choices of verify.bits pick the same numbers as numpy's where, bitwise; the terms of a
bound follow one rule for zero and NaN coefficients, whatever the form of the rows."""

from __future__ import annotations

import numpy as np

from pytest_featviz.verify import propagation, unitrows
from pytest_featviz.verify.bits import abs_products, box_products, mask_of, select
from pytest_featviz.verify.propagation import State
from pytest_featviz.verify.unitrows import UnitRows, dense

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


def test_abs_products_weigh_magnitudes_by_the_coefficients_sizes():
    a = np.array([[2.0, -1.0, 0.0, -0.0]])
    np.testing.assert_array_equal(abs_products(a, np.array([1.0, 3.0, 5.0, 7.0])), [[2.0, 3.0, 0.0, 0.0]])
    # an infinite magnitude is never multiplied by a zero coefficient; a NaN coefficient stays NaN
    np.testing.assert_array_equal(abs_products(a, np.full(4, np.inf)), [[np.inf, np.inf, 0.0, 0.0]])
    assert np.isnan(abs_products(np.array([np.nan, 1.0]), np.array([1.0, np.inf]))[0])


def test_unit_rows_and_dense_rows_bound_nan_and_zero_coefficients_alike():
    """Both forms of rows take a bound's terms from verify.bits: a zero coefficient on an unbounded
    coordinate contributes 0, and a NaN coefficient leaves the bound NaN (unknown), never the finite
    number of dropping it."""
    state = State(low=[np.array([[-1.0, -np.inf, 2.0]])], high=[np.array([[1.0, np.inf, 4.0]])], ball=[None])
    rows = UnitRows(
        np.array([[[0, 1], [0, 2]]]), np.array([[[1.0, 0.0], [np.nan, 1.0]]]), (3,)
    )  # x0 + 0 x1; nan x0 + x2
    for found in (
        unitrows.bound_at(state, 0, rows, computed=False),
        propagation.bound_at(state, 0, dense(rows), False),
    ):
        assert found[0, 0] == 1.0  # the unbounded x1 has no weight
        assert np.isnan(found[0, 1]), found  # not 4.0
    magnitudes = np.array([[2.0, np.inf, 3.0]])
    for found in (unitrows.magnitude(rows, magnitudes), propagation.dot_abs(dense(rows), magnitudes)):
        assert found[0, 0] == 2.0
        assert np.isnan(found[0, 1]), found  # not 3.0
