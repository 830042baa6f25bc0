"""Files under stress: a run killed while it updates baselines, stale temporary files, unwritable artifacts.

Killed runs are made deterministic: a conftest in the pytester folder wraps ``os.replace``
and SIGKILLs its own process at the N-th file the update is about to move into the
baselines folder, after cutting the temporary file to half (as if the kill landed
mid-write). No timing, no races.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras  # at the top: pytester restores sys.modules, and importing TensorFlow twice aborts
import numpy as np
import pytest

from pytest_featviz import _io, baselines
from pytest_featviz._io import STALE_AFTER_S, remove_stale_temporaries, write_atomic
from pytest_featviz.claims import TestContext, activate, current
from pytest_featviz.errors import ConfigurationError
from pytest_featviz.render import save_png

pytest_plugins = ["pytester"]

HOST = _io._host()


def dead_pid() -> int:
    """The id of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait()
    return child.pid


@pytest.fixture
def live_child():
    """Another live process, standing for a second pytest-xdist worker; it exits when the test ends."""
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    yield child
    child.stdin.close()
    child.wait()


def temporary(folder: Path, target: str, pid: int, host: str = HOST, age_s: float = 0.0) -> Path:
    """A half-written temporary file named the way write_atomic names them."""
    path = folder / f".{target}.featviz-{pid}-{host}-k3j9x0_q.tmp"
    path.write_bytes(b"half a fi")
    if age_s:
        then = time.time() - age_s
        os.utime(path, (then, then))
    return path


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# -- temporary files: named for their writer, removed only when it is gone --------------------
def test_write_atomic_names_its_temporary_file_for_this_process_and_host_and_leaves_none(tmp_path, monkeypatch):
    moved = []
    real_replace = os.replace

    def spy(src, dst):
        moved.append((Path(src).name, Path(src).read_bytes()))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    path = write_atomic(tmp_path / "deep" / "b.npz", b"payload")
    assert path == tmp_path / "deep" / "b.npz" and path.read_bytes() == b"payload"
    [(name, data)] = moved
    assert data == b"payload"  # complete before it is moved into place
    assert re.fullmatch(rf"\.b\.npz\.featviz-{os.getpid()}-{re.escape(HOST)}-[a-z0-9_]+\.tmp", name)
    assert _io._TEMPORARY.match(name)
    assert names(path.parent) == ["b.npz"]


def test_a_failed_write_removes_its_temporary_file_and_keeps_the_old_content(tmp_path, monkeypatch):
    path = write_atomic(tmp_path / "r.json", b"old")

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(path, b"new")
    assert names(tmp_path) == ["r.json"] and path.read_bytes() == b"old"


def test_only_the_temporaries_of_dead_writers_or_abandoned_ones_are_removed(tmp_path, live_child):
    gone = dead_pid()
    removed = {
        temporary(tmp_path, "a.npz", gone),  # this host, writer killed
        temporary(tmp_path, "b.png", 12345, host="other-host", age_s=STALE_AFTER_S + 60),  # abandoned elsewhere
        temporary(tmp_path, "c.npz", live_child.pid, age_s=STALE_AFTER_S + 60),  # pid reused by a live process
    }
    kept = {
        temporary(tmp_path, "d.npz", live_child.pid),  # another xdist worker writing right now
        temporary(tmp_path, "e.npz", os.getpid()),  # this process, writing right now
        temporary(tmp_path, "f.npz", 12345, host="other-host", age_s=60),  # another host: cannot tell, young
    }
    for name in ("b.npz", ".b.npz.k3j9x0_q.tmp", ".notes.tmp", f"x.featviz-{gone}-{HOST}-k3j9x0_q.tmp"):
        (tmp_path / name).write_text("not ours to remove")  # baselines, other tools' temporaries
        kept.add(tmp_path / name)
    assert set(remove_stale_temporaries(tmp_path)) == removed
    assert set(tmp_path.iterdir()) == kept
    assert remove_stale_temporaries(tmp_path) == []  # nothing more on a second pass

    live_child.stdin.close()  # the other worker ends
    live_child.wait()
    assert remove_stale_temporaries(tmp_path) == [tmp_path / f".d.npz.featviz-{live_child.pid}-{HOST}-k3j9x0_q.tmp"]


def test_a_folder_that_is_missing_or_not_a_folder_is_left_alone(tmp_path):
    (tmp_path / "file").write_text("x")
    assert remove_stale_temporaries(tmp_path / "missing") == []
    assert remove_stale_temporaries(tmp_path / "file") == []
    assert names(tmp_path) == ["file"]


def _save_baseline(path: Path) -> None:
    baselines.save(path, np.eye(4)[None])


def _load_baseline(path: Path) -> None:
    _save_baseline(path)
    baselines.load(path)


@pytest.mark.parametrize(
    ("write", "target"),
    [
        (lambda p: write_atomic(p, b"x"), "out.bin"),
        (lambda p: _io.write_json_atomic(p, {"a": 1}), "record.json"),
        (lambda p: save_png(p, np.zeros((1, 4, 4))), "inputs.png"),
        (_save_baseline, "maximisers.npz"),
        (_load_baseline, "maximisers.npz"),
    ],
    ids=["write_atomic", "write_json_atomic", "save_png", "baselines.save", "baselines.load"],
)
def test_every_writer_and_the_baseline_reader_remove_a_killed_writers_temporary(tmp_path, write, target):
    stale = temporary(tmp_path, target, dead_pid())
    write(tmp_path / target)
    assert not stale.exists()
    assert all(not name.endswith(".tmp") for name in names(tmp_path))


# -- a run killed in the middle of --featviz-update-baselines ---------------------------------
UNITS_TEST = """
import numpy as np
import pytest


@pytest.mark.parametrize("unit", [0, 1, 2])
def test_unit(featviz, unit):
    picture = np.random.default_rng([featviz.seed, unit]).uniform(0, 1, (2, 8, 8))  # another under another seed
    featviz.assert_matches_baseline("maximiser", picture)
"""

KILLING_CONFTEST = """
import os
import signal

_KILL_AT = int(os.environ.get("FEATVIZ_KILL_AT", "0"))
_ROOT = os.path.abspath(os.environ.get("FEATVIZ_KILL_ROOT", "."))
_replace = os.replace
_moves = []


def _replace_or_die(src, dst, **options):
    if _KILL_AT and os.path.abspath(dst).startswith(_ROOT + os.sep):
        _moves.append(dst)
        if len(_moves) == _KILL_AT:  # the kill lands while this file is half-written
            with open(src, "r+b") as stream:
                stream.truncate(os.path.getsize(src) // 2)
            os.kill(os.getpid(), signal.SIGKILL)
    return _replace(src, dst, **options)


os.replace = _replace_or_die
"""

# the files an update writes, in order: each test's .npz, then its .png
ORDER = [
    f"{_io.sanitize(f'test_units.py::test_unit[{unit}]')}/maximiser.{kind}"
    for unit in range(3)
    for kind in ("npz", "png")
]


@pytest.fixture
def units_project(pytester):
    """The UNITS_TEST file and the killing conftest. Its pictures come from the test's seed, not a model, so
    the runs killed in a fresh interpreter never import TensorFlow (the files written are the same kinds)."""
    pytester.makepyfile(test_units=UNITS_TEST)
    pytester.makeconftest(KILLING_CONFTEST)
    return pytester


def run(pytester, monkeypatch, root, *args, kill_at=0):
    """An update or comparison run on ``root``: killed at the ``kill_at``-th file it moves into place (in
    a fresh interpreter, for the kill), or run to the end in this process (``os.replace`` restored after)."""
    monkeypatch.setenv("FEATVIZ_KILL_AT", str(kill_at))
    monkeypatch.setenv("FEATVIZ_KILL_ROOT", str(pytester.path / root))
    monkeypatch.setattr(os, "replace", os.replace)  # the conftest wraps it; undone when the test ends
    runner = pytester.runpytest_subprocess if kill_at else pytester.runpytest_inprocess
    return runner("-p", "no:cacheprovider", "-p", "no:randomly", "--featviz-baselines", root, *args)


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def same_baseline(a: baselines.Baseline, b: baselines.Baseline) -> bool:
    return np.array_equal(a.inputs, b.inputs) and np.array_equal(a.values, b.values) and a.metadata == b.metadata


def test_a_run_killed_while_updating_leaves_each_baseline_old_or_new_and_the_next_run_cleans_up(
    units_project, monkeypatch
):
    pytester = units_project
    run(pytester, monkeypatch, "old", "--featviz-update-baselines", "--featviz-seed", "0").assert_outcomes(passed=3)
    old_root = pytester.path / "old"
    old = snapshot(old_root)
    assert sorted(old) == sorted(ORDER)

    killed = {}
    for root, kill_at in (("killed_at_png", 2), ("killed_at_npz", 5)):
        shutil.copytree(old_root, pytester.path / root)
        result = run(pytester, monkeypatch, root, "--featviz-update-baselines", "--featviz-seed", "1", kill_at=kill_at)
        assert result.ret == -signal.SIGKILL
        shutil.copytree(pytester.path / root, pytester.path / f"{root}_as_left")  # the next runs change root
        killed[f"{root}_as_left"] = (kill_at, snapshot(pytester.path / f"{root}_as_left"))

    # the next run that compares: unit 0's new .npz matches seed 1, the old ones of units 1 and 2 do not
    compared = run(pytester, monkeypatch, "killed_at_png", "--featviz-seed", "1")
    compared.assert_outcomes(passed=1, failed=2)
    assert sorted(snapshot(pytester.path / "killed_at_png")) == sorted(ORDER)  # its temporary file is gone
    # the next run that updates finishes the job: every file new, no temporary file
    run(pytester, monkeypatch, "killed_at_npz", "--featviz-update-baselines", "--featviz-seed", "1").assert_outcomes(
        passed=3
    )
    new = snapshot(pytester.path / "killed_at_npz")
    assert sorted(new) == sorted(ORDER)

    for root, (kill_at, files) in killed.items():
        half = [name for name in files if name.endswith(".tmp")]  # what the kill left: one half-written file
        assert len(half) == 1, (root, sorted(files))
        folder, dying = ORDER[kill_at - 1].split("/")
        assert half[0].startswith(f"{folder}/.{dying}.featviz-") and len(files[half[0]]) < len(new[f"{folder}/{dying}"])
        for i, name in enumerate(ORDER):  # the files moved before the kill are new, the others old
            (expected, other) = ("killed_at_npz", "old") if i < kill_at - 1 else ("old", "killed_at_npz")
            if name.endswith(".png"):
                assert files[name] == snapshot(pytester.path / expected)[name] != snapshot(pytester.path / other)[name]
            else:
                stored = baselines.load(pytester.path / root / name)  # it loads: never half-written
                assert same_baseline(stored, baselines.load(pytester.path / expected / name)), (root, name)
                assert not same_baseline(stored, baselines.load(pytester.path / other / name)), (root, name)


# -- an artifacts folder that cannot be written -----------------------------------------------
def blocked_context(tmp_path) -> tuple[TestContext, Path]:
    blocker = tmp_path / "a-file"
    blocker.write_text("precious")
    return TestContext("t.py::test_x", 0, blocker / "art"), blocker


def test_a_failing_test_keeps_its_own_error_with_a_note_naming_the_folder_and_why(tmp_path):
    ctx, blocker = blocked_context(tmp_path)
    with pytest.raises(AssertionError) as info, activate(ctx):
        assert ctx.save_images("inputs", np.zeros((2, 4, 4))) is None
        assert ctx.write_record(ctx.artifact_path("record", ".json"), {"a": 1}) is None
        raise AssertionError("assert_reaches failed: expected the account")
    assert str(info.value) == "assert_reaches failed: expected the account"
    [note] = info.value.__notes__
    folder = blocker / "art" / "t.py__test_x"
    assert note == (
        f"featviz could not write the artifacts of t.py::test_x: the folder {blocker / 'art'} cannot be "
        f"written ({blocker} is a file, not a folder); not saved: {folder / 'inputs.png'}, "
        f"{folder / 'record.json'}. Point --featviz-artifacts (or the featviz_artifacts ini key, or "
        "@pytest.mark.featviz(artifacts=...)) at a folder that can be written."
    )
    assert ctx.saved == [] and blocker.read_text() == "precious"


def test_a_passing_test_fails_with_a_configuration_error_naming_the_folder(tmp_path):
    ctx, blocker = blocked_context(tmp_path)
    with pytest.raises(ConfigurationError, match=re.escape(f"({blocker} is a file, not a folder)")) as info:
        with activate(ctx):
            ctx.save_images("inputs", np.zeros((2, 4, 4)))
    assert not isinstance(info.value, AssertionError)
    assert current() is not ctx  # the context is left even so


def test_a_writable_folder_adds_nothing(tmp_path):
    ctx = TestContext("t.py::test_x", 0, tmp_path / "art")
    with pytest.raises(AssertionError) as info, activate(ctx):
        ctx.save_images("inputs", np.zeros((2, 4, 4)))
        raise AssertionError("the account")
    assert not hasattr(info.value, "__notes__") and ctx.unwritten == []
    assert ctx.saved == [tmp_path / "art" / "t.py__test_x" / "inputs.png"]
    with activate(ctx):
        pass


ARTIFACT_TESTS = """
import pytest
import pytest_featviz as fv


@pytest.mark.featviz_model("units.keras")
def test_unreachable(featviz_model):
    fv.assert_reaches(featviz_model, fv.ClassLogit(0), 1e6, constraints=fv.Box(0, 1), steps=2, seed=0)


@pytest.mark.featviz_model("units.keras")
def test_reachable(featviz_model):
    fv.assert_reaches(featviz_model, fv.ClassLogit(0), -1e6, constraints=fv.Box(0, 1), steps=2, seed=0)


def test_without_featviz():
    pass
"""


def test_an_unwritable_artifacts_folder_keeps_the_failure_account_and_names_the_folder(units_project, monkeypatch):
    pytester = units_project
    rng = np.random.default_rng(0)  # a model of 64 inputs and 3 linear units
    model = keras.Sequential([keras.Input((8, 8)), keras.layers.Flatten(), keras.layers.Dense(3, name="units")])
    model.get_layer("units").set_weights([rng.normal(0.0, 1.0, (64, 3)).astype(np.float32), np.zeros(3, np.float32)])
    model.save(pytester.path / "units.keras")
    pytester.makepyfile(test_artifacts=ARTIFACT_TESTS)
    blocker = pytester.path / "blocker"
    blocker.write_text("precious")
    monkeypatch.setattr(os, "replace", os.replace)  # the project's conftest wraps it; undone when the test ends
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "-p", "no:randomly", "test_artifacts.py", "--featviz-artifacts", "blocker/art"
    )
    result.assert_outcomes(passed=1, failed=2)
    folder = blocker / "art"
    result.stdout.fnmatch_lines(
        [
            "*_ test_unreachable _*",
            "E       AssertionError: assert_reaches failed: expected ClassLogit(0) reaches >= 1000000.0",
            "E         item  best value  threshold*",
            f"E       featviz could not write the artifacts of test_artifacts.py::test_unreachable: the folder {folder} "
            f"cannot be written ({blocker} is a file, not a folder); not saved: "
            f"{folder}/test_artifacts.py__test_unreachable/assert_reaches.png, "
            f"{folder}/test_artifacts.py__test_unreachable/record.json. Point --featviz-artifacts*",
            "*_ test_reachable _*",
            "E       pytest_featviz.errors.ConfigurationError: featviz could not write the artifacts of "
            f"test_artifacts.py::test_reachable: the folder {folder} cannot be written ({blocker} is a file, not a "
            f"folder); not saved: {folder}/test_artifacts.py__test_reachable/record.json. Point*",
        ]
    )
    assert "NotADirectoryError" not in result.stdout.str() and "Traceback" not in result.stdout.str()
    assert blocker.read_text() == "precious"
