"""Average pooling as linear operations for bound propagation (see :mod:`.linear` for the interface);
max pooling, which is not linear, is :class:`.nonlinear.MaxPool2D`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .linear import Geometry, LinearBase, geometry, pad_hw, unpad_hw, window_slices

__all__ = ["AvgPool2D", "avg_pool", "GlobalAvgPool2D"]


@dataclass(frozen=True, eq=False)
class AvgPool2D(LinearBase):
    """Average pooling; with 'same' padding the padded positions are not counted (as TF)."""

    gh: Geometry
    gw: Geometry
    count: np.ndarray  # (H_out, W_out, 1): valid positions per window

    @property
    def steps(self) -> int:  # type: ignore[override]
        return int(self.gh.kernel * self.gw.kernel) + 1

    def _sum(self, x: np.ndarray) -> np.ndarray:
        xp = pad_hw(x, self.gh, self.gw)
        out = np.zeros((x.shape[0], self.gh.out, self.gw.out, x.shape[3]))
        for i in range(self.gh.kernel):
            for j in range(self.gw.kernel):
                out += xp[window_slices(self.gh, self.gw, i, j)]
        return out

    def apply(self, xs: list[np.ndarray], mode: str) -> np.ndarray:
        div = self.count if mode != "square" else self.count**2
        return self._sum(xs[0]) / div

    def transpose(self, a: np.ndarray) -> list[np.ndarray]:
        a = a / self.count
        padded = (
            a.shape[0],
            self.gh.size + self.gh.before + self.gh.after,
            self.gw.size + self.gw.before + self.gw.after,
            a.shape[3],
        )
        g = np.zeros(padded)
        for i in range(self.gh.kernel):
            for j in range(self.gw.kernel):
                g[window_slices(self.gh, self.gw, i, j)] += a
        return [unpad_hw(g, self.gh, self.gw)]


def avg_pool(size: tuple[int, int], pool: tuple[int, int], strides: tuple[int, int], padding: str) -> AvgPool2D:
    """An :class:`AvgPool2D` for an input of spatial ``size``."""
    gh = geometry(size[0], pool[0], strides[0], 1, padding)
    gw = geometry(size[1], pool[1], strides[1], 1, padding)
    ones = AvgPool2D(gh, gw, np.ones((1, 1, 1)))._sum(np.ones((1, size[0], size[1], 1)))
    return AvgPool2D(gh, gw, ones[0])


@dataclass(frozen=True, eq=False)
class GlobalAvgPool2D(LinearBase):
    """The mean over the two spatial axes of ``(H, W, C)``."""

    in_shape: tuple[int, int, int]
    keepdims: bool

    @property
    def steps(self) -> int:  # type: ignore[override]
        return int(self.in_shape[0] * self.in_shape[1]) + 1

    def apply(self, xs: list[np.ndarray], mode: str) -> np.ndarray:
        n = self.in_shape[0] * self.in_shape[1]
        out = xs[0].sum(axis=(1, 2), keepdims=self.keepdims)
        return out / (n if mode != "square" else n * n)

    def transpose(self, a: np.ndarray) -> list[np.ndarray]:
        h, w, c = self.in_shape
        a = a.reshape(a.shape[0], 1, 1, c) / (h * w)
        return [np.broadcast_to(a, (a.shape[0], h, w, c)).copy()]
