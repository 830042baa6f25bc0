"""Installing into a user's environment: TensorFlow is the user's, a missing one is a clear error."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import pytest_featviz as fv
from pytest_featviz import _deps
from pytest_featviz.errors import FeatvizError, MissingDependencyError

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "examples" / "models" / "digits_mlp.keras"
# Run Python as a user without TensorFlow: the import system refuses ``tensorflow``.
HIDE_TF = "import sys; sys.modules['tensorflow'] = None; "
FIX = "pip install 'pytest-featviz[cpu]'"


def _python(code: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", HIDE_TF + code, *args], capture_output=True, text=True, check=False, cwd=cwd
    )


def test_missing_dependency_error_is_both_a_featviz_and_an_import_error():
    assert issubclass(MissingDependencyError, FeatvizError) and issubclass(MissingDependencyError, ImportError)
    assert fv.MissingDependencyError is MissingDependencyError


def test_accessors_return_the_modules_when_installed():
    import keras
    import tensorflow as tf

    assert _deps.tensorflow() is tf and _deps.keras() is keras


def test_load_model_without_tensorflow_names_the_fix():
    code = textwrap.dedent(f"""\
        import pytest_featviz as fv
        box = fv.Box(0, 1)  # nothing TensorFlow needs: still works
        try:
            fv.load_model({str(MODEL)!r})
        except fv.MissingDependencyError as exc:
            assert isinstance(exc, ImportError), type(exc).__mro__
            print(exc)
        """)
    out = _python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("pytest-featviz needs TensorFlow") and FIX in out.stdout, out.stdout
    assert "pip install tensorflow" in out.stdout


@pytest.mark.parametrize("name", ["ascend", "assert_reaches", "bounds"])
def test_every_tensorflow_entry_point_of_the_package_checks(name):
    out = _python(f"import pytest_featviz as fv; fv.{name}")
    assert out.returncode == 1 and "MissingDependencyError" in out.stderr and FIX in out.stderr, out.stderr


def test_cli_without_tensorflow_exits_2_with_the_fix():
    out = _python("from pytest_featviz.cli import main; sys.exit(main(sys.argv[1:]))", "layers", str(MODEL))
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith("featviz layers: error: pytest-featviz needs TensorFlow") and FIX in out.stderr


def test_plugin_fixture_without_tensorflow_reports_the_fix(tmp_path):
    (tmp_path / "test_user.py").write_text(
        textwrap.dedent(f"""\
        import pytest

        @pytest.mark.featviz_model({str(MODEL)!r})
        def test_uses_the_model(featviz_model):
            pass
        """)
    )
    out = _python(
        "import pytest; sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', 'test_user.py']))", cwd=tmp_path
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert "MissingDependencyError: pytest-featviz needs TensorFlow" in out.stdout and FIX in out.stdout
    assert "1 error" in out.stdout


def test_legacy_keras2_h5_classifier_loads_and_runs():
    """A Keras 2 (tf-keras) .h5 classifier, made by examples/models/make_legacy_h5.py, under Keras 3."""
    import numpy as np

    from examples.models.make_legacy_h5 import OUT, B, W

    model = fv.load_model(OUT)
    assert fv.layer_names(model) == ["flatten", "hidden", "probs"]
    x = np.random.default_rng(0).random((5, 2, 2), dtype=np.float32)
    z = 2 * x.reshape(5, 4) @ W + B
    expected = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=1e-5, atol=1e-6)
    # Class 0's logit 2 * (3 x0 - x1 - x3) is largest on the box at x0 = 1, x1 = x3 = 0 (x2 free): 6.
    r = fv.ascend(model, fv.ClassLogit(0), constraints=fv.Box(0, 1), steps=128, seed=0)
    np.testing.assert_allclose(r.values, [6.0], atol=1e-3)
    np.testing.assert_allclose(r.inputs[0].ravel()[[0, 1, 3]], [1, 0, 0], atol=1e-3)
    # At [1, 0, 0, 0] the logits are (6, -2, -1): probability 1 / (1 + e^-8 + e^-7) = 0.99875.
    fv.assert_reaches(model, fv.ClassProbability(0), 0.998, constraints=fv.Box(0, 1), steps=64)


@pytest.mark.parametrize("path", sorted((ROOT / "examples" / "models").glob("*.keras")), ids=lambda p: p.name)
def test_example_models_load_on_the_oldest_supported_keras(path):
    """Saved by a newer Keras, they must not carry config keys the oldest supported Keras refuses (run portable.py)."""
    import json
    import zipfile

    from examples.models.portable import strip

    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    assert strip(config) == config, f"run: python examples/models/portable.py {path.relative_to(ROOT)}"
