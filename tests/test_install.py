"""Installing into a user's environment: TensorFlow is the user's, a missing one is a clear error."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import pytest_featviz as fv
from pytest_featviz import _deps
from pytest_featviz.errors import FeatvizError, MissingDependencyError

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "examples" / "models" / "digits_mlp.keras"
# Run Python as a user without TensorFlow: the import system refuses ``tensorflow``.
HIDE_TF = "import sys; sys.modules['tensorflow'] = None; "
FIX = "pip install 'pytest-featviz[cpu]'"


def _python(code: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", HIDE_TF + code, *args], capture_output=True, text=True,
                          check=False, cwd=cwd)


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
    (tmp_path / "test_user.py").write_text(textwrap.dedent(f"""\
        import pytest

        @pytest.mark.featviz_model({str(MODEL)!r})
        def test_uses_the_model(featviz_model):
            pass
        """))
    out = _python("import pytest; sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', 'test_user.py']))",
                  cwd=tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "MissingDependencyError: pytest-featviz needs TensorFlow" in out.stdout and FIX in out.stdout
    assert "1 error" in out.stdout
