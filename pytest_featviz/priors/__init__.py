"""Image priors: transforms (forward-only), parametrizations of the image, regularizing presets."""

from .parametrizations import Fourier, Parametrization, Pixel, SigmoidRange
from .presets import PRESETS, STANDARD, BlurEvery, Preset, Priors, resolve_priors, standard_priors
from .transforms import PAD_MODES, Compose, Jitter, Pad, PadMode, RandomRotate, RandomScale, Transform, as_transform

__all__ = [
    "Transform",
    "Pad",
    "PadMode",
    "PAD_MODES",
    "Jitter",
    "RandomScale",
    "RandomRotate",
    "Compose",
    "as_transform",
    "Parametrization",
    "Pixel",
    "SigmoidRange",
    "Fourier",
    "BlurEvery",
    "Priors",
    "STANDARD",
    "Preset",
    "PRESETS",
    "standard_priors",
    "resolve_priors",
]
