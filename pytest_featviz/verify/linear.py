"""Linear (affine) operations of a network, in float64 numpy, for bound propagation.

Every operation maps per-example arrays with a leading batch-like axis ``N``
(``(N, *in_shape) -> (N, *out_shape)``) and offers what the bound algorithms need:

- ``apply(xs, mode)``: ``mode="value"`` is the layer itself (bias included); ``"abs"``
  applies the element-wise absolute value of the weights and ``"square"`` their squares,
  both without bias (interval radii and L2 row norms); ``"nonzero"`` (dense and convolution
  layers) applies 1 where a weight is nonzero, counting the products that can be nonzero;
- ``transpose(a)``: the adjoint of the linear part, for backward (CROWN) propagation;
- ``bias_dot(a)``: ``<a, bias>`` per row, the constant that the adjoint leaves behind;
- ``kind``: ``"diagonal"`` (element-wise scaling or a reshape: keeps an L2 ball an
  axis-scaled ball), ``"mixing"`` (one input, mixes coordinates) or ``"merge"``
  (several inputs);
- ``steps`` and ``const_mag``: the rounding model (how many float operations each
  output accumulates, and the magnitude of the constants added), used to bound the
  float32 evaluation error of the real model.

Convolutions and pooling are computed as a sum over the kernel's offsets of strided
slices (one matrix product per offset). That keeps memory at the size of one input
and one output array instead of materialising the convolution matrix or an im2col
buffer. The adjoint of a convolution (:func:`_transpose_windows`) makes every offset's
product at once for a chunk of rows (:data:`COLUMNS_CHUNK` numbers) and adds each into
the window it came from (col2im).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

__all__ = [
    "LinearOp",
    "LinearBase",
    "pad_hw",
    "unpad_hw",
    "window_slices",
    "Geometry",
    "geometry",
    "Dense",
    "Conv2D",
    "DepthwiseConv2D",
    "Pad2D",
    "Elementwise",
    "Reshape",
    "Add",
    "Concatenate",
    "window_slices",
    "pad_hw",
]

MODES = ("value", "abs", "square", "nonzero")
COLUMNS_CHUNK = 2**19
"""Numbers in the products of one chunk of rows in a convolution's adjoint (4 MiB: chunks that
stay in the processor's cache are several times faster than one large product)."""


Columns = Callable[[np.ndarray], Any]
"""Rows ``(n, H_out, W_out, C_out)`` -> every kernel offset's share of their adjoint (see :func:`_transpose_windows`)."""


class LinearOp(Protocol):
    """What the bound algorithms need of a linear operation (see the module documentation)."""

    @property
    def kind(self) -> str: ...

    @property
    def steps(self) -> int: ...

    def apply(self, xs: list[np.ndarray], mode: str) -> np.ndarray: ...

    def transpose(self, a: np.ndarray) -> list[np.ndarray]: ...

    def bias_dot(self, a: np.ndarray) -> np.ndarray: ...

    def const_mag(self) -> Any: ...


@dataclass(frozen=True)
class Geometry:
    """Sliding-window geometry along one spatial axis."""

    size: int
    kernel: int
    stride: int
    dilation: int
    out: int
    before: int
    after: int


def geometry(size: int, kernel: int, stride: int, dilation: int, padding: str) -> Geometry:
    """TensorFlow's 'valid'/'same' window arithmetic (for 'same', the extra pad goes after)."""
    span = (kernel - 1) * dilation + 1
    if padding == "valid":
        out = (size - span) // stride + 1
        return Geometry(size, kernel, stride, dilation, out, 0, 0)
    out = -(-size // stride)
    total = max((out - 1) * stride + span - size, 0)
    return Geometry(size, kernel, stride, dilation, out, total // 2, total - total // 2)


def window_slices(gh: Geometry, gw: Geometry, i: int, j: int) -> tuple[slice, slice, slice, slice]:
    """The slices of a padded ``(N, H, W, C)`` array that kernel offset ``(i, j)`` reads."""
    hs = i * gh.dilation
    ws = j * gw.dilation
    return (
        slice(None),
        slice(hs, hs + (gh.out - 1) * gh.stride + 1, gh.stride),
        slice(ws, ws + (gw.out - 1) * gw.stride + 1, gw.stride),
        slice(None),
    )


def pad_hw(x: np.ndarray, gh: Geometry, gw: Geometry, value: float = 0.0) -> np.ndarray:
    """Pad the two spatial axes of ``(N, H, W, C)`` as the geometry says."""
    if not (gh.before or gh.after or gw.before or gw.after):
        return x
    widths = ((0, 0), (gh.before, gh.after), (gw.before, gw.after), (0, 0))
    return np.pad(x, widths, constant_values=value)


def unpad_hw(x: np.ndarray, gh: Geometry, gw: Geometry) -> np.ndarray:
    return x[:, gh.before : gh.before + gh.size, gw.before : gw.before + gw.size, :]


def _weights(w: np.ndarray, mode: str) -> np.ndarray:
    if mode == "nonzero":  # counts the possibly nonzero products (of a 0/1 input)
        return (w != 0).astype(np.float64)
    return w if mode == "value" else (np.abs(w) if mode == "abs" else w * w)


def _sum_rows(a: np.ndarray) -> np.ndarray:
    return a.reshape(a.shape[0], -1).sum(axis=1)


class LinearBase:
    """Defaults shared by the linear operations."""

    kind = "mixing"
    steps = 0

    def bias_dot(self, a: np.ndarray) -> np.ndarray:
        return np.zeros(a.shape[0])

    def const_mag(self) -> Any:
        return 0.0


class _Biased(LinearBase):
    """An operation that adds its ``bias`` (over the last axis) after a linear map."""

    bias: np.ndarray

    def bias_dot(self, a: np.ndarray) -> np.ndarray:
        return _sum_rows(a @ self.bias)

    def const_mag(self) -> Any:
        return np.abs(self.bias)


def _transpose_windows(
    a: np.ndarray, gh: Geometry, gw: Geometry, kernel_hw: tuple[int, int], channels: int, columns: Columns
) -> np.ndarray:
    """The adjoint of a windowed map on the rows ``a`` (``(N, H_out, W_out, C_out)``), a chunk of
    rows at a time: ``columns(chunk)[i * kw + j]`` (``(n, H_out, W_out, channels)``, kernel offset
    ``(i, j)``'s share) added into the window that offset read, in offset order.

    The padded input is held split by the residue of its positions modulo the stride,
    ``(n, sh, sw, H', W', C)``, where each offset's window is one block (long inner loops)."""
    kh, kw = kernel_hw
    hc, wc = (-(-(g.size + g.before + g.after) // g.stride) for g in (gh, gw))
    out = np.empty((len(a), gh.size, gw.size, channels))
    step = max(1, COLUMNS_CHUNK // (gh.out * gw.out * kh * kw * channels))
    for r in range(0, len(a), step):
        cols = columns(a[r : r + step])
        split = np.zeros((len(cols[0]), gh.stride, gw.stride, hc, wc, channels))
        for i in range(kh):
            qi, pi = divmod(i * gh.dilation, gh.stride)
            for j in range(kw):
                qj, pj = divmod(j * gw.dilation, gw.stride)
                split[:, pi, pj, qi : qi + gh.out, qj : qj + gw.out] += cols[i * kw + j]
        padded = split.transpose(0, 3, 1, 4, 2, 5).reshape((len(split), hc * gh.stride, wc * gw.stride, channels))
        out[r : r + step] = unpad_hw(padded, gh, gw)
    return out


@dataclass(frozen=True, eq=False)
class Dense(_Biased):
    """``x @ kernel + bias`` over the last axis."""

    kernel: np.ndarray
    bias: np.ndarray

    @property
    def steps(self) -> int:  # type: ignore[override]
        return int(self.kernel.shape[0]) + 1

    def apply(self, xs: list[np.ndarray], mode: str) -> np.ndarray:
        out = xs[0] @ _weights(self.kernel, mode)
        return out + self.bias if mode == "value" else out

    def transpose(self, a: np.ndarray) -> list[np.ndarray]:
        return [a @ self.kernel.T]


@dataclass(frozen=True, eq=False)
class Conv2D(_Biased):
    """A 2-D convolution, channels last, with TensorFlow's padding conventions."""

    kernel: np.ndarray  # (kh, kw, c_in, c_out)
    bias: np.ndarray
    gh: Geometry
    gw: Geometry

    @property
    def steps(self) -> int:  # type: ignore[override]
        kh, kw, cin, _ = self.kernel.shape
        return int(kh * kw * cin) + 1

    def apply(self, xs: list[np.ndarray], mode: str) -> np.ndarray:
        w = _weights(self.kernel, mode)
        xp = pad_hw(xs[0], self.gh, self.gw)
        out = np.zeros((xp.shape[0], self.gh.out, self.gw.out, w.shape[3]))
        for i in range(w.shape[0]):
            for j in range(w.shape[1]):
                out += xp[window_slices(self.gh, self.gw, i, j)] @ w[i, j]
        return out + self.bias if mode == "value" else out

    def transpose(self, a: np.ndarray) -> list[np.ndarray]:
        kh, kw, cin, cout = self.kernel.shape
        adjoint = self.kernel.reshape(kh * kw, cin, cout).transpose(0, 2, 1)  # (offset, c_out, c_in)

        def columns(rows: np.ndarray) -> np.ndarray:  # one batched product for every offset
            return np.matmul(rows.reshape(1, -1, cout), adjoint).reshape((kh * kw, *rows.shape[:3], cin))

        return [_transpose_windows(a, self.gh, self.gw, (kh, kw), cin, columns)]


@dataclass(frozen=True, eq=False)
class DepthwiseConv2D(_Biased):
    """A depthwise 2-D convolution, channels last: output channel ``c * mult + m`` is
    input channel ``c`` convolved with ``kernel[:, :, c, m]`` (Keras' channel order)."""

    kernel: np.ndarray  # (kh, kw, c_in, mult)
    bias: np.ndarray  # (c_in * mult,)
    gh: Geometry
    gw: Geometry

    @property
    def steps(self) -> int:  # type: ignore[override]
        return int(self.kernel.shape[0] * self.kernel.shape[1]) + 1

    def apply(self, xs: list[np.ndarray], mode: str) -> np.ndarray:
        w = _weights(self.kernel, mode)
        xp = pad_hw(xs[0], self.gh, self.gw)
        cin, mult = w.shape[2:]
        out = np.zeros((xp.shape[0], self.gh.out, self.gw.out, cin, mult))
        for i in range(w.shape[0]):
            for j in range(w.shape[1]):
                out += xp[window_slices(self.gh, self.gw, i, j)][..., None] * w[i, j]
        out = out.reshape(out.shape[:3] + (cin * mult,))
        return out + self.bias if mode == "value" else out

    def transpose(self, a: np.ndarray) -> list[np.ndarray]:
        w = self.kernel
        kh, kw, cin, mult = w.shape

        def columns(rows: np.ndarray) -> list[np.ndarray]:
            per_channel = rows.reshape((*rows.shape[:3], cin, mult))
            return [(per_channel * w[i, j]).sum(axis=-1) for i in range(kh) for j in range(kw)]

        return [_transpose_windows(a, self.gh, self.gw, (kh, kw), cin, columns)]


@dataclass(frozen=True, eq=False)
class Pad2D(LinearBase):
    """ZeroPadding2D: zeros around the two spatial axes of ``(N, H, W, C)`` (exact, no rounding)."""

    pads: tuple[tuple[int, int], tuple[int, int]]

    def apply(self, xs: list[np.ndarray], mode: str) -> np.ndarray:
        return np.pad(xs[0], ((0, 0), *self.pads, (0, 0)))

    def transpose(self, a: np.ndarray) -> list[np.ndarray]:
        (top, bottom), (left, right) = self.pads
        return [a[:, top : a.shape[1] - bottom, left : a.shape[2] - right, :]]


@dataclass(frozen=True, eq=False)
class Elementwise(LinearBase):
    """``x * scale + shift`` with per-example-shaped (broadcastable) arrays.

    BatchNormalization at inference, Rescaling and Normalization. ``mag`` is the
    magnitude of the constants the real layer combines (for the rounding model).
    """

    scale: np.ndarray
    shift: np.ndarray
    mag: np.ndarray
    kind = "diagonal"
    steps = 6

    def apply(self, xs: list[np.ndarray], mode: str) -> np.ndarray:
        if mode == "value":
            return xs[0] * self.scale + self.shift
        return xs[0] * _weights(self.scale, mode)

    def transpose(self, a: np.ndarray) -> list[np.ndarray]:
        return [a * self.scale]

    def bias_dot(self, a: np.ndarray) -> np.ndarray:
        return _sum_rows(a * self.shift)

    def const_mag(self) -> Any:
        return self.mag


@dataclass(frozen=True, eq=False)
class Reshape(LinearBase):
    """Flatten, Reshape, and identities (Dropout, linear activations): ``in_shape -> out_shape``."""

    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    kind = "diagonal"

    def apply(self, xs: list[np.ndarray], mode: str) -> np.ndarray:
        return xs[0].reshape((xs[0].shape[0], *self.out_shape))

    def transpose(self, a: np.ndarray) -> list[np.ndarray]:
        return [a.reshape((a.shape[0], *self.in_shape))]


@dataclass(frozen=True, eq=False)
class Add(LinearBase):
    """The sum of several inputs of one shape."""

    n_inputs: int
    kind = "merge"

    @property
    def steps(self) -> int:  # type: ignore[override]
        return self.n_inputs - 1

    def apply(self, xs: list[np.ndarray], mode: str) -> np.ndarray:
        return np.sum(xs, axis=0)

    def transpose(self, a: np.ndarray) -> list[np.ndarray]:
        return [a] * self.n_inputs


@dataclass(frozen=True, eq=False)
class Concatenate(LinearBase):
    """Concatenation along a per-example ``axis`` (0-based, batch axis excluded)."""

    axis: int
    sizes: tuple[int, ...]
    kind = "merge"

    def apply(self, xs: list[np.ndarray], mode: str) -> np.ndarray:
        return np.concatenate(xs, axis=self.axis + 1)

    def transpose(self, a: np.ndarray) -> list[np.ndarray]:
        cuts = np.cumsum(self.sizes)[:-1]
        return list(np.split(a, cuts, axis=self.axis + 1))
