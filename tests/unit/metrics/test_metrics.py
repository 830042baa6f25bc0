"""Metrics on synthetic images whose answers are known: stripes, noise, ramps, checkerboards."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pytest_featviz import metrics
from pytest_featviz.errors import ConfigurationError, FeatvizTypeError


def stripes(angle: float, *, size: int = 64, period: float = 8.0, phase: float = 0.3) -> np.ndarray:
    """Sine stripes running along ``angle`` degrees, counter-clockwise from x (right), y up."""
    rows, cols = np.indices((size, size), dtype=float)
    t = np.radians(angle)
    across = -np.sin(t) * cols - np.cos(t) * rows  # the coordinate normal to the stripes (y = -row)
    return np.sin(2 * np.pi * across / period + phase)


def noise(seed: int, shape: tuple[int, ...] = (64, 64)) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape)


def checkerboard(size: int = 16) -> np.ndarray:
    return (np.indices((size, size)).sum(axis=0) % 2).astype(float)


def ramp(size: int = 64) -> np.ndarray:
    return np.tile(np.linspace(0.0, 1.0, size), (size, 1))


def angle_error(a: float, b: float) -> float:
    d = abs(a - b) % 180.0
    return min(d, 180.0 - d)


CONSTANT = np.full((16, 16), 0.3)


# ------------------------------------------------------------------ orientation
@pytest.mark.parametrize("period", [5.0, 8.0, 13.0])
@pytest.mark.parametrize("angle", [0, 30, 45, 90, 135, 10, 170])
def test_dominant_orientation_recovers_the_angle_of_rotated_stripes(angle, period):
    image = stripes(angle, period=period)
    assert angle_error(metrics.dominant_orientation(image), angle) < 2.0
    assert metrics.orientation_coherence(image) > 0.95


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda r, c: np.sin(r / 2.0), 0.0),  # varies down the rows: horizontal stripes
        (lambda r, c: np.sin(c / 2.0), 90.0),  # vertical stripes
        (lambda r, c: np.sin((r + c) / 2.0), 45.0),  # constant along up-and-right
        (lambda r, c: np.sin((r - c) / 2.0), 135.0),  # constant along down-and-right
    ],
    ids=["horizontal", "vertical", "rising", "falling"],
)
def test_orientation_convention_is_what_a_person_sees(make, expected):
    rows, cols = np.indices((32, 32), dtype=float)
    assert metrics.dominant_orientation(make(rows, cols)) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_white_noise_has_no_orientation(seed):
    assert metrics.orientation_coherence(noise(seed)) < 0.1


@pytest.mark.parametrize("image", [stripes(30), ramp(), np.outer(np.ones(20), np.arange(20.0) ** 2)])
def test_gradients_have_no_border_artifacts(image):
    # zero padding would add edges along the border at other angles and lower these below 1
    assert metrics.orientation_coherence(image) == pytest.approx(1.0, abs=1e-9)
    assert metrics.orientation_coherence(image, sigma=0.0) == pytest.approx(1.0, abs=1e-9)


def test_orientation_of_a_constant_or_checkerboard_image_is_zero():
    for f in (metrics.orientation_coherence, metrics.dominant_orientation):
        assert f(CONSTANT) == 0.0
    assert metrics.orientation_coherence(checkerboard()) < 1e-9  # no dominant direction


def test_orientation_needs_room_for_its_filters():
    assert metrics.orientation_coherence(stripes(30, size=7), sigma=1.0) > 0.95
    with pytest.raises(ConfigurationError, match=r"\(7, 7\).*sigma=2.0.*13 pixels"):
        metrics.orientation_coherence(stripes(30, size=7), sigma=2.0)


# ------------------------------------------------------------------ spectrum
@pytest.mark.parametrize("cutoff", [0.1, 0.25, 0.5, 0.9])
def test_high_frequency_ratio_of_white_noise_is_the_share_of_frequencies(cutoff):
    size = 128
    k = np.arange(size) / size
    radius = np.hypot(*np.meshgrid(k, k, indexing="ij"))
    expected = (radius > cutoff).sum() / (size * size - 1)  # every non-DC frequency carries equal energy
    ratio = metrics.high_frequency_ratio(noise(7, (size, size)), cutoff=cutoff)
    assert ratio == pytest.approx(expected, abs=0.02)
    assert ratio == pytest.approx(1 - np.pi * cutoff**2 / 4, abs=0.03)


@pytest.mark.parametrize("image", [ramp(), ramp().T * 5 + 2, np.sin(2 * np.pi * np.indices((64, 64)).sum(0) / 64)])
def test_smooth_images_have_almost_no_high_frequencies(image):
    assert metrics.high_frequency_ratio(image) < 0.01


def test_high_frequency_ratio_of_checkerboard_and_constant():
    assert metrics.high_frequency_ratio(checkerboard()) > 0.99
    assert metrics.high_frequency_ratio(CONSTANT) == 0.0


def test_high_frequency_ratio_falls_as_the_cutoff_rises():
    ratios = [metrics.high_frequency_ratio(noise(1), cutoff=c) for c in (0.1, 0.3, 0.6, 0.9)]
    assert ratios == sorted(ratios, reverse=True)


@pytest.mark.parametrize("angle", [0, 30, 45, 135])
def test_stripes_and_checkerboard_are_periodic(angle):
    assert metrics.periodicity(stripes(angle, period=7.0)) > 0.95
    assert metrics.periodicity(checkerboard()) == pytest.approx(1.0)


@pytest.mark.parametrize(("size", "limit"), [(64, 0.2), (128, 0.1)])
def test_noise_is_not_periodic(size, limit):
    assert metrics.periodicity(noise(3, (size, size))) < limit


def test_a_ramp_and_a_constant_image_are_not_periodic():
    assert metrics.periodicity(ramp()) < 0.05
    assert metrics.periodicity(CONSTANT) == 0.0


# ------------------------------------------------------------------ intensities
def test_total_variation_known_values():
    assert metrics.total_variation(checkerboard()) == 1.0
    assert metrics.total_variation(CONSTANT) == 0.0
    h, w = 10, 12  # a ramp 0..1 along the columns: horizontal steps 1/(w-1), none vertical
    expected = (h * (w - 1) / (w - 1)) / ((h - 1) * w + h * (w - 1))
    assert metrics.total_variation(np.tile(np.linspace(0, 1, w), (h, 1))) == pytest.approx(expected)


def test_total_variation_with_an_explicit_data_range():
    board = 255 * checkerboard()
    assert metrics.total_variation(board) == 1.0
    assert metrics.total_variation(board, data_range=255) == 1.0
    assert metrics.total_variation(board, data_range=510.0) == 0.5
    assert metrics.total_variation(CONSTANT, data_range=1.0) == 0.0


def test_entropy_known_values():
    assert metrics.entropy(CONSTANT) == 0.0
    assert metrics.entropy(checkerboard()) == pytest.approx(1.0)
    assert metrics.entropy(np.arange(64.0).reshape(8, 8), bins=16) == pytest.approx(4.0)
    uniform = np.random.default_rng(0).random((256, 256))
    assert 7.99 < metrics.entropy(uniform) <= 8.0


def test_entropy_data_range_sets_the_bins_and_clips_outliers():
    image = np.array([[0.1, 0.2, 0.3], [0.6, 0.7, 0.8], [0.6, 0.7, 0.9]])

    def bits(*counts: int) -> float:
        p = np.array(counts) / sum(counts)
        return float(-(p * np.log2(p)).sum())

    assert metrics.entropy(image, bins=2, data_range=(0.0, 1.0)) == pytest.approx(bits(3, 6))
    assert metrics.entropy(image, bins=2, data_range=(0.0, 0.5)) == pytest.approx(bits(2, 7))
    assert metrics.entropy(image, bins=4, data_range=(-1.0, 0.0)) == 0.0  # all above: last bin


def test_saturation_counts_values_at_or_beyond_the_bounds():
    image = np.array([[0.0, 0.5, 1.0], [1.2, -0.1, 0.5], [1 - 1e-9, 1e-3, 0.5]])
    assert metrics.saturation(image) == pytest.approx(5 / 9)
    assert metrics.saturation(image, atol=2e-3) == pytest.approx(6 / 9)
    assert metrics.saturation(255 * image, low=0, high=255) == pytest.approx(5 / 9)
    assert metrics.saturation(np.full((4, 4), 0.5)) == 0.0


def test_edge_density_known_values():
    for h, w in [(10, 10), (24, 32)]:
        step = np.zeros((h, w))
        step[:, w // 2 :] = 255.0
        # both columns beside the step are marked, in every row but the outermost two
        assert metrics.edge_density(step) == pytest.approx(2 * (h - 2) / (h * w))
    assert metrics.edge_density(ramp()) == 0.0
    assert metrics.edge_density(CONSTANT) == 0.0
    assert metrics.edge_density(noise(0), sigma=0.5) > 0.3 > metrics.edge_density(noise(0), sigma=2.0)


# ------------------------------------------------------------------ ssim
def test_ssim_of_identical_and_opposite_images():
    a = np.random.default_rng(0).random((32, 32))
    assert metrics.ssim(a, a, data_range=1.0) == pytest.approx(1.0)
    assert metrics.ssim(a, 1 - a, data_range=1.0) < 0
    blurred = (a + np.roll(a, 1, axis=0)) / 2
    assert 0 < metrics.ssim(a, blurred, data_range=1.0) < 1


@pytest.mark.parametrize("shape", [(3, 3), (3, 8), (4, 6), (6, 6, 3), (9, 5, 1)])
def test_ssim_chooses_a_window_that_fits_small_images(shape):
    a = np.random.default_rng(1).random(shape)
    assert metrics.ssim(a, a, data_range=1.0) == pytest.approx(1.0)
    assert metrics.ssim(a, a * 0.5, data_range=1.0) < 1.0


def test_ssim_matches_scikit_image_on_a_large_image():
    from skimage.metrics import structural_similarity

    a, b = np.random.default_rng(2).random((2, 20, 24))
    assert metrics.ssim(a, b, data_range=1.0) == pytest.approx(structural_similarity(a, b, data_range=1.0))


def test_ssim_data_range_is_a_required_keyword():
    a = np.zeros((8, 8))
    with pytest.raises(TypeError, match="data_range"):
        metrics.ssim(a, a)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        metrics.ssim(a, a, 1.0)  # type: ignore[misc]


# ------------------------------------------------------------------ colour
@pytest.mark.parametrize("name", metrics.METRICS)
def test_grey_replicated_into_colour_gives_the_grey_metrics(name):
    grey = 0.5 + 0.4 * stripes(30, size=32) + 0.05 * noise(4, (32, 32))
    f = metrics.metric(name)
    expected = f(grey)
    assert f(grey[..., None]) == pytest.approx(expected, abs=1e-9)
    assert f(np.repeat(grey[..., None], 3, axis=2)) == pytest.approx(expected, abs=1e-9)


def test_ssim_of_grey_replicated_into_colour():
    a, b = np.random.default_rng(5).random((2, 16, 16))
    colour = [np.repeat(x[..., None], 3, axis=2) for x in (a, b)]
    assert metrics.ssim(*colour, data_range=1.0) == pytest.approx(metrics.ssim(a, b, data_range=1.0))


# ------------------------------------------------------------------ registry
def test_metric_returns_each_function_and_summarize_calls_them_all():
    image = stripes(45, size=24)
    summary = metrics.summarize(image, entropy={"bins": 8}, edge_density={"sigma": 2.0})
    assert tuple(summary) == metrics.METRICS
    for name in metrics.METRICS:
        assert metrics.metric(name).__name__ == name
    assert summary["entropy"] == metrics.entropy(image, bins=8)
    assert summary["edge_density"] == metrics.edge_density(image, sigma=2.0)
    assert summary["dominant_orientation"] == metrics.dominant_orientation(image)


def test_unknown_metric_lists_the_choices_and_suggests_the_closest():
    with pytest.raises(ConfigurationError) as info:
        metrics.metric("periodicty")
    message = str(info.value)
    assert "'periodicty'" in message and "did you mean 'periodicity'" in message
    assert all(name in message for name in metrics.METRICS)


GOOD = np.random.default_rng(0).random((8, 8))


@pytest.mark.parametrize(
    ("call", "error", "fragment"),
    [
        (lambda: metrics.entropy(np.zeros(5)), ConfigurationError, r"shape \(5,\); accepted shapes are \(H, W\)"),
        (lambda: metrics.entropy(np.zeros((1, 4, 4, 3))), ConfigurationError, r"shape \(1, 4, 4, 3\)"),
        (lambda: metrics.periodicity(np.zeros((4, 4, 4))), ConfigurationError, r"\(4, 4, 4\).*\(H, W, 3\)"),
        (lambda: metrics.saturation(np.zeros((4, 4, 2))), ConfigurationError, r"\(4, 4, 2\)"),
        (lambda: metrics.total_variation(np.zeros((0, 5))), ConfigurationError, r"\(0, 5\) is too small"),
        (lambda: metrics.edge_density(np.zeros((2, 8))), ConfigurationError, r"\(2, 8\) is too small.*H, W >= 3"),
        (lambda: metrics.high_frequency_ratio(np.full((4, 4), np.nan)), ConfigurationError, r"16 NaN or infinite"),
        (lambda: metrics.entropy(np.where(np.eye(4), np.inf, 0.0)), ConfigurationError, r"\(4, 4\) has 4 NaN"),
        (lambda: metrics.entropy(np.ones((4, 4), complex)), FeatvizTypeError, r"real numbers; got dtype complex128"),
        (lambda: metrics.entropy([["a"] * 4] * 4), FeatvizTypeError, r"got dtype <U1"),
        (lambda: metrics.entropy(None), FeatvizTypeError, r"got dtype object"),
        (
            lambda: metrics.high_frequency_ratio(GOOD, cutoff=0.0),
            ConfigurationError,
            r"cutoff must be a finite number in \(0, 1\); got 0.0",
        ),
        (lambda: metrics.high_frequency_ratio(GOOD, cutoff=1.5), ConfigurationError, r"cutoff must .*; got 1.5"),
        (
            lambda: metrics.high_frequency_ratio(GOOD, cutoff="0.5"),
            FeatvizTypeError,
            r"cutoff must .*; got '0.5' \(str\)",
        ),
        (
            lambda: metrics.total_variation(GOOD, data_range=0),
            ConfigurationError,
            r"data_range must be a finite number > 0; got 0",
        ),
        (lambda: metrics.entropy(GOOD, bins=1), ConfigurationError, r"bins must be an int >= 2; got 1"),
        (lambda: metrics.entropy(GOOD, bins=2.5), FeatvizTypeError, r"bins must be an int >= 2; got 2.5 \(float\)"),
        (lambda: metrics.entropy(GOOD, data_range=1.0), ConfigurationError, r"data_range=1.0 .*\(low, high\)"),
        (
            lambda: metrics.entropy(GOOD, data_range=(1, 0)),
            ConfigurationError,
            r"data_range\[1\] must be a finite number > 1; got 0",
        ),
        (
            lambda: metrics.edge_density(GOOD, sigma=-1),
            ConfigurationError,
            r"sigma must be a finite number >= 0; got -1",
        ),
        (lambda: metrics.dominant_orientation(GOOD, sigma=np.nan), ConfigurationError, r"sigma must .*; got nan"),
        (
            lambda: metrics.saturation(GOOD, low=1.0, high=1.0),
            ConfigurationError,
            r"value_range high must be a finite number > 1; got 1.0",
        ),
        (lambda: metrics.saturation(GOOD, atol=-1e-3), ConfigurationError, r"atol must .*; got -0.001"),
        (lambda: metrics.ssim(GOOD, GOOD, data_range=None), ConfigurationError, r"needs data_range"),
        (lambda: metrics.ssim(GOOD, GOOD[:6], data_range=1.0), ConfigurationError, r"\(8, 8\) and image_b \(6, 8\)"),
        (lambda: metrics.ssim(GOOD, np.zeros(3), data_range=1.0), ConfigurationError, r"image_b has shape \(3,\)"),
        (lambda: metrics.summarize(GOOD, sigma=1.0), ConfigurationError, r"metric='sigma' is not one of"),
        (lambda: metrics.summarize(GOOD, entropy=8), FeatvizTypeError, r"options for entropy must be a mapping"),
        (lambda: metrics.summarize(GOOD, entropy={"bin": 8}), TypeError, r"bin"),
        (lambda: metrics.metric(3), ConfigurationError, r"metric=3 is not one of"),
    ],
)
def test_bad_arguments_are_named_with_the_valid_choices(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()


# ------------------------------------------------------------------ properties
RANGES = {
    "high_frequency_ratio": (0.0, 1.0),
    "total_variation": (0.0, 1.0),
    "edge_density": (0.0, 1.0),
    "orientation_coherence": (0.0, 1.0),
    "dominant_orientation": (0.0, 180.0),
    "entropy": (0.0, 8.0),
    "periodicity": (0.0, 1.0),
    "saturation": (0.0, 1.0),
}

images = st.tuples(st.integers(7, 12), st.integers(7, 12), st.sampled_from([(), (1,), (3,)])).flatmap(
    lambda s: arrays(np.float64, s[:2] + s[2], elements=st.floats(-1e6, 1e6, allow_subnormal=False))
)


@given(images)
def test_metrics_are_finite_and_within_their_documented_ranges(image):
    summary = metrics.summarize(image)
    assert set(summary) == set(RANGES)
    for name, value in summary.items():
        low, high = RANGES[name]
        assert isinstance(value, float) and np.isfinite(value), name
        assert low <= value <= high, (name, value)
    assert summary["dominant_orientation"] < 180.0


@given(images, st.integers(1, 3))
def test_rotating_by_quarter_turns_turns_the_orientation(image, quarters):
    rotated = np.rot90(image, quarters)  # counter-clockwise, as a person sees it
    coherence = metrics.orientation_coherence(image)
    assert metrics.orientation_coherence(rotated) == pytest.approx(coherence, abs=1e-9)
    assume(coherence > 1e-3)
    expected = metrics.dominant_orientation(image) + 90.0 * quarters
    assert angle_error(metrics.dominant_orientation(rotated), expected) < 1e-3
