"""Transformation robustness for feature visualization (private; public names are re-exported by ``priors``).

Random, differentiable, forward-only maps applied to the input on its way into the model:
:class:`Pad`, :class:`Jitter`, :class:`RandomScale`, :class:`RandomRotate` and :class:`Compose`.
Consecutive affine steps are fused into one bilinear resampling whose gradient is its exact
transpose. Nothing here imports TensorFlow at import time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np

from .._validation import check_choice, check_int, check_real
from ..errors import ConfigurationError, FeatvizTypeError
from .warp import pick, tf_module, to_4d, warp

PadMode = Literal["reflect", "constant"]
"""How :class:`Pad` fills the margin (``mode=``): mirrored content or a constant value."""
PAD_MODES: tuple[PadMode, ...] = get_args(PadMode)


def _choices(values: Any, name: str, positive: bool) -> tuple[float, ...]:
    try:
        out = tuple(float(v) for v in np.atleast_1d(np.asarray(values, dtype=np.float64)))
    except (TypeError, ValueError) as exc:
        raise FeatvizTypeError(f"{name} must be a sequence of numbers; got {values!r}") from exc
    if not out or not all(math.isfinite(v) and (v > 0 or not positive) for v in out):
        kind = "positive finite" if positive else "finite"
        raise ConfigurationError(f"{name} must be a non-empty sequence of {kind} numbers; got {values!r}")
    return out


class Transform:
    """Base class of the random input transforms; combine them with ``+``.

    The geometric ones (:class:`Jitter`, :class:`RandomScale`, :class:`RandomRotate`)
    resample bilinearly about the image centre, one random draw per batch item; points
    beyond the edge take the nearest edge pixel unless a :class:`Pad` before them provides
    a margin. All are linear in the image for a fixed seed, and their gradient is the exact
    transpose.
    """

    def __add__(self, other: Any) -> Compose:
        if not isinstance(other, (Transform, tuple, list)):
            return NotImplemented
        return Compose(self, other)

    def __radd__(self, other: Any) -> Compose:
        if not isinstance(other, (tuple, list)):
            return NotImplemented
        return Compose(other, self)

    def apply(self, x: Any, seed: Any, *, xla: bool = False) -> Any:
        """Transform a ``(B, H, W[, C])`` float32 batch; ``seed`` is a ``[2]`` int tensor.

        The output has the input's shape (:class:`Pad` alone excepted: it grows the canvas
        and :class:`Compose` crops back). Pass ``xla=True`` inside ``jit_compile`` functions.
        """
        x4, squeeze = to_4d(x)
        out = self._apply4(x4, seed, xla)
        return out[..., 0] if squeeze else out

    def _apply4(self, x: Any, seed: Any, xla: bool) -> Any:
        a, b = self._affine(tf_module().shape(x)[0], seed)
        return warp(x, a, b, xla=xla)

    def _affine(self, batch: Any, seed: Any) -> tuple[Any, Any]:
        raise NotImplementedError


@dataclass(frozen=True)
class Pad(Transform):
    """Grow the canvas by ``pixels`` on every side: mirrored content or a constant.

    The geometric transforms after it pull this margin into view instead of repeating the
    edge pixels; :class:`Compose` crops the centre back to the input size at the end.

    Examples
    --------
    >>> import numpy as np
    >>> Pad(1, "constant", value=0.5).apply(np.zeros((1, 2, 2), np.float32), seed=[0, 0]).shape
    TensorShape([1, 4, 4])
    """

    pixels: int
    mode: PadMode = "reflect"
    value: float = 0.5

    def __post_init__(self) -> None:
        check_int(self.pixels, "Pad pixels", min_value=0)
        check_choice(self.mode, "Pad mode", PAD_MODES)
        check_real(self.value, "Pad value")

    def _apply4(self, x: Any, seed: Any, xla: bool) -> Any:
        k = self._fits(x.shape[1], x.shape[2])
        return tf_module().pad(x, [[0, 0], [k, k], [k, k], [0, 0]], mode=self.mode.upper(), constant_values=self.value)

    def _fits(self, h: int, w: int) -> int:
        if self.mode == "reflect" and self.pixels >= min(h, w):
            raise ConfigurationError(f"{self!r} needs pixels < {min(h, w)} for a {h}x{w} image")
        return self.pixels

    def __repr__(self) -> str:
        extra = f", value={self.value}" if self.mode == "constant" else ""
        return f"Pad({self.pixels}, {self.mode!r}{extra})"


@dataclass(frozen=True)
class Jitter(Transform):
    """Shift each image by a random whole number of pixels in ``[-pixels, pixels]`` per axis.

    ``out[i, j] = x[i - dy, j - dx]``; positions beyond the edge repeat the edge pixel.

    Examples
    --------
    >>> import numpy as np
    >>> Jitter(2).apply(np.ones((3, 8, 8, 1), np.float32), seed=[1, 2]).shape
    TensorShape([3, 8, 8, 1])
    """

    pixels: int

    def __post_init__(self) -> None:
        check_int(self.pixels, "Jitter pixels", min_value=0)

    def _affine(self, batch: Any, seed: Any) -> tuple[Any, Any]:
        tf = tf_module()
        d = tf.random.stateless_uniform([batch, 2], seed, minval=-self.pixels, maxval=self.pixels + 1, dtype=tf.int32)
        return tf.eye(2, batch_shape=[batch]), -tf.cast(d, tf.float32)

    def __repr__(self) -> str:
        return f"Jitter({self.pixels})"


@dataclass(frozen=True)
class RandomScale(Transform):
    """Zoom each image about its centre by one of ``scales`` (> 1 enlarges), drawn uniformly.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).random((1, 6, 6)).astype(np.float32)
    >>> bool(np.allclose(RandomScale([1.0]).apply(x, seed=[0, 0]), x))
    True
    """

    scales: tuple[float, ...] = (0.9, 1.0, 1.1)

    def __post_init__(self) -> None:
        object.__setattr__(self, "scales", _choices(self.scales, "RandomScale scales", positive=True))

    def _affine(self, batch: Any, seed: Any) -> tuple[Any, Any]:
        tf = tf_module()
        s = pick(self.scales, batch, seed)
        return tf.eye(2, batch_shape=[batch]) / s[:, None, None], tf.zeros([batch, 2])

    def __repr__(self) -> str:
        return f"RandomScale({_span(self.scales)})"


@dataclass(frozen=True)
class RandomRotate(Transform):
    """Rotate each image about its centre by one of ``degrees``, counter-clockwise as displayed.

    ``RandomRotate([90])`` is ``np.rot90`` on a square image.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(9, dtype=np.float32).reshape(1, 3, 3)
    >>> np.round(RandomRotate([90]).apply(x, seed=[0, 0]).numpy()[0], 4)
    array([[2., 5., 8.],
           [1., 4., 7.],
           [0., 3., 6.]], dtype=float32)
    """

    degrees: tuple[float, ...] = (-5.0, 0.0, 5.0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "degrees", _choices(self.degrees, "RandomRotate degrees", positive=False))

    def _affine(self, batch: Any, seed: Any) -> tuple[Any, Any]:
        tf = tf_module()
        theta = pick(self.degrees, batch, seed) * (math.pi / 180.0)
        cos, sin = tf.cos(theta), tf.sin(theta)
        a = tf.reshape(tf.stack([cos, sin, -sin, cos], axis=-1), [-1, 2, 2])
        return a, tf.zeros([batch, 2])

    def __repr__(self) -> str:
        return f"RandomRotate({_span(self.degrees)})"


def _span(values: tuple[float, ...]) -> str:
    if len(values) == 1:
        return f"[{values[0]:g}]"
    return f"{min(values):g}..{max(values):g}, {len(values)} choices"


@dataclass(frozen=True, init=False)
class Compose(Transform):
    """Apply transforms in order; the result is centre-cropped back to the input size.

    Each transform gets its own seed, ``stateless_fold_in(seed, position)``. Consecutive
    geometric transforms (jitter, scale, rotate) are fused into one resampling, so the image
    is interpolated once per run of them.

    Examples
    --------
    >>> import numpy as np
    >>> t = Pad(4) + Jitter(4) + RandomRotate([-5, 5])
    >>> t
    Compose(Pad(4, 'reflect'), Jitter(4), RandomRotate(-5..5, 2 choices))
    >>> t.apply(np.zeros((2, 16, 16, 3), np.float32), seed=[0, 1]).shape
    TensorShape([2, 16, 16, 3])
    """

    transforms: tuple[Transform, ...] = field(default=())

    def __init__(self, *transforms: Any) -> None:
        flat: list[Transform] = []
        for t in transforms:
            if isinstance(t, Compose):
                flat.extend(t.transforms)
            elif isinstance(t, (tuple, list)):
                flat.extend(Compose(*t).transforms)
            elif isinstance(t, Transform):
                flat.append(t)
            else:
                raise FeatvizTypeError(f"Compose takes transforms such as Jitter(4); got {t!r}")
        object.__setattr__(self, "transforms", tuple(flat))

    def __repr__(self) -> str:
        return f"Compose({', '.join(map(repr, self.transforms))})"

    def _apply4(self, x: Any, seed: Any, xla: bool) -> Any:
        tf = tf_module()
        h, w = x.shape[1], x.shape[2]
        batch, seed = tf.shape(x)[0], tf.cast(seed, tf.int32)
        pad: Pad | None = None  # a pad not yet materialised: the next warp samples through it
        acc: tuple[Any, Any] | None = None  # the fused affine map of the current run
        for i, t in enumerate(self.transforms):
            if isinstance(t, Pad):
                t._fits(x.shape[1], x.shape[2])
                if acc is not None:
                    grow = pad.pixels if pad is not None else 0
                    x = warp(x, *acc, out_hw=(x.shape[1] + 2 * grow, x.shape[2] + 2 * grow), pad=pad, xla=xla)
                elif pad is not None:
                    x = pad._apply4(x, seed, xla)
                pad, acc = t, None
                continue
            a, b = t._affine(batch, tf.random.experimental.stateless_fold_in(seed, i))
            # out -> (this transform's input) -> (the run's input): a_acc (a u + b) + b_acc
            acc = (a, b) if acc is None else (acc[0] @ a, tf.einsum("bij,bj->bi", acc[0], b) + acc[1])
        if acc is not None:  # only the centre that the final crop keeps
            return warp(x, *acc, out_hw=(h, w), pad=pad, xla=xla)
        top, left = (x.shape[1] - h) // 2, (x.shape[2] - w) // 2
        return x[:, top : top + h, left : left + w, :]


def as_transform(value: Any) -> Compose:
    """A :class:`Compose` from ``None``, a transform, or a sequence of transforms.

    Examples
    --------
    >>> as_transform([Jitter(2), RandomScale([1.0, 1.2])])
    Compose(Jitter(2), RandomScale(1..1.2, 2 choices))
    """
    if value is None:
        return Compose()
    if isinstance(value, (Transform, tuple, list)):
        return Compose(value)
    raise FeatvizTypeError(f"transforms must be a Transform, a sequence of them, or None; got {value!r}")
