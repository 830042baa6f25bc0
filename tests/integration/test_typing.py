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
reveal_type(fv.logit_margins(0, 10))
reveal_type(fv.bounds("m.keras", fv.logit_margins(0, 10), constraints=c))
reveal_type(fv.certify_not_reaches("m.keras", [fv.ClassLogit(0)], 1.0, constraints=c))
reveal_type(fv.priors.Jitter(2))
reveal_type(fv.layer_names("m.keras"))
reveal_type(fv.__version__)
fv.bounds("m.keras", fv.ClassLogit(0), constraints=c, method="alpha")
fv.bounds("m.keras", fv.ClassLogit(0), c)
"""


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One mypy cache for the module's runs: the second reads the package's and NumPy's analysis from it."""
    return tmp_path_factory.mktemp("mypy_cache")


def _mypy(tmp_path, cache, source, *options):
    """mypy's report on ``source`` as a user's file (the package found on MYPYPATH, no project config)."""
    pytest.importorskip("mypy")
    (tmp_path / "user.py").write_text(source)
    cmd = [sys.executable, "-m", "mypy", "--follow-imports=silent", *options, "--no-error-summary"]
    cmd += ["--cache-dir", str(cache), "--config-file", "", "user.py"]
    env = {**os.environ, "MYPYPATH": str(ROOT)}
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, check=False).stdout


def test_mypy_sees_the_public_types_and_no_any(tmp_path, cache):
    """A user's file type-checks against real types: no expression is Any (--disallow-any-expr), and every
    public name is re-exported explicitly (--strict: no implicit re-export)."""
    out = _mypy(tmp_path, cache, _USER_FILE, "--strict", "--disallow-any-expr")
    revealed = re.findall(r'Revealed type is "([^"]+)"', out)
    assert revealed == [
        "pytest_featviz.constraints.sets.Intersection",
        "pytest_featviz.objectives.base.Sum",
        "pytest_featviz.engine.result.AscentResult",
        "pytest_featviz.claims.outcome.ClaimResult",
        "pytest_featviz.verify.results.Bounds",
        "pytest_featviz.verify.results.Certificate",
        "list[pytest_featviz.objectives.base.Objective]",
        "tuple[pytest_featviz.verify.results.Bounds, ...]",
        "tuple[pytest_featviz.verify.results.Certificate, ...]",
        "pytest_featviz.priors.transforms.Jitter",
        "list[str]",
        "str",
    ], out
    errors = [line.split(": error: ")[1] for line in out.splitlines() if ": error: " in line]
    assert len(errors) == 2, out  # exactly the two wrong calls: a method not in the Literal, constraints positional
    # bounds is overloaded (one objective -> Bounds, a list -> a tuple): mypy names the call and lists the
    # variants, each with the method's Literal
    assert errors[0].startswith(
        'No overload variant of "bounds" matches argument types "str", "ClassLogit", "Intersection", "str"'
    )
    assert errors[1].startswith(
        'No overload variant of "bounds" matches argument types "str", "ClassLogit", "Intersection" '
    )
    notes = [line for line in out.splitlines() if ": note:     def bounds(" in line]
    assert len(notes) == 4 and all("method: Literal['crown', 'ibp', 'crown-ibp', 'alpha-crown']" in n for n in notes)


_CHOICES_FILE = """
import numpy as np
import pytest_featviz as fv

x = np.zeros((2, 2))
fv.ascend("m.keras", fv.ClassLogit(0), optimizer="adam", schedule="constant", priors="standard")
fv.ascend("m.keras", fv.ClassLogit(0), optimizer="pgd", schedule="cosine", priors=None)
fv.Channel("conv", 0, reduce="max")
fv.render.to_uint8(x, contrast="stretch")
fv.render.to_image(x, contrast="none")
fv.render.grid(x, contrast="stretch")
fv.priors.Pad(2, "constant")
fv.priors.Pad(2, mode="reflect")
fv.priors.resolve_priors("none")
fv.load_model("sm", outputs="probabilities")
fv.ascend("m.keras", fv.ClassLogit(0), optimizer="adma")
fv.ascend("m.keras", fv.ClassLogit(0), schedule="cosin")
fv.ascend("m.keras", fv.ClassLogit(0), priors="standrad")
fv.Channel("conv", 0, reduce="avg")
fv.render.to_uint8(x, contrast="strech")
fv.render.to_image(x, contrast="strech")
fv.render.grid(x, contrast="strech")
fv.priors.Pad(2, "reflct")
fv.priors.resolve_priors("standrad")
fv.load_model("sm", outputs="probs")
reveal_type(fv.ascend)
reveal_type(fv.Channel)
reveal_type(fv.render.grid)
reveal_type(fv.load_model)
"""
_VALID_LINES = range(6, 16)  # user.py's lines holding valid choices (1-based): none may be an error


def test_mypy_rejects_a_misspelt_string_choice_and_accepts_the_valid_ones(tmp_path, cache):
    """Every public string choice is a Literal: a typo is a type error naming the choices, the valid ones pass."""
    # the options of the other run, so the cache serves; the revealed signatures hold Any (a model's type)
    out = _mypy(tmp_path, cache, _CHOICES_FILE, "--strict", "--disallow-any-expr")
    errors = [line for line in out.splitlines() if ": error: " in line]
    assert not [e for e in errors if int(e.split(":")[1]) in _VALID_LINES], out
    errors = [e for e in errors if e.endswith("[arg-type]")]  # not the Any in the revealed signatures
    wanted = [
        "Literal['adam', 'pgd', 'sign'] | None",
        "Literal['cosine', 'constant']",
        "Literal['none', 'standard'] | Priors | None",
        "Literal['mean', 'max']",
        *["Literal['none', 'stretch']"] * 3,
        "Literal['reflect', 'constant']",
        "Literal['none', 'standard'] | Priors | None",
        "Literal['auto', 'logits', 'probabilities']",
    ]
    assert len(errors) == len(wanted), out
    for error, literal in zip(errors, wanted):
        assert "Argument " in error and literal in error, (literal, out)
    revealed = re.findall(r'Revealed type is "([^"]+)"', out)
    assert len(revealed) == 4 and not any(r == "Any" for r in revealed), out
    assert "optimizer: Literal['adam'] | Literal['pgd'] | Literal['sign'] | None =" in revealed[0], out
    assert "-> pytest_featviz.engine.result.AscentResult" in revealed[0], out
    assert "reduce: Literal['mean'] | Literal['max'] =" in revealed[1], out
    assert "contrast: Literal['none'] | Literal['stretch'] =" in revealed[2], out
    assert "outputs: Literal['auto'] | Literal['logits'] | Literal['probabilities'] =" in revealed[3], out
