"""Adam's step on NumPy arrays, for the bounds' own searches: alpha-CROWN's lower slopes
(:mod:`.alpha`) and branch and bound's slopes and Lagrange multipliers (:mod:`.lagrange`).

Each caller subtracts the step (both minimise an upper bound) and projects the result onto its
feasible set, where every point gives a sound bound; the step size decays by :data:`DECAY` per
iteration.
"""

from __future__ import annotations

import numpy as np

__all__ = ["adam_step", "BETA1", "BETA2", "EPSILON", "DECAY"]

BETA1, BETA2 = 0.9, 0.999
"""Decay of the first and second moments."""
EPSILON = 1e-8
"""Added to the root of the second moment (a variable with no gradient yet does not move)."""
DECAY = 0.98
"""The step size's factor per iteration: ``rate * DECAY**it`` at iteration ``it`` (from 0)."""


def adam_step(
    grad: np.ndarray, moments: tuple[np.ndarray, np.ndarray], t: int, rate: float
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Adam's step for ``grad`` at step ``t`` (from 1) with step size ``rate``, and the new first
    and second moments (``moments``: the previous ones, zeros before the first step).

    Examples
    --------
    >>> import numpy as np
    >>> zeros = (np.zeros(2), np.zeros(2))
    >>> step, moments = adam_step(np.array([4.0, -0.5]), zeros, 1, 0.1)
    >>> np.round(step, 6).tolist()  # the first step is rate * sign(grad)
    [0.1, -0.1]
    """
    m, v = moments
    m = BETA1 * m + (1 - BETA1) * grad
    v = BETA2 * v + (1 - BETA2) * grad * grad
    m_hat, v_hat = m / (1 - BETA1**t), v / (1 - BETA2**t)
    return rate * m_hat / (np.sqrt(v_hat) + EPSILON), (m, v)
