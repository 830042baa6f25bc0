"""The whole baseline gate workflow, in nested pytest runs: missing baselines, an update under two
xdist workers, a bit-identical rerun with the folder moved, a permuted model and a perturbed one.

The five runs build on each other, so one module-scoped fixture runs them once, in order, and keeps what
each left behind; the tests below each check one step of it."""

import contextlib
import io
import json
import os
import sys
import time
from types import SimpleNamespace

import numpy as np
import pytest

WORKFLOW = """
import json, os
import pytest
import pytest_featviz as fv

MODEL = os.environ["FEATVIZ_TEST_MODEL"]


def maximisers(featviz, model):
    return featviz.ascend(model, fv.ClassLogit([0, 1, 2, 3]), constraints=fv.Box(0, 1), steps=80, seed=0)


@pytest.mark.featviz_model(MODEL)
def test_index(featviz_model, featviz):
    featviz.assert_matches_baseline("units", maximisers(featviz, featviz_model))


@pytest.mark.featviz_model(MODEL)
def test_permutation(featviz_model, featviz):
    c = featviz.assert_matches_baseline("units", maximisers(featviz, featviz_model), match="permutation")
    if c is not None:
        with open("mapping.json", "w") as fh:
            json.dump(c.mapping, fh)


@pytest.mark.featviz(baselines="marker_dir")
@pytest.mark.featviz_model(MODEL)
def test_reach(featviz_model, featviz):
    r = fv.assert_reaches(featviz_model, fv.ClassLogit(0), {threshold}, constraints=fv.Box(0, 1), steps=80, seed=0)
    featviz.assert_matches_baseline("reach", r)


@pytest.mark.featviz_model(MODEL)
def test_raw_pictures(featviz_model, featviz):
    featviz.assert_matches_baseline("raw", maximisers(featviz, featviz_model).inputs)
"""
ORDER = [2, 0, 3, 1]  # unit i of the permuted model is unit ORDER[i] of v1


def write_versions(path):
    """v1 (64 inputs -> 4 linear units), v1 with its units permuted, v1 with noisy weights."""
    import keras

    rng = np.random.default_rng(0)
    kernel = (rng.choice([-1.0, 1.0], (64, 4)) * rng.uniform(0.5, 1.0, (64, 4))).astype(np.float32)
    noisy = (kernel + rng.normal(0.0, 1.0, kernel.shape)).astype(np.float32)
    for name, weights in (("v1", kernel), ("permuted", kernel[:, ORDER]), ("perturbed", noisy)):
        model = keras.Sequential([keras.Input((8, 8)), keras.layers.Flatten(), keras.layers.Dense(4, name="units")])
        model.get_layer("units").set_weights([weights, np.zeros(4, np.float32)])
        model.save(path / f"{name}.keras")
    return float(0.9 * np.maximum(kernel[:, 0], 0).sum())  # reachable by unit 0 of v1 only near its optimum


def run(path, model, *args):
    """``pytest *args`` in ``path`` on ``{model}.keras``, in this process (the update's two xdist workers
    are fresh interpreters); its output is captured like a subprocess's."""
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        mp.chdir(path)
        mp.setenv("FEATVIZ_TEST_MODEL", f"{model}.keras")
        for name in [name for name in os.environ if name.startswith("PYTEST_")]:  # not this run's xdist worker
            mp.delenv(name)
        try:
            code = pytest.main(["-p", "no:cacheprovider", "-p", "no:randomly", *args])
        finally:
            sys.modules.pop("test_gate", None)  # the next run imports it again, reading its model then
    return pytest.RunResult(
        int(code), out.getvalue().splitlines(), err.getvalue().splitlines(), time.perf_counter() - start
    )


def files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def workflow(tmp_path_factory):
    """Runs the five steps once; returns each run's result and the files as each step left them."""
    pytest.importorskip("xdist")
    path = tmp_path_factory.mktemp("gate")
    (path / "test_gate.py").write_text(WORKFLOW.format(threshold=write_versions(path)))
    default, marker_dir, w = path / "featviz_baselines", path / "marker_dir", SimpleNamespace(path=path)

    w.first = run(path, "v1")  # no baselines: every test fails, saying how to create them
    w.first_wrote = default.exists() or marker_dir.exists()
    w.update = run(path, "v1", "--featviz-update-baselines", "-n", "2")  # two workers write
    w.stored = {
        **{"featviz_baselines" / p: b for p, b in files(default).items()},
        **{"marker_dir" / p: b for p, b in files(marker_dir).items()},
    }

    # rerun: the command line beats the ini, the marker beats both; nothing is rewritten; bit-identical
    default.rename(path / "moved")
    (path / "pytest.ini").write_text("[pytest]\nfeatviz_baselines = nowhere\n")
    w.rerun = run(path, "v1", "--featviz-baselines", "moved", "--featviz-artifacts", "art")
    w.records = [json.loads(p.read_text())["assertions"][-1] for p in (path / "art").glob("*/record.json")]
    w.after_rerun = {"moved": files(path / "moved"), "marker_dir": files(marker_dir)}

    (path / "pytest.ini").write_text("[pytest]\nfeatviz_baselines = moved\n")  # the ini, relative to its own folder
    w.permuted = run(path, "permuted", "--featviz-artifacts", "art")
    w.mapping = json.loads((path / "mapping.json").read_text()) if (path / "mapping.json").exists() else None
    w.shown = {p.name: p.stat().st_size for p in (path / "art" / "test_gate.py__test_index").glob("units-*.png")}

    w.perturbed = run(path, "perturbed")
    return w


def test_missing_baselines_fail_saying_where_and_how_to_create_them(workflow):
    path, default = workflow.path, workflow.path / "featviz_baselines"
    workflow.first.assert_outcomes(failed=4)
    workflow.first.stdout.fnmatch_lines(
        [
            f"*there is no baseline 'units' at {default}/test_gate.py__test_index/units.npz",
            "*to create it, run: pytest test_gate.py::test_index --featviz-update-baselines",
            f"*there is no baseline 'reach' at {path}/marker_dir/test_gate.py__test_reach/reach.npz",
        ]
    )
    assert not workflow.first_wrote


def test_update_under_two_workers_writes_each_baseline_where_its_test_looks(workflow):
    path, default = workflow.path, workflow.path / "featviz_baselines"
    workflow.update.assert_outcomes(passed=4)
    lines = workflow.update.stdout.lines
    written = sorted(line.split(": ", 1)[1] for line in lines if line.startswith("baseline written: "))
    assert written == sorted(
        [
            str(default / "test_gate.py__test_index" / "units.npz"),
            str(default / "test_gate.py__test_permutation" / "units.npz"),
            str(default / "test_gate.py__test_raw_pictures" / "raw.npz"),
            str(path / "marker_dir" / "test_gate.py__test_reach" / "reach.npz"),
        ]
    )
    assert sorted(p.suffix for p in workflow.stored) == [".npz"] * 4 + [".png"] * 4  # no temp files left


def test_rerun_finds_the_moved_baselines_by_precedence_and_matches_bit_for_bit(workflow):
    workflow.rerun.assert_outcomes(passed=4)
    records = workflow.records
    assert len(records) == 4 and all(r["ssim"] == [1.0] * len(r["ssim"]) for r in records)
    assert all(r["max_input_change"] == [0.0] * len(r["ssim"]) for r in records)
    stored = workflow.stored
    assert workflow.after_rerun["moved"] == {
        p.relative_to("featviz_baselines"): b for p, b in stored.items() if p.parts[0] == "featviz_baselines"
    }
    assert workflow.after_rerun["marker_dir"] == {
        p.relative_to("marker_dir"): b for p, b in stored.items() if p.parts[0] == "marker_dir"
    }


def test_permuted_model_passes_only_the_permutation_match_and_shows_the_difference(workflow):
    workflow.permuted.assert_outcomes(passed=1, failed=3)
    assert workflow.mapping == ORDER
    text = workflow.permuted.stdout.str()
    assert "FAILED test_gate.py::test_index" in text and "FAILED test_gate.py::test_raw_pictures" in text
    assert (
        "4 of 4 items differ from the baseline (min_ssim=0.95, value_rtol=0.05, value_atol=1e-06, match='index')"
    ) in text
    assert "update the baseline: pytest test_gate.py::test_index --featviz-update-baselines" in text
    shown = workflow.path / "art" / "test_gate.py__test_index"
    for kind in ("obtained", "expected", "difference"):
        assert f"{kind} {shown / f'units-{kind}.png'}" in text and workflow.shown[f"units-{kind}.png"] > 0


def test_perturbed_model_fails_every_baseline_even_up_to_permutation(workflow):
    workflow.perturbed.assert_outcomes(failed=4)
    workflow.perturbed.stdout.fnmatch_lines(
        ["*items differ from the baseline (min_ssim=0.95, value_rtol=0.05, value_atol=1e-06, match='permutation')"]
    )
