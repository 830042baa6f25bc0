"""Image priors: transforms, parametrizations, blur and presets, checked against known answers."""

import numpy as np
import pytest
import scipy.ndimage as ndi

from pytest_featviz.errors import ConfigurationError, FeatvizTypeError
from pytest_featviz.priors import (
    STANDARD,
    BlurEvery,
    Compose,
    Fourier,
    Jitter,
    Pad,
    Pixel,
    Priors,
    RandomRotate,
    RandomScale,
    SigmoidRange,
    resolve_priors,
    standard_priors,
)

tf = pytest.importorskip("tensorflow")

TRANSFORMS = {
    "jitter": Jitter(3),
    "scale": RandomScale([0.8, 1.0, 1.25]),
    "rotate": RandomRotate([-30, 10, 45]),
    "pad+jitter": Compose(Pad(2), Jitter(2)),
    "constant pad+rotate": Pad(3, "constant", value=0.5) + RandomRotate([-20, -7, 7, 20]),
    "standard": STANDARD.transforms,
    "pad between runs": Compose(Jitter(1), Pad(2, "constant"), RandomScale([0.9, 1.1]), Pad(1), Jitter(1)),
}


def image(shape, seed=0):
    return np.random.default_rng(seed).random(shape).astype(np.float32)


def ramp(b, h, w):
    """f(i, j) = 2 i + 3 j: bilinear interpolation reproduces it exactly inside the image."""
    i, j = np.mgrid[:h, :w]
    return np.broadcast_to((2.0 * i + 3.0 * j)[None, :, :, None], (b, h, w, 1)).astype(np.float32)


def high_frequency_share(img, cutoff=0.25):
    """Share of the (mean-removed) power above ``cutoff`` cycles per pixel, per image (H, W)."""
    power = np.abs(np.fft.fft2(img - img.mean())) ** 2
    f = np.hypot(*np.meshgrid(np.fft.fftfreq(img.shape[0]), np.fft.fftfreq(img.shape[1]), indexing="ij"))
    return power[f > cutoff].sum() / power.sum()


def full_bounds(shape, low=0.0, high=1.0):
    return np.full(shape, low), np.full(shape, high)


# -- transforms ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", TRANSFORMS)
@pytest.mark.parametrize("shape", [(3, 12, 10, 3), (2, 9, 9)])
def test_transforms_keep_the_shape_and_are_deterministic_under_a_seed(name, shape):
    t, x = TRANSFORMS[name], image(shape)
    a = t.apply(x, tf.constant([1, 2])).numpy()
    assert a.shape == shape
    np.testing.assert_array_equal(a, t.apply(x, tf.constant([1, 2])).numpy())
    assert not np.array_equal(a, t.apply(x, tf.constant([1, 3])).numpy())
    # the XLA-compatible path computes the same thing
    np.testing.assert_allclose(a, t.apply(x, tf.constant([1, 2]), xla=True).numpy(), atol=1e-6)


def test_pad_alone_grows_the_canvas_and_compose_crops_it_back():
    x = image((1, 5, 6, 2))
    assert Pad(2).apply(x, [0, 0]).shape == (1, 9, 10, 2)
    np.testing.assert_allclose(Pad(2, "constant", value=0.7).apply(x, [0, 0])[0, 0], np.full((10, 2), 0.7))
    np.testing.assert_array_equal(Compose(Pad(2)).apply(x, [0, 0]), x)


def test_batch_items_get_independent_randomness():
    x = np.repeat(image((1, 10, 10, 1)), 8, axis=0)
    out = STANDARD.transforms.apply(x, tf.constant([4, 2])).numpy()
    assert len({out[i].tobytes() for i in range(8)}) >= 6


def find_shift(out, padded, k):
    """The (dy, dx) with ``out == padded shifted by (dy, dx)``, centre-cropped; None if none fits."""
    h, w = out.shape
    hits = [
        (dy, dx)
        for dy in range(-k, k + 1)
        for dx in range(-k, k + 1)
        if np.allclose(out, padded[k - dy : k - dy + h, k - dx : k - dx + w], atol=1e-6)
    ]
    return hits[0] if len(hits) == 1 else None


@pytest.mark.parametrize("mode", ["constant", "edge"])
def test_jitter_by_k_pixels_is_a_whole_pixel_shift_of_the_padded_image(mode):
    k, x = 3, image((24, 7, 8))
    if mode == "constant":
        t, padded = (
            Compose(Pad(k, "constant", value=0.5), Jitter(k)),
            np.pad(x, ((0, 0), (k, k), (k, k)), constant_values=0.5),
        )
    else:  # beyond the edge, the edge pixel repeats
        t, padded = Jitter(k), np.pad(x, ((0, 0), (k, k), (k, k)), mode="edge")
    out = t.apply(x, tf.constant([7, 7])).numpy()
    shifts = [find_shift(out[b], padded[b], k) for b in range(len(x))]
    assert None not in shifts
    assert {dy for dy, _ in shifts} | {dx for _, dx in shifts} >= {-k, k}, "the extremes are drawn"


@pytest.mark.parametrize("mode", ["reflect", "constant"])
def test_a_pad_before_geometry_equals_padding_the_image_first(mode):
    """Compose samples through a pending pad instead of materialising it; same result."""
    x, geometry = image((2, 9, 12, 3)), (RandomScale([0.7]), RandomRotate([25.0]))
    fused = Compose(Pad(3, mode, value=0.2), *geometry).apply(x, [0, 0]).numpy()
    kwargs = {"mode": "reflect"} if mode == "reflect" else {"constant_values": 0.2}
    padded = np.pad(x, ((0, 0), (3, 3), (3, 3), (0, 0)), **kwargs)
    want = Compose(*geometry).apply(padded, [0, 0]).numpy()[:, 3:-3, 3:-3]
    np.testing.assert_allclose(fused, want, atol=1e-5)


@pytest.mark.parametrize("size", [6, 7])
@pytest.mark.parametrize("degrees,turns", [(90, 1), (-90, -1), (180, 2)])
def test_rotation_by_quarter_turns_equals_rot90(size, degrees, turns):
    x = image((2, size, size, 3))
    out = RandomRotate([degrees]).apply(x, [0, 0]).numpy()
    np.testing.assert_allclose(out, np.rot90(x, turns, axes=(1, 2)), atol=1e-5)


def test_scale_and_rotation_resample_a_ramp_exactly_about_the_centre():
    x = ramp(1, 15, 15)
    c = 7.0
    i, j = np.mgrid[:15, :15] - c
    zoom = RandomScale([2.0]).apply(x, [0, 0]).numpy()[0, ..., 0]
    np.testing.assert_allclose(zoom, 2 * (c + i / 2) + 3 * (c + j / 2), atol=1e-4)
    th = np.deg2rad(10.0)
    turned = RandomRotate([10.0]).apply(x, [0, 0]).numpy()[0, ..., 0]
    want = 2 * (c + np.cos(th) * i + np.sin(th) * j) + 3 * (c - np.sin(th) * i + np.cos(th) * j)
    inner = (slice(3, -3), slice(3, -3))  # rotated corners leave the image
    np.testing.assert_allclose(turned[inner], want[inner], atol=1e-3)


def test_compose_applies_in_order_with_the_geometry_fused():
    # On the row index x[i, j] = i, zoom x2 about the centre c gives c + (i - c) / 2; a jitter
    # d before the zoom offsets that by -d (whole pixels), a jitter after it by -d / 2.
    c = 10.0
    x = np.broadcast_to(np.arange(21, dtype=np.float32)[None, :, None, None], (32, 21, 21, 1))
    zoomed = c + (np.arange(21) - c) / 2
    offsets = {}
    for name, t in {
        "first": Compose(Jitter(1), RandomScale([2.0])),
        "last": Compose(RandomScale([2.0]), Jitter(1)),
    }.items():
        out = t.apply(x, tf.constant([3, 3])).numpy()[:, 5:16, 10, 0] - zoomed[5:16]
        assert np.allclose(out, out[:, :1], atol=1e-4), "a zoomed ramp, shifted"
        offsets[name] = set(np.round(out[:, 0], 4))
    assert offsets["first"] == {-1.0, 0.0, 1.0}
    assert offsets["last"] == {-0.5, 0.0, 0.5}


@pytest.mark.parametrize("name", TRANSFORMS)
@pytest.mark.parametrize("xla", [False, True])
def test_gradients_are_the_exact_transpose_of_the_transform(name, xla):
    """For a fixed seed each transform is linear (affine with a constant pad): the gradient
    of <T(x), g> is T^T g, so <T(x) - T(0), g> == <x, grad>."""
    t, x, seed = TRANSFORMS[name], tf.constant(image((2, 10, 11, 3))), tf.constant([5, 1])
    g = tf.constant(image((2, 10, 11, 3), seed=1))
    with tf.GradientTape() as tape:
        tape.watch(x)
        inner = tf.reduce_sum(t.apply(x, seed, xla=xla) * g)
    grad = tape.gradient(inner, x)
    assert grad is not None and np.isfinite(grad.numpy()).all() and np.abs(grad.numpy()).sum() > 0
    offset = tf.reduce_sum(t.apply(tf.zeros_like(x), seed, xla=xla) * g)
    np.testing.assert_allclose(float(inner - offset), float(tf.reduce_sum(x * grad)), rtol=1e-4)


def test_transforms_compile_with_xla_inside_a_while_loop():
    x0 = image((2, 12, 12, 3))

    @tf.function(jit_compile=True)
    def run(x):
        def body(t, x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                v = tf.reduce_sum(STANDARD.transforms.apply(x, tf.stack([t, 0]), xla=True) ** 2)
            return t + 1, x - 0.01 * tape.gradient(v, x)

        return tf.while_loop(lambda t, x: t < 3, body, (tf.constant(0), x))[1]

    out = run(tf.constant(x0)).numpy()
    assert out.shape == x0.shape and np.isfinite(out).all() and not np.allclose(out, x0)


# -- parametrizations ------------------------------------------------------------------------


@pytest.mark.parametrize("param", [Pixel(), SigmoidRange(), Fourier(), Fourier(decorrelate=False, decay=0.5)])
@pytest.mark.parametrize("shape", [(2, 8, 9, 3), (2, 8, 8)])
def test_gradients_flow_through_every_parametrization(param, shape):
    low, high = full_bounds(shape)
    p = tf.constant(param.init(image(shape) * 0.8 + 0.1, low, high))
    assert tuple(p.shape) == param.param_shape(shape)
    with tf.GradientTape() as tape:
        tape.watch(p)
        x = param.to_input(p, tf.constant(low, tf.float32), tf.constant(high, tf.float32))
        v = tf.reduce_sum(x * tf.constant(image(shape, 3)))
    assert tuple(x.shape) == shape
    grad = tape.gradient(v, p).numpy()
    assert np.isfinite(grad).all() and np.abs(grad).sum() > 0


def test_sigmoid_range_maps_into_the_box_and_inverts():
    low, high = np.array([[-1.0, 0.0, 2.0]]), np.array([[1.0, 0.5, 2.0]])  # last entry frozen
    s = SigmoidRange()
    x = s.to_input(tf.constant([[-30.0, 0.0, 5.0]]), low, high).numpy()
    assert np.all(x >= low) and np.all(x <= high)
    np.testing.assert_allclose(x, [[-1.0, 0.25, 2.0]], atol=1e-6)
    x0 = np.array([[0.3, 0.1, 2.0]])
    np.testing.assert_allclose(s.to_input(s.init(x0, low, high), low, high), x0, atol=1e-6)
    fixed = SigmoidRange(0.0, 4.0)  # its own range wins over the box
    assert 0.0 < fixed.to_input(tf.constant([[-5.0]]), None, None).numpy()[0, 0] < 0.03


@pytest.mark.parametrize("decorrelate", [True, False])
@pytest.mark.parametrize("shape", [(2, 16, 15, 3), (1, 12, 12, 1), (1, 10, 13)])
def test_fourier_init_then_to_input_returns_the_image(decorrelate, shape):
    i, j = np.mgrid[: shape[1], : shape[2]]
    smooth = 0.5 + 0.3 * np.sin(2 * np.pi * i / shape[1]) * np.cos(np.pi * j / shape[2])
    rough = image(shape) * 0.9 + 0.05  # the map is an exact inverse, not only for smooth images
    f, (low, high) = Fourier(decorrelate=decorrelate), full_bounds(shape)
    for x0 in (np.broadcast_to(smooth.reshape(shape[1:3] + (1,) * (len(shape) - 3)), shape), rough):
        np.testing.assert_allclose(f.to_input(f.init(x0, low, high), low, high), x0, atol=1e-5)


def test_fourier_without_bounds_is_linear_and_clips_only_through_the_sigmoid():
    shape = (1, 8, 8, 1)
    f, x0 = Fourier(), 3.0 * image(shape) - 1.0
    low, high = full_bounds(shape, -np.inf, np.inf)
    np.testing.assert_allclose(f.to_input(f.init(x0, low, high), low, high), x0, atol=1e-5)
    # inside a box, targets at the bounds come back within 0.001 of the range
    low, high = full_bounds(shape)
    back = f.to_input(f.init(np.clip(x0, 0, 1), low, high), low, high).numpy()
    np.testing.assert_allclose(back, np.clip(x0, 0.001, 0.999), atol=1e-5)


def test_fourier_images_have_less_high_frequency_energy_than_pixel_noise():
    shape = (4, 32, 32, 1)
    low, high = full_bounds(shape, -np.inf, np.inf)
    rng = np.random.default_rng(0)
    shares = {}
    for decay in (0.0, 1.0, 2.0):
        f = Fourier(decay=decay)
        img = f.to_input(rng.standard_normal(f.param_shape(shape)).astype(np.float32), low, high).numpy()
        shares[decay] = np.mean([high_frequency_share(im[..., 0]) for im in img])
        assert 0.6 < img.std() < 1.4, "white parameters give about unit-variance pixels"
    noise = np.mean([high_frequency_share(im) for im in rng.random((4, 32, 32))])
    assert abs(shares[0.0] - noise) < 0.05, "decay 0 is white noise"
    assert shares[1.0] < 0.5 * noise and shares[2.0] < shares[1.0]


def test_fourier_draw_is_seeded_pink_noise_around_the_middle_of_the_box():
    shape = (2, 16, 16, 3)
    f, (low, high) = Fourier(), full_bounds(shape)
    a = f.draw(low, high, seed=1)
    np.testing.assert_array_equal(a, f.draw(low, high, seed=1))
    assert not np.array_equal(a, f.draw(low, high, seed=2))
    x = f.to_input(a, low, high).numpy()
    assert abs(x.mean() - 0.5) < 0.05 and 0.05 < x.std() < 0.25 and 0 < x.min() and x.max() < 1
    grey = Fourier(start_std=0.01)  # Lucid's start
    assert np.abs(grey.to_input(grey.draw(low, high, seed=1), low, high).numpy() - 0.5).max() < 0.05
    assert Pixel().draw(low, high, seed=1) is None


def test_fourier_decorrelation_mixes_the_colour_channels():
    shape = (1, 8, 8, 3)
    low, high = full_bounds(shape, -np.inf, np.inf)
    p = np.zeros(Fourier().param_shape(shape), np.float32)
    p[0, 0, 0, 0, 0] = 1.0  # DC of the first decorrelated channel
    mixed = Fourier().to_input(p, low, high).numpy()[0, 0, 0]
    plain = Fourier(decorrelate=False).to_input(p, low, high).numpy()[0, 0, 0]
    assert plain[1] == plain[2] == 0 and np.all(mixed > 0), "the first component is the luminance"


# -- blur ------------------------------------------------------------------------------------


def test_blur_matches_scipy_gaussian_filter_with_mirrored_borders():
    x = image((2, 12, 11, 3))
    got = BlurEvery(1, sigma=1.0).apply(x).numpy()
    want = ndi.gaussian_filter(x, sigma=(0, 1.0, 1.0, 0), mode="mirror", truncate=3.0)
    np.testing.assert_allclose(got, want, atol=1e-5)
    np.testing.assert_allclose(BlurEvery(1).apply(np.full((1, 6, 6), 0.3, np.float32)), 0.3, atol=1e-6)


def test_fourier_blur_is_a_periodic_gaussian_blur_of_the_image():
    shape = (1, 16, 16, 1)
    low, high = full_bounds(shape, -np.inf, np.inf)
    f, p = Fourier(), tf.constant(np.random.default_rng(0).standard_normal(Fourier().param_shape(shape)), tf.float32)
    blurred = f.to_input(f.blur(p, 1.5, low, high), low, high).numpy()
    want = ndi.gaussian_filter(f.to_input(p, low, high).numpy(), sigma=(0, 1.5, 1.5, 0), mode="wrap")
    np.testing.assert_allclose(blurred, want, atol=0.02 * np.abs(want).max())


def test_blur_every_n_steps_touches_only_those_steps():
    shape = (1, 8, 8, 1)
    low, high = full_bounds(shape)
    b, p = BlurEvery(3, sigma=1.0), tf.constant(image(shape))
    changed = [not np.array_equal(b.step(p, tf.constant(t), Pixel(), low, high), p) for t in range(7)]
    assert changed == [False, False, True, False, False, True, False]


# -- presets and checks ------------------------------------------------------------------------


def test_the_standard_preset_is_what_its_docstring_says():
    pad, jitter, scale, rotate, jitter2 = STANDARD.transforms.transforms
    assert (pad, jitter, jitter2) == (Pad(8, "reflect"), Jitter(8), Jitter(4))
    assert min(scale.scales) == pytest.approx(0.9) and max(scale.scales) == pytest.approx(1.1)
    assert rotate.degrees == pytest.approx([float(d) for d in range(-10, 11, 2)])
    assert STANDARD.parametrization == Fourier(decay=0.5, decorrelate=True) and STANDARD.blur is None
    assert (Fourier().optimizer, Fourier().lr, Pixel().optimizer, Pixel().lr) == ("pgd", 0.3, "adam", None)


@pytest.mark.parametrize(
    "side,pad,jitter2,scale,degrees",
    [
        (8, 1, 1, None, None),
        (15, 1, 1, None, None),
        (16, 1, 1, 0.0125, 1.25),
        (32, 2, 1, 0.025, 2.5),
        (64, 4, 2, 0.05, 5.0),
        (128, 8, 4, 0.1, 10.0),
        (500, 8, 4, 0.1, 10.0),
    ],
)
def test_standard_transforms_grow_with_the_image_up_to_lucids_at_128_pixels(side, pad, jitter2, scale, degrees):
    ts = standard_priors((side, side + 7)).transforms.transforms
    assert (ts[0], ts[1], ts[-1]) == (Pad(pad, "reflect"), Jitter(pad), Jitter(jitter2))
    if scale is None:
        assert len(ts) == 3
    else:
        assert ts[2].scales == pytest.approx(np.linspace(1 - scale, 1 + scale, 11))
        assert ts[3].degrees == pytest.approx(np.linspace(-degrees, degrees, 11))


@pytest.mark.parametrize(
    "shape,param",
    [
        ((28, 28), Fourier()),
        ((32, 32, 3), Fourier()),
        ((16, 16, 4), Fourier(decorrelate=False)),
        ((64,), Pixel()),
        ((4, 4, 3), Pixel()),
    ],
)
def test_standard_adapts_to_the_input(shape, param):
    priors = resolve_priors("standard", input_shape=shape)
    assert priors.parametrization == param
    assert bool(priors.transforms.transforms) == (param != Pixel())


def test_priors_are_hashable_keys_of_their_structure():
    a = Priors(transforms=[Jitter(2)], parametrization=Fourier())
    b = Priors(transforms=Compose(Jitter(2)), parametrization=Fourier())
    assert a == b and hash(a.structure()) == hash(b.structure())
    assert a.structure() != Priors(transforms=[Jitter(3)], parametrization=Fourier()).structure()
    assert (
        len({STANDARD.structure(), standard_priors((128, 128)).structure(), standard_priors((200, 300, 3)).structure()})
        == 1
    )
    assert standard_priors((28, 28)).structure() != STANDARD.structure()


def test_unknown_preset_names_the_choices():
    with pytest.raises(ConfigurationError, match=r"priors='fancy' is not one of 'none', 'standard'"):
        resolve_priors("fancy")
    assert resolve_priors(None) == resolve_priors("none") == Priors()
    with pytest.raises(FeatvizTypeError, match="priors must be None"):
        resolve_priors(3)


@pytest.mark.parametrize(
    "call,error,match",
    [
        (lambda: Pad(-1), ConfigurationError, "Pad pixels must be an int >= 0; got -1"),
        (lambda: Pad(2, "wrap"), ConfigurationError, "Pad mode='wrap' is not one of 'constant', 'reflect'"),
        (lambda: Pad(2, "constant", value=float("nan")), ConfigurationError, "Pad value must be a finite number"),
        (lambda: Jitter(1.5), FeatvizTypeError, r"Jitter pixels must be an int >= 0; got 1.5 \(float\)"),
        (lambda: RandomScale([]), ConfigurationError, "non-empty sequence of positive finite numbers"),
        (lambda: RandomScale([1.0, 0.0]), ConfigurationError, "positive finite"),
        (lambda: RandomRotate(["a"]), FeatvizTypeError, "RandomRotate degrees must be a sequence of numbers"),
        (lambda: Compose(Jitter(1), 3), FeatvizTypeError, "Compose takes transforms such as Jitter"),
        (lambda: SigmoidRange(1.0, 0.0), ConfigurationError, "low=1.0 must be below high=0.0"),
        (lambda: Fourier(decay=-1), ConfigurationError, "decay must be a finite number >= 0"),
        (lambda: Fourier(start_std=float("nan")), ConfigurationError, "start_std must be a finite number >= 0"),
        (lambda: BlurEvery(0), ConfigurationError, "BlurEvery n must be an int >= 1; got 0"),
        (lambda: BlurEvery(2, sigma=0), ConfigurationError, "BlurEvery sigma must be a finite number > 0; got 0"),
        (lambda: Priors(parametrization="fourier"), FeatvizTypeError, "parametrization must be"),
        (lambda: Priors(transforms=[Jitter(1)]).check((10,)), ConfigurationError, r"input shape is \(10,\)"),
        (lambda: Priors(blur=BlurEvery(2)).check((10,)), ConfigurationError, "needs an image input"),
        (lambda: Priors(transforms=[Pad(8)]).check((8, 8)), ConfigurationError, "needs pixels < 8 for a 8x8"),
        (lambda: Priors(parametrization=Fourier()).check((8, 8, 2)), ConfigurationError, "decorrelate=False"),
        (
            lambda: Priors(parametrization=SigmoidRange()).validate(*full_bounds((1, 3), 0, np.inf)),
            ConfigurationError,
            "SigmoidRange\\(\\) needs finite bounds",
        ),
        (
            lambda: Jitter(1).apply(np.zeros((2, 3), np.float32), [0, 0]),
            ConfigurationError,
            r"need a \(B, H, W\) or \(B, H, W, C\) input; got shape \(2, 3\)",
        ),
    ],
)
def test_bad_arguments_raise_errors_that_name_the_value(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_the_compiled_pieces_of_the_priors_run_as_written_not_converted_by_autograph(monkeypatch):
    """The bilinear taps and the Fourier image are compiled with XLA and, like the ascent loop, without
    autograph, which would trace a converted copy of every function they call (from a generated file)."""
    import sys

    from pytest_featviz.priors import parametrizations
    from pytest_featviz.priors import warp as warp_module

    callers = set()

    def recorded(fn):
        def inner(*args, **kwargs):
            callers.add(sys._getframe(1).f_code.co_filename)
            return fn(*args, **kwargs)

        return inner

    monkeypatch.setattr(warp_module, "axis_taps", recorded(warp_module.axis_taps))
    monkeypatch.setattr(parametrizations, "_squash", recorded(parametrizations._squash))
    monkeypatch.setattr(warp_module, "_JIT_CACHE", {})  # traced afresh
    x = image((2, 17, 19, 3))  # a size no other test uses: traced here
    STANDARD.transforms.apply(x, tf.constant([1, 2]))
    low, high = full_bounds(x.shape)
    Fourier().to_input(Fourier().draw(low, high, seed=0), low, high)
    assert callers == {warp_module.__file__, parametrizations.__file__}
