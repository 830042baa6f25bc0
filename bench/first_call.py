"""Benchmark: the first ascent of a fresh process, traced with and without autograph.

Run from the repository root: ``.venv/bin/python bench/first_call.py [--runs 3]``.

Every process that uses pytest-featviz (each pytest-xdist worker, each CI job) pays for its
first ascent's trace. The engine traces its loop, the exemplar pass and the attack's gradient
without autograph (nothing in them branches on tensors); with autograph on, TensorFlow converts
every function the trace calls. Each run below is a fresh interpreter that loads the digits
CNN, then times one 30-step ascent and one ``assert_reaches`` after it, then loads the texture CNN
and times a 30-step ascent with ``priors="standard"`` (its XLA-compiled pieces are traced then);
"autograph on" forces ``autograph=True`` on every ``tf.function`` the package makes. Only the
ratios of one run compare: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import json, sys, time
import tensorflow as tf
if sys.argv[1] == "on":  # every tf.function the package makes gets autograph=True, whatever it asks for
    plain = tf.function
    tf.function = lambda *args, **options: plain(*args, **{**options, "autograph": True})
import pytest_featviz as fv
model = fv.load_model(sys.argv[2])
t0 = time.process_time()
fv.ascend(model, fv.ClassLogit(0), constraints=fv.Box(0, 1), steps=30)
t1 = time.process_time()
fv.assert_reaches(model, fv.ClassLogit(1), 0.0, constraints=fv.Box(0, 1), steps=30)
t2 = time.process_time()
textures = fv.load_model(sys.argv[3])
t3 = time.process_time()
fv.ascend(textures, fv.Channel("conv1", 0), constraints=fv.Box(0, 1), steps=30, priors="standard")
t4 = time.process_time()
print(json.dumps({"first": t1 - t0, "second": t2 - t1, "priors": t4 - t3}))
"""


def run(mode: str) -> dict[str, float]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "OPENBLAS_NUM_THREADS": "1"}
    models = [str(ROOT / "examples" / "models" / f"{name}.keras") for name in ("digits_cnn", "textures_cnn")]
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, *models], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per mode, alternating")
    args = parser.parse_args()
    found: dict[str, list[dict[str, float]]] = {"off": [], "on": []}
    for _ in range(args.runs):
        for mode in found:
            found[mode].append(run(mode))
    print(
        f"CPU seconds in a fresh process (median of {args.runs}): first ascent, then an assert_reaches, "
        "then a first ascent with priors"
    )
    keys = ("first", "second", "priors")
    medians = {m: {k: statistics.median(r[k] for r in rs) for k in keys} for m, rs in found.items()}
    for mode, label in (("off", "autograph off (default)"), ("on", "autograph on")):
        m = medians[mode]
        print(f"  {label:24s} first {m['first']:6.2f} s   next {m['second']:6.2f} s   priors {m['priors']:6.2f} s")
    for key, what in (("first", "first ascent"), ("priors", "first ascent with priors")):
        print(f"  ratio on/off, {what}: {medians['on'][key] / medians['off'][key]:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
