"""Constraint sets: exact projections, containment, descriptions and errors (no TensorFlow needed)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import pytest_featviz as fv
from pytest_featviz.constraints import Canonical
from pytest_featviz.errors import ConfigurationError, FeatvizTypeError


def brute_box_l2(x, low, high, c, r):
    """Projection onto box & L2 ball from the KKT conditions, by bisection on the multiplier.

    y(lam) = clip((x + lam c) / (1 + lam)) and ||y(lam) - c|| decreases in lam; written
    independently of the library (which bisects on t = lam / (1 + lam)).
    """
    y = np.clip(x, low, high)
    if np.linalg.norm(y - c) <= r:
        return y
    lo, hi = -20.0, 20.0  # log10 of the multiplier
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lam = 10.0**mid
        inside = np.linalg.norm(np.clip((x + lam * c) / (1 + lam), low, high) - c) <= r
        lo, hi = (lo, mid) if inside else (mid, hi)
    lam = 10.0**hi
    return np.clip((x + lam * c) / (1 + lam), low, high)


def test_box_projection_is_a_clip():
    x = np.array([[-1.0, 0.25, 2.0]])
    assert np.array_equal(fv.Box(0, 1).project(x), [[0.0, 0.25, 1.0]])


def test_l2_ball_projection_is_radial():
    c = np.array([1.0, 1.0])
    y = fv.LpBall(c, radius=0.5, p=2).project(np.array([4.0, 5.0]))
    np.testing.assert_allclose(y, c + 0.5 * np.array([3.0, 4.0]) / 5.0, atol=1e-12)


def test_linf_ball_and_box_merge_into_one_clip():
    c = fv.Box(0, 1) & fv.LpBall(np.array([0.95, 0.5]), radius=0.1, p=np.inf)
    np.testing.assert_allclose(c.project(np.array([2.0, -2.0])), [1.0, 0.4])


@pytest.mark.parametrize("seed", range(8))
def test_box_and_l2_projection_matches_an_independent_dual_search(seed):
    rng = np.random.default_rng(seed)
    n = 6
    low, high = -rng.random(n), rng.random(n)
    c = rng.uniform(low, high)
    r = rng.uniform(0.05, 1.0)
    x = rng.normal(size=n) * 3
    got = (fv.Box(low, high) & fv.LpBall(c, r, p=2)).project(x)
    want = brute_box_l2(x, low, high, c, r)
    np.testing.assert_allclose(got, want, atol=1e-9)
    # and it is the nearest feasible point: no random feasible point is closer
    cand = np.clip(c + rng.normal(size=(4000, n)) * r, low, high)
    cand = cand[np.linalg.norm(cand - c, axis=1) <= r]
    assert np.linalg.norm(got - x) <= np.linalg.norm(cand - x, axis=1).min() + 1e-9


def test_alternating_projections_would_be_wrong_here():
    """Box & L2 where clip-then-ball is not the projection: ours must beat it."""
    low, high = np.zeros(2), np.ones(2)
    c, r = np.array([0.9, 0.9]), 0.3
    x = np.array([3.0, 0.0])
    alt = fv.LpBall(c, r, p=2).project(fv.Box(low, high).project(x))
    exact = (fv.Box(low, high) & fv.LpBall(c, r, p=2)).project(x)
    assert np.linalg.norm(exact - x) < np.linalg.norm(alt - x) - 1e-3 or not fv.Box(0, 1).contains(alt[None])[0]


def test_mask_freezes_entries_at_start_and_projects_the_rest():
    mask = np.array([True, False, True])
    c = fv.Box(0, 1) & fv.Mask(mask)
    y = c.project(np.array([5.0, 5.0, -5.0]), start=np.array([0.2, 0.3, 0.4]))
    np.testing.assert_allclose(y, [1.0, 0.3, 0.0])


def test_mask_with_l2_ball_accounts_for_frozen_entries_in_the_norm():
    mask = np.array([True, False])
    c = fv.LpBall(np.zeros(2), radius=1.0, p=2) & fv.Mask(mask)
    y = c.project(np.array([10.0, 0.0]), start=np.array([0.0, 0.6]))
    np.testing.assert_allclose(y, [0.8, 0.6], atol=1e-9)


@given(
    x=arrays(np.float64, (3, 5), elements=st.floats(-10, 10)),
    radius=st.floats(0.01, 3.0),
    p=st.sampled_from([2, np.inf]),
)
def test_projection_lands_inside_and_is_idempotent(x, radius, p):
    c = fv.Box(-1, 1) & fv.LpBall(np.full(5, 0.2), radius, p=p)
    y = c.project(x)
    assert (c.violation(y) <= 1e-9).all()
    np.testing.assert_allclose(c.project(y), y, atol=1e-9)


def test_violation_and_contains_per_item():
    c = fv.Box(0, 1) & fv.LpBall(np.zeros(2), radius=1.0, p=2)
    x = np.array([[0.5, 0.5], [1.0, 1.0], [0.5, 1.5]])
    np.testing.assert_allclose(c.violation(x), [0.0, np.sqrt(2) - 1, np.sqrt(2.5) - 1])
    assert c.contains(x).tolist() == [True, False, False]


def test_reprs_show_how_sets_were_built():
    assert repr(fv.Box(0.0, 1.0) & fv.LpBall(np.zeros(3), radius=0.1, p=2)) == "Box(0.0, 1.0) & LpBall(radius=0.1, p=2)"
    assert repr(fv.LpBall(np.zeros(3), 0.5)) == "LpBall(radius=0.5, p=inf)"
    assert repr(fv.Box(np.zeros((2, 2)), 1)) == "Box(array(shape=(2, 2)), 1.0)"
    assert repr(fv.Mask(np.array([True, False, False]))) == "Mask(free=1/3)"


def test_canonical_form_has_batch_arrays():
    canon = (fv.Box(0, 1) & fv.LpBall(np.zeros(4), radius=[0.1, 0.2], p=2)).canonical((2, 4))
    assert isinstance(canon, Canonical)
    assert canon.low.shape == (2, 4) and canon.radius.tolist() == [0.1, 0.2] and canon.has_ball


@pytest.mark.parametrize(
    "build, error, words",
    [
        (lambda: fv.Box(1, 0), ConfigurationError, "low=1 is larger than high=0"),
        (lambda: fv.Box([0, 2], [1, 1]), ConfigurationError, "at index (1,)"),
        (lambda: fv.Box("a", 1), FeatvizTypeError, "Box low"),
        (lambda: fv.Box(np.nan, 1), ConfigurationError, "NaN"),
        (lambda: fv.LpBall(np.zeros(2), -0.1), ConfigurationError, "radius must be finite and >= 0"),
        (lambda: fv.LpBall(np.zeros(2), 0.1, p=1), ConfigurationError, "choose p=2 or p=np.inf"),
        (
            lambda: fv.LpBall(np.zeros(2), 0.1, p=2) & fv.LpBall(np.ones(2), 0.1, p=2),
            ConfigurationError,
            "at most one L2 ball",
        ),
        (lambda: fv.Mask(np.array([0.5, 1.0])), FeatvizTypeError, "boolean array"),
        (
            lambda: (fv.Box(0, 1) & fv.LpBall(np.full(2, 5.0), 0.1, p=np.inf)).project(np.zeros(2)),
            ConfigurationError,
            "is empty",
        ),
        (
            lambda: (fv.Box(0, 1) & fv.LpBall(np.full(2, 5.0), 0.1, p=2)).project(np.zeros(2)),
            ConfigurationError,
            "use a larger radius",
        ),
        (lambda: fv.Box(np.zeros(3), 1).project(np.zeros((2, 4))), ConfigurationError, "does not broadcast"),
    ],
)
def test_configuration_errors_name_the_value(build, error, words):
    with pytest.raises(error, match=None) as info:
        build()
    assert words in str(info.value)
    assert not isinstance(info.value, AssertionError)


@pytest.mark.parametrize("scale", [1.0, 255.0, 1000.0])
def test_float32_bounds_round_inward_at_any_scale(scale):
    rng = np.random.default_rng(int(scale))
    x0 = rng.uniform(0, scale, (3, 64))
    canon = (fv.Box(0, scale) & fv.LpBall(x0, 2.0 / 3.0, p=np.inf)).canonical(x0.shape)
    low, high, _, _ = canon.float32()
    assert low.dtype == high.dtype == np.float32
    assert (low.astype(np.float64) >= canon.low).all() and (high.astype(np.float64) <= canon.high).all()
    assert (low <= high).all()
    # the float32 box corners are inside the float64 set, exactly
    assert (canon.violation(low) == 0).all() and (canon.violation(high) == 0).all()


@pytest.mark.parametrize("scale", [1.0, 255.0, 1000.0])
def test_float32_ball_shrinks_by_the_centre_rounding(scale):
    rng = np.random.default_rng(int(scale))
    center = rng.uniform(0, scale, (2, 64)) + 1 / 3
    canon = fv.LpBall(center, 0.05, p=2).canonical(center.shape)
    _, _, c32, r32 = canon.float32()
    moved = np.linalg.norm(c32.astype(np.float64) - center, axis=1)
    assert moved.min() > 0  # the centre is not a float32 number: rounding moved it
    assert (r32.astype(np.float64) <= 0.05 - moved).all() and (r32 > 0.05 - moved - 1e-8).all()
    # points on the float32 sphere (directions away from the rounding) stay in the float64 ball
    away = (c32.astype(np.float64) - center) / moved[:, None]
    edge = c32.astype(np.float64) + r32.astype(np.float64)[:, None] * away
    assert (np.linalg.norm(edge - center, axis=1) <= 0.05).all()


def test_float32_of_an_interval_without_float32_numbers_is_refused():
    canon = fv.Box(0.1, 0.1).canonical((1, 1))
    with pytest.raises(
        ConfigurationError,
        match=r"Box\(0.1, 0.1\) holds no float32 number .*0.09999999403953552 and "
        r"0.10000000149011612",
    ):
        canon.float32()
    low, high, _, _ = fv.Box(np.float32(0.1), np.float32(0.1)).canonical((1, 1)).float32()  # one float32: fixed
    assert low[0, 0] == high[0, 0] == np.float32(0.1)


def test_mask_with_l2_ball_keeps_frozen_entries_at_a_start_outside_the_ball():
    c = fv.Box(0, 1) & fv.Mask(np.array([True, False])) & fv.LpBall(np.zeros(2), radius=1.0, p=2)
    # start (2, 0.6) is outside box and ball: entry 1 stays 0.6, entry 0 goes to sqrt(1 - 0.36)
    y = c.project(np.array([3.0, 0.0]), start=np.array([2.0, 0.6]))
    np.testing.assert_allclose(y, [0.8, 0.6], atol=1e-9)


def test_mask_frozen_entries_are_clipped_to_the_box_only():
    c = fv.Box(0, 1) & fv.Mask(np.array([True, False])) & fv.LpBall(np.zeros(2), radius=1.2, p=2)
    y = c.project(np.array([3.0, 0.0]), start=np.array([0.0, 1.5]))
    np.testing.assert_allclose(y, [np.sqrt(1.44 - 1.0), 1.0], atol=1e-9)


def test_mask_whose_frozen_part_leaves_the_l2_ball_is_an_empty_set():
    c = fv.Mask(np.array([True, False])) & fv.LpBall(np.zeros(2), radius=1.0, p=2)
    with pytest.raises(ConfigurationError, match=r"is empty .*radius 1 is 1.5 away .*frozen entries"):
        c.project(np.array([0.0, 0.0]), start=np.array([0.0, 1.5]))
    # measuring a point is not building a set: its violation is reported, not refused
    np.testing.assert_allclose(c.violation([[0.0, 1.5]]), [0.5])


def test_mask_values_apply_to_their_own_frozen_entries_only():
    c = (
        fv.Box(0, 1)
        & fv.Mask(np.array([True, True, True, False]))
        & fv.Mask(np.array([False, True, True, True]), values=0.9)
    )
    y = c.project(np.array([0.5, 2.0, -1.0, 0.5]), start=np.array([0.3, 0.4, 0.6, 0.7]))
    np.testing.assert_allclose(y, [0.9, 1.0, 0.0, 0.7])


@pytest.mark.parametrize(
    "build, words",
    [
        (
            lambda: (fv.Box(0, 1) & fv.Mask(np.array([True, True, False, False]), values=5.0)).project(np.zeros(4)),
            "the Mask value 5 at index (0, 2) lies outside the bounds [0, 1]",
        ),
        (
            lambda: (
                fv.Mask(np.array([True, False]), values=0.2) & fv.Mask(np.array([True, False]), values=0.9)
            ).project(np.zeros(2)),
            "two Masks freeze index (0, 1) at different values 0.2 and 0.9",
        ),
        (
            lambda: fv.LpBall(np.zeros((2, 3)), radius=[0.1, 0.2, 0.3], p=2).canonical((2, 3)),
            "LpBall has 3 radii for 2 items",
        ),
        (
            lambda: fv.LpBall(np.zeros(3), radius=[0.1, 0.2, 0.3]).project(np.zeros((2, 3))),
            "LpBall has 3 radii for 2 items",
        ),
    ],
)
def test_empty_or_mismatched_sets_are_configuration_errors(build, words):
    with pytest.raises(ConfigurationError) as info:
        build()
    assert words in str(info.value)
