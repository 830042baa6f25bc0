"""pytest-featviz: test what a Keras model has learned.

Constrained gradient ascent on a model's input, assertions on what it finds, and a
pytest plugin. ``import pytest_featviz`` imports neither TensorFlow nor Keras: they
load on first use.

Examples
--------
>>> import pytest_featviz as fv
>>> fv.Box(0, 1) & fv.LpBall([0.5, 0.5], radius=0.1, p=2)
Box(0.0, 1.0) & LpBall(radius=0.1, p=2)
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    # constraints
    "Box": "constraints", "LpBall": "constraints", "Mask": "constraints",
    "Constraint": "constraints", "Intersection": "constraints",
    # objectives
    "Objective": "objectives", "Condition": "objectives", "ClassLogit": "objectives",
    "ClassProbability": "objectives", "Neuron": "objectives", "Channel": "objectives",
    "Direction": "objectives", "LayerEnergy": "objectives", "TotalVariation": "objectives",
    "L1": "objectives", "L2": "objectives",
    # engine and models
    "ascend": "engine", "AscentResult": "engine",
    "load_model": "models", "layer_names": "models", "get_layer": "models",
    "fix_inputs": "models",
    # assertions
    "assert_reaches": "claims", "assert_not_reaches": "claims", "assert_within": "claims",
    "assert_structure": "claims", "ClaimResult": "claims",
    # the pytest plugin's fixture (for type hints: ``def test_x(featviz: fv.Featviz)``)
    "Featviz": "_pytest.fixture",
    # image priors
    "Priors": "priors", "STANDARD": "priors", "Pad": "priors", "Jitter": "priors",
    "RandomScale": "priors", "RandomRotate": "priors", "Compose": "priors", "Pixel": "priors",
    "SigmoidRange": "priors", "Fourier": "priors", "BlurEvery": "priors", "resolve_priors": "priors",
    # sound bounds
    "Bounds": "verify", "bounds": "verify", "Certificate": "verify", "certify_not_reaches": "verify",
    # errors
    "FeatvizError": "errors", "ConfigurationError": "errors", "FeatvizTypeError": "errors",
    "LayerNotFoundError": "errors", "ModelLoadError": "errors", "GradientError": "errors",
    "BaselineFormatError": "errors", "MissingDependencyError": "errors",
}
# Modules whose names are useless without TensorFlow: loading one checks for it first, so a
# missing TensorFlow is a MissingDependencyError naming the fix (TensorFlow is the user's choice
# of build, not a dependency).
_NEEDS_TENSORFLOW = {"engine", "models", "claims", "verify"}
_SUBMODULES = ("render", "metrics", "strategies", "priors", "baselines", "errors")

__all__ = sorted(_LAZY) + list(_SUBMODULES) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        if _LAZY[name] in _NEEDS_TENSORFLOW:
            from ._deps import tensorflow

            tensorflow()
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        if name in _NEEDS_TENSORFLOW:
            from ._deps import tensorflow

            tensorflow()
        return importlib.import_module(f".{name}", __name__)
    if name == "__version__":  # the installed distribution's version, read on first use
        from importlib.metadata import version

        return version("pytest-featviz")
    raise AttributeError(f"module 'pytest_featviz' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
