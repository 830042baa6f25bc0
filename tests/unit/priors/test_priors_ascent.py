"""Image priors inside the engine: hard constraints hold, pictures get smoother, hand-set filters read right."""

import keras
import numpy as np
import pytest

import pytest_featviz as fv
from pytest_featviz import metrics
from pytest_featviz.engine.loop import CACHE_ATTR

SOBEL_V = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype="float32")  # responds to vertical edges
LAPLACE = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype="float32")


@pytest.fixture(scope="module")
def edges():
    """One conv layer with hand-set kernels: vertical Sobel, horizontal Sobel, Laplacian."""
    inp = keras.Input((24, 24, 1))
    conv = keras.layers.Conv2D(3, 3, use_bias=False, activation="relu", name="edges")
    h = conv(inp)
    model = keras.Model(inp, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(h)), name="edges")
    conv.set_weights([np.stack([SOBEL_V, SOBEL_V.T, LAPLACE], -1)[:, :, None, :]])
    return model


@pytest.mark.parametrize("priors", [None, "standard"])
def test_hand_set_filters_read_as_perpendicular_edges_and_a_blob(edges, priors):
    r = fv.ascend(
        edges, fv.Channel("edges", [0, 1, 2], crop=1), constraints=fv.Box(0, 1), steps=200, seed=0, priors=priors
    )
    images = r.inputs[..., 0]
    coherence = [metrics.orientation_coherence(x) for x in images]
    angles = [metrics.dominant_orientation(x) for x in images]
    assert coherence[0] > 0.6 and coherence[1] > 0.6, coherence
    assert abs(angles[0] - 90) < 10 and min(angles[1], 180 - angles[1]) < 10, angles  # vertical vs horizontal
    assert coherence[2] < 0.3, coherence
    fv.assert_structure(images[0], orientation_coherence=(0.6, None))


@pytest.mark.parametrize("priors", ["standard", fv.Priors(parametrization=fv.priors.SigmoidRange())])
def test_priors_keep_inputs_inside_hard_constraints(edges, priors):
    center = np.full((24, 24, 1), 0.5)
    c = (
        fv.Box(0, 1)
        & fv.LpBall(center, 2.0, p=2)
        & fv.Mask(np.pad(np.ones((20, 20, 1), bool), ((2, 2), (2, 2), (0, 0))))
    )
    r = fv.ascend(edges, fv.Channel("edges", [0, 1]), start=center, constraints=c, steps=30, priors=priors, seed=1)
    fv.assert_within(r, c)
    assert np.isfinite(r.values).all()
    np.testing.assert_allclose(
        r.values,
        fv.ascend(edges, fv.Channel("edges", [0, 1]), start=r.inputs, constraints=c, steps=1).history[0],
        rtol=1e-5,
    )


def test_standard_priors_are_smoother_than_raw_pixels_and_deterministic(edges):
    channel = fv.Channel("edges", [0, 1, 2])
    raw = fv.ascend(edges, channel, constraints=fv.Box(0, 1), steps=100, seed=2)
    std = fv.ascend(edges, channel, constraints=fv.Box(0, 1), steps=100, seed=2, priors="standard")
    again = fv.ascend(edges, channel, constraints=fv.Box(0, 1), steps=100, seed=2, priors="standard")
    assert np.array_equal(std.inputs, again.inputs)
    tv_raw = np.mean([metrics.total_variation(x[..., 0], data_range=1.0) for x in raw.inputs])
    tv_std = np.mean([metrics.total_variation(x[..., 0], data_range=1.0) for x in std.inputs])
    assert tv_std < tv_raw
    assert (std.values > 0).all()


def test_priors_do_not_retrace_when_values_change(edges):
    edges.__dict__.pop(CACHE_ATTR, None)
    for seed in range(4):
        fv.ascend(
            edges,
            fv.Channel("edges", [seed % 3, 1]),
            constraints=fv.Box(0, 0.5 + seed / 4),
            steps=5,
            seed=seed,
            priors="standard",
            lr=0.05 + seed / 100,
        )
    cache = edges.__dict__[CACHE_ATTR]
    assert len(cache) == 1 and next(iter(cache.values())).experimental_get_tracing_count() == 1


def test_blur_every_and_transform_overrides(edges):
    r = fv.ascend(
        edges,
        fv.Channel("edges", 0),
        constraints=fv.Box(0, 1),
        steps=12,
        transforms=[fv.priors.Jitter(2)],
        blur=fv.priors.BlurEvery(4, 1.0),
        seed=3,
    )
    fv.assert_within(r, fv.Box(0, 1))
    with pytest.raises(fv.ConfigurationError, match="not one of"):
        fv.ascend(edges, fv.Channel("edges", 0), constraints=fv.Box(0, 1), priors="fancy")


def test_until_with_transforms_is_judged_on_the_untransformed_input(edges):
    r = fv.ascend(
        edges,
        fv.Channel("edges", [0, 1, 2]),
        constraints=fv.Box(0, 1),
        steps=60,
        priors="standard",
        until=fv.Channel("edges", [0, 1, 2]) >= 0.3,
        seed=4,
    )
    assert (r.values[r.reached] >= 0.3 - 1e-6).all()


def test_overridden_priors_are_checked_against_the_input():
    inp = keras.Input((10,))
    vector_model = keras.Model(inp, keras.layers.Dense(2)(inp))
    with pytest.raises(fv.ConfigurationError, match="needs an image input"):
        fv.ascend(vector_model, fv.ClassLogit(0), transforms=[fv.priors.Jitter(2)], steps=2)


def test_units_that_are_off_at_grey_still_start_from_the_default_fourier_draw():
    """A Sobel unit with a negative bias is 0 (zero gradient) on a near-grey image."""
    inp = keras.Input((24, 24, 1))
    conv = keras.layers.Conv2D(1, 3, activation="relu", name="off")
    model = keras.Model(inp, keras.layers.GlobalAveragePooling2D()(conv(inp)))
    conv.set_weights([SOBEL_V[:, :, None, None], np.array([-0.2], "float32")])
    channel, box = fv.Channel("off", 0), fv.Box(0, 1)
    grey = fv.ascend(
        model,
        channel,
        constraints=box,
        steps=40,
        seed=0,
        priors="standard",
        parametrization=fv.priors.Fourier(start_std=0.01),
    )
    assert grey.zero_gradient.all() and grey.values[0] == 0
    noisy = fv.ascend(model, channel, constraints=box, steps=40, seed=0, priors="standard")
    assert not noisy.zero_gradient.any() and noisy.values[0] > 1.0  # stripes across the image: ~2 of 4 max


def test_the_parametrization_picks_the_default_optimizer_and_step(edges):
    channel, box = fv.Channel("edges", 0), fv.Box(0, 1)
    fourier = fv.ascend(edges, channel, constraints=box, steps=3, priors="standard")
    assert fourier.optimizer == "pgd" and fourier.lr.tolist() == [pytest.approx(0.3)]
    assert fv.ascend(edges, channel, constraints=box, steps=3, priors="standard", optimizer="adam").optimizer == "adam"
    sigmoid = fv.ascend(edges, channel, constraints=box, steps=3, parametrization=fv.priors.SigmoidRange())
    assert sigmoid.optimizer == "adam" and sigmoid.lr.tolist() == [pytest.approx(0.1)]
    pixel = fv.ascend(edges, channel, constraints=fv.Box(0, 2), steps=3)
    assert pixel.optimizer == "adam" and pixel.lr.tolist() == [pytest.approx(0.1)]  # 5% of the width
