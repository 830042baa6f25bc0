"""The reach claims: :func:`assert_reaches` (ascent finds it) and :func:`assert_not_reaches` (nothing does).

Each raises ``AssertionError`` with a full account when the model fails the claim (what
was tried, what was found, where the pictures are, what to try next; written by
:mod:`.account`) and returns its outcome on success: the ``AscentResult``, or for
:func:`assert_not_reaches` a :class:`~pytest_featviz.claims.ClaimResult` holding it with
the claim's status and certificate. Configuration mistakes raise ``ValueError`` /
``TypeError`` subclasses before anything runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .._validation import check_choice
from ..constraints import Constraint
from ..engine import AscentResult
from ..errors import ConfigurationError, closest
from ..objectives import Objective, as_objective
from .account import Verdict, finish
from .outcome import ClaimResult
from .search import check_threshold, run_search

if TYPE_CHECKING:
    from ..verify import BranchAndBound, Method

__all__ = ["assert_reaches", "assert_not_reaches"]

_REQUIRE = ("any", "all")


def assert_reaches(
    model: Any,
    objective: Objective,
    threshold: float,
    *,
    constraints: Constraint | None = None,
    start: Any = None,
    restarts: int = 1,
    require: Literal["any", "all"] = "any",
    seed: int | None = None,
    **ascent_options: Any,
) -> AscentResult:
    """Assert that gradient ascent finds inputs inside ``constraints`` with ``objective >= threshold``.

    Parameters
    ----------
    model, objective, constraints, start
        As for :func:`ascend`.
    threshold : float
        The threshold, as the claim states it (a finite number).
    restarts : int
        Independent starts run as one batch (for a single target); this is
        :func:`ascend`'s ``batch``.
    require : {'any', 'all'}
        Whether one batch item reaching suffices, or every item must.
    seed : int, optional
        Default: the running test's seed (``--featviz-seed`` and the node id), else 0.
    **ascent_options
        Passed to :func:`ascend` (``steps``, ``lr``, ``optimizer``, ...); not
        ``until`` (set to ``objective >= threshold``) nor ``batch`` (use ``restarts``).

    Returns
    -------
    AscentResult

    Examples
    --------
    >>> import keras, pytest_featviz as fv
    >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, kernel_initializer="ones")])
    >>> r = fv.assert_reaches(m, fv.ClassLogit(0), 2.5, constraints=fv.Box(0, 1), steps=50)
    >>> bool(r.reached[0])
    True
    """
    __tracebackhide__ = True
    value = check_threshold(threshold)
    check_choice(require, "require", _REQUIRE)
    r, ok_items = run_search(
        "assert_reaches", model, objective, value, constraints, start, restarts, seed, ascent_options
    )
    passed = bool(ok_items.any() if require == "any" else ok_items.all())
    claim = f"{r.objective!r} reaches >= {threshold}" + (" for every item" if require == "all" else "")
    remedy = (
        f"more steps (steps={2 * r.steps_requested}), more restarts, another seed, "
        "or a looser constraint / lower threshold"
    )
    finish("assert_reaches", r, claim, threshold, Verdict(passed, remedy=remedy), require=require)
    return r


def assert_not_reaches(
    model: Any,
    objective: Objective,
    threshold: float,
    *,
    constraints: Constraint,
    start: Any = None,
    restarts: int | None = None,
    seed: int | None = None,
    certify: bool = False,
    method: Literal["crown", "ibp", "crown-ibp", "alpha-crown"] = "crown",
    require_proof: bool = False,
    branch: BranchAndBound | None = None,
    **ascent_options: Any,
) -> ClaimResult:
    """Assert that no input inside ``constraints`` gets ``objective >= threshold`` (a robustness gate).

    Gradient ascent (``restarts`` starts, the first at ``start`` when given; default 4
    for a single target, one start per target for an index sequence) hunts
    for a counterexample; finding one fails the test with its value, its distance
    from the reference point and its picture. With ``certify=True`` sound bounds
    (``method`` in {'crown', 'ibp', 'crown-ibp', 'alpha-crown'}) are computed too: ``r.status`` is
    ``"proven"`` when the upper bound is below the threshold for every item, else
    ``"unknown"``, which fails only with ``require_proof=True`` (it needs
    ``certify=True``). With ``branch`` (a :class:`~pytest_featviz.verify.BranchAndBound`;
    needs ``certify=True``) unknown items are branched: split and bounded part by part
    until proven, or until a counterexample is found on the model (which fails the
    test like the search's), or the budget runs out. Other keyword arguments go to
    :func:`ascend`, as for :func:`assert_reaches`.

    Returns
    -------
    ClaimResult
        The search's ``AscentResult`` (``r.result``; its attributes read through:
        ``r.values``, ``r.inputs``, ...), ``r.status`` ("proven", "unknown"; None
        without ``certify=True``) and ``r.certificate`` (the sound bounds, when certified).

    Examples
    --------
    >>> import keras, pytest_featviz as fv
    >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, kernel_initializer="ones")])
    >>> r = fv.assert_not_reaches(m, fv.ClassLogit(0), 3.5, constraints=fv.Box(0, 1), steps=50)
    >>> float(r.values.max()) <= 3.5
    True
    >>> fv.assert_not_reaches(m, fv.ClassLogit(0), 3.5, constraints=fv.Box(0, 1), certify=True).status
    'proven'
    """
    __tracebackhide__ = True
    value = check_threshold(threshold)
    if constraints is None:
        raise ConfigurationError("assert_not_reaches needs constraints: without them almost anything is reachable")
    _check_certify(certify, method, require_proof, branch)
    if restarts is None:  # 4 starts for one target; one start per target for several
        restarts = 4 if as_objective(objective).batch_size() in (None, 1) else 1
    if certify:  # refuse an unsupported layer before the search, not after it
        from ..verify import check_supported

        check_supported(model, objective)
    r, found = run_search(
        "assert_not_reaches", model, objective, value, constraints, start, restarts, seed, ascent_options
    )
    claim = f"{r.objective!r} stays below {threshold}"
    if found.any():
        outcome, verdict = ClaimResult(r, "counterexample"), _counterexample(r, found, threshold, certify)
    else:
        outcome = _certify(model, r, value, constraints, method, branch) if certify else ClaimResult(r)
        verdict = Verdict(True)
        if outcome.status == "counterexample":
            verdict = _branched_counterexample(outcome, threshold)
        elif require_proof and outcome.status != "proven":
            verdict = _unproven(outcome, threshold, method)
    finish("assert_not_reaches", r, claim, threshold, verdict, status=outcome.status)
    return outcome


def _counterexample(r: AscentResult, found: np.ndarray, threshold: float, certify: bool) -> Verdict:
    """The verdict when the search found inputs inside the constraints at or above the threshold."""
    hits = ", ".join(map(str, np.flatnonzero(found)))
    how = (
        "certification skipped: the counterexample settles the claim"
        if certify
        else "a search result; no bounds were computed (certify=False)"
    )
    return Verdict(
        False,
        ", but a counterexample was found",
        (
            f"gradient ascent found inputs inside the constraints with {r.objective!r} >= "
            f"{threshold} (items {hits}); {how}",
        ),
        "this is a real counterexample inside the constraints: retrain, or tighten the claim",
        focus=int(np.flatnonzero(found)[0]),
    )


def _check_certify(certify: bool, method: str, require_proof: bool, branch: Any) -> None:
    from ..verify import METHODS

    if not isinstance(method, str) or method not in METHODS:
        raise ConfigurationError(
            f"method={method!r} is not one of {', '.join(map(repr, METHODS))}{closest(str(method), METHODS)}"
        )
    if require_proof and not certify:
        raise ConfigurationError(
            "require_proof=True needs certify=True: without certification nothing is proven, "
            "so the claim could never pass"
        )
    if branch is not None and not certify:
        raise ConfigurationError("branch=... needs certify=True: branch and bound refines the sound bounds")


def _certify(
    model: Any, r: AscentResult, threshold: float, constraints: Any, method: Method, branch: BranchAndBound | None
) -> ClaimResult:
    from ..verify import certify_not_reaches

    cert = certify_not_reaches(
        model, r.objective, threshold, constraints=constraints, method=method, start=r.start, branch=branch
    )
    status = np.asarray(cert.status)
    if (status == "counterexample").any():
        return ClaimResult(r, "counterexample", cert)
    return ClaimResult(r, "proven" if np.all(status == "proven") else "unknown", cert)


def _branched_counterexample(outcome: ClaimResult, threshold: float) -> Verdict:
    """The verdict when branch and bound found a counterexample that the search had missed."""
    cert = outcome.certificate
    assert cert is not None  # certify=True: checked before the search
    items = [i for i, s in enumerate(cert.status) if s == "counterexample"]
    notes = tuple(f"item {i}: {cert.reasons[i]}" for i in items)
    return Verdict(
        False,
        ", but branch and bound found a counterexample",
        (*notes, "the inputs are in r.certificate.counterexamples (float32, NaN rows where none was found)"),
        "this is a real counterexample inside the constraints: retrain, or tighten the claim",
        focus=items[0],
    )


def _unproven(outcome: ClaimResult, threshold: float, method: str) -> Verdict:
    """The verdict when search found nothing but the sound bound is too loose to prove the claim."""
    cert = outcome.certificate
    assert cert is not None  # certify=True: checked before the search
    upper = np.asarray(cert.bounds.upper, dtype=np.float64)
    unknown = np.flatnonzero(np.asarray(cert.status) != "proven")
    worst = upper[unknown]
    bound = (
        "the sound upper bound is NaN (unknown)"
        if np.isnan(worst).all()
        else f"the sound upper bound, {np.nanmax(worst):.6g}, is at or above the threshold {threshold}"
    )
    note = (
        f"certification: unknown: no counterexample was found, but {bound} "
        f"(method {cert.bounds.method!r}; unproven items {', '.join(map(str, unknown))})"
    )
    tries = [f'method="crown" (tighter than {method!r})'] if method != "crown" else []
    tries += ["a smaller radius (or tighter constraints)", "a higher threshold"]
    remedy = f"try {', '.join(tries[:-1])} or {tries[-1]}; or drop require_proof=True to accept search evidence"
    return Verdict(
        False, ", with a proof (require_proof=True), but the sound bound could not prove it", (note,), remedy
    )
