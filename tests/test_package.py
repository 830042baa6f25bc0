"""The package surface: lazy imports, every public name resolves and is taught in the README."""

import subprocess
import sys
from pathlib import Path

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


def test_bounds_stays_callable_after_the_submodule_is_imported():
    import pytest_featviz.bounds  # noqa: F401  (rebinds fv.bounds to the module)

    assert callable(fv.bounds) and fv.bounds.Bounds is fv.Bounds


def test_typed_marker_is_shipped():
    assert (ROOT / "pytest_featviz" / "py.typed").exists()
