"""The search behind a reach claim: check the arguments, run :func:`~pytest_featviz.ascend`, judge each item.

:func:`assert_reaches <pytest_featviz.claims.reach.assert_reaches>` and
:func:`assert_not_reaches <pytest_featviz.claims.reach.assert_not_reaches>` share it: both
check their threshold, take the running test's seed by default, refuse the ``ascend()``
arguments they set themselves, and ask per item whether the threshold was met inside
the constraints.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from .._validation import check_int, check_real
from ..constraints import as_constraint
from ..engine import AscentResult, ascend
from ..errors import ConfigurationError, FeatvizTypeError, closest
from ..objectives import Objective, as_objective
from . import context

__all__ = ["check_threshold", "default_seed", "run_search"]

# ascend's arguments that the assertions set themselves (or take under another name)
OWN_ARGUMENTS = ("model", "objective", "start", "constraints", "seed", "until", "restarts")


def check_threshold(threshold: Any) -> float:
    """The claim's threshold as a float: a NaN or infinite threshold is a ConfigurationError.

    Examples
    --------
    >>> check_threshold(3)
    3.0
    """
    return check_real(threshold, "threshold")


def default_seed(seed: int | None) -> int:
    """``seed`` when given, else the running test's seed, else 0 (no test running).

    Examples
    --------
    >>> from pytest_featviz.claims import TestContext, activate
    >>> with activate(TestContext("t.py::test_x", 42)):
    ...     default_seed(7), default_seed(None)
    (7, 42)
    """
    if seed is not None:
        return seed
    ctx = context.current()
    return ctx.seed if ctx is not None else 0


def check_options(kind: str, options: dict[str, Any]) -> None:
    """Refuse ascend() arguments that the assertion sets itself, and names ascend() does not take."""
    if "until" in options:
        raise FeatvizTypeError(
            f"{kind} sets until= itself (objective >= threshold, so that the search stops at the "
            f"threshold); remove until={options['until']!r}"
        )
    if "batch" in options:
        raise FeatvizTypeError(
            f"{kind} takes restarts= instead of batch= (restarts independent starts run as one "
            f"batch); got batch={options['batch']!r}"
        )
    valid = [p for p in inspect.signature(ascend).parameters if p not in OWN_ARGUMENTS]
    for name in options:
        if name not in valid:
            raise FeatvizTypeError(
                f"{kind} got an unexpected keyword argument {name!r}; besides its own arguments it "
                f"passes these to ascend(): {', '.join(valid)}{closest(name, valid)}"
            )


def run_search(
    kind: str,
    model: Any,
    objective: Objective,
    threshold: float,
    constraints: Any,
    start: Any,
    restarts: Any,
    seed: int | None,
    options: dict[str, Any],
) -> tuple[AscentResult, np.ndarray]:
    """Run the search of one claim: the result, and per item whether it met the threshold inside the set."""
    restarts = check_int(restarts, "restarts", min_value=1)
    check_options(kind, options)
    objective = as_objective(objective)
    batch = None
    if restarts > 1:
        if objective.batch_size() not in (None, 1):
            raise ConfigurationError(
                f"restarts={restarts} needs a single target; {objective!r} has {objective.batch_size()} targets "
                "(one start each). Pass restarts=1 (the default of assert_not_reaches for several targets), "
                "or use one assertion per target"
            )
        batch = restarts
    r = ascend(
        model,
        objective,
        start=start,
        constraints=constraints,
        until=objective >= threshold,
        seed=default_seed(seed),
        restarts=batch,
        **options,
    )
    assert r.reached is not None  # until= was given: ascend reports per item whether it was met
    return r, r.reached & (as_constraint(constraints).violation(r.inputs, start=r.start) <= 1e-6)
