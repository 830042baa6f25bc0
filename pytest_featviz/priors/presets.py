"""Image priors: transformation robustness, parametrizations and blur (Olah et al., 2017).

Raw pixel ascent on a convolutional unit finds high-frequency patterns that excite the
unit but tell a person nothing. Three priors make the pattern readable (Olah, Mordvintsev
and Schubert, "Feature Visualization", Distill 2017, https://distill.pub/2017/feature-visualization):

* **Transforms** (:class:`Pad`, :class:`Jitter`, :class:`RandomScale`, :class:`RandomRotate`,
  :class:`Compose`): random, differentiable, *forward-only* maps applied to the input on its
  way into the model. The optimised variable never absorbs them, so they cannot accumulate
  into blur; a pattern survives only if it excites the unit wherever it lands.
* **Parametrizations** (:class:`Pixel`, :class:`SigmoidRange`, :class:`Fourier`): how the
  optimised parameter ``p`` maps to the image. In :class:`Fourier` space a gradient step
  moves low frequencies more than high ones, and colours are decorrelated.
* **Blur** (:class:`BlurEvery`): an occasional Gaussian blur of the optimised parameter, a
  regularizer; the one prior that *is* written back into the variable.

:class:`Priors` bundles them; :func:`resolve_priors` turns ``"standard"`` into
:data:`STANDARD`. Images are channels-last ``(B, H, W, C)`` or ``(B, H, W)``. The transforms
live in the private ``_transforms`` and the parametrizations in ``_parametrizations``; their
public names are re-exported here. Nothing here imports TensorFlow at import time; the
methods that build TensorFlow ops import it.

Examples
--------
>>> STANDARD.transforms
Compose(Pad(8, 'reflect'), Jitter(8), RandomScale(0.9..1.1, 11 choices), RandomRotate(-10..10, 11 choices), Jitter(4))
>>> resolve_priors("standard", input_shape=(16,)).parametrization
Pixel()
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np

from .._validation import check_choice, check_int, check_real
from ..errors import FeatvizTypeError
from .parametrizations import (
    Fourier,
    Parametrization,
    Pixel,
    _gaussian_blur,
    _image_geometry,
)
from .transforms import (
    Compose,
    Jitter,
    Pad,
    RandomRotate,
    RandomScale,
    as_transform,
)
from .warp import tf_module

__all__ = ["BlurEvery", "Priors", "STANDARD", "Preset", "PRESETS", "standard_priors", "resolve_priors"]


@dataclass(frozen=True)
class BlurEvery:
    """Blur the optimised image by a Gaussian of ``sigma`` pixels every ``n`` steps.

    Unlike the transforms, this *is* written back into the optimised parameter: it is a
    regularizer that wipes out the high frequencies that ascent keeps building up.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros((1, 9, 9), np.float32); x[0, 4, 4] = 1.0
    >>> y = BlurEvery(4, sigma=1.0).apply(x).numpy()
    >>> bool(y[0, 4, 4] < 0.2), round(float(y.sum()), 4)
    (True, 1.0)
    """

    n: int
    sigma: float = 0.5

    def __post_init__(self) -> None:
        check_int(self.n, "BlurEvery n", min_value=1)
        check_real(self.sigma, "BlurEvery sigma", min_value=0, exclude_min=True)  # in pixels

    def apply(self, x: Any) -> Any:
        """The blurred ``(B, H, W[, C])`` image batch (borders mirrored)."""
        return _gaussian_blur(x, float(self.sigma))

    def step(self, p: Any, t: Any, parametrization: Parametrization, low: Any, high: Any) -> Any:
        """``p`` blurred after steps ``n - 1, 2n - 1, ...`` (``t`` counts from 0), else ``p``."""
        tf = tf_module()
        return tf.cond(
            tf.equal((t + 1) % self.n, 0), lambda: parametrization.blur(p, float(self.sigma), low, high), lambda: p
        )


@dataclass(frozen=True)
class Priors:
    """The image priors of one ascent: transforms, a parametrization and an optional blur.

    Frozen and hashable, so :meth:`structure` can key a cache of compiled functions.

    Examples
    --------
    >>> Priors(transforms=[Jitter(2)]).structure()
    (Compose(Jitter(2)), Pixel(), None)
    """

    transforms: Compose = field(default_factory=Compose)
    parametrization: Parametrization = field(default_factory=Pixel)
    blur: BlurEvery | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "transforms", as_transform(self.transforms))
        if not isinstance(self.parametrization, Parametrization):
            raise FeatvizTypeError(
                f"parametrization must be Pixel(), SigmoidRange() or Fourier(); got {self.parametrization!r}"
            )
        if self.blur is not None and not isinstance(self.blur, BlurEvery):
            raise FeatvizTypeError(f"blur must be BlurEvery(n, sigma) or None; got {self.blur!r}")

    def structure(self) -> tuple:
        """A hashable key of everything that decides the compiled graph."""
        return (self.transforms, self.parametrization, self.blur)

    def check(self, input_shape: tuple[int, ...]) -> None:
        """Raise ConfigurationError when these priors cannot apply to ``input_shape``.

        Examples
        --------
        >>> Priors(transforms=[Jitter(2)]).check((10,))
        Traceback (most recent call last):
        ...
        pytest_featviz.errors.ConfigurationError: transforms=Compose(Jitter(2)) needs an image input of shape (H, W) or (H, W, C) with H, W >= 2; the model's input shape is (10,). Use priors=None (plain pixel ascent) for other inputs
        """
        if self.transforms.transforms:
            h, w, _ = _image_geometry(input_shape, f"transforms={self.transforms!r}")
            for t in self.transforms.transforms:
                if isinstance(t, Pad):
                    t._fits(h, w)
        if self.blur is not None:
            _image_geometry(input_shape, repr(self.blur))
        self.parametrization.validate(np.zeros((1, *input_shape)), np.ones((1, *input_shape)))

    def validate(self, low: np.ndarray, high: np.ndarray) -> None:
        """:meth:`check` the shape of ``low`` (``(B, *S)``), then the parametrization's bounds.

        Examples
        --------
        >>> import numpy as np
        >>> from pytest_featviz.priors import SigmoidRange
        >>> Priors(parametrization=SigmoidRange()).validate(np.zeros((1, 3)), np.full((1, 3), np.inf))
        Traceback (most recent call last):
        ...
        pytest_featviz.errors.ConfigurationError: SigmoidRange() needs finite bounds: give SigmoidRange(low, high) or a Box constraint
        """
        self.check(tuple(np.shape(low))[1:])
        self.parametrization.validate(np.asarray(low), np.asarray(high))


def standard_priors(input_shape: tuple[int, ...] | None = None) -> Priors:
    """The ``"standard"`` preset, for images; plain pixel ascent for other inputs.

    What it does (Olah et al., "Feature Visualization", Distill 2017): mirror-pad the image,
    jitter it, rescale it, rotate it and jitter it again, all before the model sees it (never
    written back), so only patterns that survive small shifts, zooms and turns score; and
    optimise in decorrelated :class:`Fourier` space with RMS-normalised steps
    (``optimizer="pgd"``), where low frequencies move first. Together these remove most of
    the high-frequency noise of raw pixel ascent.

    The transforms grow with the image's shorter side ``n``, reaching Lucid's magnitudes at
    128 pixels and above: with ``t = min(1, n / 128)``, pad and jitter by ``round(8 t)``
    pixels, rescale by ``1 ± 0.1 t``, rotate by ``± 10 t`` degrees, jitter by ``round(4 t)``
    more (pads and jitters at least 1 pixel; 11 choices of scale and of angle). Fixed pixel
    amounts would be far stronger on a 32-pixel image than on a 224-pixel one: a 10 degree
    turn moves the corners of a 32-pixel image by 4 pixels, the period of the stripes a
    first conv layer prefers, and wipes them out. Images under 16 pixels are not rescaled
    or rotated. Inputs that are not images (rank 1, or smaller than 8x8) get ``Priors()``;
    images with other than 1 or 3 channels get ``Fourier(decorrelate=False)``.

    Examples
    --------
    >>> standard_priors((32, 32)).transforms
    Compose(Pad(2, 'reflect'), Jitter(2), RandomScale(0.975..1.025, 11 choices), RandomRotate(-2.5..2.5, 11 choices), Jitter(1))
    >>> standard_priors((224, 224, 3)) == standard_priors() == STANDARD
    True
    >>> standard_priors((10,))
    Priors(transforms=Compose(), parametrization=Pixel(), blur=None)
    """
    if input_shape is None:
        return STANDARD
    shape = tuple(int(s) for s in input_shape)
    if len(shape) not in (2, 3) or min(shape[:2]) < 8:
        return Priors()
    param = Fourier(decorrelate=False) if len(shape) == 3 and shape[2] not in (1, 3) else Fourier()
    return Priors(_standard_transforms(min(shape[:2])), param)


def _standard_transforms(side: int) -> Compose:
    """The standard preset's transforms for an image whose shorter side is ``side`` pixels."""
    t = min(1.0, side / 128.0)
    pad, jitter = max(1, round(8 * t)), max(1, round(4 * t))
    if side < 16:
        return Compose(Pad(pad, "reflect"), Jitter(pad), Jitter(jitter))
    scales = tuple(round(1.0 + 0.1 * t * (i - 5) / 5, 4) for i in range(11))
    degrees = tuple(round(10.0 * t * (i - 5) / 5, 3) for i in range(11))
    return Compose(Pad(pad, "reflect"), Jitter(pad), RandomScale(scales), RandomRotate(degrees), Jitter(jitter))


STANDARD = Priors(_standard_transforms(128), Fourier())
"""The standard image priors for images of 128 pixels and more; see :func:`standard_priors`."""

Preset = Literal["none", "standard"]
"""The names of the priors presets (``ascend(priors=...)``)."""
PRESETS: dict[Preset, Any] = {"none": lambda shape: Priors(), "standard": standard_priors}
"""Each preset's builder (input shape -> :class:`Priors`); the names are checked against :data:`Preset`."""


def resolve_priors(value: Preset | Priors | None, *, input_shape: tuple[int, ...] | None = None) -> Priors:
    """Turn ``None``, a preset name or a :class:`Priors` into :class:`Priors`.

    With ``input_shape`` the preset adapts to it and the result is checked against it.

    Examples
    --------
    >>> resolve_priors("standard") is STANDARD
    True
    >>> resolve_priors("standrad")
    Traceback (most recent call last):
    ...
    pytest_featviz.errors.ConfigurationError: priors='standrad' is not one of 'none', 'standard'; did you mean 'standard'?
    """
    if value is None:
        priors = Priors()
    elif isinstance(value, str):
        check_choice(value, "priors", get_args(Preset))
        priors = PRESETS[value](input_shape)
    elif isinstance(value, Priors):
        priors = value
    else:
        raise FeatvizTypeError(
            f"priors must be None, one of {sorted(get_args(Preset))} or a Priors(...); got {value!r}"
        )
    if input_shape is not None:
        priors.check(tuple(input_shape))
    return priors
