"""Assertion helpers: claims about what gradient ascent can (or cannot) reach.

Each helper raises ``AssertionError`` with a full account when the model fails the
claim (what was tried, what was found, where the pictures are, what to try next)
and returns its outcome on success (the ``AscentResult``; :func:`assert_not_reaches`
returns a :class:`ClaimResult` holding it with the claim's status and certificate). Configuration mistakes raise
``ValueError``/``TypeError`` subclasses before anything runs. The failure account
itself (the table, the notes, the remedy, the record) is written by ``_account``.
"""

from __future__ import annotations

import inspect
import numbers
from typing import Any, Literal

import numpy as np

from .._pytest import context as _context
from .._validation import check_choice, check_int, check_real
from ..constraints import Constraint, as_constraint, part_breaches
from ..engine import AscentResult, ascend, own_range
from ..errors import ConfigurationError, FeatvizTypeError, closest
from ..objectives import Objective, as_objective
from .account import _finish, _Verdict
from .outcome import ClaimResult, unwrap
from .record import Record

__all__ = ["assert_reaches", "assert_not_reaches", "assert_within", "assert_structure", "ClaimResult"]

_REQUIRE = ("any", "all")
# ascend's arguments that the assertions set themselves (or take under another name)
_OWN_ARGUMENTS = ("model", "objective", "start", "constraints", "seed", "until", "restarts")


def _threshold(threshold: Any) -> float:
    return check_real(threshold, "threshold")  # finite: a NaN or infinite threshold is a ConfigurationError


def _seed(seed: int | None) -> int:
    if seed is not None:
        return seed
    ctx = _context.current()
    return ctx.seed if ctx is not None else 0


def _check_options(kind: str, options: dict) -> None:
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
    valid = [p for p in inspect.signature(ascend).parameters if p not in _OWN_ARGUMENTS]
    for name in options:
        if name not in valid:
            raise FeatvizTypeError(
                f"{kind} got an unexpected keyword argument {name!r}; besides its own arguments it "
                f"passes these to ascend(): {', '.join(valid)}{closest(name, valid)}"
            )


def _run(
    kind: str,
    model: Any,
    objective: Objective,
    threshold: float,
    constraints: Any,
    start: Any,
    restarts: Any,
    seed: int | None,
    options: dict,
) -> tuple[AscentResult, Any]:
    """Run the search of one claim: the result, and per item whether it met the threshold inside the set."""
    restarts = check_int(restarts, "restarts", min_value=1)
    _check_options(kind, options)
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
        seed=_seed(seed),
        restarts=batch,
        **options,
    )
    return r, r.reached & (as_constraint(constraints).violation(r.inputs, start=r.start) <= 1e-6)


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
    value = _threshold(threshold)
    check_choice(require, "require", _REQUIRE)
    r, ok_items = _run("assert_reaches", model, objective, value, constraints, start, restarts, seed, ascent_options)
    passed = bool(ok_items.any() if require == "any" else ok_items.all())
    claim = f"{r.objective!r} reaches >= {threshold}" + (" for every item" if require == "all" else "")
    remedy = (
        f"more steps (steps={2 * r.steps_requested}), more restarts, another seed, "
        "or a looser constraint / lower threshold"
    )
    _finish("assert_reaches", r, claim, threshold, _Verdict(passed, remedy=remedy))
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
    method: Literal["crown", "ibp", "crown-ibp"] = "crown",
    require_proof: bool = False,
    **ascent_options: Any,
) -> ClaimResult:
    """Assert that no input inside ``constraints`` gets ``objective >= threshold`` (a robustness gate).

    Gradient ascent (``restarts`` starts, the first at ``start`` when given; default 4
    for a single target, one start per target for an index sequence) hunts
    for a counterexample; finding one fails the test with its value, its distance
    from the reference point and its picture. With ``certify=True`` sound bounds
    (``method`` in {'crown', 'ibp', 'crown-ibp'}) are computed too: ``r.status`` is
    ``"proven"`` when the upper bound is below the threshold for every item, else
    ``"unknown"``, which fails only with ``require_proof=True`` (it needs
    ``certify=True``). Other keyword arguments go to :func:`ascend`, as for
    :func:`assert_reaches`.

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
    value = _threshold(threshold)
    if constraints is None:
        raise ConfigurationError("assert_not_reaches needs constraints: without them almost anything is reachable")
    _check_certify(certify, method, require_proof)
    if restarts is None:  # 4 starts for one target; one start per target for several
        restarts = 4 if as_objective(objective).batch_size() in (None, 1) else 1
    if certify:  # refuse an unsupported layer before the search, not after it
        from ..verify import check_supported

        check_supported(model, objective)
    r, found = _run("assert_not_reaches", model, objective, value, constraints, start, restarts, seed, ascent_options)
    claim = f"{r.objective!r} stays below {threshold}"
    if found.any():
        outcome = ClaimResult(r, "counterexample")
        hits = ", ".join(map(str, np.flatnonzero(found)))
        how = (
            "certification skipped: the counterexample settles the claim"
            if certify
            else "a search result; no bounds were computed (certify=False)"
        )
        verdict = _Verdict(
            False,
            ", but a counterexample was found",
            (
                f"gradient ascent found inputs inside the constraints with {r.objective!r} >= "
                f"{threshold} (items {hits}); {how}",
            ),
            "this is a real counterexample inside the constraints: retrain, or tighten the claim",
            focus=int(np.flatnonzero(found)[0]),
        )
    else:
        outcome = _certify(model, r, value, constraints, method) if certify else ClaimResult(r)
        verdict = (
            _unproven(outcome, threshold, method) if require_proof and outcome.status != "proven" else _Verdict(True)
        )
    _finish("assert_not_reaches", r, claim, threshold, verdict, status=outcome.status)
    return outcome


def _check_certify(certify: bool, method: str, require_proof: bool) -> None:
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


def _certify(model: Any, r: AscentResult, threshold: float, constraints: Any, method: str) -> ClaimResult:
    from ..verify import certify_not_reaches

    cert = certify_not_reaches(model, r.objective, threshold, constraints=constraints, method=method, start=r.start)
    return ClaimResult(r, "proven" if np.all(np.asarray(cert.status) == "proven") else "unknown", cert)


def _unproven(outcome: ClaimResult, threshold: float, method: str) -> _Verdict:
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
    return _Verdict(
        False, ", with a proof (require_proof=True), but the sound bound could not prove it", (note,), remedy
    )


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


def assert_structure(image_or_batch: Any, *, value_range: Any = None, **bounds: Any) -> dict | list[dict]:
    """Assert structure metrics of an image (or of each image of a batch) lie within bounds.

    Each keyword is a metric name from :mod:`pytest_featviz.metrics` with a
    ``(min, max)`` pair; ``None`` leaves an end open. At least one is needed.

    ``value_range=(low, high)`` is the range the values live in: the metrics that
    depend on it (``saturation``) use it, and a failure's picture is drawn over it.
    Given an ``AscentResult``, its inputs are checked as a batch and its
    ``value_range`` (the constraint box) is the default; for an array the metrics
    default to ``(0, 1)`` and the picture to the images' own range.

    The array's shape says whether it is one image or a batch:

    - ``(H, W)``: one grey image;
    - ``(H, W, C)`` with ``C`` 1 or 3: one image;
    - any other 3-D shape ``(B, H, W)``: a batch of grey images;
    - ``(B, H, W, C)``: a batch.

    So a batch of grey images whose width is 1 or 3 must be given as ``(B, H, W, 1)``.

    Returns
    -------
    dict or list of dict
        The metric values: a dict for one image, a list of dicts (one per image) for a batch.

    Examples
    --------
    >>> import numpy as np, pytest_featviz as fv
    >>> stripes = np.tile((np.arange(32) % 8 < 4).astype(float), (32, 1))
    >>> values = fv.assert_structure(stripes, orientation_coherence=(0.9, None))
    >>> values["orientation_coherence"] > 0.9
    True
    >>> len(fv.assert_structure(np.stack([stripes, stripes.T]), orientation_coherence=(0.9, None)))
    2
    >>> fv.assert_structure(255 * stripes, value_range=(0, 255), saturation=(1.0, None))["saturation"]
    1.0
    """
    __tracebackhide__ = True
    from ..metrics import METRICS, check_value_range, metric, range_options

    checks = {name: (metric(name), _bounds_pair(name, pair)) for name, pair in bounds.items()}
    if not checks:
        raise ConfigurationError(
            "assert_structure: give at least one metric bound, e.g. "
            f"orientation_coherence=(0.6, None); metrics are: {', '.join(METRICS)}"
        )
    image_or_batch = unwrap(image_or_batch)
    if isinstance(image_or_batch, AscentResult):
        value_range = image_or_batch.value_range if value_range is None else value_range
        image_or_batch = image_or_batch.inputs
    if value_range is not None:
        check_value_range(value_range, None, None)  # named before any metric runs, whichever metrics are asked for
    batch, single = _images(image_or_batch)
    results, failures = [], []
    for i, image in enumerate(batch):
        try:
            values = {name: float(fn(image, **range_options(name, value_range))) for name, (fn, _) in checks.items()}
        except ConfigurationError as error:
            if single:
                raise
            raise ConfigurationError(f"assert_structure: batch item {i} of {len(batch)}: {error}") from error
        results.append(values)
        failures += [
            (i, name)
            for name, (_, (lo, hi)) in checks.items()
            if (lo is not None and not values[name] >= lo) or (hi is not None and not values[name] <= hi)
        ]
    _record_structure(batch, results, failures, {name: pair for name, (_, pair) in checks.items()}, value_range)
    if failures:
        lines = [f"structure check failed for {len({f[0] for f in failures})} of {len(batch)} images:"]
        for i, values in enumerate(results):
            for name, v in values.items():
                lo, hi = checks[name][1]
                mark = "FAIL" if (i, name) in failures else "ok"
                lines.append(f"  image {i}: {name} = {v:.4g}  bounds ({lo}, {hi})  {mark}")
        raise AssertionError("\n".join(lines))
    return results[0] if single else results


_SHAPES = "(H, W), (H, W, 1), (H, W, 3), a batch (B, H, W) or a batch (B, H, W, C)"


def _images(image_or_batch: Any) -> tuple[np.ndarray, bool]:
    """The images as a batch along axis 0, and whether one image was given (rule in assert_structure)."""
    arr = np.asarray(image_or_batch)
    if arr.dtype.kind not in "biuf":
        raise FeatvizTypeError(f"assert_structure needs an array of real numbers; got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    single = arr.ndim == 2 or (arr.ndim == 3 and arr.shape[-1] in (1, 3))
    if not single and arr.ndim not in (3, 4):
        raise ConfigurationError(f"assert_structure got an array of shape {arr.shape}; accepted shapes are {_SHAPES}")
    if not single and arr.shape[0] == 0:
        raise ConfigurationError(f"assert_structure got an empty batch (shape {arr.shape}); give at least one image")
    return (arr[None] if single else arr), single


def _bounds_pair(name: str, pair: Any) -> tuple[float | None, float | None]:
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise ConfigurationError(
            f"bounds for {name!r} must be a (min, max) pair with None for an open end; got {pair!r}"
        )
    lo, hi = pair
    for v in (lo, hi):
        if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Real)):
            raise FeatvizTypeError(f"bounds for {name!r} must be numbers or None; got {pair!r}")
        if v is not None and np.isnan(v):
            raise ConfigurationError(f"bounds for {name!r} contain NaN: {pair!r}; use None for an open end")
    if lo is not None and hi is not None and lo > hi:
        raise ConfigurationError(f"bounds for {name!r}: min={lo} is larger than max={hi}")
    return lo, hi


def _record_structure(batch: np.ndarray, results: list, failures: list, bounds: dict, value_range: Any) -> None:
    ctx = _context.current()
    if ctx is None:
        return
    drawn = own_range(batch) if value_range is None else value_range
    path = ctx.save_images("structure", batch, value_range=drawn) if failures else None
    ctx.record(
        Record(
            "assert_structure",
            not failures,
            metrics=results,
            bounds={k: list(v) for k, v in bounds.items()},
            picture=str(path) if path else None,
        )
    )
