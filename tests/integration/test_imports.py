"""What a fresh interpreter imports: `import pytest_featviz` and the plugin load no TensorFlow, Keras or
NumPy (they load for every pytest run of a user who installed us), no package loads TensorFlow or Keras
until it is used, and `fv.bounds` is the function whatever the import order."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

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


@pytest.mark.parametrize("order", ["attribute first", "submodule first"])
def test_fv_bounds_is_the_function_whatever_the_import_order(order):
    first, second = "fv.bounds", "importlib.import_module('pytest_featviz.verify').bounds"
    if order == "submodule first":
        first, second = second, first
    # names only: a stand-in for TensorFlow (whose import the entry points check first) spares 3 s per run
    code = (
        "import sys, types; sys.modules['tensorflow'] = types.ModuleType('tensorflow'); "
        f"import importlib, inspect, pytest_featviz as fv; a = {first}; b = {second}; "
        "assert a is b is fv.bounds and inspect.isfunction(fv.bounds); print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.stdout.strip() == "ok", out.stderr
