"""Type checkers see the public API's real types (mypy on a user's file, in a subprocess)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


_USER_FILE = """
import pytest_featviz as fv
from pytest_featviz import LpBall

center = [0.5, 0.5]
c = fv.Box(0, 1) & LpBall(center, radius=0.1)
reveal_type(c)
reveal_type(fv.ClassLogit(0) - 0.1 * fv.ClassLogit(1))
reveal_type(fv.ascend("m.keras", fv.ClassLogit(0), constraints=c, steps=2))
reveal_type(fv.assert_not_reaches("m.keras", fv.Neuron("d", 0), 1.0, constraints=c))
reveal_type(fv.bounds("m.keras", fv.ClassLogit(0), constraints=c, method="ibp"))
reveal_type(fv.certify_not_reaches("m.keras", fv.ClassLogit(0), 1.0, constraints=c))
reveal_type(fv.priors.Jitter(2))
reveal_type(fv.layer_names("m.keras"))
reveal_type(fv.__version__)
fv.bounds("m.keras", fv.ClassLogit(0), constraints=c, method="alpha")
fv.bounds("m.keras", fv.ClassLogit(0), c)
"""


def test_mypy_sees_the_public_types_and_no_any(tmp_path):
    """A user's file type-checks against real types: no expression is Any (--disallow-any-expr), and every
    public name is re-exported explicitly (--strict: no implicit re-export)."""
    pytest.importorskip("mypy")
    (tmp_path / "user.py").write_text(_USER_FILE)
    cmd = [
        sys.executable,
        "-m",
        "mypy",
        "--follow-imports=silent",
        "--strict",
        "--disallow-any-expr",
        "--no-error-summary",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--config-file",
        "",
        "user.py",
    ]
    out = subprocess.run(
        cmd, cwd=tmp_path, env={**os.environ, "MYPYPATH": str(ROOT)}, capture_output=True, text=True, check=False
    ).stdout
    revealed = re.findall(r'Revealed type is "([^"]+)"', out)
    assert revealed == [
        "pytest_featviz.constraints.sets.Intersection",
        "pytest_featviz.objectives.base.Sum",
        "pytest_featviz.engine.result.AscentResult",
        "pytest_featviz.claims.outcome.ClaimResult",
        "pytest_featviz.verify.certificates.Bounds",
        "pytest_featviz.verify.certificates.Certificate",
        "pytest_featviz.priors.transforms.Jitter",
        "list[str]",
        "str",
    ], out
    errors = [line.split(": error: ")[1] for line in out.splitlines() if ": error: " in line]
    assert len(errors) == 2, out  # exactly the two wrong calls: a method not in the Literal, constraints positional
    assert "Literal['crown', 'ibp', 'crown-ibp']" in errors[0] and "Too many positional arguments" in errors[1]
