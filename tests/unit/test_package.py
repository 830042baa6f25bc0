"""The package surface: every public name resolves, is typed and is taught in the README.
(What a fresh interpreter imports: tests/integration/test_imports.py.)"""

import importlib
from pathlib import Path

import pytest

import pytest_featviz as fv

ROOT = Path(__file__).resolve().parents[2]


def test_every_public_name_resolves_and_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for name in fv.__all__:
        assert getattr(fv, name) is not None
        assert name in readme, f"{name} is public but the README does not teach it"


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
