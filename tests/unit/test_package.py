"""The package surface: lazy imports, every public name resolves and is taught in the README."""

import subprocess
import sys
from pathlib import Path

import pytest

import pytest_featviz as fv

ROOT = Path(__file__).resolve().parents[2]


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
    import tomllib
    from importlib.metadata import version

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert fv.__version__ == version("pytest-featviz") == pyproject["project"]["version"]


def test_typed_marker_is_shipped():
    assert (ROOT / "pytest_featviz" / "py.typed").exists()
