"""The one place that imports TensorFlow and Keras for the entry points, with a clear error.

TensorFlow is not a dependency of pytest-featviz: the user's build (``tensorflow``,
``tensorflow-cpu``, ``tensorflow[and-cuda]``, ``tensorflow-macos``) is the user's choice, so
installing the plugin never adds a second one. The entry points (``fv.load_model``,
``fv.ascend``, ... through ``pytest_featviz.__getattr__``, the plugin's fixtures and the
``featviz`` command) call :func:`tensorflow` first, so a missing TensorFlow gives a
:class:`~pytest_featviz.errors.MissingDependencyError` naming the fix instead of a bare
``ModuleNotFoundError`` deep in the engine.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingDependencyError

INSTALL_TENSORFLOW = (
    "install one build: pip install 'pytest-featviz[cpu]' (CPU), "
    "pip install 'pytest-featviz[gpu]' (NVIDIA GPU, Linux), or pip install tensorflow"
)


def _import(name: str, needs: str, fix: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise MissingDependencyError(f"pytest-featviz needs {needs}, which cannot be imported ({exc}); {fix}") from exc


def tensorflow() -> ModuleType:
    """Return the ``tensorflow`` module, or raise ``MissingDependencyError`` naming how to install one.

    Examples
    --------
    >>> tensorflow().__name__
    'tensorflow'
    """
    return _import("tensorflow", "TensorFlow", INSTALL_TENSORFLOW)


def keras() -> ModuleType:
    """Return the ``keras`` module (Keras 3 on TensorFlow), checking TensorFlow first.

    Examples
    --------
    >>> keras().__name__
    'keras'
    """
    tensorflow()
    return _import("keras", "Keras 3", "pip install 'keras>=3.3.3'")
