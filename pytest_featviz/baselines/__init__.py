"""Baselines: capture what a model does, store it, and compare a new run against it (model regression gates)."""

from ..errors import BaselineFormatError
from .behaviour import LOGITS_LAYER, activations, objective_values, reference_layer
from .capture import FORMAT, FORMAT_VERSION, Baseline, capture
from .checks import BEHAVIOURAL_CHECKS, CHECKS, LEGACY_CHECKS, SIMILARITIES, Check, cross_activation, similarity
from .compare import (
    DEFAULT_MIN_CROSS,
    DEFAULT_MIN_SIMILARITY,
    DEFAULT_MIN_SSIM,
    DEFAULT_VALUE_ATOL,
    DEFAULT_VALUE_RTOL,
    MATCHES,
    Comparison,
    check_options,
    compare,
    mismatch_pictures,
)
from .store import baseline_path, load, save

__all__ = [
    "Baseline",
    "Comparison",
    "BaselineFormatError",
    "capture",
    "save",
    "load",
    "compare",
    "baseline_path",
    "mismatch_pictures",
    "check_options",
    "DEFAULT_MIN_SSIM",
    "DEFAULT_VALUE_RTOL",
    "DEFAULT_VALUE_ATOL",
    "MATCHES",
    "FORMAT",
    "FORMAT_VERSION",
    "Check",
    "CHECKS",
    "LEGACY_CHECKS",
    "BEHAVIOURAL_CHECKS",
    "DEFAULT_MIN_CROSS",
    "DEFAULT_MIN_SIMILARITY",
    "SIMILARITIES",
    "cross_activation",
    "similarity",
    "objective_values",
    "activations",
    "reference_layer",
    "LOGITS_LAYER",
]
