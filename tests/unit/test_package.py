"""The package surface: lazy imports, every public name resolves and is taught in the README."""

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import pytest_featviz as fv

ROOT = Path(__file__).resolve().parents[2]


# Each step runs in order in one fresh interpreter; a heavy module that appears during a step is blamed on it.
# pytest_featviz and the plugin load for every pytest run of a user who installed us: not even NumPy.
LIGHT = ["pytest_featviz", "pytest_featviz.plugin"]
PACKAGES = sorted(
    f"pytest_featviz.{p.stem}"
    for p in (ROOT / "pytest_featviz").iterdir()
    if p.name != "__init__.py" and (p.suffix == ".py" or (p / "__init__.py").is_file())
)
STEPS = [*LIGHT, *(p for p in PACKAGES if p not in LIGHT), "pytest_featviz.priors.STANDARD.structure()"]
HEAVY = ("tensorflow", "keras", "numpy")
IMPORTS = """
import importlib, json, sys
loaded, heavy = {}, %r
for step in %r:
    before = set(sys.modules)
    if step.endswith(")"):
        eval(step, {"pytest_featviz": sys.modules["pytest_featviz"]})
    else:
        importlib.import_module(step)
    loaded[step] = sorted(set(heavy) & (set(sys.modules) - before))
print(json.dumps(loaded))
""" % (HEAVY, STEPS)  # noqa: UP031


@pytest.fixture(scope="module")
def heavy_modules_loaded_by():
    out = subprocess.run([sys.executable, "-c", IMPORTS], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.mark.parametrize("step", STEPS)
def test_importing_loads_no_tensorflow_or_keras(step, heavy_modules_loaded_by):
    forbidden = set(HEAVY) if step in LIGHT else {"tensorflow", "keras"}
    assert not forbidden & set(heavy_modules_loaded_by[step]), f"{step} loads {heavy_modules_loaded_by[step]}"


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
    code = (
        f"import importlib, inspect, pytest_featviz as fv; a = {first}; b = {second}; "
        "assert a is b is fv.bounds and inspect.isfunction(fv.bounds); print('ok')"
    )
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
    seen = {
        alias.asname or alias.name
        for node in ast.walk(block)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    seen |= {node.target.id for node in ast.walk(block) if isinstance(node, ast.AnnAssign)}
    assert seen == set(fv.__all__)


@pytest.mark.parametrize(
    "piece",
    [
        "Pad",
        "Jitter",
        "RandomScale",
        "RandomRotate",
        "Compose",
        "Pixel",
        "SigmoidRange",
        "Fourier",
        "BlurEvery",
        "resolve_priors",
        "STANDARD",
    ],
)
def test_prior_pieces_live_under_fv_priors(piece):
    assert piece not in fv.__all__
    with pytest.raises(AttributeError):
        getattr(fv, piece)
    assert getattr(fv.priors, piece) is getattr(importlib.import_module("pytest_featviz.priors"), piece)
    assert fv.Priors is fv.priors.Priors
