"""The progress bar: on when asked or on a terminal, off in CI logs; the ascent's results do not depend on it."""

import io

import keras
import numpy as np
import pytest

import pytest_featviz as fv
from pytest_featviz.errors import FeatvizTypeError
from pytest_featviz.progress import Progress, progress_enabled


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(1)
    return keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, activation="tanh"), keras.layers.Dense(3)])


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_forced_progress_draws_on_stderr_and_changes_no_result(model, capsys):
    kw = dict(constraints=fv.Box(-1, 1), steps=45, restarts=3, seed=2, jit_compile=False)  # XLA: slower to build
    quiet = fv.ascend(model, fv.ClassLogit(2), progress=False, **kw)
    assert capsys.readouterr().err == ""
    shown = fv.ascend(model, fv.ClassLogit(2), progress=True, **kw)
    err = capsys.readouterr().err
    assert "featviz ascent ClassLogit(2)" in err and "46/46" in err and err.endswith("\n")
    assert err.count("\r") > 10  # redrawn between chunks of steps, not once at the end
    for name in ("inputs", "values", "history", "steps", "start"):
        np.testing.assert_array_equal(getattr(shown, name), getattr(quiet, name), err_msg=name)


def test_progress_is_off_when_stderr_is_not_a_terminal(model, capsys, monkeypatch):
    monkeypatch.delenv("FEATVIZ_PROGRESS", raising=False)
    fv.ascend(model, fv.ClassLogit(0), constraints=fv.Box(-1, 1), steps=5, jit_compile=False)
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("FEATVIZ_PROGRESS", "1")
    fv.ascend(model, fv.ClassLogit(0), constraints=fv.Box(-1, 1), steps=5, jit_compile=False)
    assert "6/6" in capsys.readouterr().err


def test_progress_enabled_rules(monkeypatch):
    monkeypatch.delenv("FEATVIZ_PROGRESS", raising=False)
    assert progress_enabled(None, Tty()) and not progress_enabled(None, io.StringIO())
    monkeypatch.setenv("FEATVIZ_PROGRESS", "0")
    assert not progress_enabled(None, Tty()) and progress_enabled(True, io.StringIO())
    with pytest.raises(FeatvizTypeError, match="progress must be True, False or None"):
        progress_enabled("yes")


def test_progress_bar_counts_and_stays_silent_when_off():
    out = Tty()
    with Progress(10, "bounds", stream=out) as bar:
        bar.update(3)
        bar.update(30)  # never past the total
    assert out.getvalue().split("\r")[-1].split()[:3] == ["bounds", "[" + "#" * 24 + "]", "10/10"]
    assert "3/10" in out.getvalue()
    off = io.StringIO()
    with Progress(10, "bounds", enabled=False, stream=off) as bar:
        bar.update(5)
    assert off.getvalue() == ""
