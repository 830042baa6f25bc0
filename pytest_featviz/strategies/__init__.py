"""Hypothesis strategies that vary starting points and constraints."""

from .api import (
    KINDS,
    boxes,
    channel_indices,
    class_indices,
    constraint_sets,
    from_examples,
    lp_balls,
    masks,
    starting_points,
)

__all__ = [
    "KINDS",
    "starting_points",
    "from_examples",
    "boxes",
    "lp_balls",
    "masks",
    "constraint_sets",
    "class_indices",
    "channel_indices",
]
