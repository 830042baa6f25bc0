"""Hypothesis strategies: what they draw, that every set is feasible, how they shrink, and the
properties they exist for (ascend stays inside every generated set; no retrace per example)."""

import keras
import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument, NoSuchExample

import pytest_featviz as fv
from pytest_featviz.engine.loop import CACHE_ATTR
from pytest_featviz.errors import LayerNotFoundError
from pytest_featviz.strategies import (
    KINDS,
    boxes,
    channel_indices,
    class_indices,
    constraint_sets,
    from_examples,
    lp_balls,
    masks,
    starting_points,
)

INPUT = (4, 4)
IMAGE = (16, 16, 3)


def tiny_model():
    """Flatten -> Dense(3); class 0's logit is the mean of the input (a known answer)."""
    model = keras.Sequential(
        [keras.Input(INPUT), keras.layers.Flatten(name="flat"), keras.layers.Dense(3, name="logits")]
    )
    kernel = np.random.default_rng(0).normal(size=(16, 3))
    kernel[:, 0] = 1.0 / 16
    model.get_layer("logits").set_weights([kernel.astype("float32"), np.zeros(3, "float32")])
    return model


MODEL = tiny_model()


def simplest(strategy):
    return find(strategy, lambda _: True)


# -- starting points ----------------------------------------------------------------------
@given(data=st.data())
def test_starting_points_have_the_shape_dtype_and_bounds_asked_for(data):
    shape = tuple(data.draw(st.lists(st.integers(1, 5), max_size=3)))
    lo = data.draw(st.floats(-10, 10))
    hi = lo + data.draw(st.floats(1e-6, 10))
    batch = data.draw(st.none() | st.integers(1, 3))
    x = data.draw(starting_points(shape, min_value=lo, max_value=hi, batch=batch))
    assert x.shape == (shape if batch is None else (batch, *shape))
    assert x.dtype == np.float32
    assert lo <= float(x.min()) and float(x.max()) <= hi  # as float64: 0.1 < float32(0.1)


def neighbour_steps(x):
    return max(np.abs(np.diff(x, axis=0)).max(), np.abs(np.diff(x, axis=1)).max())


def middle_half(x):
    """The fraction of entries in the middle half of their range."""
    lo, hi = x.min(), x.max()
    return np.mean((x > lo + (hi - lo) / 4) & (x < hi - (hi - lo) / 4))


KIND_CHECKS = {
    "constant": lambda x: np.ptp(x) == 0,
    # two levels laid out in squares over the first two axes, the same in every channel
    "checkerboard": lambda x: len(np.unique(x)) <= 2 and (x == x[..., :1]).all(),
    # a trigonometric polynomial of degree <= 2 per axis with range <= 1 moves at most
    # 2*pi*2*0.5/n per step (Bernstein's inequality); noise moves ~1 per step
    "smooth": lambda x: neighbour_steps(x) <= 2 * np.pi / IMAGE[0] + 1e-6,
    # 768 draws spread evenly (half in the middle half, +-5.5 sigma) or piled around the
    # centre (N(0.5, 0.25) clipped at +-2 sigma: 68% within +-1 sigma); ranges too narrow
    # for float32 to resolve are not judged
    "uniform": lambda x: np.ptp(x) < 1e-3 or 0.4 < middle_half(x) < 0.6,
    "gaussian": lambda x: np.ptp(x) < 1e-3 or middle_half(x) > 0.6,
}


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_draws_arrays_of_its_own_kind(kind):
    @given(x=starting_points(IMAGE, kinds=(kind,)))
    def check(x):
        assert KIND_CHECKS[kind](x), kind

    check()
    if kind != "constant":  # and it is not merely constant: find raises NoSuchExample if every draw is flat
        x = find(starting_points(IMAGE, kinds=(kind,)), lambda x: np.ptp(x) > 0.3)
        assert x.shape == IMAGE and KIND_CHECKS[kind](x), kind  # the non-flat draw is still of its kind


def test_shrinking_goes_to_a_constant_start_at_min_value():
    np.testing.assert_array_equal(simplest(starting_points(IMAGE, min_value=-1.0)), np.full(IMAGE, -1.0, "float32"))
    batch = simplest(starting_points(INPUT, batch=3, kinds=("gaussian", "smooth", "constant")))
    assert batch.shape == (3, *INPUT) and (batch == 0).all()
    # a failing condition that any kind could meet shrinks to the simplest kind, just past the threshold
    x = find(starting_points(IMAGE), lambda x: x.max() > 0.5)
    assert np.ptp(x) == 0 and 0.5 < x.flat[0] < 0.5 + 1e-6


EXAMPLES = np.random.default_rng(3).random((5, *INPUT)).astype("float32")


@given(x=from_examples(EXAMPLES), y=starting_points(INPUT, kinds=(from_examples(EXAMPLES),)))
def test_from_examples_draws_real_examples_alone_or_as_a_kind(x, y):
    assert x.dtype == y.dtype == np.float32
    assert any((x == e).all() for e in EXAMPLES) and any((y == e).all() for e in EXAMPLES)


def test_from_examples_shrinks_to_the_first_example():
    np.testing.assert_array_equal(simplest(from_examples(EXAMPLES)), EXAMPLES[0])
    # a condition only later examples meet shrinks to the first of them
    later = next(e for e in EXAMPLES if e[0, 0] > EXAMPLES[0, 0, 0])
    np.testing.assert_array_equal(find(from_examples(EXAMPLES), lambda x: x[0, 0] > EXAMPLES[0, 0, 0]), later)


# -- constraint sets ----------------------------------------------------------------------
@given(b=boxes(IMAGE, min_value=-1.0, max_value=2.0, min_width=0.5))
def test_boxes_lie_in_the_range_and_are_at_least_min_width_wide(b):
    low, high = np.broadcast_arrays(b.low, b.high)
    assert -1.0 <= low.min() and high.max() <= 2.0
    assert (high - low).min() >= 0.5 - 1e-12


def test_boxes_are_scalar_or_per_element():
    assert simplest(boxes(INPUT)).low.ndim == 0
    assert find(boxes(INPUT), lambda b: b.low.ndim > 0).low.shape == INPUT


@given(
    ball=lp_balls(from_examples(EXAMPLES), min_radius=0.1, max_radius=0.3, p=np.inf), l2=lp_balls(np.zeros(INPUT), p=2)
)
def test_lp_balls_take_a_centre_value_or_strategy_and_radii_in_range(ball, l2):
    assert 0.1 <= float(ball.radius) <= 0.3 and ball.p == np.inf
    assert any((ball.center == e).all() for e in EXAMPLES)
    assert 0.0 <= float(l2.radius) <= 1.0 and l2.p == 2 and (l2.center == 0).all()


@given(m=masks(IMAGE, min_free=20))
def test_masks_free_at_least_min_free_entries(m):
    assert m.mask.shape == IMAGE and m.mask.dtype == bool
    assert m.mask.sum() >= 20


def test_masks_shrink_to_all_free_and_can_freeze():
    assert simplest(masks(INPUT)).mask.all()
    assert find(masks(INPUT, min_free=0), lambda m: m.mask.sum() < 3).mask.sum() < 3


def assert_feasible(c, x):
    p = c.project(x)
    assert c.violation(p[None]).max() <= 1e-6
    assert c.violation(p[None], start=x[None]).max() <= 1e-6


@given(c=constraint_sets(IMAGE, min_value=-1.0, max_value=1.0), x=starting_points(IMAGE, min_value=-3.0, max_value=3.0))
def test_every_generated_constraint_set_is_feasible(c, x):
    assert_feasible(c, x)
    assert -1.0 <= c.project(x).min() and c.project(x).max() <= 1.0  # the box is always there


@given(
    c=constraint_sets(IMAGE, center=starting_points(IMAGE, min_value=-0.2, max_value=1.2), max_radius=8.0),
    x=starting_points(IMAGE, min_value=-3.0, max_value=3.0),
)
def test_constraint_sets_around_a_centre_outside_the_bounds_are_feasible(c, x):
    # the centre may lie up to 0.2 outside [0, 1] in every entry: 0.2 * sqrt(768) < 5.6 away (L2)
    assert_feasible(c, x)


def test_constraint_sets_shrink_to_a_lone_box():  # skipped below Hypothesis 6.111.1 (root conftest.py)
    assert repr(simplest(constraint_sets(INPUT))) == "Box(0.0, 0.0)"


def test_constraint_sets_reach_every_part():
    full = find(constraint_sets(INPUT), lambda c: all(s in repr(c) for s in ("p=inf", "p=2", "Mask")))
    assert repr(full).count("LpBall") == 2


# -- model-based strategies ---------------------------------------------------------------
def test_class_and_channel_indices_are_valid_for_the_model():
    assert simplest(class_indices(MODEL)) == 0
    assert find(class_indices(MODEL), lambda k: k > 0) == 1
    assert find(class_indices(MODEL), lambda k: k >= 2) == 2
    with pytest.raises(NoSuchExample):
        find(class_indices(MODEL), lambda k: k > 2)
    assert find(channel_indices(MODEL, "logits"), lambda k: k >= 2) == 2


def test_unknown_layer_raises_layer_not_found_when_called():
    with pytest.raises(LayerNotFoundError, match="did you mean 'logits'"):
        channel_indices(MODEL, "logit")


# -- the properties the strategies exist for ----------------------------------------------
@settings(max_examples=100)
@given(start=starting_points(INPUT), c=constraint_sets(INPUT), k=class_indices(MODEL))
def test_ascend_stays_inside_every_generated_constraint_set(start, c, k):
    r = fv.ascend(MODEL, fv.ClassLogit(k), start=start, constraints=c, steps=20)
    assert c.violation(r.inputs, start=r.start).max() <= 1e-6
    assert np.isfinite(r.values).all()


@pytest.mark.parametrize("scale", [1.0, 255.0, 1000.0])
def test_the_engine_accepts_every_drawn_set_at_any_scale_and_stays_inside(scale):
    # narrow sets (radius 0, zero-width boxes) at raw-pixel scales used to come back up to half a
    # float32 step outside; now each drawn set holds a float32 point and the result lies inside
    off_grid = np.full(INPUT, 0.5037 * scale) + np.linspace(0, 1e-3, 16).reshape(INPUT)  # not float32 numbers
    sets = st.one_of(
        constraint_sets(INPUT, min_value=0.0, max_value=scale),
        constraint_sets(INPUT, min_value=0.0, max_value=scale, center=off_grid + 0.6 * scale, max_radius=scale),
        boxes(INPUT, min_value=0.0, max_value=scale),
        lp_balls(off_grid, max_radius=1e-3 * scale),
    )

    @settings(max_examples=30)
    @given(start=starting_points(INPUT, max_value=scale), c=sets)
    def run(start, c):
        r = fv.ascend(MODEL, fv.ClassLogit(0), start=start, constraints=c, steps=5)
        fv.assert_within(r, c, atol=0.0)  # exactly inside

    run()


def test_lp_balls_around_a_centre_off_the_float32_grid_reach_the_nearest_float32_point():
    center = np.array([128.438, 0.1, 64.0])  # 128.438 and 0.1 are not float32 numbers
    need = np.abs(center.astype(np.float32) - center)
    assert float(simplest(lp_balls(center, p=np.inf)).radius) >= need.max()
    assert float(simplest(lp_balls(center, p=2)).radius) >= np.linalg.norm(need)
    with pytest.raises(
        InvalidArgument, match=r"radius >= 3.54\d+e-06; pass max_radius >= 3.54\d+e-06 or a float32 center"
    ):
        simplest(lp_balls(center, max_radius=1e-6, p=2))


def test_fifty_examples_trace_the_ascent_once_per_constraint_structure():
    model = tiny_model()
    structures = set()

    @settings(max_examples=50)
    @given(start=starting_points(INPUT, batch=2), c=constraint_sets(INPUT, max_radius=0.5), k=class_indices(model))
    def run(start, c, k):
        r = fv.ascend(model, fv.ClassLogit(k), start=start, constraints=c, steps=10)
        structures.add(c.canonical(r.start.shape).has_ball)  # an L2 ball changes the compiled loop

    run()
    compiled = model.__dict__[CACHE_ATTR]
    assert len(compiled) == len(structures) == 2
    assert sum(f.experimental_get_tracing_count() for f in compiled.values()) == len(compiled)


def test_shrinking_finds_the_smallest_radius_that_breaks_a_false_claim():
    # claim: "class 0's logit stays <= 0.6 in every L-inf ball around x = 0.5".  Its logit is
    # mean(x), so the maximum over a ball of radius r is 0.5 + r: the claim fails for r > 0.1.
    center = np.full(INPUT, 0.5)

    def breaks_claim(ball):
        r = fv.ascend(MODEL, fv.ClassLogit(0), start=center, constraints=ball, steps=40, optimizer="sign")
        return float(r.values[0]) > 0.6

    ball = find(lp_balls(center, max_radius=1.0, p=np.inf), breaks_claim)
    assert 0.1 - 1e-6 < float(ball.radius) < 0.1 + 1e-4


# -- argument checking --------------------------------------------------------------------
BAD_ARGUMENTS = [
    (lambda: starting_points(INPUT, min_value=1.0, max_value=0.0), "min_value=1.0 is larger than max_value=0.0"),
    (lambda: starting_points(INPUT, max_value=np.inf), "max_value must be a finite number; got inf"),
    (lambda: starting_points(INPUT, min_value="0"), r"min_value must be a finite number; got '0' \(str\)"),
    (lambda: starting_points((4, 0)), r"each entry of shape=\(4, 0\) must be an int >= 1; got 0"),
    (lambda: starting_points(INPUT, batch=0), "batch must be an int >= 1; got 0"),
    (
        lambda: starting_points(INPUT, kinds=("uniform", "checkerbord")),
        "kind='checkerbord' is not one of 'checkerboard', 'constant', 'gaussian', 'smooth', 'uniform'; did you mean 'checkerboard'",
    ),
    (lambda: starting_points(INPUT, kinds="constant"), r"kinds=\('constant',\)"),
    (lambda: starting_points(INPUT, kinds=()), "kinds is empty"),
    (lambda: starting_points(INPUT, min_value=0.1, max_value=0.1), "no float32 number lies in"),
    (lambda: starting_points(INPUT, kinds=(from_examples(EXAMPLES + 2),)), "outside .min_value=0.0, max_value=1.0."),
    (
        lambda: starting_points((3, 3), kinds=(from_examples(EXAMPLES),)),
        r"shape \(4, 4\); starting_points needs \(3, 3\)",
    ),
    (lambda: from_examples(np.zeros((0, 4))), r"N >= 1; got shape \(0, 4\)"),
    (lambda: from_examples([[1.0, np.nan]]), "NaN or inf"),
    (lambda: boxes(INPUT, min_width=2.0), r"min_width=2.0 must lie in \[0, max_value - min_value\] = \[0, 1.0\]"),
    (lambda: boxes(INPUT, min_width=-0.5), "min_width=-0.5 must lie in"),
    (lambda: lp_balls(np.zeros(2), min_radius=1.0, max_radius=0.5), "min_radius=1.0 is larger than max_radius=0.5"),
    (lambda: lp_balls(np.zeros(2), min_radius=-1.0), "min_radius must be a finite number >= 0; got -1.0"),
    (lambda: lp_balls(np.zeros(2), p=(2, 1)), r"p=\(2, 1\) may only hold 2 and np.inf"),
    (lambda: lp_balls([np.nan, 0.0]), "center contains NaN"),
    (lambda: masks((2, 2), min_free=5), r"min_free \(free entries of the mask\) must be an int in \[0, 4\]; got 5"),
    (lambda: constraint_sets((2,), center=np.array([3.0, 3.0]), max_radius=1.0), "pass max_radius >= 2.82843"),
    (lambda: constraint_sets((2,), center=np.zeros(3)), r"center has shape \(3,\), which does not broadcast"),
    (lambda: constraint_sets(INPUT, max_radius=-1.0), "max_radius must be a finite number >= 0; got -1.0"),
]


@pytest.mark.parametrize("make, message", BAD_ARGUMENTS, ids=[m for _, m in BAD_ARGUMENTS])
def test_impossible_arguments_raise_invalid_argument_naming_them(make, message):
    with pytest.raises(InvalidArgument, match=message):
        simplest(make())
