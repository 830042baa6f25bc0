"""Reliability: flat memory over long sessions, collectable models, cross-process determinism, garbage input."""

import contextlib
import io
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pytest_featviz as fv
from pytest_featviz.errors import FeatvizError

MEMORY_SCRIPT = textwrap.dedent(
    """
    import gc, json, resource, sys, weakref
    import numpy as np, keras
    import pytest_featviz as fv

    calls, models, leak = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:] == ["leak"]
    kept = []  # with "leak": what a cache that keeps references would hold on to

    def rss_mb():
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * resource.getpagesize() / 2**20

    def build(seed):
        keras.utils.set_random_seed(seed)
        inp = keras.Input((6, 6))
        h = keras.layers.Dense(8, activation="relu")(keras.layers.Flatten()(inp))
        return keras.Model(inp, keras.layers.Dense(3)(h))

    def keep_what_ascend_attached(m, fresh):
        if leak:  # every call compiles anew and the old compiled loops (which hold the model) are kept
            kept.extend(m.__dict__.pop(k) for k in set(m.__dict__) - fresh)

    model = build(0)
    fresh = set(model.__dict__)
    rng = np.random.default_rng(0)
    def call(i):
        c = fv.Box(0, 1) & fv.LpBall(rng.random((6, 6)), rng.uniform(0.1, 1.0), p=2)
        fv.assert_within(fv.ascend(model, fv.ClassLogit(int(i % 3)), constraints=c, steps=5, seed=i), c)
        keep_what_ascend_attached(model, fresh)
    for i in range(20):
        call(i)
    gc.collect()
    warm = rss_mb()
    for i in range(calls):
        call(i)
    gc.collect()
    after = rss_mb()

    refs = []
    for i in range(models):
        m = build(i)
        fresh = set(m.__dict__)
        fv.ascend(m, fv.ClassLogit(1), constraints=fv.Box(0, 1), steps=3)
        keep_what_ascend_attached(m, fresh)
        refs.append(weakref.ref(m))
        del m
    gc.collect()
    alive = sum(r() is not None for r in refs)
    print(json.dumps({"warm_mb": warm, "after_mb": after, "growth_mb": after - warm, "models_alive": alive}))
    """
)


def test_long_sessions_keep_memory_flat_and_models_collectable(tmp_path):
    # 30 calls after 20 warm ones: flat memory here is under 1 MB of growth; with `memory.py 30 5 leak` (each
    # call compiles anew and the old loops are kept) it is ~350 MB and 5 of 5 models stay alive.
    script = tmp_path / "memory.py"
    script.write_text(MEMORY_SCRIPT)
    out = subprocess.run([sys.executable, str(script), "30", "5"], capture_output=True, text=True, check=True)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    print("memory figures:", figures)
    assert figures["growth_mb"] < 50, figures
    assert figures["models_alive"] == 0, figures


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
