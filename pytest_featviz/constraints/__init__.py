"""Constraints on the input: Box, LpBall, Mask and their intersections; the canonical per-item form and projections."""

from .checks import float32_inward, part_breaches
from .sets import Box, Canonical, Constraint, Intersection, LpBall, Mask, as_constraint

__all__ = [
    "Constraint",
    "Box",
    "LpBall",
    "Mask",
    "Intersection",
    "Canonical",
    "as_constraint",
    "float32_inward",
    "part_breaches",
]
