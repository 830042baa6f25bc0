"""Non-linear operations (monotone activations, max pooling) and their sound relaxations.

Every activation here is non-decreasing, so its interval image is ``[f(l), f(u)]``
(interval bound propagation). For CROWN each one gets, per neuron and for the
pre-activation interval ``[l, u]``, two lines ``al*x + bl <= f(x) <= au*x + bu``
valid on ``[l, u]``:

- the ReLU family (piecewise linear): where ``f`` is convex on ``[l, u]``, the chord
  above and, below, CROWN's adaptive slope (1 when ``u > -l``, else 0; the chord
  ``u/(u-l)`` above a ReLU); where it is concave (ReLU6 above 0), the chord below and
  the midpoint tangent above;
- the smooth ones (sigmoid, tanh, ELU, softplus, hard sigmoid): convex up to their
  inflection point and concave from it (softplus and ELU with ``alpha <= 1``: convex
  everywhere), they get the tangent and chord lines of :mod:`.tangents`: the chord
  where it is valid, else a tangent of the concave (convex) part that still passes
  above (below) the far end, or the constant ``f(u)`` (``f(l)``), whichever is tighter
  on average over ``[l, u]``, each widened by its floating-point violation bound;
- on an interval too narrow to draw a line through (or unbounded): the constants
  ``f(l)`` and ``f(u)``, which is what interval propagation gives.

The product of two bounded tensors (``Multiply``, e.g. squeeze-and-excitation) has the
interval of its four corner products, and McCormick's planes for CROWN:
``ly*x + lx*y - lx*ly <= x*y <= uy*x + lx*y - lx*uy`` on the box ``[lx, ux] x [ly, uy]``.

Max pooling is bounded below by the window entry with the largest lower bound and
above by the largest upper bound; when one entry's lower bound is at least every
other entry's upper bound, the window is that entry exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bits import mask_of, select
from .linear import Geometry, pad_hw, window_slices
from .tangents import lower_line, upper_line

__all__ = ["Activation", "MaxPool2D", "Multiply", "ACTIVATIONS", "pool_rows", "scatter_selected"]

ACTIVATIONS = ("relu", "leaky_relu", "relu6", "sigmoid", "tanh", "elu", "softplus", "hard_sigmoid")
_TINY_WIDTH = 1e-12


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@dataclass(frozen=True, eq=False)
class Activation:
    """A monotone element-wise activation.

    ``name`` is one of ``ACTIVATIONS``; the ReLU family is
    ``f(x) = min(x, cap)`` for ``x >= 0`` and ``alpha * x`` below (``0 <= alpha <= 1``);
    for ``elu``, ``alpha`` is ELU's ``alpha`` (> 0).
    """

    name: str
    alpha: float = 0.0
    cap: float = np.inf

    @property
    def relu_family(self) -> bool:
        return self.name in ("relu", "leaky_relu", "relu6")

    @property
    def transcendental(self) -> bool:
        return not self.relu_family

    @property
    def lipschitz(self) -> float:
        if self.name == "sigmoid":
            return 0.25
        if self.name == "elu":
            return max(1.0, self.alpha)
        return 1.0

    @property
    def inflection(self) -> float:
        """Where ``f`` turns from convex to concave (``inf``: convex everywhere)."""
        if self.relu_family:
            return self.cap
        if self.name == "softplus" or (self.name == "elu" and self.alpha <= 1.0):
            return np.inf
        return 0.0

    def f(self, x: np.ndarray) -> np.ndarray:
        """The activation itself."""
        if self.relu_family:
            return np.where(x >= 0, np.minimum(x, self.cap), self.alpha * x)
        if self.name == "sigmoid":
            return _sigmoid(x)
        if self.name == "hard_sigmoid":
            return np.clip(x / 6.0 + 0.5, 0.0, 1.0)
        if self.name == "tanh":
            return np.tanh(x)
        if self.name == "elu":
            return np.where(x > 0, x, self.alpha * np.expm1(np.minimum(x, 0.0)))
        return np.logaddexp(0.0, x)

    def df(self, x: np.ndarray) -> np.ndarray:
        """A derivative (a sub- or super-gradient at the kinks)."""
        if self.relu_family:
            return np.where(x > 0, np.where(x < self.cap, 1.0, 0.0), self.alpha)
        if self.name == "sigmoid":
            s = _sigmoid(x)
            return s * (1.0 - s)
        if self.name == "hard_sigmoid":
            return np.where(np.abs(x) < 3.0, 1.0 / 6.0, 0.0)
        if self.name == "tanh":
            return 1.0 - np.tanh(x) ** 2
        if self.name == "elu":
            return np.where(x > 0, 1.0, self.alpha * np.exp(np.minimum(x, 0.0)))
        return _sigmoid(x)

    def interval(self, low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The exact image of ``[low, high]`` (the function is non-decreasing)."""
        return self.f(low), self.f(high)

    def relax(self, low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, ...]:
        """Lines ``(al, bl, au, bu)`` with ``al*x + bl <= f(x) <= au*x + bu`` on ``[low, high]``."""
        fl, fu = self.f(low), self.f(high)
        width = high - low
        lined = (width > _TINY_WIDTH * (1.0 + np.abs(low) + np.abs(high))) & np.isfinite(width)
        if self.relu_family:
            return self._relu_lines(low, high, fl, fu, lined)
        al, bl = np.zeros(np.shape(fl)), np.array(fl, np.float64)
        au, bu = np.zeros(np.shape(fu)), np.array(fu, np.float64)
        if lined.any():
            lo, hi = low[lined], high[lined]
            al[lined], bl[lined] = lower_line(self.f, self.df, lo, hi, self.inflection)
            au[lined], bu[lined] = upper_line(self.f, self.df, lo, hi, self.inflection)
        return al, bl, au, bu

    @staticmethod
    def backward(a: np.ndarray, lines: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Upper-bound the rows ``a`` of a linear function of the output by the upper line where a
        coefficient is positive and the lower one elsewhere (``lines``: ``(al, bl, au, bu)``,
        broadcast to ``a``): ``(the rows on the input, the constant of each entry)``."""
        al, bl, au, bu = lines
        mask = mask_of(a > 0)
        rows = select(mask, au, al)
        rows *= a
        const = select(mask, bu, bl, out=mask)
        const *= a
        return rows, const

    def _relu_lines(
        self, low: np.ndarray, high: np.ndarray, fl: np.ndarray, fu: np.ndarray, lined: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        """The ReLU family's lines (exact in float64: no widening)."""
        chord = (fu - fl) / np.where(lined, high - low, 1.0)
        chord_b = fl - chord * low
        mid = 0.5 * (low + high)
        tan = self.df(mid)
        tan_b = self.f(mid) - tan * mid
        convex = (high <= self.cap) & lined
        concave = (low >= (0.0 if np.isfinite(self.cap) else np.inf)) & ~convex & lined
        al = np.where(convex, tan, np.where(concave, chord, 0.0))
        bl = np.where(convex, tan_b, np.where(concave, chord_b, fl))
        au = np.where(convex, chord, np.where(concave, tan, 0.0))
        bu = np.where(convex, chord_b, np.where(concave, tan_b, fu))
        return al, bl, au, bu


@dataclass(frozen=True, eq=False)
class MaxPool2D:
    """Max pooling, channels last, TensorFlow padding ('same' pads with -inf)."""

    gh: Geometry
    gw: Geometry

    def _windows(self, x: np.ndarray) -> np.ndarray:
        """``(offsets, N, H_out, W_out, C)``: every window entry, padding as -inf."""
        xp = pad_hw(x, self.gh, self.gw, value=-np.inf)
        offsets = [(i, j) for i in range(self.gh.kernel) for j in range(self.gw.kernel)]
        return np.stack([xp[window_slices(self.gh, self.gw, i, j)] for i, j in offsets])

    def f(self, x: np.ndarray) -> np.ndarray:
        """The pooling itself."""
        return self._windows(x).max(axis=0)

    def interval(self, low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The image of the box ``[low, high]`` (max is monotone in every entry)."""
        return self.f(low), self.f(high)

    def relax(self, low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, ...]:
        """``(sel, exact, umax)``: the offset of the entry with the largest lower bound,
        whether it dominates its window, and the window's largest upper bound."""
        lw = self._windows(low)
        uw = self._windows(high)
        sel = np.argmax(lw, axis=0)
        lsel = np.take_along_axis(lw, sel[None], axis=0)[0]
        others = np.where(np.arange(len(uw)).reshape((-1,) + (1,) * sel.ndim) == sel[None], -np.inf, uw)
        exact = lsel >= others.max(axis=0)
        return sel, exact, uw.max(axis=0)

    def backward(
        self, a: np.ndarray, relax: tuple[np.ndarray, ...], in_shape: tuple[int, ...]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Upper-bound the rows ``a`` (``(B, K, *out)``) of a linear function of the pool's output
        by a linear function of its input: returns ``(a_in, const)``."""
        w, const = pool_rows(a, *(r[:, None] for r in relax))
        b, k = a.shape[:2]
        sel = np.broadcast_to(relax[0][:, None], a.shape).reshape((b * k, *a.shape[2:]))
        g = scatter_selected(w.reshape((b * k, *a.shape[2:])), sel, self.gh, self.gw)
        return g.reshape((b, k, *in_shape)), const.reshape(b, k, -1).sum(axis=2)


def pool_rows(a: np.ndarray, sel: np.ndarray, exact: np.ndarray, umax: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Max pooling's relaxation applied to rows ``a`` (relaxation arrays broadcast to ``a``):
    the coefficients left on the selected entries, and the constant per coefficient
    (``a * umax`` where ``a > 0`` and the window is not exact)."""
    loose = (a > 0) & ~exact
    const = np.where(loose, a * np.where(loose, umax, 0.0), 0.0)
    return np.where(loose, 0.0, a), const


def scatter_selected(w: np.ndarray, sel: np.ndarray, gh: Geometry, gw: Geometry) -> np.ndarray:
    """``(N, gh.size, gw.size, C)``: each coefficient of ``w`` (``(N, gh.out, gw.out, C)``) added
    at the window entry ``sel`` (kernel offsets in row-major order) that its output reads."""
    g = np.zeros((w.shape[0], gh.size + gh.before + gh.after, gw.size + gw.before + gw.after, w.shape[-1]))
    n = 0
    for i in range(gh.kernel):
        for j in range(gw.kernel):
            g[window_slices(gh, gw, i, j)] += np.where(sel == n, w, 0.0)
            n += 1
    return g[:, gh.before : gh.before + gh.size, gw.before : gw.before + gw.size]


def _unbroadcast(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``a`` (``(B, K, *out)``) over the axes that ``shape`` broadcast to ``out``."""
    lead = a.ndim - 2 - len(shape)
    a = a.sum(axis=tuple(range(2, 2 + lead))) if lead else a
    axes = tuple(2 + i for i, d in enumerate(shape) if d == 1 and a.shape[2 + i] != 1)
    return (a.sum(axis=axes, keepdims=True) if axes else a).reshape(a.shape[:2] + shape)


@dataclass(frozen=True, eq=False)
class Multiply:
    """The element-wise product of two inputs, broadcast (numpy rules) to ``out_shape``."""

    shapes: tuple[tuple[int, ...], tuple[int, ...]]
    out_shape: tuple[int, ...]

    def f(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The product itself."""
        return x * y

    def interval(self, lows: list[np.ndarray], highs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """The exact image of the box: the smallest and largest of the four corner products."""
        lx, ux, ly, uy = self._lift(lows, highs)
        corners = np.stack(np.broadcast_arrays(lx * ly, lx * uy, ux * ly, ux * uy))
        return corners.min(axis=0), corners.max(axis=0)

    def relax(self, lows: list[np.ndarray], highs: list[np.ndarray]) -> tuple[np.ndarray, ...]:
        """``(lx, ux, ly, uy)`` broadcast to ``(B, *out_shape)``."""
        full = (lows[0].shape[0], *self.out_shape)
        return tuple(np.broadcast_to(v, full) for v in self._lift(lows, highs))

    def _lift(self, lows: list[np.ndarray], highs: list[np.ndarray]) -> list[np.ndarray]:
        """``lx, ux, ly, uy`` with unit axes inserted after the batch axis up to the output's rank."""

        def lift(v: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
            return v.reshape((v.shape[0],) + (1,) * (len(self.out_shape) - len(shape)) + shape)

        return [lift(v, self.shapes[k]) for k, v in ((0, lows[0]), (0, highs[0]), (1, lows[1]), (1, highs[1]))]

    def backward(self, a: np.ndarray, relax: tuple[np.ndarray, ...]) -> tuple[list[np.ndarray], np.ndarray]:
        """Upper-bound the rows ``a`` (``(B, K, *out)``) of a linear function of the product
        by McCormick planes: returns the rows for ``x`` and ``y`` and the constant."""
        lx, _, ly, uy = (r[:, None] for r in relax)
        pos = a > 0
        y_bound = np.where(pos, uy, ly)  # the upper plane where a > 0, the lower one elsewhere
        b, k = a.shape[:2]
        const = (-a * lx * y_bound).reshape(b, k, -1).sum(axis=2)
        return [_unbroadcast(a * y_bound, self.shapes[0]), _unbroadcast(a * lx, self.shapes[1])], const
