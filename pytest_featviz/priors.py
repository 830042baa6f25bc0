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
:data:`STANDARD`. Images are channels-last ``(B, H, W, C)`` or ``(B, H, W)``. Nothing here
imports TensorFlow at import time; the methods that build TensorFlow ops import it.

Examples
--------
>>> STANDARD.transforms
Compose(Pad(8, 'reflect'), Jitter(8), RandomScale(0.9..1.1, 11 choices), RandomRotate(-10..10, 11 choices), Jitter(4))
>>> resolve_priors("standard", input_shape=(16,)).parametrization
Pixel()
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ._transforms import (  # noqa: F401  (public names re-exported here)
    _tf,
    _int,
    _to_4d,
    _jit,
    Transform,
    Pad,
    Jitter,
    RandomScale,
    RandomRotate,
    Compose,
    as_transform,
)
from .errors import ConfigurationError, FeatvizTypeError, closest

__all__ = [
    "Transform", "Pad", "Jitter", "RandomScale", "RandomRotate", "Compose", "as_transform",
    "Parametrization", "Pixel", "SigmoidRange", "Fourier", "BlurEvery", "Priors",
    "STANDARD", "PRESETS", "standard_priors", "resolve_priors",
]

_LOGIT_EPS = 1e-3
# Square root of ImageNet's RGB colour covariance, from Lucid (lucid/optvis/param/color.py,
# "color_correlation_svd_sqrt"; Olah et al. 2017). Rows are output colours (R, G, B).
_COLOR_SQRT = np.array([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
_COLOR = _COLOR_SQRT / np.max(np.linalg.norm(_COLOR_SQRT, axis=0))


def _image_geometry(shape: tuple[int, ...], what: str) -> tuple[int, int, int]:
    """``(H, W, C)`` of an image input shape ``(H, W)`` or ``(H, W, C)``, else a clear error."""
    shape = tuple(int(s) for s in shape)
    if len(shape) not in (2, 3) or min(shape[:2]) < 2:
        raise ConfigurationError(
            f"{what} needs an image input of shape (H, W) or (H, W, C) with H, W >= 2; the model's "
            f"input shape is {shape}. Use priors=None (plain pixel ascent) for other inputs"
        )
    return shape[0], shape[1], shape[2] if len(shape) == 3 else 1


def _squash(y: Any, low: Any, high: Any) -> Any:
    """``low + (high - low) * sigmoid(y)`` where both bounds are finite, ``y`` elsewhere."""
    tf = _tf()
    low, high = tf.convert_to_tensor(low, tf.float32), tf.convert_to_tensor(high, tf.float32)
    finite = tf.math.is_finite(low) & tf.math.is_finite(high)
    lo, span = tf.where(finite, low, 0.0), tf.where(finite, high - low, 0.0)
    return tf.where(finite, lo + span * tf.sigmoid(y), y)


def _unsquash(x0: Any, low: Any, high: Any) -> np.ndarray:
    """The inverse of :func:`_squash`, with the fraction clipped to ``[eps, 1 - eps]``."""
    x0, low, high = (np.asarray(v, np.float64) for v in (x0, low, high))
    finite = np.isfinite(low) & np.isfinite(high)
    span = np.where(finite, high - low, 0.0)
    frac = (x0 - np.where(finite, low, 0.0)) / np.where(span > 0, span, 1.0)
    frac = np.clip(frac, _LOGIT_EPS, 1 - _LOGIT_EPS)
    return np.where(finite, np.where(span > 0, np.log(frac / (1 - frac)), 0.0), x0)


def _gaussian_blur(x: Any, sigma: float) -> Any:
    """Separable Gaussian blur of a ``(B, H, W[, C])`` batch, mirrored at the borders."""
    tf = _tf()
    x4, squeeze = _to_4d(x)
    h, w, c = x4.shape[1], x4.shape[2], x4.shape[3]
    r = max(1, min(math.ceil(3 * sigma), h - 1, w - 1))
    k = np.exp(-np.arange(-r, r + 1) ** 2 / (2.0 * sigma**2))
    k = np.tile((k / k.sum())[:, None, None], (1, c, 1)).astype(np.float32)
    out = tf.pad(x4, [[0, 0], [r, r], [r, r], [0, 0]], mode="REFLECT")
    out = tf.nn.depthwise_conv2d(out, k[:, None], [1, 1, 1, 1], "VALID")
    out = tf.nn.depthwise_conv2d(out, k[None], [1, 1, 1, 1], "VALID")
    return out[..., 0] if squeeze else out


class Parametrization:
    """Base class: how the optimised parameter ``p`` maps to the model's input.

    ``low`` and ``high`` are the constraint's box bounds with the input's batch shape
    ``(B, *S)`` (``±inf`` where unbounded), as numpy arrays for :meth:`init`/:meth:`draw`
    and as tensors inside the compiled loop. ``optimizer`` and ``lr`` are what
    :func:`~pytest_featviz.ascend` uses when it is given none (``lr=None`` here: 5% of the
    constraint set's width, in input units).
    """

    optimizer: ClassVar[str] = "adam"
    lr: ClassVar[float | None] = None

    def param_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape of ``p`` for a batch of inputs of shape ``(B, *S)``."""
        return tuple(shape)

    def init(self, x0: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
        """A parameter whose input is ``x0`` (up to clipping at the bounds)."""
        return np.asarray(x0, np.float32)

    def draw(self, low: np.ndarray, high: np.ndarray, seed: int) -> np.ndarray | None:
        """A random parameter when no start is given, or None: the engine draws ``x0``."""
        return None

    def to_input(self, p: Any, low: Any, high: Any) -> Any:
        """The model's input (a tensor of shape ``(B, *S)``) for the parameter ``p``."""
        return p

    def blur(self, p: Any, sigma: float, low: Any, high: Any) -> Any:
        """``p`` after a Gaussian blur of ``sigma`` pixels of the image it encodes."""
        return _gaussian_blur(p, sigma)

    def validate(self, low: np.ndarray, high: np.ndarray) -> None:
        """Raise ConfigurationError when this parametrization cannot serve these bounds."""


@dataclass(frozen=True)
class Pixel(Parametrization):
    """The identity: ``p`` is the input. Works for every input shape.

    Examples
    --------
    >>> import numpy as np
    >>> Pixel().init(np.array([[0.25, 0.5]]), -np.inf, np.inf)
    array([[0.25, 0.5 ]], dtype=float32)
    """


@dataclass(frozen=True)
class SigmoidRange(Parametrization):
    """``x = low + (high - low) * sigmoid(p)``: every ``p`` maps strictly inside the box.

    ``low``/``high`` default to the constraint's box bounds, which must then be finite.
    :meth:`init` clips the fraction to ``[0.001, 0.999]`` of the range before the logit.

    Examples
    --------
    >>> import numpy as np
    >>> s = SigmoidRange(0.0, 2.0)
    >>> p = s.init(np.array([[0.5, 1.0]]), None, None)
    >>> np.round(s.to_input(p, None, None).numpy(), 4)
    array([[0.5, 1. ]], dtype=float32)
    """

    lr: ClassVar[float | None] = 0.1
    low: float | None = None
    high: float | None = None

    def __post_init__(self) -> None:
        for name in ("low", "high"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, numbers.Real) or not math.isfinite(v)):
                raise ConfigurationError(f"SigmoidRange {name} must be a finite number or None; got {v!r}")
        if self.low is not None and self.high is not None and not self.low < self.high:
            raise ConfigurationError(f"SigmoidRange low={self.low} must be below high={self.high}")

    def _bounds(self, low: Any, high: Any) -> tuple[Any, Any]:
        return (low if self.low is None else self.low), (high if self.high is None else self.high)

    def init(self, x0: np.ndarray, low: Any, high: Any) -> np.ndarray:
        lo, hi = self._bounds(low, high)
        return _unsquash(x0, lo, hi).astype(np.float32)

    def to_input(self, p: Any, low: Any, high: Any) -> Any:
        lo, hi = self._bounds(low, high)
        return _squash(p, lo, hi)

    def validate(self, low: np.ndarray, high: np.ndarray) -> None:
        lo, hi = self._bounds(low, high)
        if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
            raise ConfigurationError(
                "SigmoidRange() needs finite bounds: give SigmoidRange(low, high) or a Box constraint"
            )


@dataclass(frozen=True)
class Fourier(Parametrization):
    """Lucid's image parametrization: a scaled spectrum, decorrelated colours, a sigmoid.

    ``p`` (shape ``(B, C, H, W // 2 + 1, 2)``: real and imaginary parts) is multiplied by
    ``s(f) = 1 / max(f, 1 / max(H, W)) ** decay`` (``f`` in cycles per pixel, normalised so
    that white-noise ``p`` gives unit-variance pixels), turned into an image by ``irfft2d``,
    mixed by the square root of ImageNet's colour covariance when ``decorrelate`` and
    ``C == 3``, then mapped into the box by :func:`SigmoidRange`'s map (identity where the
    box is unbounded). :meth:`init` inverts this exactly up to the sigmoid's clipping.
    :meth:`draw` gives a random spectrum of standard deviation ``start_std``: 0.5 draws
    pink noise around the box's middle. (Lucid's 0.01 starts from a near-uniform grey,
    where every ReLU unit that is off at grey has a zero gradient and never starts: 6 of the
    8 conv2 channels of the texture CNN in ``examples/`` stayed at 0 that way.)

    Why ``optimizer="pgd"`` by default: a step along the gradient in ``p`` moves frequency
    ``f`` of the image by ``s(f) ** 2`` times its image-space gradient, so low frequencies
    lead, which is the point of the parametrization. Adam divides every coordinate by its
    own gradient scale, which cancels one factor ``s(f)`` and gives every frequency the
    same step whatever its gradient, so noise frequencies move as fast as the pattern
    (measured on the texture CNN of ``examples/``: conv1 pictures keep 42-75% of raw pixel
    ascent's activation with Adam, 90-110% with ``"pgd"``). ``decay=0.5`` under ``"pgd"``
    gives the ``1 / f`` step spectrum that Lucid's ``decay=1`` gives under Adam.

    Examples
    --------
    >>> import numpy as np
    >>> low, high = np.zeros((1, 8, 8, 3)), np.ones((1, 8, 8, 3))
    >>> f = Fourier()
    >>> f.param_shape(low.shape), f.optimizer
    ((1, 3, 8, 5, 2), 'pgd')
    >>> grey = Fourier(start_std=0.01)  # Lucid's start
    >>> x = grey.to_input(grey.draw(low, high, seed=0), low, high).numpy()
    >>> x.shape, bool(abs(x - 0.5).max() < 0.05)
    ((1, 8, 8, 3), True)
    """

    optimizer: ClassVar[str] = "pgd"
    lr: ClassVar[float | None] = 0.3
    decay: float = 0.5
    decorrelate: bool = True
    start_std: float = 0.5

    def __post_init__(self) -> None:
        for name in ("decay", "start_std"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not 0 <= v < math.inf:
                raise ConfigurationError(f"Fourier {name} must be a finite number >= 0; got {v!r}")

    def _mix(self, c: int) -> bool:
        return bool(self.decorrelate) and c == 3

    def param_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        h, w, c = _image_geometry(tuple(shape)[1:], "Fourier()")
        return (int(shape[0]), c, h, w // 2 + 1, 2)

    def init(self, x0: np.ndarray, low: Any, high: Any) -> np.ndarray:
        x0 = np.asarray(x0, np.float64)
        h, w, c = _image_geometry(x0.shape[1:], "Fourier()")
        y = _unsquash(x0, low, high).reshape(x0.shape[0], h, w, c)
        if self._mix(c):
            y = y @ np.linalg.inv(_COLOR).T
        spec = np.fft.rfft2(np.moveaxis(y, -1, 1), axes=(-2, -1)) / _spectral_scale(h, w, self.decay)
        return np.stack([spec.real, spec.imag], axis=-1).astype(np.float32)

    def draw(self, low: np.ndarray, high: np.ndarray, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return (self.start_std * rng.standard_normal(self.param_shape(np.shape(low)))).astype(np.float32)

    def to_input(self, p: Any, low: Any, high: Any) -> Any:
        tf = _tf()
        low, high = tf.convert_to_tensor(low, tf.float32), tf.convert_to_tensor(high, tf.float32)
        h, w, c = _image_geometry(tuple(low.shape)[1:], "Fourier()")
        return _jit(_fourier_image, float(self.decay), (h, w), self._mix(c))(
            tf.convert_to_tensor(p, tf.float32), low, high)

    def blur(self, p: Any, sigma: float, low: Any, high: Any) -> Any:
        tf = _tf()
        h, w, _ = _image_geometry(tuple(low.shape)[1:], "Fourier()")
        f2 = np.fft.fftfreq(h)[:, None] ** 2 + np.fft.rfftfreq(w)[None, :] ** 2
        gain = np.exp(-2.0 * math.pi**2 * sigma**2 * f2).astype(np.float32)
        return p * tf.constant(gain[..., None])

    def validate(self, low: np.ndarray, high: np.ndarray) -> None:
        _, _, c = _image_geometry(np.shape(low)[1:], "Fourier()")
        if self.decorrelate and c not in (1, 3):
            raise ConfigurationError(
                f"Fourier(decorrelate=True) needs 1 or 3 channels; the input has {c}. "
                "Use Fourier(decorrelate=False)"
            )


def _spectral_scale(h: int, w: int, decay: float) -> np.ndarray:
    """``1 / max(f, 1 / max(h, w)) ** decay`` on the rfft grid, giving white ``p`` unit pixel variance."""
    f = np.hypot(np.fft.fftfreq(h)[:, None], np.fft.rfftfreq(w)[None, :])
    s = np.maximum(f, 1.0 / max(h, w)) ** -float(decay)
    return (s / np.sqrt(np.mean(s**2)) * np.sqrt(h * w / 2.0)).astype(np.float32)


def _fourier_image(decay: float, hw: tuple[int, int], mix: bool, p: Any, low: Any, high: Any) -> Any:
    """The input encoded by a :class:`Fourier` parameter; see there."""
    tf = _tf()
    s = tf.constant(_spectral_scale(*hw, decay))
    img = tf.signal.irfft2d(tf.complex(p[..., 0] * s, p[..., 1] * s), fft_length=list(hw))
    img = tf.transpose(img, [0, 2, 3, 1])
    if mix:
        img = tf.einsum("bhwc,dc->bhwd", img, tf.constant(_COLOR, tf.float32))
    return _squash(tf.reshape(img, tf.shape(low)), low, high)


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
        _int(self.n, "BlurEvery n", 1)
        if not isinstance(self.sigma, numbers.Real) or not 0 < self.sigma < math.inf:
            raise ConfigurationError(f"BlurEvery sigma must be a positive number of pixels; got {self.sigma!r}")

    def apply(self, x: Any) -> Any:
        """The blurred ``(B, H, W[, C])`` image batch (borders mirrored)."""
        return _gaussian_blur(x, float(self.sigma))

    def step(self, p: Any, t: Any, parametrization: Parametrization, low: Any, high: Any) -> Any:
        """``p`` blurred after steps ``n - 1, 2n - 1, ...`` (``t`` counts from 0), else ``p``."""
        tf = _tf()
        return tf.cond(tf.equal((t + 1) % self.n, 0),
                       lambda: parametrization.blur(p, float(self.sigma), low, high), lambda: p)


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
            raise FeatvizTypeError(f"parametrization must be Pixel(), SigmoidRange() or Fourier(); "
                                   f"got {self.parametrization!r}")
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

PRESETS = {"none": lambda shape: Priors(), "standard": standard_priors}


def resolve_priors(value: Any, *, input_shape: tuple[int, ...] | None = None) -> Priors:
    """Turn ``None``, a preset name or a :class:`Priors` into :class:`Priors`.

    With ``input_shape`` the preset adapts to it and the result is checked against it.

    Examples
    --------
    >>> resolve_priors("standard") is STANDARD
    True
    >>> resolve_priors("standrad")
    Traceback (most recent call last):
    ...
    pytest_featviz.errors.ConfigurationError: priors='standrad' is not one of ['none', 'standard']; did you mean 'standard'?
    """
    if value is None:
        priors = Priors()
    elif isinstance(value, str):
        if value not in PRESETS:
            raise ConfigurationError(f"priors={value!r} is not one of {sorted(PRESETS)}{closest(value, PRESETS)}")
        priors = PRESETS[value](input_shape)
    elif isinstance(value, Priors):
        priors = value
    else:
        raise FeatvizTypeError(f"priors must be None, one of {sorted(PRESETS)} or a Priors(...); got {value!r}")
    if input_shape is not None:
        priors.check(tuple(input_shape))
    return priors
