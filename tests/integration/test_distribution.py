"""The distribution: declared dependencies match the imports, and the wheel and sdist are clean."""

import ast
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# Import name -> distribution name, where they differ.
DISTRIBUTION = {"skimage": "scikit-image", "PIL": "pillow"}
TENSORFLOWS = {"tensorflow", "tensorflow-cpu"}


def _imports(folder: Path) -> dict[str, str]:
    """``{top-level module: first file importing it}`` over every import in ``folder``, at any depth."""
    found: dict[str, str] = {}
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], path.name)
    return found


def _names(requirements: list[str]) -> set[str]:
    return {Requirement(r).name.lower() for r in requirements}


def test_every_runtime_import_is_a_declared_dependency_and_every_dependency_is_used():
    imported = {
        name: where
        for name, where in _imports(ROOT / "pytest_featviz").items()
        if name not in sys.stdlib_module_names and name != "pytest_featviz"
    }
    needed = {DISTRIBUTION.get(name, name).lower(): where for name, where in imported.items()}
    declared = _names(PYPROJECT["dependencies"])
    # TensorFlow is the user's choice of build: never a dependency, one comes with the [cpu]/[gpu] extras.
    assert "tensorflow" in needed and not declared & TENSORFLOWS
    assert {Requirement(r).name for r in PYPROJECT["optional-dependencies"]["cpu"]} == TENSORFLOWS
    undeclared = {d: where for d, where in needed.items() if d not in declared | {"tensorflow"}}
    assert not undeclared, f"imported but not declared in [project.dependencies]: {undeclared}"
    assert declared <= set(needed), f"declared but never imported: {declared - set(needed)}"


def test_the_import_scan_sees_imports_inside_functions(tmp_path):
    (tmp_path / "m.py").write_text("import os\ndef f():\n    from skimage.metrics import x\n    import PIL.Image\n")
    assert _imports(tmp_path) == {"os": "m.py", "skimage": "m.py", "PIL": "m.py"}


def test_dependencies_are_ranges_not_pins():
    for text in PYPROJECT["dependencies"]:
        specs = {s.operator for s in Requirement(text).specifier}
        assert ">=" in specs and "<" in specs and "==" not in specs, text


def test_wheel_and_sdist_are_clean_and_pass_twine(tmp_path):
    src = tmp_path / "src"  # a copy: building leaves build/ and *.egg-info behind
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "pytest_featviz", src / "pytest_featviz", ignore=shutil.ignore_patterns("__pycache__"))
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(src)],
        check=True,
        capture_output=True,
        text=True,
    )
    (wheel,) = dist.glob("*.whl")
    assert len(list(dist.glob("*.tar.gz"))) == 1
    twine = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, dist.iterdir())], capture_output=True, text=True
    )
    assert twine.returncode == 0, twine.stdout + twine.stderr
    with zipfile.ZipFile(wheel) as whl:
        names = whl.namelist()
        meta = Parser().parsestr(whl.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode())
    package = {n for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert package == {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "pytest_featviz").rglob("*")
        if p.suffix == ".py" or p.name == "py.typed"
    }
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert meta["License-Expression"] == "Apache-2.0" and meta["License-File"] == "LICENSE"
    classifiers = meta.get_all("Classifier")
    assert "Framework :: Pytest" in classifiers
    assert {f"Programming Language :: Python :: 3.{v}" for v in range(10, 14)} <= set(classifiers)
    assert meta.get_all("Project-URL") and SpecifierSet(meta["Requires-Python"]) == SpecifierSet(">=3.10,<3.14")
    plain = [r for r in meta.get_all("Requires-Dist") if "extra ==" not in r]
    assert plain and not any(Requirement(r).name in TENSORFLOWS for r in plain), plain
