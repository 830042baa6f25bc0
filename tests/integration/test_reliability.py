"""Reliability: cross-process determinism, garbage input (flat memory over long sessions: test_memory.py)."""

import contextlib
import io
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pytest_featviz as fv
from pytest_featviz.errors import FeatvizError

DETERMINISM_SCRIPT = textwrap.dedent(
    """
    import hashlib
    import numpy as np, keras
    import pytest_featviz as fv

    inp = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inp)
    model = keras.Model(inp, keras.layers.Dense(3)(keras.layers.Flatten()(h)))
    rng = np.random.default_rng(3)  # the weights from a seed, without touching the process's global seeds
    model.set_weights([rng.normal(0.0, 0.5, w.shape).astype(w.dtype) for w in model.get_weights()])
    r = fv.ascend(model, fv.Channel("conv", [0, 1, 2, 3]), constraints=fv.Box(0, 1), steps=30, seed=11)
    print(hashlib.sha256(r.inputs.tobytes() + r.values.tobytes()).hexdigest())
    """
)


def test_same_seed_gives_identical_bits_in_separate_processes(tmp_path):
    """A fresh interpreter and this one (which has run other tests' ascents before) at the same time."""
    script = tmp_path / "det.py"
    script.write_text(DETERMINISM_SCRIPT)
    child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    with contextlib.redirect_stdout(io.StringIO()) as here:
        exec(compile(DETERMINISM_SCRIPT, str(script), "exec"), {"__name__": "det"})
    there = child.communicate()[0]
    assert child.returncode == 0
    assert here.getvalue().split()[-1] == there.split()[-1]


GARBAGE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=3),
    st.lists(st.floats(allow_nan=True), max_size=4),
    st.just(np.array([np.nan, 1.0])),
    st.just(np.zeros((2, 3, 4))),
    st.just(object()),
    st.just(np.array(["a", "b"])),
    st.just(np.array([], dtype=float)),
)


def call_or_error(fn, *args, **kwargs):
    """Any input: a value or a FeatvizError (never a crash from deep inside NumPy or TensorFlow)."""
    try:
        fn(*args, **kwargs)
    except FeatvizError as exc:
        assert isinstance(exc, (ValueError, TypeError)) and not isinstance(exc, AssertionError)
        assert str(exc)


# Values that no numeric argument accepts (None is left out: it means "the default" for some arguments).
ALWAYS_BAD = st.one_of(
    st.text(alphabet="abxyz", min_size=1, max_size=3),
    st.just(float("nan")),
    st.just(object()),
    st.just(np.array(["a", "b"])),
    st.just(np.array([np.nan, 1.0])),
    st.just([float("nan")]),
)
CONSTRAINT_ARGUMENTS = {
    "Box low": lambda v: fv.Box(v, 1),
    "Box high": lambda v: fv.Box(0, v),
    "LpBall center": lambda v: fv.LpBall(v, 1.0, p=2),
    "LpBall radius": lambda v: fv.LpBall(np.zeros(3), v, p=2),
    "LpBall p": lambda v: fv.LpBall(np.zeros(3), 1.0, p=v),
    "Mask": fv.Mask,
    "Box.project": lambda v: fv.Box(0, 1).project(v),
    "Box.violation": lambda v: fv.Box(0, 1).violation(v),
}


def assert_refused(call, bad):
    with pytest.raises(FeatvizError) as info:
        call()
    assert isinstance(info.value, (ValueError, TypeError)) and not isinstance(info.value, AssertionError)
    assert str(info.value), bad


@settings(max_examples=60)
@given(a=GARBAGE, b=GARBAGE, c=GARBAGE)
def test_garbage_to_constraint_constructors_is_a_value_or_a_clear_error(a, b, c):
    call_or_error(fv.Box, a, b)
    call_or_error(fv.LpBall, a, b, c)
    call_or_error(fv.Mask, a)
    call_or_error(lambda: fv.Box(0, 1).project(a))
    call_or_error(lambda: fv.Box(0, 1).violation(a))


@settings(max_examples=60)
@given(argument=st.sampled_from(sorted(CONSTRAINT_ARGUMENTS)), bad=ALWAYS_BAD)
def test_bad_values_to_constraints_are_refused_not_accepted(argument, bad):
    assert_refused(lambda: CONSTRAINT_ARGUMENTS[argument](bad), bad)


@pytest.fixture(scope="module")
def tiny():
    import keras

    inp = keras.Input((3,))
    return keras.Model(inp, keras.layers.Dense(2, name="d")(inp))


@settings(max_examples=30)
@given(start=GARBAGE, index=GARBAGE, steps=GARBAGE, lr=GARBAGE)
def test_garbage_to_ascend_is_a_value_or_a_clear_error(tiny, start, index, steps, lr):
    def run():
        fv.ascend(tiny, fv.ClassLogit(index), start=start, constraints=fv.Box(0, 1), steps=steps, lr=lr)

    call_or_error(run)


@settings(max_examples=30)
@given(
    argument=st.sampled_from(["start", "index", "steps", "lr"]), bad=ALWAYS_BAD | st.just(np.array([np.nan, 0.5, 0.5]))
)  # the last one has the model's input shape
def test_bad_values_to_ascend_are_refused_not_accepted(tiny, argument, bad):
    arguments = {"start": None, "index": 0, "steps": 2, "lr": None, argument: bad}

    def run():
        fv.ascend(
            tiny,
            fv.ClassLogit(arguments["index"]),
            start=arguments["start"],
            constraints=fv.Box(0, 1),
            steps=arguments["steps"],
            lr=arguments["lr"],
        )

    assert_refused(run, bad)
