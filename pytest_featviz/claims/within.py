"""The membership claim: :func:`assert_within` (every input lies inside the constraints)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_real
from ..constraints import Constraint, as_constraint, part_breaches
from ..engine import AscentResult
from .outcome import unwrap

__all__ = ["assert_within"]


def assert_within(inputs: Any, constraints: Constraint, *, atol: float = 1e-6, start: Any = None) -> None:
    """Assert that every batch item lies inside ``constraints`` (up to ``atol``, a finite number >= 0).

    ``inputs`` is a ``(B, *S)`` array or an ``AscentResult`` (its start pins masks). The
    failure names, per item, each part of ``constraints`` it breaks: index, repr, amount, atol.

    Examples
    --------
    >>> import numpy as np, pytest_featviz as fv
    >>> fv.assert_within(np.array([[0.2, 0.8]]), fv.Box(0, 1))
    """
    __tracebackhide__ = True
    check_real(atol, "atol", min_value=0)
    inputs = unwrap(inputs)
    if isinstance(inputs, AscentResult):
        start = inputs.start if start is None else start
        inputs = inputs.inputs
    constraint = as_constraint(constraints)
    x = np.asarray(inputs, dtype=np.float64)
    viol = constraint.violation(x, start=start)
    bad = np.flatnonzero(viol > atol)
    if bad.size == 0:
        return
    ref = x if start is None else np.broadcast_to(np.asarray(start, dtype=np.float64), x.shape)
    lines = [f"{bad.size} of {len(x)} inputs lie outside {constraint!r} (atol={atol:g}):"]
    for i in bad[:10]:  # each broken part by name, index, amount and where
        lines += part_breaches(constraint, x, ref, int(i), atol) or [f"  item {i}: violation {viol[i]:.3g}"]
    raise AssertionError("\n".join(lines))
