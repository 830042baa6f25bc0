"""Constraints on the input: value boxes, L-inf/L2 balls, masks, and their intersections.

Every constraint set is reduced to one canonical form per batch item,

    low <= x <= high   and   ||x - center||_2 <= radius   (the ball part is optional),

because a box, an L-inf ball and a mask are all boxes (a mask is a box whose frozen
entries have ``low == high == start``). The Euclidean projection onto that form is
exact: a clip when there is no L2 ball, and otherwise ``clip((1 - t) x + t c)`` with
``t`` found by bisection (the distance to ``c`` is monotone in ``t``). Alternating
projections are *not* exact and are not used.

This module imports no TensorFlow; the projection (one algorithm, numpy here and TensorFlow in
the compiled loop) lives in :mod:`.projection`.
:meth:`Canonical.float32` gives the float32 arrays for it, rounded so that every float32
point inside them lies inside the float64 set (at any input scale).
The argument checks and the emptiness checks of the canonical form live in ``_constraint_checks``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._fields import parts as parts_field
from .._fields import static, value
from ..errors import ConfigurationError, FeatvizTypeError
from .checks import (
    _as_float32_values,
    _as_float_array,
    _as_points,
    _broadcast,
    _check_ball,
    _check_box,
    _check_float32_ball,
    _check_float32_box,
    _describe_value,
    _mask_values,
    _parse_p,
    _radii,
    float32_inward,
)
from .projection import NUMPY, project_box_ball

__all__ = ["Constraint", "Box", "LpBall", "Mask", "Intersection", "Canonical"]


@dataclass(frozen=True)
class Canonical:
    """The canonical form of a constraint set for a batch: arrays of shape ``(B, *S)``.

    ``radius`` is ``(B,)``; ``has_ball`` says whether the L2 part is present; ``source``
    is the constraint it was built from (named in the errors of :meth:`float32`).
    """

    low: np.ndarray
    high: np.ndarray
    center: np.ndarray
    radius: np.ndarray
    has_ball: bool
    source: Any = field(default=None, compare=False, repr=False)

    def project(self, x: np.ndarray) -> np.ndarray:
        """Exact Euclidean projection of ``x`` (shape ``(B, *S)``) onto the set (see :mod:`.projection`)."""
        x = np.asarray(x, dtype=np.float64)
        return project_box_ball(NUMPY, x, self.low, self.high, self.center, self.radius, self.has_ball)

    def float32(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(low, high, center, radius)`` in float32, rounded so that float32 points inside are inside.

        The bounds are rounded inward: an entry whose interval holds one float32 number
        is fixed at it. The radius is shrunk by how far rounding moved the centre, then
        rounded down (0 where there is no ball). A set that holds no float32 point (an
        entry's interval between two float32 neighbours, or an L2 ball that misses every
        float32 point of the box) raises ConfigurationError with the numbers and the fix.

        Examples
        --------
        >>> canon = Box(0.1, 254.9).canonical((1, 1))
        >>> low, high, _, _ = canon.float32()
        >>> bool(low[0, 0] >= 0.1 and high[0, 0] <= 254.9)
        True
        """
        low, high = float32_inward(self.low, self.high)
        _check_float32_box(self, low, high)
        with np.errstate(over="ignore", invalid="ignore"):
            center = self.center.astype(np.float32)
        if not self.has_ball:
            return low, high, center, np.zeros(self.radius.shape, np.float32)
        axes = tuple(range(1, self.center.ndim))
        moved = np.sqrt(((center.astype(np.float64) - self.center) ** 2).sum(axis=axes))
        radius64 = np.maximum(self.radius - moved, 0.0)
        radius = radius64.astype(np.float32)
        radius = np.where(radius > radius64, np.nextafter(radius, np.float32(0)), radius)
        _check_float32_ball(self, low, high, center)
        return low, high, center, radius.astype(np.float32)

    def violation(self, x: np.ndarray) -> np.ndarray:
        """Largest violation per batch item (0 inside): box excess or ball excess."""
        x = np.asarray(x, dtype=np.float64)
        axes = tuple(range(1, x.ndim))
        box = np.maximum(np.maximum(self.low - x, 0), np.maximum(x - self.high, 0)).max(axis=axes)
        if not self.has_ball:
            return box
        ball = np.sqrt(((x - self.center) ** 2).sum(axis=axes)) - self.radius
        return np.maximum(box, np.maximum(ball, 0))


class Constraint:
    """Base class of constraint sets. Combine them with ``&``.

    Examples
    --------
    >>> import numpy as np
    >>> c = Box(0.0, 1.0) & LpBall(np.full(3, 0.5), radius=0.1, p=np.inf)
    >>> c
    Box(0.0, 1.0) & LpBall(radius=0.1, p=inf)
    >>> c.project(np.array([0.0, 0.5, 2.0]))
    array([0.4, 0.5, 0.6])
    """

    def __and__(self, other: Constraint) -> Intersection:
        if not isinstance(other, Constraint):
            return NotImplemented
        return Intersection(self._parts() + other._parts())

    def _parts(self) -> tuple[Constraint, ...]:
        return (self,)

    # -- canonical form ------------------------------------------------------------------
    def canonical(self, shape: tuple[int, ...], start: np.ndarray | None = None) -> Canonical:
        """The canonical arrays for a batch of shape ``(B, *S)``.

        ``start`` (shape ``(B, *S)``) is where masked-out entries stay frozen (clipped to
        the box and L-inf bounds; a Mask's own ``values`` take precedence on its entries).
        Raises ConfigurationError when the set is empty.

        Examples
        --------
        >>> c = Box(0, 1) & Mask([True, False])
        >>> c.canonical((1, 2), start=np.array([[0.5, 3.0]])).high
        array([[1., 1.]])
        """
        return self._canonical(shape, start, check=True)

    def _canonical(self, shape: tuple[int, ...], start: np.ndarray | None, check: bool) -> Canonical:
        shape = tuple(int(s) for s in shape)
        if len(shape) < 2:
            raise ConfigurationError(f"a batch of inputs has shape (B, *input_shape); got shape {shape}")
        low = np.full(shape, -np.inf)
        high = np.full(shape, np.inf)
        center = np.zeros(shape)
        radius = np.full(shape[0], np.inf)
        has_ball = False
        for part in self._parts():
            if isinstance(part, Box):
                low = np.maximum(low, _broadcast(part.low, shape, "Box low"))
                high = np.minimum(high, _broadcast(part.high, shape, "Box high"))
            elif isinstance(part, LpBall):
                c = _broadcast(part.center, shape, "LpBall center")
                r = _radii(part.radius, shape[0])
                if part.p == np.inf:
                    rr = r.reshape((-1,) + (1,) * (len(shape) - 1))
                    low, high = np.maximum(low, c - rr), np.minimum(high, c + rr)
                else:
                    center, radius, has_ball = c, r, True
        _check_box(low, high, self)
        masks = [part for part in self._parts() if isinstance(part, Mask)]
        if masks:
            ref = np.clip(start if start is not None else (center if has_ball else np.zeros(shape)), low, high)
            ref = _mask_values(masks, shape, low, high, ref, self)
            free = np.logical_and.reduce([_broadcast(m.mask, shape, "Mask").astype(bool) for m in masks])
            low, high = np.where(free, low, ref), np.where(free, high, ref)
        canon = Canonical(low, high, center, radius, has_ball, source=self)
        if check:
            _check_ball(canon, self, masked=bool(masks))
        return canon

    # -- numpy API -----------------------------------------------------------------------
    def project(self, x: Any, *, start: Any | None = None) -> np.ndarray:
        """Exact Euclidean projection of ``x`` onto this set.

        ``x`` is one input, or a batch when it has one more axis than the arrays the
        set was built from; ``start`` pins the masked-out entries of a
        ``Mask`` (default: they stay where ``x`` has them).

        Examples
        --------
        >>> Box(0.0, 1.0).project([-1.0, 0.5, 3.0])
        array([0. , 0.5, 1. ])
        """
        x = _as_points(x)
        rank = self._input_rank()
        batch = x if (rank > 0 and x.ndim == rank + 1) else x[None]
        ref = batch if start is None else _broadcast(_as_points(start, "start"), batch.shape, "start")
        out = self.canonical(batch.shape, start=ref).project(batch)
        return out.reshape(x.shape)

    def _input_rank(self) -> int:
        """The rank of the arrays this set was built from (0 when only scalars were given)."""
        ranks = [0]
        for part in self._parts():
            for name in ("low", "high", "center", "mask", "values"):
                value = getattr(part, name, None)
                if isinstance(value, np.ndarray):
                    ranks.append(value.ndim)
        return max(ranks)

    def violation(self, x: Any, *, start: Any | None = None) -> np.ndarray:
        """Largest violation per batch item (``x`` has shape ``(B, *S)``); 0 means inside.

        Examples
        --------
        >>> Box(0.0, 1.0).violation([[0.5, 1.25]])
        array([0.25])
        """
        x = _as_points(x)
        if x.ndim < 2:
            raise ConfigurationError(f"violation needs a batch (B, *input_shape); got shape {x.shape}")
        ref = x if start is None else _broadcast(_as_points(start, "start"), x.shape, "start")
        return self._canonical(x.shape, ref, check=False).violation(x)

    def contains(self, x: Any, *, atol: float = 1e-6, start: Any | None = None) -> np.ndarray:
        """Per batch item, whether ``x`` lies inside the set up to ``atol``.

        Examples
        --------
        >>> Box(0.0, 1.0).contains([[0.5, 1.0], [0.5, 1.5]])
        array([ True, False])
        """
        return self.violation(x, start=start) <= atol

    def describe(self) -> str:
        """How the set was built, as text (the same as ``repr``)."""
        return repr(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # Hypothesis and IPython pretty-print dataclasses field by field (whole arrays): use repr
        printer.text(repr(self))


@dataclass(frozen=True, eq=False, repr=False)
class Box(Constraint):
    """Element-wise bounds ``low <= x <= high``; scalars or arrays broadcast to the input.

    Examples
    --------
    >>> Box(0, 1)
    Box(0.0, 1.0)
    >>> Box(0, 1).contains([[0.2, 0.9]])
    array([ True])
    """

    low: Any = value(default=-np.inf)
    high: Any = value(default=np.inf)

    def __post_init__(self) -> None:
        low = _as_float_array(self.low, "Box low")
        high = _as_float_array(self.high, "Box high")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        try:
            bad = np.broadcast_arrays(low, high)
        except ValueError:
            raise ConfigurationError(
                f"Box low has shape {low.shape} and high has shape {high.shape}; they must broadcast"
            ) from None
        if (bad[0] > bad[1]).any():
            idx = tuple(int(i) for i in np.argwhere(bad[0] > bad[1])[0])
            raise ConfigurationError(
                f"Box low={bad[0][idx]:g} is larger than high={bad[1][idx]:g}"
                + (f" at index {idx}" if idx else "")
                + "; swap them or widen the box"
            )

    def __repr__(self) -> str:
        return f"Box({_describe_value(self.low)}, {_describe_value(self.high)})"


@dataclass(frozen=True, eq=False, repr=False)
class LpBall(Constraint):
    """The ball ``||x - center||_p <= radius`` for ``p`` in {2, inf}.

    ``radius`` may be a scalar or one radius per batch item.

    Examples
    --------
    >>> import numpy as np
    >>> ball = LpBall(np.zeros(2), radius=1.0, p=2)
    >>> ball
    LpBall(radius=1.0, p=2)
    >>> ball.project(np.array([3.0, 4.0]))
    array([0.6, 0.8])
    """

    center: Any = value()
    radius: Any = value(default=1.0)
    p: Any = static(default=np.inf)  # decides the canonical form's has_ball: part of the compiled structure

    def __post_init__(self) -> None:
        object.__setattr__(self, "center", _as_float_array(self.center, "LpBall center"))
        radius = _as_float_array(self.radius, "LpBall radius")
        if radius.ndim > 1:
            raise ConfigurationError(
                f"LpBall radius must be a scalar or one radius per batch item; got shape {radius.shape}"
            )
        if (radius < 0).any() or not np.isfinite(radius).all():
            raise ConfigurationError(f"LpBall radius must be finite and >= 0; got {self.radius!r}")
        object.__setattr__(self, "radius", radius)
        object.__setattr__(self, "p", _parse_p(self.p))

    def __repr__(self) -> str:
        p = "inf" if self.p == np.inf else "2"
        return f"LpBall(radius={_describe_value(self.radius)}, p={p})"


@dataclass(frozen=True, eq=False, repr=False)
class Mask(Constraint):
    """Only the entries where ``mask`` is True may change.

    The others stay exactly at the start's values during an ascent (or at
    ``values`` when given, rounded to the nearest float32 number: input values, which
    the model holds in float32).

    Examples
    --------
    >>> import numpy as np
    >>> m = Mask(np.array([True, False]))
    >>> m
    Mask(free=1/2)
    >>> m.project(np.array([5.0, 7.0]), start=np.array([0.0, 0.0]))
    array([5., 0.])
    """

    mask: Any = value()
    values: Any = value(default=None)

    def __post_init__(self) -> None:
        mask = np.asarray(self.mask)
        if mask.dtype != bool:
            if not np.isin(mask, (0, 1)).all():
                raise FeatvizTypeError(
                    f"Mask needs a boolean array (True where the input may change); got dtype {mask.dtype}"
                )
            mask = mask.astype(bool)
        object.__setattr__(self, "mask", mask)
        if self.values is not None:
            object.__setattr__(self, "values", _as_float32_values(self.values, "Mask values"))

    def __repr__(self) -> str:
        return f"Mask(free={int(self.mask.sum())}/{self.mask.size})"


@dataclass(frozen=True, eq=False, repr=False)
class Intersection(Constraint):
    """The intersection of several constraint sets; build it with ``&``.

    At most one L2 ball may take part (the exact projection onto two L2 balls is
    not implemented); any number of boxes, L-inf balls and masks may.

    Examples
    --------
    >>> Box(0, 1) & LpBall(0.5, radius=0.1, p=2)
    Box(0.0, 1.0) & LpBall(radius=0.1, p=2)
    """

    parts: tuple[Constraint, ...] = parts_field(default_factory=tuple)

    def __post_init__(self) -> None:
        balls = [p for p in self.parts if isinstance(p, LpBall) and p.p == 2]
        if len(balls) > 1:
            raise ConfigurationError(
                f"{len(balls)} L2 balls were intersected ({self!r}); at most one L2 ball is supported "
                "because only then is the projection exact. Use one L2 ball and L-inf balls or boxes."
            )

    def _parts(self) -> tuple[Constraint, ...]:
        return self.parts

    def __repr__(self) -> str:
        return " & ".join(repr(p) for p in self.parts)


def as_constraint(value: Any) -> Constraint:
    """Normalise ``None`` (no constraint) or a ``Constraint``; anything else is a TypeError."""
    if value is None:
        return Box()
    if isinstance(value, Constraint):
        return value
    raise FeatvizTypeError(
        f"constraints must be a Box, LpBall, Mask or an intersection of them with '&'; got {value!r}"
    )
