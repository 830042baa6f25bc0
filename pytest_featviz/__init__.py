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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # What type checkers see; at run time every name below loads on first use (__getattr__). The
    # redundant `as` marks each one as re-exported (mypy --strict, pyright on a py.typed package).
    from . import baselines as baselines
    from . import errors as errors
    from . import metrics as metrics
    from . import priors as priors
    from . import render as render
    from . import strategies as strategies
    from ._pytest.fixture import Featviz as Featviz
    from .claims import ClaimResult as ClaimResult
    from .claims import FaithfulResult as FaithfulResult
    from .claims import assert_faithful as assert_faithful
    from .claims import assert_not_reaches as assert_not_reaches
    from .claims import assert_reaches as assert_reaches
    from .claims import assert_structure as assert_structure
    from .claims import assert_within as assert_within
    from .constraints import Box as Box
    from .constraints import Constraint as Constraint
    from .constraints import Intersection as Intersection
    from .constraints import LpBall as LpBall
    from .constraints import Mask as Mask
    from .engine import AscentResult as AscentResult
    from .engine import ascend as ascend
    from .errors import BaselineFormatError as BaselineFormatError
    from .errors import ConfigurationError as ConfigurationError
    from .errors import FeatvizError as FeatvizError
    from .errors import FeatvizTypeError as FeatvizTypeError
    from .errors import GradientError as GradientError
    from .errors import LayerNotFoundError as LayerNotFoundError
    from .errors import MissingDependencyError as MissingDependencyError
    from .errors import ModelLoadError as ModelLoadError
    from .exemplars import TopExamples as TopExamples
    from .exemplars import top_examples as top_examples
    from .models import fix_inputs as fix_inputs
    from .models import get_layer as get_layer
    from .models import layer_names as layer_names
    from .models import load_model as load_model
    from .objectives import L1 as L1
    from .objectives import L2 as L2
    from .objectives import Channel as Channel
    from .objectives import ClassLogit as ClassLogit
    from .objectives import ClassProbability as ClassProbability
    from .objectives import Condition as Condition
    from .objectives import Direction as Direction
    from .objectives import Diversity as Diversity
    from .objectives import LayerEnergy as LayerEnergy
    from .objectives import Neuron as Neuron
    from .objectives import Objective as Objective
    from .objectives import TotalVariation as TotalVariation
    from .objectives import logit_margins as logit_margins
    from .priors import Priors as Priors
    from .verify import Bounds as Bounds
    from .verify import BranchAndBound as BranchAndBound
    from .verify import Certificate as Certificate
    from .verify import bounds as bounds
    from .verify import certify_not_reaches as certify_not_reaches

    __version__: str


_LAZY = {
    # constraints
    "Box": "constraints",
    "LpBall": "constraints",
    "Mask": "constraints",
    "Constraint": "constraints",
    "Intersection": "constraints",
    # objectives
    "Objective": "objectives",
    "Condition": "objectives",
    "ClassLogit": "objectives",
    "ClassProbability": "objectives",
    "Neuron": "objectives",
    "Channel": "objectives",
    "Direction": "objectives",
    "LayerEnergy": "objectives",
    "Diversity": "objectives",
    "TotalVariation": "objectives",
    "L1": "objectives",
    "L2": "objectives",
    "logit_margins": "objectives",
    # engine and models
    "ascend": "engine",
    "AscentResult": "engine",
    "load_model": "models",
    "layer_names": "models",
    "get_layer": "models",
    "fix_inputs": "models",
    # natural exemplars
    "top_examples": "exemplars",
    "TopExamples": "exemplars",
    # assertions
    "assert_reaches": "claims",
    "assert_not_reaches": "claims",
    "assert_within": "claims",
    "assert_structure": "claims",
    "assert_faithful": "claims",
    "FaithfulResult": "claims",
    "ClaimResult": "claims",
    # the pytest plugin's fixture (for type hints: ``def test_x(featviz: fv.Featviz)``)
    "Featviz": "_pytest.fixture",
    # image priors (the pieces are under fv.priors)
    "Priors": "priors",
    # sound bounds
    "Bounds": "verify",
    "BranchAndBound": "verify",
    "bounds": "verify",
    "Certificate": "verify",
    "certify_not_reaches": "verify",
    # errors
    "FeatvizError": "errors",
    "ConfigurationError": "errors",
    "FeatvizTypeError": "errors",
    "LayerNotFoundError": "errors",
    "ModelLoadError": "errors",
    "GradientError": "errors",
    "BaselineFormatError": "errors",
    "MissingDependencyError": "errors",
}
# Modules whose names are useless without TensorFlow: loading one checks for it first, so a
# missing TensorFlow is a MissingDependencyError naming the fix (TensorFlow is the user's choice
# of build, not a dependency).
_NEEDS_TENSORFLOW = {"engine", "models", "claims", "verify", "exemplars"}
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
