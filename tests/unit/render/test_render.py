"""Tests of pytest_featviz.render: exact pixel values for known inputs, layout, files, errors."""

from __future__ import annotations

import base64
import io
import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from pytest_featviz import render
from pytest_featviz.errors import ConfigurationError, FeatvizTypeError
from pytest_featviz.render import data_uri, difference, grid, png_bytes, save_png, to_image, to_uint8


# -- to_uint8 ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "value_range", "expected"),
    [
        (0.0, (0, 1), 0),
        (1.0, (0, 1), 255),
        (0.5, (0, 1), 128),  # rounding is half up: 127.5 -> 128
        (0.25, (0, 1), 64),  # 63.75 -> 64
        (1.5, (0, 1), 255),  # clipped above
        (-0.5, (0, 1), 0),  # clipped below
        (0.0, (-1, 1), 128),
        (-1.0, (-1, 1), 0),
        (100.0, (0, 255), 100),
    ],
)
def test_to_uint8_known_values(value, value_range, expected):
    out = to_uint8(np.array([value]), value_range=value_range)
    assert out.dtype == np.uint8
    assert int(out[0]) == expected


def test_to_uint8_keeps_the_shape():
    x = np.linspace(0, 1, 24).reshape(2, 3, 4)
    assert to_uint8(x).shape == (2, 3, 4)


def test_stretch_maps_the_image_min_and_max_to_black_and_white_and_none_does_not():
    x = np.array([0.25, 0.375, 0.5])
    assert to_uint8(x).tolist() == [64, 96, 128]
    assert to_uint8(x, contrast="stretch").tolist() == [0, 128, 255]


def test_stretch_is_min_max_so_an_outlier_is_not_clipped():
    x = np.concatenate([np.linspace(0.0, 0.1, 100), [0.9]])
    out = to_uint8(x, contrast="stretch")
    assert out[0] == 0 and out[-1] == 255
    # a percentile stretch would push the bulk near 0.1 up to white; min/max keeps it at 0.1 / 0.9
    assert out[:-1].max() == 28


def test_stretch_of_a_constant_image_uses_the_value_range():
    assert to_uint8(np.full(3, 0.5), contrast="stretch").tolist() == [128, 128, 128]


@given(hnp.arrays(np.float64, st.integers(1, 20), elements=st.floats(-2, 3)))
def test_to_uint8_is_within_half_a_level_of_the_clipped_value(x):
    out = to_uint8(x).astype(np.float64)
    assert np.all(np.abs(out / 255 - np.clip(x, 0, 1)) <= 0.5 / 255 + 1e-12)
    order = np.argsort(x, kind="stable")
    assert np.all(np.diff(out[order]) >= 0)


# -- to_image ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("shape", "kwargs", "expected"),
    [
        ((28, 28), {}, (28, 28)),
        ((28, 28, 1), {}, (28, 28)),
        ((8, 6, 3), {}, (8, 6, 3)),
        ((8, 6, 2), {}, (8, 6)),
        ((8, 6, 4), {}, (8, 6)),
        ((10,), {}, (32, 10)),
        ((10,), {"strip_height": 5}, (5, 10)),
    ],
)
def test_each_rank_renders_with_the_expected_shape(shape, kwargs, expected):
    out = to_image(np.full(shape, 0.5), **kwargs)
    assert out.shape == expected
    assert out.dtype == np.uint8


def test_grey_rgb_and_other_channel_values():
    assert to_image(np.full((2, 2, 1), 0.25))[0, 0] == 64
    assert to_image(np.array([[[1.0, 0.0, 0.5]]]))[0, 0].tolist() == [255, 0, 128]
    # two channels: the mean, (0 + 1) / 2 -> 128
    assert to_image(np.array([[[0.0, 1.0]]]))[0, 0] == 128


def test_rgb_stretch_keeps_the_colour_balance():
    out = to_image(np.array([[[0.25, 0.375, 0.5]]]), contrast="stretch")
    assert out[0, 0].tolist() == [0, 128, 255]


def test_a_vector_is_a_bar_chart_whose_bar_heights_follow_the_values():
    out = to_image(np.array([0.0, 1.0, 0.5, 0.25]), strip_height=8)
    bars = (out == 0).sum(axis=0)
    assert bars.tolist() == [0, 8, 4, 2]
    assert set(np.unique(out).tolist()) == {0, 230}
    # bars grow from the bottom
    assert out[-1, 3] == 0 and out[-3, 3] == 230


# -- grid --------------------------------------------------------------------------------------
def test_grid_places_each_tile_at_its_row_and_column():
    batch = np.stack([np.full((4, 3), i / 4) for i in range(5)])
    out = grid(batch, columns=3, padding=2, scale=2)
    assert out.shape == (2 + 2 * (8 + 2), 2 + 3 * (6 + 2))
    for i in range(5):
        top, left = 2 + (i // 3) * 10, 2 + (i % 3) * 8
        tile = out[top : top + 8, left : left + 6]
        assert np.all(tile == to_uint8(np.array(i / 4))), i
    assert np.all(out[12:20, 18:24] == 255)  # the sixth slot is empty
    assert np.all(out[:2] == 255) and np.all(out[:, 8:10] == 255)  # padding


def test_grid_upscales_with_nearest_neighbour():
    tile = np.array([[0.0, 1.0], [1.0, 0.0]])
    out = grid(tile[None], padding=0, scale=3)
    expected = np.kron(to_uint8(tile), np.ones((3, 3), np.uint8))
    np.testing.assert_array_equal(out, expected)


def test_grid_default_scale_and_columns():
    out = grid(np.zeros((5, 28, 28)))
    # 28x28 tiles become 84x84; ceil(sqrt(5)) = 3 columns, 2 rows
    assert out.shape == (2 + 2 * (84 + 2), 2 + 3 * (84 + 2))


def test_grid_of_rgb_items_is_rgb():
    batch = np.zeros((2, 3, 3, 3))
    batch[1, ..., 0] = 1.0
    out = grid(batch, columns=2, padding=1, scale=1)
    assert out.shape == (5, 9, 3)
    assert out[2, 6].tolist() == [255, 0, 0]
    assert out[2, 2].tolist() == [0, 0, 0]
    assert out[0, 0].tolist() == [255, 255, 255]


def test_grid_stretches_each_tile_on_its_own():
    batch = np.stack([np.linspace(0.1, 0.2, 4).reshape(2, 2), np.linspace(0.5, 0.6, 4).reshape(2, 2)])
    out = grid(batch, contrast="stretch", columns=2, padding=0, scale=1)
    assert out[:, :2].min() == 0 and out[:, :2].max() == 255
    assert out[:, 2:].min() == 0 and out[:, 2:].max() == 255


def test_labels_draw_in_a_band_above_each_tile_and_leave_the_tiles_alone():
    batch = np.full((2, 28, 28), 0.5)
    plain = grid(batch, padding=2)
    labelled = grid(batch, labels=["seven", "one"], padding=2)
    band = render.layout.LABEL_BAND
    assert labelled.shape == (plain.shape[0] + band, plain.shape[1])
    np.testing.assert_array_equal(labelled[2 + band :], plain[2:])
    for left in (2, 2 + 84 + 2):
        strip = labelled[2 : 2 + band, left : left + 84]
        assert np.count_nonzero(strip != 255) > 10
        assert strip.min() == 0  # dark text on a light background


def test_labels_differ_by_text_and_an_empty_label_leaves_the_band_blank():
    batch = np.zeros((2, 28, 28))
    out = grid(batch, labels=["", "dog"], padding=0)
    band = render.layout.LABEL_BAND
    assert np.all(out[:band, :84] == 255)
    assert np.any(out[:band, 84:] != 255)
    other = grid(batch, labels=["", "cat"], padding=0)
    assert np.any(other[:band] != out[:band])


def test_labels_may_be_a_1d_array_of_numbers_or_texts():
    batch = np.zeros((3, 8, 8))
    values = np.array([0.5, 1.25, 3.0])
    np.testing.assert_array_equal(grid(batch, labels=values), grid(batch, labels=["0.5", "1.25", "3.0"]))
    np.testing.assert_array_equal(grid(batch, labels=np.array(["a", "b", "c"])), grid(batch, labels=["a", "b", "c"]))
    with pytest.raises(FeatvizTypeError, match="1-D array"):
        grid(batch, labels=np.zeros((3, 1)))


def test_a_long_label_is_cut_to_its_tile_and_text_is_light_on_a_dark_background():
    out = grid(np.zeros((2, 4, 4)), labels=["W" * 50, ""], scale=5, padding=2, background=0)
    band = render.layout.LABEL_BAND
    assert out[2 : 2 + band, 2:22].max() == 255  # white text
    assert np.all(out[2 : 2 + band, 20:] == 0)  # cut 2 px short of the tile's right edge


def test_labels_outside_latin_1_are_drawn_as_question_marks():
    arrows = grid(np.zeros((1, 28, 28)), labels=["\u2192"])
    marks = grid(np.zeros((1, 28, 28)), labels=["?"])
    np.testing.assert_array_equal(arrows, marks)


def test_grid_of_vectors_draws_bar_strips():
    out = grid(np.array([[0.0, 1.0], [1.0, 1.0]]), columns=2, padding=0, scale=1, strip_height=4)
    assert out.shape == (4, 4)
    assert out[:, 0].tolist() == [230] * 4 and out[:, 1:].tolist() == [[0] * 3] * 4


# -- PNG files and embedding -------------------------------------------------------------------
@pytest.mark.parametrize(("shape", "mode"), [((5, 7), "L"), ((5, 7, 3), "RGB")])
def test_png_round_trip(tmp_path, shape, mode):
    picture = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    path = save_png(tmp_path / "picture.png", picture)
    assert path == tmp_path / "picture.png"
    with Image.open(path) as image:
        assert image.format == "PNG" and image.mode == mode
        np.testing.assert_array_equal(np.asarray(image), picture)
    with Image.open(io.BytesIO(png_bytes(picture))) as image:
        np.testing.assert_array_equal(np.asarray(image), picture)


def test_save_png_of_a_batch_writes_its_grid(tmp_path):
    batch = np.random.default_rng(1).random((3, 6, 6))
    path = save_png(tmp_path / "grid.png", batch, labels=["a", "b", "c"], columns=2)
    with Image.open(path) as image:
        np.testing.assert_array_equal(np.asarray(image), grid(batch, labels=["a", "b", "c"], columns=2))


def test_save_png_creates_folders_and_leaves_no_temporary_files(tmp_path):
    target = tmp_path / "a" / "b" / "out.png"
    save_png(target, np.zeros((2, 2), np.uint8))
    save_png(target, np.full((2, 2), 255, np.uint8))  # overwrite in place
    assert os.listdir(target.parent) == ["out.png"]
    with Image.open(target) as image:
        assert np.asarray(image).tolist() == [[255, 255], [255, 255]]


def test_a_failed_save_keeps_the_old_file_and_leaves_no_temporary_files(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    save_png(target, np.zeros((2, 2), np.uint8))
    before = target.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)  # what the atomic write moves with
    with pytest.raises(OSError, match="disk full"):
        save_png(target, np.full((2, 2), 255, np.uint8))
    assert os.listdir(tmp_path) == ["out.png"]
    assert target.read_bytes() == before


def test_data_uri_embeds_the_png_bytes():
    picture = np.arange(12, dtype=np.uint8).reshape(3, 4)
    uri = data_uri(picture)
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix)
    assert base64.b64decode(uri[len(prefix) :]) == png_bytes(picture)


# -- difference --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("a", "b", "colour"),
    [
        (1.0, 0.0, [255, 0, 0]),
        (0.0, 1.0, [0, 0, 255]),
        (0.5, 0.5, [255, 255, 255]),
        (0.75, 0.25, [255, 128, 128]),
        (0.25, 0.75, [128, 128, 255]),
        (3.0, 0.0, [255, 0, 0]),  # clipped
    ],
)
def test_difference_colours_at_known_values(a, b, colour):
    out = difference(np.full((2, 3), a), np.full((2, 3), b))
    assert out.shape == (2, 3, 3) and out.dtype == np.uint8
    assert np.all(out == np.array(colour, np.uint8))


def test_difference_scales_with_the_value_range():
    out = difference(np.array([[255.0, 0.0]]), np.array([[0.0, 0.0]]), value_range=(0, 255))
    assert out[0].tolist() == [[255, 0, 0], [255, 255, 255]]


def test_difference_of_channels_shows_the_strongest_channel_change():
    a = np.array([[[0.2, 0.0, 0.0]]])
    b = np.array([[[0.0, 0.5, 0.0]]])
    assert difference(a, b)[0, 0].tolist() == [128, 128, 255]


def test_difference_of_vectors_is_a_strip():
    out = difference(np.array([1.0, 0.0]), np.array([0.0, 0.0]), strip_height=3)
    assert out.shape == (3, 2, 3)
    assert np.all(out[:, 0] == [255, 0, 0]) and np.all(out[:, 1] == 255)


# -- errors ------------------------------------------------------------------------------------
_GOOD = np.zeros((2, 4, 4))
_ERRORS = [
    (to_uint8, ([0.5],), {"contrast": "auto"}, ConfigurationError, "contrast='auto' is not one of 'none', 'stretch'"),
    (to_uint8, ([0.5],), {"value_range": (1, 0)}, ConfigurationError, "low < high; got (1, 0)"),
    (to_uint8, ([0.5],), {"value_range": (0.5, 0.5)}, ConfigurationError, "got (0.5, 0.5)"),
    (to_uint8, ([0.5],), {"value_range": (0, np.inf)}, ConfigurationError, "finite low < high"),
    (to_uint8, ([0.5],), {"value_range": 1.0}, ConfigurationError, "value_range must be (low, high)"),
    (to_uint8, ([0.0, np.nan, np.nan],), {}, ConfigurationError, "2 non-finite value(s) (NaN or inf) out of 3"),
    (to_uint8, ([np.inf, 0.0],), {}, ConfigurationError, "1 non-finite"),
    (to_uint8, ("abc",), {}, FeatvizTypeError, "array of numbers"),
    (to_image, (np.zeros((2, 2, 2, 2)),), {}, ConfigurationError, "shape (2, 2, 2, 2); accepted shapes: (N,)"),
    (to_image, (0.5,), {}, ConfigurationError, "shape ()"),
    (to_image, (np.zeros((0,)),), {}, ConfigurationError, "shape (0,)"),
    (to_image, ([0.5],), {"strip_height": 0}, ConfigurationError, "strip_height must be an int >= 1"),
    (grid, (np.zeros(3),), {}, ConfigurationError, "(B, *input_shape) with B >= 1; got shape (3,)"),
    (grid, (np.zeros((0, 4, 4)),), {}, ConfigurationError, "got shape (0, 4, 4)"),
    (grid, (np.zeros((2, 1, 1, 1, 1)),), {}, ConfigurationError, "an item of shape (1, 1, 1, 1)"),
    (grid, (_GOOD,), {"labels": ["a"]}, ConfigurationError, "labels has 1 entries but the batch has 2"),
    (grid, (_GOOD,), {"labels": "ab"}, FeatvizTypeError, "one text per item"),
    (grid, (_GOOD,), {"columns": 0}, ConfigurationError, "columns must be an int >= 1; got 0"),
    (grid, (_GOOD,), {"columns": 1.5}, FeatvizTypeError, "columns must be an int >= 1; got 1.5 (float)"),
    (grid, (_GOOD,), {"scale": 0}, ConfigurationError, "scale must be an int >= 1"),
    (grid, (_GOOD,), {"padding": -1}, ConfigurationError, "padding must be an int >= 0"),
    (grid, (_GOOD,), {"background": 256}, ConfigurationError, "background must be an int in [0, 255]; got 256"),
    (grid, (_GOOD,), {"contrast": "log"}, ConfigurationError, "contrast='log' is not one of 'none', 'stretch'"),
    (grid, (np.full((1, 2, 2), np.nan),), {}, ConfigurationError, "batch contains 4 non-finite"),
    (difference, (np.zeros((2, 2)), np.zeros((3, 3))), {}, ConfigurationError, "got (2, 2) and (3, 3)"),
    (difference, (np.zeros((2, 2)), np.ones((2, 2))), {"value_range": (2, 1)}, ConfigurationError, "low < high"),
    (png_bytes, (np.zeros((2, 2)),), {}, FeatvizTypeError, "uint8 picture; got dtype float64"),
    (png_bytes, (np.zeros((2, 2, 4), np.uint8),), {}, ConfigurationError, "got shape (2, 2, 4)"),
    (save_png, ("x.png", np.zeros((2, 2), np.uint8)), {"labels": ["a"]}, ConfigurationError, "apply to a batch"),
    (save_png, (3, _GOOD), {}, FeatvizTypeError, "path must be a str or os.PathLike; got int"),
]


@pytest.mark.parametrize(("function", "args", "kwargs", "error", "fragment"), _ERRORS)
def test_bad_calls_raise_errors_that_name_the_value(function, args, kwargs, error, fragment):
    with pytest.raises(error) as info:
        function(*args, **kwargs)
    assert fragment in str(info.value)
    assert not isinstance(info.value, AssertionError)
