"""Image priors: transforms (forward-only), parametrizations of the image, regularizing presets."""

from .parametrizations import Fourier, Parametrization, Pixel, SigmoidRange
from .presets import PRESETS, STANDARD, BlurEvery, Priors, resolve_priors, standard_priors
from .transforms import Compose, Jitter, Pad, RandomRotate, RandomScale, Transform, as_transform

__all__ = [
    "Transform",
    "Pad",
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
    "PRESETS",
    "standard_priors",
    "resolve_priors",
]
