"""Regenerate ``examples_run/``: the run files of real runs that the report tests read instead of running them.

    python tests/integration/data/make_examples_run.py        (or: make examples-run)

Two real runs, each written by the plugin as it is today:

- ``examples_run/examples/``: the examples suite, as ``make demo`` runs it (``--featviz-artifacts`` and
  ``--featviz-report``, so passing assertions keep their pictures too). Every test passes; the failed
  assertions it holds are caught or expected (xfail demonstrations).
- ``examples_run/gate/``: one small run (shard ``gate``) of a test with a real failure: the demo claim
  of ``examples/test_digits_claims.py`` without its xfail marker, in a file of its own (GATE below).

Each run file (``featviz-run.json``, copied as the plugin wrote it: its picture paths are relative
to its folder) is copied with the pictures its records name, re-encoded losslessly (the same
pixels, smaller files). Running the examples takes about a minute, far more than a test may cost,
hence these files. Hypothesis draws derandomized examples (``CI=1``: the ``featviz`` profile), so the
number of records is the same from one regeneration to the next.

Rerun this when the run file's or the record's schema changes: ``test_report_examples.py`` checks
that the committed files still read with this version of pytest-featviz.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
OUT = HERE / "examples_run"
BUDGET = 300_000  # bytes, all files together

GATE = '''"""A release gate with a real failure: a '7' cannot become a '1' within 0.02 (no xfail here)."""

import numpy as np
import pytest

import pytest_featviz as fv

MODELS = {models!r}


@pytest.mark.featviz_model(MODELS + "/digits_mlp.keras")
def test_a_seven_cannot_become_a_one_within_0_02(featviz_model):
    data = np.load(MODELS + "/digits_test.npz")
    seven = data["x_test"][np.flatnonzero(data["y_test"] == 7)[0]].astype(np.float32) / 255.0
    near = fv.Box(0, 1) & fv.LpBall(seven, radius=0.02, p=np.inf)
    fv.assert_reaches(featviz_model, fv.ClassProbability(1), 0.9, constraints=near, start=seven, steps=100)
'''


def pytest_run(folder: Path, out: Path, *args: str) -> Path:
    """Run pytest in ``folder`` with ``args``, its artifacts folder and report under ``out``; return its run file."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    command += ["--featviz-artifacts", str(out / "artifacts"), "--featviz-report", str(out / "report.html")]
    env = {**os.environ, "CI": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(command, cwd=folder, env=env, check=False)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}")
    return out / "artifacts" / "featviz-run.json"


def pictures_of(run: dict) -> list[str]:
    """The picture paths the run file's records name (relative to its folder)."""
    found = []
    for record in run["records"]:
        found += [record["picture"]] if record.get("picture") else []
        found += [p for p in (record.get("pictures") or {}).values() if p]
    return found


def copy_run(source: Path, target: Path) -> int:
    """Copy the run file ``source`` and its pictures into ``target``; return the bytes written."""
    from PIL import Image

    run = json.loads(source.read_text(encoding="utf-8"))
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    shutil.copyfile(source, target / source.name)
    for picture in pictures_of(run):
        if Path(picture).is_absolute():
            raise SystemExit(f"{picture} lies outside the artifacts folder: the copy would not find it")
        (target / picture).parent.mkdir(parents=True, exist_ok=True)
        with Image.open(source.parent / picture) as image:
            image.save(target / picture, optimize=True)  # lossless: the same pixels
    return sum(p.stat().st_size for p in target.rglob("*") if p.is_file())


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        examples = pytest_run(ROOT, Path(tmp) / "examples", "examples")
        gate = Path(tmp) / "gate"
        gate.mkdir()
        (gate / "test_release_gate.py").write_text(GATE.format(models=str(ROOT / "examples" / "models")))
        failing = pytest_run(
            gate, gate / "out", "--rootdir", str(gate), "--featviz-shard", "gate", "test_release_gate.py"
        )
        size = copy_run(examples, OUT / "examples") + copy_run(failing, OUT / "gate")
    print(f"wrote {OUT}: {size} bytes")
    if size > BUDGET:
        raise SystemExit(f"{size} bytes exceed the budget of {BUDGET}: shrink the pictures")


if __name__ == "__main__":
    main()
