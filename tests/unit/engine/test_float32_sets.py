"""Constraint sets narrower than one float32 step, at input scales 1, 255 and 1000.

The model runs in float32, so the engine's set is the float32 points of the constraint set.
An entry whose interval holds one float32 number is fixed at it (the result is exactly
inside); an interval between two float32 neighbours, or an L2 ball that misses every float32
point of the box, is a ConfigurationError with the numbers and the radius that works.
"""

import re

import keras
import numpy as np
import pytest

import pytest_featviz as fv
from pytest_featviz.errors import ConfigurationError

SCALES = [1.0, 255.0, 1000.0]


@pytest.fixture(scope="module")
def linear():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="logits")])
    model.get_layer("logits").set_weights(
        [np.array([[1.0, -1.0], [2.0, 0.5], [-1.0, 1.0]], "float32"), np.zeros(2, "float32")]
    )
    return model


def step_at(scale, fraction=0.5037):
    """A float32 number near ``fraction * scale`` and the float32 step above it."""
    v = np.float32(fraction * scale)
    return float(v), float(np.spacing(v))


def ascend(model, c):
    return fv.ascend(model, fv.ClassLogit(0), constraints=c, steps=5)


def suggested_radius(error):
    return float(re.search(r"to at least ([0-9.e+-]+)", str(error)).group(1))


@pytest.mark.parametrize("scale", SCALES)
def test_an_linf_ball_between_two_float32_numbers_is_refused_with_the_radius_that_works(linear, scale):
    v, ulp = step_at(scale)
    center = np.full(3, v + ulp / 2)  # halfway between two float32 neighbours
    c = fv.Box(0, scale) & fv.LpBall(center, radius=ulp / 4, p=np.inf)
    with pytest.raises(ConfigurationError) as info:
        ascend(linear, c)
    text = str(info.value)
    assert f"holds no float32 number at batch item 0, index (0,): the entry must lie in [{v + ulp / 4!r}, " in text
    assert f"between the float32 neighbours {v!r} and {v + ulp!r}" in text
    assert f"widen the radius of part 1 LpBall(radius={ulp / 4!r}, p=inf) to at least" in text
    radius = suggested_radius(info.value)
    assert ulp / 2 <= radius <= ulp / 2 * 1.01  # the distance to the nearest float32 number
    wider = fv.Box(0, scale) & fv.LpBall(center, radius=radius, p=np.inf)
    r = ascend(linear, wider)
    assert np.isin(r.inputs, np.float32([v, v + ulp])).all()
    fv.assert_within(r, wider, atol=0.0)


@pytest.mark.parametrize("scale", SCALES)
def test_an_interval_holding_one_float32_number_fixes_the_entry_there(linear, scale):
    v, ulp = step_at(scale)
    c = fv.Box(0, scale) & fv.LpBall(np.array([v + ulp / 8, 0.25 * scale, 0.75 * scale]), radius=ulp / 4, p=np.inf)
    r = ascend(linear, c)
    assert r.inputs[0, 0] == np.float32(v)  # the only float32 number in [v - ulp/8, v + 3 ulp/8]
    fv.assert_within(r, c, atol=0.0)


@pytest.mark.parametrize("scale", SCALES)
def test_a_zero_width_box_entry_is_fixed_at_a_float32_number_and_refused_between_two(linear, scale):
    v, ulp = step_at(scale, 0.814361)
    fixed = fv.Box(0, scale) & fv.Box(np.array([0, v, 0]), np.array([scale, v, scale]))
    r = ascend(linear, fixed)
    assert r.inputs[0, 1] == np.float32(v)
    fv.assert_within(r, fixed, atol=0.0)
    between = fv.Box(0, scale) & fv.Box(np.array([0, v + ulp / 2, 0]), np.array([scale, v + ulp / 2, scale]))
    with pytest.raises(ConfigurationError) as info:
        ascend(linear, between)
    text = str(info.value)
    assert f"index (1,): the entry must lie in [{v + ulp / 2!r}, {v + ulp / 2!r}] (width 0)" in text
    assert f"widen part 1 Box(array(shape=(3,)), array(shape=(3,))) at this entry to hold {v!r} or {v + ulp!r}" in text


@pytest.mark.parametrize("scale", SCALES)
def test_mask_values_are_held_at_the_nearest_float32_number(linear, scale):
    v = 0.814361 * scale  # not a float32 number
    assert float(np.float32(v)) != v
    c = fv.Box(0, scale) & fv.Mask(np.array([True, False, True]), values=v)
    assert c.parts[1].values == np.float32(v)
    r = ascend(linear, c)
    assert r.inputs[0, 1] == np.float32(v)
    fv.assert_within(r, c, atol=0.0)


@pytest.mark.parametrize("scale", SCALES)
def test_a_masked_entry_frozen_at_the_box_is_frozen_at_its_float32_bound(linear, scale):
    v, ulp = step_at(scale)
    c = fv.Box(v + ulp / 4, scale) & fv.Mask(np.array([True, False, True]))  # np.float32(v + ulp/4) == v: outside
    r = fv.ascend(linear, fv.ClassLogit(0), start=np.zeros(3), constraints=c, steps=5)
    assert r.inputs[0, 1] == np.float32(v + ulp)  # the start, clipped to the box's float32 bounds
    fv.assert_within(r, c, atol=0.0)


@pytest.mark.parametrize("scale", SCALES)
def test_an_l2_ball_without_a_float32_point_is_refused_with_the_radius_that_works(linear, scale):
    v, ulp = step_at(scale)
    center = np.full(3, v + ulp / 2)
    c = fv.Box(0, scale) & fv.LpBall(center, radius=ulp / 4, p=2)
    with pytest.raises(ConfigurationError, match=r"holds no float32 point for batch item 0: part 1 LpBall") as info:
        ascend(linear, c)
    radius = suggested_radius(info.value)
    assert np.sqrt(3) * ulp / 2 <= radius <= np.sqrt(3) * ulp / 2 * 1.01
    wider = fv.Box(0, scale) & fv.LpBall(center, radius=radius, p=2)
    fv.assert_within(ascend(linear, wider), wider, atol=0.0)


@pytest.mark.parametrize("scale", SCALES)
def test_an_l2_ball_that_touches_the_box_only_between_float32_numbers_is_refused(linear, scale):
    v, ulp = step_at(scale)
    high, gap = v + ulp / 2, 1024 * ulp  # the box's float32 bound is v, half a step inside
    center = np.array([high + gap, v, v])  # exact in float64
    c = fv.Box(0, high) & fv.LpBall(center, radius=gap, p=2)
    assert c.contains([[high, v, v]], atol=0.0).all()  # the float64 set holds a point: it touches the box
    with pytest.raises(ConfigurationError, match=r"the nearest float32 point of the box lies") as info:
        ascend(linear, c)
    radius = suggested_radius(info.value)
    assert gap + ulp / 2 <= radius <= (gap + ulp / 2) * 1.01
    wider = fv.Box(0, high) & fv.LpBall(center, radius=radius, p=2)
    r = ascend(linear, wider)
    assert r.inputs[0, 0] == np.float32(v)
    fv.assert_within(r, wider, atol=0.0)


def test_the_issue_example_is_refused_instead_of_returning_inputs_outside(linear):
    ball = fv.LpBall(center=np.full(3, 128.438), radius=2e-6, p=np.inf)
    with pytest.raises(
        ConfigurationError,
        match=r"between the float32 neighbours 128.43798828125 and "
        r"128.43800354003906.* to at least 3.55e-06$",
    ):
        ascend(linear, fv.Box(0, 255) & ball)
    wider = fv.Box(0, 255) & fv.LpBall(center=np.full(3, 128.438), radius=3.55e-6, p=np.inf)
    fv.assert_within(ascend(linear, wider), wider, atol=0.0)


# -- assert_within names the part a point breaks -------------------------------------------
def test_within_names_the_ball_a_point_inside_the_box_breaks():
    c = fv.Box(0, 255) & fv.LpBall(np.full(3, 128.0), radius=2.0, p=np.inf)
    x = np.array([[128.0, 128.0, 128.0], [128.0, 130.5, 127.0]])
    with pytest.raises(AssertionError) as info:
        fv.assert_within(x, c)
    text = str(info.value)
    assert "1 of 2 inputs lie outside Box(0.0, 255.0) & LpBall(radius=2.0, p=inf) (atol=1e-06):" in text
    assert (
        "item 1: breaks part 1 LpBall(radius=2.0, p=inf) by 0.5 (atol=1e-06); entry (1,) = 130.5, allowed [126, 130]"
    ) in text
    assert "part 0" not in text and "item 0" not in text


def test_within_lists_each_part_an_item_breaks():
    c = fv.Box(0, 1) & fv.LpBall(np.zeros(2), radius=1.0, p=2) & fv.Mask(np.array([True, False]), values=0.25)
    x = np.array([[0.5, 0.25], [1.5, 0.75]])
    with pytest.raises(AssertionError) as info:
        fv.assert_within(x, c, atol=0.01)
    lines = str(info.value).splitlines()
    assert lines[1:] == [
        "  item 1: breaks part 0 Box(0.0, 1.0) by 0.5 (atol=0.01); entry (0,) = 1.5, allowed [0, 1]",
        "  item 1: breaks part 1 LpBall(radius=1.0, p=2) by 0.677 (atol=0.01); distance 1.67705098 from its "
        "centre, radius 1",
        "  item 1: breaks part 2 Mask(free=1/2) by 0.5 (atol=0.01); entry (1,) = 0.75, allowed [0.25, 0.25]",
    ]
