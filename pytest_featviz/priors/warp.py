"""The resampling core of the image transforms: one bilinear warp whose gradient is its exact transpose.

:func:`warp` resamples a batch of images through per-item affine maps (a sparse matrix product, or
gathers under XLA); :mod:`.transforms` builds those maps from the random transforms, and
:mod:`.parametrizations` compiles its FFT image with :func:`jit`. Nothing here imports TensorFlow
at import time.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from .transforms import Pad

__all__ = ["tf_module", "to_4d", "warp", "jit", "pick"]


def tf_module() -> Any:
    import tensorflow as tf

    return tf


def to_4d(x: Any) -> tuple[Any, bool]:
    """``(B, H, W)`` -> ``(B, H, W, 1)``; says whether to squeeze back."""
    tf = tf_module()
    x = tf.convert_to_tensor(x, tf.float32)
    if x.shape.rank not in (3, 4):
        raise ConfigurationError(f"image transforms need a (B, H, W) or (B, H, W, C) input; got shape {x.shape}")
    return (x[..., None], True) if x.shape.rank == 3 else (x, False)


def axis_taps(s: Any, n: int, pad: Pad | None) -> tuple[Any, Any, Any]:
    """The two bilinear taps along one axis of length ``n``: indices, weights, inside.

    The canvas is the image grown by ``pad`` (mirrored or constant); beyond it the edge
    value repeats. ``inside`` is False for taps on a constant margin.
    """
    tf = tf_module()
    f = tf.floor(s)
    k = tf.cast(tf.stack([f, f + 1], axis=-1), tf.int32)
    t = (s - f)[..., None]
    weights = tf.concat([1 - t, t], axis=-1)
    margin = pad.pixels if pad is not None else 0
    k = tf.clip_by_value(k, -margin, n - 1 + margin)
    inside = (k >= 0) & (k <= n - 1)
    if pad is not None and pad.mode == "reflect":
        k = (n - 1) - tf.abs((n - 1) - tf.abs(k))
    return tf.clip_by_value(k, 0, n - 1), weights, inside


def sparse_matmul(matrix: Any, x: Any) -> Any:
    """``matrix @ x`` whose gradient is ``matrix.T @ grad`` only (TensorFlow's own also
    differentiates the sparse values, which costs two large gathers)."""
    tf = tf_module()

    @tf.custom_gradient
    def product(dense: Any) -> Any:
        def grad(upstream: Any) -> Any:
            return tf.sparse.sparse_dense_matmul(matrix, upstream, adjoint_a=True)

        return tf.sparse.sparse_dense_matmul(matrix, dense), grad

    return product(x)


def bilinear_taps(
    hw: tuple[int, int], out_hw: tuple[int, int], pad: Pad | None, sparse: bool, a: Any, b: Any
) -> tuple[Any, Any, Any]:
    """Indices and weights of the 4 bilinear taps of every output pixel (see :func:`warp`).

    Returns ``(indices, weights, bias)``: for ``sparse`` the ``[B*N*4, 2]`` indices of a
    sparse ``(B*N, B*H*W)`` matrix, else ``(B, N*4)`` indices into each image; ``bias`` is
    what a constant margin adds (None without one).
    """
    tf = tf_module()
    (h, w), (oh, ow) = hw, out_hw
    rows, cols = np.meshgrid(np.arange(oh) - (oh - 1) / 2.0, np.arange(ow) - (ow - 1) / 2.0, indexing="ij")
    grid = tf.constant(np.stack([rows.ravel(), cols.ravel()], axis=-1), tf.float32)
    src = tf.einsum("bij,nj->bni", a, grid) + b[:, None, :] + tf.constant([(h - 1) / 2.0, (w - 1) / 2.0])
    ky, wy, iny = axis_taps(src[..., 0], h, pad)
    kx, wx, inx = axis_taps(src[..., 1], w, pad)
    batch = tf.shape(a)[0]
    idx = tf.reshape(ky[..., :, None] * w + kx[..., None, :], [batch, -1])  # (B, N * 4)
    weight = tf.reshape(wy[..., :, None] * wx[..., None, :], [batch, -1])
    bias = None
    if pad is not None and pad.mode == "constant":
        inside = tf.cast(tf.reshape(iny[..., :, None] & inx[..., None, :], [batch, -1]), tf.float32)
        bias = pad.value * tf.reduce_sum(tf.reshape(weight * (1 - inside), [batch, oh, ow, 4]), -1, keepdims=True)
        weight = weight * inside
    if not sparse:
        return idx, weight, bias
    row = tf.repeat(tf.range(tf.cast(batch * oh * ow, tf.int64)), 4)
    col = tf.reshape(tf.cast(idx + h * w * tf.range(batch)[:, None], tf.int64), [-1])
    return tf.stack([row, col], axis=1), tf.reshape(weight, [-1]), bias


_JIT_CACHE: dict = {}


def jit(fn: Any, *static: Any) -> Any:
    """``fn`` with its leading ``static`` arguments bound, compiled once with XLA.

    Used for the index arithmetic and the FFT image: XLA fuses their many small ops (and
    its FFT is faster), also when the caller is not compiled with XLA. Traced without
    autograph, like the ascent loop: nothing in them branches on a tensor, and converting
    them cost each process about 0.6 s of CPU at its first ascent with priors
    (``bench/first_call.py``).
    """
    key = (fn, static)
    if key not in _JIT_CACHE:
        _JIT_CACHE[key] = tf_module().function(functools.partial(fn, *static), jit_compile=True, autograph=False)
    return _JIT_CACHE[key]


def warp(
    x: Any, a: Any, b: Any, *, out_hw: tuple[int, int] | None = None, pad: Pad | None = None, xla: bool = False
) -> Any:
    """Bilinear resampling of ``x`` (B, H, W, C): ``out[u] = x[centre + a @ u + b]``.

    ``u`` is the output pixel's offset from the (shared) centre in (row, col) on an
    ``out_hw`` grid (default: the input's); ``a`` is ``(B, 2, 2)``, ``b`` is ``(B, 2)``.
    ``x`` is seen as if grown by ``pad`` (see :func:`axis_taps`). The taps form a sparse
    matrix, so the gradient is its exact transpose; ``xla=True`` uses ``tf.gather``
    instead (XLA has no sparse matmul; on CPU graphs the gather's gradient is slower).
    """
    tf = tf_module()
    batch, h, w, c = tf.shape(x)[0], x.shape[1], x.shape[2], x.shape[3]
    oh, ow = out_hw or (h, w)
    idx, weight, bias = jit(bilinear_taps, (h, w), (oh, ow), pad, not xla)(a, b)
    if xla:
        gathered = tf.gather(tf.reshape(x, [batch, h * w, c]), idx, batch_dims=1) * weight[..., None]
        out = tf.reduce_sum(tf.reshape(gathered, [batch, oh * ow, 4, c]), axis=2)
    else:
        shape = tf.cast(tf.stack([batch * oh * ow, batch * h * w]), tf.int64)
        out = sparse_matmul(tf.sparse.SparseTensor(idx, weight, shape), tf.reshape(x, [-1, c]))
    out = tf.reshape(out, [batch, oh, ow, c])
    return out if bias is None else out + bias


def pick(choices: tuple[float, ...], batch: Any, seed: Any) -> Any:
    """One of ``choices`` per batch item, uniformly, from a stateless seed."""
    tf = tf_module()
    i = tf.random.stateless_uniform([batch], seed, minval=0, maxval=len(choices), dtype=tf.int32)
    return tf.gather(tf.constant(choices, tf.float32), i)
