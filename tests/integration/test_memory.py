"""Memory over long runs, measured in one fresh interpreter (the resident set of this worker would
include every other test's): a long session of ascents stays flat and leaves its models collectable,
and fv.top_examples streams 50,000 inputs from a generator in flat memory.

Both measurements run in one subprocess (one TensorFlow import, not two), each against its own warm
baseline; a module fixture runs it once, so the tests share an xdist group (the root conftest)."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = textwrap.dedent(
    """
    import gc, json, resource, sys, weakref
    import numpy as np, keras
    import pytest_featviz as fv

    # memory.py CNN_MODEL CALLS MODELS [leak]
    cnn, calls, models, leak = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:] == ["leak"]
    kept = []  # with "leak": what a cache that keeps references would hold on to

    def rss_mb():
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * resource.getpagesize() / 2**20

    # 1. a long session: many constrained ascents on one model, then models built, used and dropped
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

    # 2. 50,000 fresh 28x28 inputs (150 MiB), 250 at a time, through fv.top_examples
    cnn_model = fv.load_model(cnn)
    objective = fv.Channel("conv2", list(range(16)))

    def stream(n):  # 3 KiB per input
        rng = np.random.default_rng(0)
        for _ in range(n // 250):
            yield rng.random((250, 28, 28, 1), dtype=np.float32)

    fv.top_examples(cnn_model, objective, stream(5_000))  # warm-up: compiled, allocator settled
    before = rss_mb()
    top = fv.top_examples(cnn_model, objective, stream(50_000))
    print(json.dumps({"before": before, "after": rss_mb(), "count": top[0].count}))
    """
)


@pytest.fixture(scope="module")
def figures(tmp_path_factory):
    """The two lines of figures the script prints: the session's, then the stream's."""
    script = tmp_path_factory.mktemp("memory") / "memory.py"
    script.write_text(SCRIPT)
    cnn = ROOT / "examples" / "models" / "digits_cnn.keras"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    out = subprocess.run(
        [sys.executable, str(script), str(cnn), "30", "5"], capture_output=True, text=True, check=True, env=env
    )
    session, streamed = (json.loads(line) for line in out.stdout.strip().splitlines()[-2:])
    return session, streamed


def test_long_sessions_keep_memory_flat_and_models_collectable(figures):
    # 30 calls after 20 warm ones: flat memory here is under 1 MB of growth; with `memory.py CNN 30 5 leak` (each
    # call compiles anew and the old compiled loops are kept) it is ~350 MB and 5 of 5 models stay alive.
    session, _ = figures
    print("memory figures:", session)
    assert session["growth_mb"] < 50, session
    assert session["models_alive"] == 0, session


def test_fifty_thousand_streamed_inputs_leave_the_resident_set_flat(figures):
    """The 50,000 inputs are 150 MiB; the stream keeps a few batches, 9+9 inputs per channel and a float per
    input and channel (6 MiB), so the resident set may not grow by more than 40 MiB."""
    _, streamed = figures
    assert streamed["count"] == 50_000
    assert streamed["after"] - streamed["before"] < 40, streamed
