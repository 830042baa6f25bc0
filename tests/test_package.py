"""The package surface: lazy imports, every public name resolves and is taught in the README."""

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import pytest_featviz as fv

ROOT = Path(__file__).resolve().parents[1]


def test_import_loads_no_tensorflow_keras_or_numpy():
    code = "import sys, pytest_featviz, pytest_featviz.plugin; print(sorted(m for m in ('tensorflow', 'keras', 'numpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_every_public_name_resolves_and_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for name in fv.__all__:
        assert getattr(fv, name) is not None
        assert name in readme, f"{name} is public but the README does not teach it"


@pytest.mark.parametrize("order", ["attribute first", "submodule first"])
def test_fv_bounds_is_the_function_whatever_the_import_order(order):
    first, second = "fv.bounds", "importlib.import_module('pytest_featviz.verify').bounds"
    if order == "submodule first":
        first, second = second, first
    code = (f"import importlib, inspect, pytest_featviz as fv; a = {first}; b = {second}; "
            "assert a is b is fv.bounds and inspect.isfunction(fv.bounds); print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.stdout.strip() == "ok", out.stderr


def test_version_is_the_installed_distributions():
    from importlib.metadata import version

    import tomllib

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert fv.__version__ == version("pytest-featviz") == pyproject["project"]["version"]


def test_typed_marker_is_shipped():
    assert (ROOT / "pytest_featviz" / "py.typed").exists()


def test_type_checkers_see_every_public_name():
    """The ``if TYPE_CHECKING:`` block of __init__.py imports exactly the names __getattr__ serves."""
    import ast

    tree = ast.parse((ROOT / "pytest_featviz" / "__init__.py").read_text())
    block = next(node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING")
    seen = {alias.asname or alias.name for node in ast.walk(block) if isinstance(node, ast.ImportFrom)
            for alias in node.names}
    seen |= {node.target.id for node in ast.walk(block) if isinstance(node, ast.AnnAssign)}
    assert seen == set(fv.__all__)


@pytest.mark.parametrize("piece", ["Pad", "Jitter", "RandomScale", "RandomRotate", "Compose", "Pixel", "SigmoidRange",
                                   "Fourier", "BlurEvery", "resolve_priors", "STANDARD"])
def test_prior_pieces_live_under_fv_priors(piece):
    assert piece not in fv.__all__
    with pytest.raises(AttributeError):
        getattr(fv, piece)
    assert getattr(fv.priors, piece) is getattr(importlib.import_module("pytest_featviz.priors"), piece)
    assert fv.Priors is fv.priors.Priors


_USER_FILE = '''
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
'''


def test_mypy_sees_the_public_types_and_no_any(tmp_path):
    """A user's file type-checks against real types: no expression is Any (--disallow-any-expr), and every
    public name is re-exported explicitly (--strict: no implicit re-export)."""
    pytest.importorskip("mypy")
    (tmp_path / "user.py").write_text(_USER_FILE)
    cmd = [sys.executable, "-m", "mypy", "--follow-imports=silent", "--strict", "--disallow-any-expr", "--no-error-summary",
           "--cache-dir", str(tmp_path / "cache"), "--config-file", "", "user.py"]
    out = subprocess.run(cmd, cwd=tmp_path, env={**os.environ, "MYPYPATH": str(ROOT)}, capture_output=True,
                         text=True, check=False).stdout
    revealed = re.findall(r'Revealed type is "([^"]+)"', out)
    assert revealed == [
        "pytest_featviz.constraints.sets.Intersection", "pytest_featviz.objectives.base.Sum",
        "pytest_featviz.engine.ascend.AscentResult", "pytest_featviz.engine.ascend.AscentResult",
        "pytest_featviz.verify.certificates.Bounds", "pytest_featviz.verify.certificates.Certificate",
        "pytest_featviz.priors.transforms.Jitter", "list[str]", "str",
    ], out
    errors = [line.split(": error: ")[1] for line in out.splitlines() if ": error: " in line]
    assert len(errors) == 2, out   # exactly the two wrong calls: a method not in the Literal, constraints positional
    assert "Literal['crown', 'ibp', 'crown-ibp']" in errors[0] and "Too many positional arguments" in errors[1]
