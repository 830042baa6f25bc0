"""Baselines: capture/save/load/compare against known answers (the whole gate workflow: tests/integration/test_baseline_workflow.py)."""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pytest

import pytest_featviz as fv
from pytest_featviz import baselines
from pytest_featviz._pytest.fixture import Featviz
from pytest_featviz._pytest.settings import Settings
from pytest_featviz.baselines import BaselineFormatError, capture, compare, load, save
from pytest_featviz.claims import TestContext
from pytest_featviz.errors import ConfigurationError, FeatvizTypeError


def pictures(count=4, side=8, seed=0):
    """Binary random pictures: distinct items have SSIM near 0 with each other."""
    return (np.random.default_rng(seed).random((count, side, side)) > 0.5).astype(np.float32)


@dataclass
class FakeResult:
    """The attributes of an AscentResult that baselines read (baselines know nothing of TF)."""

    inputs: np.ndarray
    values: np.ndarray
    reached: np.ndarray | None = None
    constraints: fv.Constraint = fv.Box(0.0, 2.0)
    start: np.ndarray | None = None
    seed: int = 7


def result(inputs=None, values=(1.0, 2.0, 3.0, 4.0), reached=None):
    inputs = pictures() if inputs is None else inputs
    return FakeResult(inputs, np.asarray(values, dtype=np.float64), None if reached is None else np.asarray(reached))


# -- compare: known answers ------------------------------------------------------------------
def test_an_exact_match_passes_with_ssim_one_and_no_change():
    r = result(reached=[True, False, True, True])
    c = compare(r, capture(r))
    assert c.passed and c.problem is None
    assert c.mapping == (0, 1, 2, 3)
    assert np.array_equal(c.ssim, np.ones(4))
    assert np.array_equal(c.value_change, np.zeros(4)) and np.array_equal(c.max_input_change, np.zeros(4))
    assert set(c.metric_deltas) == set(fv.metrics.METRICS)
    assert all(np.array_equal(d, np.zeros(4)) for d in c.metric_deltas.values())


def test_a_changed_picture_fails_only_its_own_item_and_the_account_names_it():
    expected = capture(result())
    changed = result()
    changed.inputs = changed.inputs.copy()
    changed.inputs[2] = 1.0 - changed.inputs[2]  # inverted: SSIM far below 0
    c = compare(changed, expected)
    assert not c.passed
    assert c.failing.tolist() == [False, False, True, False]
    assert c.ssim[2] < 0 and c.max_input_change[2] == 1.0
    text = c.describe()
    assert text.startswith(
        "1 of 4 items differ from the baseline (min_ssim=0.95, value_rtol=0.05, value_atol=1e-06, match='index')"
    )
    assert f"  2     2              {c.ssim[2]:<7.4f} !" in text
    assert "metric deltas: high_frequency_ratio" in text


@pytest.mark.parametrize(("new_value", "passed"), [(2.0 * 1.04, True), (2.0 * 1.06, False), (2.0 * 0.94, False)])
def test_values_fail_beyond_value_rtol_relative_to_the_baseline(new_value, passed):
    expected = capture(result())
    c = compare(result(values=(1.0, new_value, 3.0, 4.0)), expected)
    assert c.passed is passed
    assert c.value_change[1] == pytest.approx(abs(new_value - 2.0) / 2.0)
    assert c.failing.tolist() == [False, not passed, False, False]


@pytest.mark.parametrize(
    ("new_value", "atol", "passed"),
    [
        (5e-7, None, True),
        (2e-6, None, False),
        (5e-7, 0.0, False),
        (0.0, 0.0, True),
        (0.01, 0.02, True),
    ],
)
def test_a_dead_unit_baseline_of_zero_tolerates_float_noise_within_value_atol(new_value, atol, passed):
    expected = capture(result(values=(0.0, 2.0, 3.0, 4.0)))
    options = {} if atol is None else {"value_atol": atol}
    c = compare(result(values=(new_value, 2.0, 3.0, 4.0)), expected, **options)
    assert c.passed is passed and c.failing.tolist() == [not passed, False, False, False]
    row = c.describe().splitlines()[2]  # item 0
    assert row.split()[:4] == ["0", "0", "1.0000", "0"] and ("!" in row) is not passed


def test_infinite_values_match_the_same_infinity_only():
    expected = capture(result(values=(np.inf, -np.inf, 3.0, 4.0)))
    assert compare(result(values=(np.inf, -np.inf, 3.0, 4.0)), expected).passed
    assert compare(result(values=(-np.inf, -np.inf, 3.0, 4.0)), expected).failing.tolist() == [
        True,
        False,
        False,
        False,
    ]


def test_nan_values_match_nan_and_nothing_else():
    expected = capture(result(values=(np.nan, 2.0, 3.0, 4.0)))
    assert compare(result(values=(np.nan, 2.0, 3.0, 4.0)), expected).passed
    c = compare(result(values=(1.0, np.nan, 3.0, 4.0)), expected)
    assert c.value_change[:2].tolist() == [np.inf, np.inf] and not c.passed


def test_a_flipped_reached_flag_fails():
    expected = capture(result(reached=[True, True, False, True]))
    c = compare(result(reached=[True, False, False, True]), expected)
    assert c.failing.tolist() == [False, True, False, False]
    assert "yes->no !" in c.describe()


def test_permutation_matching_passes_where_index_matching_fails_and_reports_the_mapping():
    expected = capture(result(reached=[True, False, True, False]))
    order = [2, 0, 3, 1]  # obtained item i is baseline item order[i]
    permuted = result(
        pictures()[order],
        values=np.array([1.0, 2.0, 3.0, 4.0])[order],
        reached=np.array([True, False, True, False])[order],
    )
    by_index = compare(permuted, expected)
    assert not by_index.passed and by_index.failing.all()
    c = compare(permuted, expected, match="permutation")
    assert c.passed and c.mapping == tuple(order)
    assert np.array_equal(c.ssim, np.ones(4)) and np.array_equal(c.value_change, np.zeros(4))
    assert "mapping (obtained item <- baseline item): 0<-2, 1<-0, 2<-3, 3<-1" in c.describe()


def test_ssim_uses_the_baselines_value_range():
    """The same pixel offset is a small change in a wide range and a large one in a narrow range."""
    base = np.linspace(0, 1, 64, dtype=np.float32).reshape(1, 8, 8)
    noisy = base + 0.2 * (pictures(1) - 0.5)
    narrow = compare(noisy, capture(base))  # range (0, 1) from the pictures themselves
    wide = compare(
        FakeResult(noisy, np.ones(1), constraints=fv.Box(-10, 10)),
        capture(FakeResult(base, np.ones(1), constraints=fv.Box(-10, 10))),
    )
    assert capture(base).value_range == (0.0, 1.0)
    assert wide.ssim[0] == pytest.approx(fv.metrics.ssim(noisy[0], base[0], data_range=20.0))
    assert narrow.ssim[0] == pytest.approx(fv.metrics.ssim(noisy[0], base[0], data_range=1.0))
    assert wide.ssim[0] > narrow.ssim[0]


def test_vectors_are_compared_as_one_dimensional_signals():
    x = np.random.default_rng(1).random((2, 20))
    assert compare(x, capture(x)).passed
    c = compare(x[:, ::-1], capture(x))
    assert not c.passed and c.metric_deltas == {}


@pytest.mark.parametrize(
    ("obtained", "problem"),
    [
        (pictures(3), "the baseline has 4 items of shape (8, 8), the result 3 items of shape (8, 8)"),
        (pictures(4, side=9), "the result 4 items of shape (9, 9)"),
        (result(), "the baseline stores pictures only, the result has values"),
    ],
)
def test_results_that_cannot_be_compared_item_by_item_fail_with_the_reason(obtained, problem):
    c = compare(obtained, capture(pictures()))
    assert not c.passed and problem in c.problem and problem in c.describe()


# -- save / load -----------------------------------------------------------------------------
def test_save_and_load_round_trip_every_array_and_the_metadata(tmp_path):
    r = result(reached=[True, False, True, False])
    path = save(tmp_path / "t" / "units.npz", r)
    assert sorted(p.name for p in path.parent.iterdir()) == ["units.npz", "units.png"]  # no temp files left
    b = load(path)
    assert b.inputs.dtype == np.float32 and np.array_equal(b.inputs, r.inputs)
    assert np.array_equal(b.values, r.values) and np.array_equal(b.reached, r.reached)
    assert b.value_range == (0.0, 2.0)  # the constraint box, not the pictures' own range
    assert b.metadata["kind"] == "ascent" and b.metadata["seed"] == 7
    assert b.metadata["constraints"] == "Box(0.0, 2.0)" and "numpy" in b.metadata["versions"]
    assert all(np.array_equal(b.metrics[k], capture(r).metrics[k]) for k in fv.metrics.METRICS)
    with np.load(path, allow_pickle=False) as data:  # plain arrays, readable without pickle
        assert set(data.files) == {"inputs", "values", "reached", "metrics", "value_range", "metadata"}


def test_a_failed_write_leaves_no_temporary_file_and_keeps_the_old_baseline(tmp_path, monkeypatch):
    path = save(tmp_path / "units.npz", pictures())
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(ConfigurationError, match=r"cannot write the baseline .*units\.npz: disk full"):
        save(path, 1.0 - pictures())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["units.npz", "units.png"]
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "truncated, corrupt"),
        (lambda p: p.write_text("hello"), "truncated, corrupt, or not an .npz archive"),
        (lambda p: np.save(open(p, "wb"), np.zeros(3)), "a single .npy array"),
        (lambda p: np.savez(open(p, "wb"), weights=np.zeros(3)), "holds the arrays ['weights'] but lacks"),
        (lambda p: _rewrite_metadata(p, lambda m: {**m, "format": "other"}), "does not say format="),
        (lambda p: _rewrite_metadata(p, lambda m: {**m, "version": 99}), "format version 99, newer than the 2"),
        (lambda p: _rewrite_metadata(p, lambda m: {**m, "metrics": ["entropy"]}), "arrays do not fit together"),
        (lambda p: _rewrite_array(p, "inputs", lambda a: np.where(a > 0.5, np.nan, a)), "contain NaN or inf"),
        (lambda p: _rewrite_array(p, "value_range", lambda a: np.array([0.0, np.inf])), "contain NaN or inf"),
    ],
)
def test_unreadable_files_raise_a_configuration_error_naming_the_file_and_the_fix(tmp_path, damage, message):
    path = save(tmp_path / "units.npz", pictures())
    damage(path)
    with pytest.raises(BaselineFormatError) as info:
        load(path)
    assert isinstance(info.value, ConfigurationError) and not isinstance(info.value, AssertionError)
    text = str(info.value)
    assert str(path) in text and message in text and "--featviz-update-baselines" in text
    context = info.value.__context__
    assert info.value.__cause__ is None and (context is None or info.value.__suppress_context__)  # no zip traceback


def _rewrite_metadata(path, change):
    _rewrite_array(path, "metadata", lambda m: np.array(json.dumps(change(json.loads(str(m))))))


def _rewrite_array(path, key, change):
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    arrays[key] = change(arrays[key])
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def test_a_baseline_whose_stored_inputs_hold_nan_is_a_format_error_when_compared_too(tmp_path):
    path = save(tmp_path / "units.npz", pictures())
    _rewrite_array(path, "inputs", lambda a: np.where(a > 0.5, np.nan, a))
    with pytest.raises(BaselineFormatError, match=f"{path} is not a pytest-featviz baseline: its stored inputs"):
        compare(pictures(), load(path))


@pytest.mark.parametrize("name", ["x.png", "x", "x.npz.png", "x.NPZ"])
def test_save_refuses_a_path_not_ending_in_npz_and_writes_nothing(tmp_path, name):
    with pytest.raises(ConfigurationError) as info:
        save(tmp_path / "d" / name, pictures())
    assert f"got {str(tmp_path / 'd' / name)!r}" in str(info.value) and "ending in .npz" in str(info.value)
    assert not (tmp_path / "d").exists()


def test_save_writes_the_npz_and_its_picture_as_two_files(tmp_path):
    path = save(tmp_path / "d" / "x.npz", pictures())
    assert sorted(p.name for p in path.parent.iterdir()) == ["x.npz", "x.png"]
    assert np.array_equal(load(path).inputs, pictures())


def test_loading_a_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="no baseline at .*nothing.npz"):
        load(tmp_path / "nothing.npz")


def test_the_stored_archive_is_compressed(tmp_path):
    path = save(tmp_path / "b.npz", np.zeros((10, 28, 28)))
    with zipfile.ZipFile(path) as archive:
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in archive.infolist())
    assert path.stat().st_size < 10 * 28 * 28 * 4 / 10


def test_baseline_paths_are_one_folder_per_test_and_one_file_per_name():
    assert baselines.baseline_path("/b", "sub/t.py::test_x", "units").as_posix() == "/b/sub_t.py__test_x/units.npz"
    one, two = (baselines.baseline_path("/b", f"t.py::test_x[a-{k}]", "units") for k in (1, 2))
    assert one.parent.name.startswith("t.py__test_x_a-1_") and two.parent.name.startswith("t.py__test_x_a-2_")
    assert one.name == two.name == "units.npz"


@pytest.mark.parametrize(
    "node_ids",
    [
        ("t.py::test_x[a b]", "t.py::test_x[a_b]"),
        ("t.py::test_x[a+b]", "t.py::test_x[a*b]", "t.py::test_x[a_b]"),
        ("t.py::test_x[a]", "t.py::test_x_a"),
        ("t.py::A::test_x", "t.py::A__test_x"),
        ("t.py::test_x[" + "a" * 200 + "]", "t.py::test_x[" + "a" * 199 + "b]"),
    ],
)
def test_node_ids_that_read_alike_on_disk_get_distinct_folders(node_ids):
    folders = [baselines.baseline_path("/b", node_id, "u").parent for node_id in node_ids]
    assert len(set(folders)) == len(node_ids), folders
    assert all(len(f.name) <= 150 for f in folders)
    assert folders == [baselines.baseline_path("/b", node_id, "u").parent for node_id in node_ids]  # stable


def test_the_stored_example_baselines_are_still_found():
    from pathlib import Path

    examples = Path(__file__).resolve().parents[3] / "examples"
    for test in ("test_class_maximisers_match_the_baseline", "test_reachability_of_class_3_matches_the_baseline"):
        folder = baselines.baseline_path(
            examples / "featviz_baselines", f"examples/test_regression_gate.py::{test}", "x"
        ).parent
        assert folder.is_dir(), folder


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: compare(pictures(), pictures(), min_ssim=1.5),
            ConfigurationError,
            "min_ssim must be a finite number in [-1, 1]; got 1.5",
        ),
        (
            lambda: compare(pictures(), pictures(), value_rtol=-0.1),
            ConfigurationError,
            "value_rtol must be a number >= 0; got -0.1",
        ),
        (lambda: compare(pictures(), pictures(), value_rtol="5%"), FeatvizTypeError, "got '5%' (str)"),
        (
            lambda: compare(pictures(), pictures(), value_atol=float("nan")),
            ConfigurationError,
            "value_atol must be a number >= 0; got nan",
        ),
        (
            lambda: compare(pictures(), pictures(), match="perm"),
            ConfigurationError,
            "match='perm' is not one of 'index', 'permutation'",
        ),
        (lambda: capture(np.zeros((8, 8))[0]), ConfigurationError, "(B, *input_shape)"),
        (lambda: capture(np.zeros((2, 2))), ConfigurationError, "at least 3 values per item"),
        (lambda: capture(np.full((1, 8, 8), np.nan)), ConfigurationError, "NaN or inf"),
        (lambda: capture([["a", "b", "c"]]), FeatvizTypeError, "an array of numbers"),
        (lambda: baselines.baseline_path("b", "t.py::t", "///"), ConfigurationError, "non-empty text"),
    ],
)
def test_bad_arguments_are_configuration_errors_naming_the_value(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value)


def test_the_same_model_and_seed_reproduce_the_baseline_bit_for_bit(tmp_path):
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8)), keras.layers.Flatten(), keras.layers.Dense(4, name="units")])
    runs = [fv.ascend(model, fv.ClassLogit([0, 1, 2, 3]), constraints=fv.Box(0, 1), steps=30, seed=3) for _ in (0, 1)]
    stored = load(save(tmp_path / "b.npz", runs[0]))
    c = compare(runs[1], stored)
    assert c.passed and np.array_equal(c.ssim, np.ones(4)) and np.array_equal(c.max_input_change, np.zeros(4))
    assert np.array_equal(c.value_change, np.zeros(4))
    assert stored.metadata["objective"] == "ClassLogit([0, 1, 2, 3])" and stored.metadata["steps"] == 30


# -- the fixture's method, with a stand-in for pytest's request ----------------------------------
def bound_fixture(tmp_path, *, marker=None, cli=None, ini=None, update=False):
    """A Featviz bound to a fake test ``sub/test_m.py::test_x``; the ini file sits in ``tmp_path/cfg``."""
    options = {"featviz_baselines": cli, "featviz_update_baselines": update}
    config = SimpleNamespace(
        getoption=lambda name, default=None: options.get(name, default),
        getini=lambda name: ini if name == "featviz_baselines" else None,
        invocation_params=SimpleNamespace(dir=tmp_path / "cwd"),
        inipath=tmp_path / "cfg" / "pytest.ini",
        rootpath=tmp_path,
    )
    marks = {} if marker is None else {"featviz": SimpleNamespace(kwargs={"baselines": marker})}
    node = SimpleNamespace(
        nodeid="sub/test_m.py::test_x",
        path=tmp_path / "sub" / "test_m.py",
        get_closest_marker=marks.get,
        user_properties=[],
        stash={"ctx": TestContext("n", 0)},
    )
    return Featviz(
        SimpleNamespace(node=node, config=config, session=SimpleNamespace(items=[])), None, "ctx", Settings(config)
    )


@pytest.mark.parametrize(
    ("marker", "cli", "ini", "root"),
    [
        (None, None, None, "sub/featviz_baselines"),  # default: next to the test file
        (None, None, "from_ini", "cfg/from_ini"),  # ini: relative to the ini file
        (None, "from_cli", "from_ini", "cwd/from_cli"),  # command line: relative to the invocation dir
        ("from_marker", "from_cli", "from_ini", "sub/from_marker"),  # marker: relative to the test file
    ],
)
def test_baselines_root_precedence_marker_over_command_line_over_ini_over_default(tmp_path, marker, cli, ini, root):
    assert bound_fixture(tmp_path, marker=marker, cli=cli, ini=ini).baselines_root() == tmp_path / root


def test_update_writes_and_reports_only_the_tests_own_baseline(tmp_path):
    featviz = bound_fixture(tmp_path, update=True)
    assert featviz.assert_matches_baseline("units", pictures()) is None
    path = tmp_path / "sub" / "featviz_baselines" / "sub_test_m.py__test_x" / "units.npz"
    assert featviz._request.node.user_properties == [("featviz_baseline_written", str(path))]
    assert np.array_equal(load(path).inputs, pictures())
    with pytest.raises(
        AssertionError,
        match=r"no baseline 'units' at .*sub_test_m.py__test_other.*\n(.*\n)*"
        r"  to create it, run: pytest sub/test_m.py::test_other --featviz-update",
    ):
        featviz.assert_matches_baseline("units", pictures(), baseline_of="test_other")  # read only, even now
    assert not (path.parent.parent / "sub_test_m.py__test_other").exists()
    with pytest.raises(ConfigurationError, match="'units' is used twice in sub/test_m.py::test_x"):
        featviz.assert_matches_baseline("units", pictures())
    with pytest.raises(ConfigurationError, match="min_ssim must be"):
        featviz.assert_matches_baseline("other", pictures(), min_ssim=95)
    compared = bound_fixture(tmp_path).assert_matches_baseline("units", pictures())
    assert compared.passed and compared.mapping == (0, 1, 2, 3)


@pytest.mark.parametrize(
    ("cli", "root", "why"),
    [
        (None, "ref/featviz_baselines", "featviz_baselines/ next to test_r.py"),
        ("from_cli", "cwd/from_cli", "--featviz-baselines"),
    ],
)
def test_baseline_of_a_test_in_another_folder_is_looked_for_where_that_test_writes_it(tmp_path, cli, root, why):
    featviz = bound_fixture(tmp_path, cli=cli)
    path = tmp_path / root / "ref_test_r.py__test_ref" / "units.npz"
    with pytest.raises(AssertionError) as info:
        featviz.assert_matches_baseline("units", pictures(), baseline_of="ref/test_r.py::test_ref")
    assert str(info.value).splitlines()[1:] == [
        f"  looked in the baselines folder of ref/test_r.py::test_ref: {tmp_path / root} ({why})",
        "  to create it, run: pytest ref/test_r.py::test_ref --featviz-update-baselines",
    ]
    assert f"there is no baseline 'units' at {path}" in str(info.value)
    save(path, pictures())
    assert (
        bound_fixture(tmp_path, cli=cli)
        .assert_matches_baseline("units", pictures(), baseline_of="ref/test_r.py::test_ref")
        .passed
    )
