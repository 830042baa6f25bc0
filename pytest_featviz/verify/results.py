"""What the bounds of a verification say: :class:`Bounds` (per batch item, sound) and
:class:`Certificate` (a claim "the objective stays below a threshold", proven or not)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..constraints import Constraint
from ..objectives import Objective

__all__ = ["Bounds", "Certificate"]


def _fmt(arr: np.ndarray) -> str:
    return np.array2string(np.asarray(arr), precision=6, threshold=8, separator=", ")


@dataclass(frozen=True, eq=False)
class Bounds:
    """Sound bounds of an objective over a constraint set, one per batch item.

    Attributes
    ----------
    lower, upper : ndarray, shape (B,)
        For every input in the set, ``lower <= objective <= upper`` (float32 model).
        NaN means unknown.
    method : {'ibp', 'crown', 'crown-ibp', 'alpha-crown'}
        What was run ('crown-ibp': CROWN with IBP bounds for some intermediate layers).
    upper_from : tuple of str
        Per item, which method gave the upper bound: 'ibp', 'crown' or 'both'
        (an objective of several rows, some from each).
    real_lower, real_upper : ndarray, shape (B,)
        The bounds in exact arithmetic, before widening for float32 evaluation.
    ibp_layers : tuple of str
        The layers whose intermediate bounds stayed IBP's where CROWN was due (its budget,
        :data:`.propagation.FULL_CROWN_BUDGET`, or ``method='crown-ibp'``); empty for full CROWN.
    """

    lower: np.ndarray
    upper: np.ndarray
    method: str
    upper_from: tuple[str, ...]
    real_lower: np.ndarray
    real_upper: np.ndarray
    objective: Objective
    constraints: Constraint
    ibp_layers: tuple[str, ...] = ()

    @property
    def known(self) -> np.ndarray:
        """Per item, whether both bounds are finite numbers."""
        return np.isfinite(self.lower) & np.isfinite(self.upper)

    def __repr__(self) -> str:
        ibp = f", ibp_layers={self.ibp_layers}" if self.ibp_layers else ""
        return (
            f"Bounds({self.objective!r}, method={self.method!r}, lower={_fmt(self.lower)}, "
            f"upper={_fmt(self.upper)}{ibp})"
        )


@dataclass(frozen=True, eq=False)
class Certificate:
    """Whether an objective provably stays below a threshold, per batch item.

    ``status`` is 'proven' where the sound upper bound is below ``threshold``, else
    'unknown' (a search may still find a counterexample); with branch and bound also
    'counterexample' where one was found. ``reasons`` says why, per item (empty
    without branch and bound); ``counterexamples`` (``(B, *input_shape)`` float32, NaN
    rows where none was found) holds them, or is None without branch and bound.
    """

    status: tuple[str, ...]
    threshold: float
    bounds: Bounds
    reasons: tuple[str, ...] = ()
    counterexamples: np.ndarray | None = None

    @property
    def proven(self) -> bool:
        """True when every item is proven."""
        return all(s == "proven" for s in self.status)

    def __repr__(self) -> str:
        n = sum(s == "proven" for s in self.status)
        found = sum(s == "counterexample" for s in self.status)
        return (
            f"Certificate({self.bounds.objective!r} < {self.threshold:g}: proven {n}/{len(self.status)}, "
            + (f"counterexamples {found}, " if found else "")
            + f"upper={_fmt(self.bounds.upper)}, method={self.bounds.method!r})"
        )
