"""Parametrizations of the optimised image (private; public names are re-exported by ``priors``).

:class:`Parametrization` and its three kinds -- :class:`Pixel`, :class:`SigmoidRange` and
:class:`Fourier` (Lucid's decorrelated spectrum) -- map the optimised parameter ``p`` to the
model's input, together with the squash into a box and the Gaussian blur they share with
``priors.BlurEvery``. Nothing here imports TensorFlow at import time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .._validation import check_real
from ..errors import ConfigurationError
from .warp import jit, tf_module, to_4d

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
    tf = tf_module()
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
    tf = tf_module()
    x4, squeeze = to_4d(x)
    h, w, c = x4.shape[1], x4.shape[2], x4.shape[3]
    r = max(1, min(math.ceil(3 * sigma), h - 1, w - 1))
    k = np.exp(-(np.arange(-r, r + 1) ** 2) / (2.0 * sigma**2))
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
            if v is not None:
                check_real(v, f"SigmoidRange {name}")
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
            check_real(v, f"Fourier {name}", min_value=0)

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
        tf = tf_module()
        low, high = tf.convert_to_tensor(low, tf.float32), tf.convert_to_tensor(high, tf.float32)
        h, w, c = _image_geometry(tuple(low.shape)[1:], "Fourier()")
        return jit(_fourier_image, float(self.decay), (h, w), self._mix(c))(
            tf.convert_to_tensor(p, tf.float32), low, high
        )

    def blur(self, p: Any, sigma: float, low: Any, high: Any) -> Any:
        tf = tf_module()
        h, w, _ = _image_geometry(tuple(low.shape)[1:], "Fourier()")
        f2 = np.fft.fftfreq(h)[:, None] ** 2 + np.fft.rfftfreq(w)[None, :] ** 2
        gain = np.exp(-2.0 * math.pi**2 * sigma**2 * f2).astype(np.float32)
        return p * tf.constant(gain[..., None])

    def validate(self, low: np.ndarray, high: np.ndarray) -> None:
        _, _, c = _image_geometry(np.shape(low)[1:], "Fourier()")
        if self.decorrelate and c not in (1, 3):
            raise ConfigurationError(
                f"Fourier(decorrelate=True) needs 1 or 3 channels; the input has {c}. Use Fourier(decorrelate=False)"
            )


def _spectral_scale(h: int, w: int, decay: float) -> np.ndarray:
    """``1 / max(f, 1 / max(h, w)) ** decay`` on the rfft grid, giving white ``p`` unit pixel variance."""
    f = np.hypot(np.fft.fftfreq(h)[:, None], np.fft.rfftfreq(w)[None, :])
    s = np.maximum(f, 1.0 / max(h, w)) ** -float(decay)
    return (s / np.sqrt(np.mean(s**2)) * np.sqrt(h * w / 2.0)).astype(np.float32)


def _fourier_image(decay: float, hw: tuple[int, int], mix: bool, p: Any, low: Any, high: Any) -> Any:
    """The input encoded by a :class:`Fourier` parameter; see there."""
    tf = tf_module()
    s = tf.constant(_spectral_scale(*hw, decay))
    img = tf.signal.irfft2d(tf.complex(p[..., 0] * s, p[..., 1] * s), fft_length=list(hw))
    img = tf.transpose(img, [0, 2, 3, 1])
    if mix:
        img = tf.einsum("bhwc,dc->bhwd", img, tf.constant(_COLOR, tf.float32))
    return _squash(tf.reshape(img, tf.shape(low)), low, high)
