"""The error hierarchy of pytest-featviz.

Configuration mistakes (a typo, an impossible constraint, a missing file) are
``ValueError``/``TypeError``/``LookupError`` subclasses so that they never look
like a model regression; ``AssertionError`` is reserved for a model failing a
claim.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "FeatvizError",
    "ConfigurationError",
    "FeatvizTypeError",
    "LayerNotFoundError",
    "ModelLoadError",
    "GradientError",
    "BaselineFormatError",
    "MissingDependencyError",
    "FaithfulnessWarning",
    "closest",
]


class FeatvizError(Exception):
    """Base class of every error raised by pytest-featviz on purpose."""


class ConfigurationError(FeatvizError, ValueError):
    """A value given to pytest-featviz is not valid; the message names it and the choices."""


class FeatvizTypeError(FeatvizError, TypeError):
    """An argument of the wrong type was given."""


class LayerNotFoundError(ConfigurationError, LookupError):
    """A layer name that the model does not have."""


class ModelLoadError(ConfigurationError):
    """A model source that cannot be loaded (missing, corrupt, or refused as unsafe)."""


class BaselineFormatError(ConfigurationError):
    """A file that is not a readable pytest-featviz baseline (truncated, foreign or newer)."""


class GradientError(ConfigurationError):
    """The objective's gradient does not flow back to the input."""


class MissingDependencyError(FeatvizError, ImportError):
    """A library pytest-featviz needs at run time (TensorFlow, Keras) is not installed or not importable.

    The message names the missing library and the command that installs it.
    """


def closest(name: str, choices: Iterable[str]) -> str:
    """Return a ``"; did you mean 'x'?"`` suffix naming the closest choice, or ``""``.

    Examples
    --------
    >>> closest("conv_3", ["conv_1", "dense"])
    "; did you mean 'conv_1'?"
    """
    match = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.5)
    return f"; did you mean {match[0]!r}?" if match else ""


class FaithfulnessWarning(UserWarning):
    """``fv.assert_faithful(..., on_fail="warn")`` found a visualization that is not faithful to its unit.

    A warning, not an error: pytest lists it in the warnings summary (``-W error::...`` makes it fail).
    """
