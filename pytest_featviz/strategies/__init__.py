"""Hypothesis strategies that vary starting points, constraints and targets.

Each public function returns a strategy, in Hypothesis's own style: options are
keyword-only, bounds are named ``min_value``/``max_value``, and each argument is
either a value or a strategy (the docstrings say which). Impossible arguments
raise :class:`hypothesis.errors.InvalidArgument` naming the values and the fix
when the strategy is first drawn from (as Hypothesis's strategies do); the
model-based strategies check the model when they are called.

Arrays are never drawn element by element: a strategy draws a few numbers (a
kind, a seed, a level) and builds the array with numpy, so drawing is fast and
shrinking moves toward the simplest kind (a constant array at ``min_value``).
Every generated constraint set is non-empty and holds a float32 point, at any scale.

Importing it imports no TensorFlow.
"""

from .patterns import KINDS
from .sets import boxes, constraint_sets, lp_balls, masks
from .starts import from_examples, starting_points
from .targets import channel_indices, class_indices

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
