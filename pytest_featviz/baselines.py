"""Stored baselines for regression gates: capture what an ascent found, save it, compare later.

A baseline is what one result looked like when it was accepted: the optimized inputs
(float32), the objective values and reached flags of an :class:`~pytest_featviz.AscentResult`,
the structure metrics of every item, the value range the inputs live in, and a little
JSON metadata (objective, constraints, seed, library versions). It is stored as one
``.npz`` file (read back with ``allow_pickle=False``) plus a ``.png`` grid for people.

:func:`compare` judges a new result against a baseline, item by item:

- **SSIM** of the inputs (:func:`pytest_featviz.metrics.ssim`) with ``data_range`` the
  width of the baseline's value range (the constraint box when it was an ascent, else
  the baseline's own minimum to maximum). Inputs that are not pictures are compared
  as 1-D signals with a window of 7 (or their length, made odd);
- **value change** ``|v - v0| / |v0|`` of the objective values;
- **reached flags**: any flip fails;
- **metric deltas** (obtained minus expected) are reported, not judged.

Defaults (``min_ssim=0.95``, ``value_rtol=0.05``): the same model and seed reproduce a
result bit for bit on one machine (SSIM exactly 1, change exactly 0). Across machines
float32 sums round differently; on the digits MLP, starting points that differ by
1e-4 give maximisers with SSIM >= 0.9999 and values within 1e-5, while the maximiser
of another class has SSIM near 0, and noise of half the weights' spread added to the
hidden layer drops SSIM to 0.67-0.82. So 0.95 absorbs rounding and catches a
different feature; 5% on values is far above rounding (1e-5) and far below what a
retrained model typically moves.

This module takes numpy arrays and knows nothing about TensorFlow or pytest.

Examples
--------
>>> import numpy as np
>>> from pytest_featviz import baselines
>>> pictures = np.random.default_rng(0).random((2, 8, 8))
>>> baselines.compare(pictures, baselines.capture(pictures)).passed
True
>>> baselines.compare(1.0 - pictures, baselines.capture(pictures)).passed
False
"""

from __future__ import annotations

import io
import json
import numbers
import os
import zipfile
from contextlib import suppress
from dataclasses import dataclass, field
from importlib import metadata as _metadata
from pathlib import Path
from typing import Any

import numpy as np

from . import metrics as _metrics
from ._context import remove_stale_temporaries, sanitize, write_atomic
from .errors import ConfigurationError, FeatvizTypeError

__all__ = [
    "Baseline", "Comparison", "BaselineFormatError", "capture", "save", "load", "compare",
    "baseline_path", "mismatch_pictures", "check_options", "DEFAULT_MIN_SSIM", "DEFAULT_VALUE_RTOL", "MATCHES",
]

DEFAULT_MIN_SSIM = 0.95
DEFAULT_VALUE_RTOL = 0.05
MATCHES = ("index", "permutation")
FORMAT = "pytest-featviz baseline"
FORMAT_VERSION = 1
_UPDATE_HINT = "recreate it by running its test with --featviz-update-baselines"
_SHOWN_ITEMS = 16  # larger batches list only their failing items


class BaselineFormatError(ConfigurationError):
    """A file that is not a readable pytest-featviz baseline (truncated, foreign or newer)."""


@dataclass(frozen=True, eq=False)
class Baseline:
    """What a result looked like when it was accepted.

    Attributes
    ----------
    inputs : ndarray of float32, shape (B, *input_shape)
    values : ndarray of float64, shape (B,), or None
        Objective values (None for a raw batch of pictures).
    reached : ndarray of bool, shape (B,), or None
        Which items met ``until`` (None when there was no ``until``).
    metrics : dict of str to ndarray of float64, shape (B,)
        Structure metrics per item; empty when the inputs are not pictures.
    value_range : (float, float)
        The range the inputs live in; its width is SSIM's ``data_range``.
    metadata : dict
        JSON-safe: format, version, kind, objective, constraints, seed, versions.
    """

    inputs: np.ndarray
    values: np.ndarray | None
    reached: np.ndarray | None
    metrics: dict[str, np.ndarray]
    value_range: tuple[float, float]
    metadata: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        parts = [f"{len(self.inputs)} items of shape {self.inputs.shape[1:]}"]
        parts += [name for name in ("values", "reached") if getattr(self, name) is not None]
        return f"Baseline({', '.join(parts)}, value_range={self.value_range})"


@dataclass(frozen=True, eq=False)
class Comparison:
    """The item-by-item verdict of :func:`compare`; arrays follow the obtained items.

    ``mapping[i]`` is the baseline item that obtained item ``i`` was compared with;
    ``values_expected``, ``reached_expected`` and ``metric_deltas`` follow the mapping.
    ``problem`` is set (and the arrays are empty) when the two cannot be compared item
    by item (a different number of items, another input shape, another kind of result).
    """

    mapping: tuple[int, ...]
    ssim: np.ndarray
    max_input_change: np.ndarray
    values_obtained: np.ndarray | None
    values_expected: np.ndarray | None
    reached_obtained: np.ndarray | None
    reached_expected: np.ndarray | None
    metric_deltas: dict[str, np.ndarray]
    min_ssim: float
    value_rtol: float
    match: str
    problem: str | None = None

    @property
    def value_change(self) -> np.ndarray | None:
        """``|v - v0| / |v0|`` per item; 0 where both are NaN, inf where one is."""
        if self.values_obtained is None or self.values_expected is None:
            return None
        vo, ve = self.values_obtained, self.values_expected
        with np.errstate(divide="ignore", invalid="ignore"):
            change = np.abs(vo - ve) / np.maximum(np.abs(ve), np.finfo(np.float64).tiny)
        change = np.where(np.isnan(vo) & np.isnan(ve), 0.0, change)
        return np.where(np.isnan(change), np.inf, change)

    @property
    def failing(self) -> np.ndarray:
        """Bool per obtained item: SSIM below ``min_ssim``, value change above ``value_rtol``, or a flip."""
        bad = self.ssim < self.min_ssim
        if self.value_change is not None:
            bad = bad | (self.value_change > self.value_rtol)
        if self.reached_obtained is not None and self.reached_expected is not None:
            bad = bad | (self.reached_obtained != self.reached_expected)
        return bad

    @property
    def passed(self) -> bool:
        """True when every item matches its baseline item within the tolerances."""
        return self.problem is None and not bool(self.failing.any())

    def describe(self) -> str:
        """The account of the comparison, a block of lines a person can act on."""
        head = f"(min_ssim={self.min_ssim:g}, value_rtol={self.value_rtol:g}, match={self.match!r})"
        if self.problem is not None:
            return f"the result cannot be compared with the baseline {head}: {self.problem}"
        failing = self.failing
        lines = [f"{int(failing.sum())} of {len(failing)} items differ from the baseline {head}"]
        if self.match == "permutation":
            pairs = ", ".join(f"{i}<-{j}" for i, j in enumerate(self.mapping))
            lines.append(f"  mapping (obtained item <- baseline item): {pairs}")
        lines.append(f"  item  baseline item  SSIM       {'value: baseline -> obtained (change)':<38}  reached   max |dx|")
        shown = range(len(failing)) if len(failing) <= _SHOWN_ITEMS else np.flatnonzero(failing)
        for i in shown:
            lines.extend(self._item_lines(int(i)))
        if len(shown) < len(failing):
            lines.append(f"  ({len(failing) - len(shown)} matching items not shown)")
        return "\n".join(lines)

    def _item_lines(self, i: int) -> list[str]:
        mark = " !" if self.ssim[i] < self.min_ssim else "  "
        value = "-"
        if self.value_change is not None:
            change = self.value_change[i]
            value = (f"{self.values_expected[i]:.6g} -> {self.values_obtained[i]:.6g} ({100 * change:.3g}%)"
                     + (" !" if change > self.value_rtol else ""))
        reached = "-"
        if self.reached_obtained is not None and self.reached_expected is not None:
            flip = self.reached_obtained[i] != self.reached_expected[i]
            reached = f"{_yes(self.reached_expected[i])}->{_yes(self.reached_obtained[i])}" + (" !" if flip else "")
        line = (f"  {i:<4}  {self.mapping[i]:<13}  {self.ssim[i]:<7.4f}{mark}   {value:<38}  {reached:<8}  "
                f"{self.max_input_change[i]:.4g}")
        deltas = ", ".join(f"{name} {delta[i]:+.3g}" for name, delta in self.metric_deltas.items())
        return [line] + ([f"        metric deltas: {deltas}"] if deltas else [])


def _yes(flag: Any) -> str:
    return "yes" if flag else "no"


# -- capture ---------------------------------------------------------------------------------
def _is_result(obj: Any) -> bool:
    return all(hasattr(obj, name) for name in ("inputs", "values", "reached", "constraints"))


def _range_of(x: np.ndarray) -> tuple[float, float]:
    lo, hi = float(np.min(x)), float(np.max(x))
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def _result_range(result: Any, inputs: np.ndarray) -> tuple[float, float]:
    """The constraint box of an ascent when it is finite, else the inputs' own range."""
    canon = result.constraints.canonical(inputs.shape, start=getattr(result, "start", None))
    lo, hi = float(np.min(canon.low)), float(np.max(canon.high))
    return (lo, hi) if np.isfinite(lo) and np.isfinite(hi) and hi > lo else _range_of(inputs)


def _is_picture(item_shape: tuple[int, ...]) -> bool:
    return len(item_shape) in (2, 3) and min(item_shape[:2]) >= 3 and (len(item_shape) == 2 or item_shape[2] in (1, 3))


def _versions() -> dict[str, str]:
    found = {}
    for dist in ("pytest-featviz", "numpy", "scikit-image", "keras", "tensorflow", "tensorflow-cpu"):
        with suppress(_metadata.PackageNotFoundError):
            found[dist] = _metadata.version(dist)
    return found


def capture(result_or_images: Any) -> Baseline:
    """The baseline of an :class:`~pytest_featviz.AscentResult` or of a batch of pictures.

    Parameters
    ----------
    result_or_images : AscentResult, Baseline or array_like of shape (B, *input_shape)
        An ascent result (from ``ascend`` or ``assert_reaches``) keeps its values and
        reached flags and takes its value range from its constraints; a raw batch keeps
        the pictures only and its range is its own minimum to maximum.

    Returns
    -------
    Baseline

    Examples
    --------
    >>> import numpy as np
    >>> b = capture(np.zeros((3, 8, 8)))
    >>> b
    Baseline(3 items of shape (8, 8), value_range=(0.0, 1.0))
    >>> sorted(b.metrics)[:2], b.metrics["saturation"].shape
    (['dominant_orientation', 'edge_density'], (3,))
    """
    if isinstance(result_or_images, Baseline):
        return result_or_images
    meta: dict[str, Any] = {"format": FORMAT, "version": FORMAT_VERSION, "versions": _versions()}
    if _is_result(result_or_images):
        r = result_or_images
        inputs = _batch(r.inputs)
        values = np.asarray(r.values, dtype=np.float64).reshape(len(inputs))
        reached = None if r.reached is None else np.asarray(r.reached, dtype=bool).reshape(len(inputs))
        value_range = _result_range(r, inputs)
        meta.update(kind="ascent", objective=repr(getattr(r, "objective", None)), constraints=repr(r.constraints),
                    until=repr(getattr(r, "until", None)), seed=_plain(getattr(r, "seed", None)),
                    steps=_plain(getattr(r, "steps_requested", None)), model=str(getattr(r, "model_name", "")))
    else:
        inputs, values, reached = _batch(result_or_images), None, None
        value_range = _range_of(inputs)
        meta.update(kind="images")
    found = _item_metrics(inputs)
    return Baseline(inputs, values, reached, found, value_range, meta)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _batch(images: Any) -> np.ndarray:
    try:
        arr = np.asarray(images, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise FeatvizTypeError(
            f"a baseline needs an AscentResult or an array of numbers; got {type(images).__name__}") from exc
    if arr.ndim < 2 or arr.shape[0] == 0 or arr[0].size < 3:
        raise ConfigurationError(
            f"a baseline needs a batch of shape (B, *input_shape) with B >= 1 and at least 3 values per item; "
            f"got shape {arr.shape} (a single picture x is the batch x[None])")
    if not np.isfinite(arr).all():
        raise ConfigurationError("the inputs contain NaN or inf values; a baseline stores finite inputs only")
    return arr


def _item_metrics(inputs: np.ndarray) -> dict[str, np.ndarray]:
    """Every metric of :data:`pytest_featviz.metrics.METRICS` that pictures of this size allow, per item."""
    found: dict[str, np.ndarray] = {}
    if not _is_picture(inputs.shape[1:]):
        return found
    for name in _metrics.METRICS:
        with suppress(ConfigurationError):  # e.g. orientation needs 7 pixels per side
            found[name] = np.array([_metrics.metric(name)(item) for item in inputs], dtype=np.float64)
    return found


# -- files -----------------------------------------------------------------------------------
def baseline_path(root: str | os.PathLike[str], node_id: str, name: str) -> Path:
    """``<root>/<sanitized node id>/<sanitized name>.npz``: one file set per test and name.

    Examples
    --------
    >>> baseline_path("featviz_baselines", "tests/test_a.py::test_b[x]", "class maximisers").as_posix()
    'featviz_baselines/tests_test_a.py__test_b_x/class_maximisers.npz'
    """
    if not isinstance(name, str) or not sanitize(name):
        raise ConfigurationError(f"a baseline name must be a non-empty text of letters, digits, '.', '_' or '-'; "
                                 f"got {name!r}")
    return Path(root) / sanitize(node_id) / f"{sanitize(name)}.npz"


def save(path: str | os.PathLike[str], baseline: Any) -> Path:
    """Write a baseline to ``path`` (``.npz``) and its picture grid next to it (``.png``).

    Both files are written to a temporary file in the same folder and moved into place
    with ``os.replace`` (:func:`pytest_featviz._context.write_atomic`): a reader, or a
    run killed midway, sees the old file or the new one, never half of one. A failed
    write leaves no temporary file behind; a killed one leaves one that the next save
    or :func:`load` in that folder removes.

    Parameters
    ----------
    path : str or os.PathLike
    baseline : Baseline, AscentResult or array_like
        Anything :func:`capture` accepts.

    Returns
    -------
    pathlib.Path
        The ``.npz`` path.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> path = save(folder / "t" / "maximisers.npz", np.eye(4)[None])
    >>> sorted(p.name for p in path.parent.iterdir())
    ['maximisers.npz', 'maximisers.png']
    """
    from .render import save_png

    b = capture(baseline)
    target = Path(path)
    arrays = {"inputs": b.inputs.astype(np.float32), "value_range": np.asarray(b.value_range, dtype=np.float64),
              "metrics": np.array([b.metrics[n] for n in b.metrics], dtype=np.float64).T.reshape(len(b.inputs), -1),
              "metadata": np.array(json.dumps({**b.metadata, "metrics": list(b.metrics)}))}
    if b.values is not None:
        arrays["values"] = b.values.astype(np.float64)
    if b.reached is not None:
        arrays["reached"] = b.reached.astype(bool)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, buffer.getvalue())
        if 1 <= b.inputs.ndim - 1 <= 3:  # shapes a picture can show
            labels = None if b.values is None else [f"{i}: {v:.4g}" for i, v in enumerate(b.values)]
            save_png(target.with_suffix(".png"), b.inputs, value_range=b.value_range, labels=labels)
    except OSError as exc:
        raise ConfigurationError(f"cannot write the baseline {target}: {exc}") from exc
    return target


def load(path: str | os.PathLike[str]) -> Baseline:
    """Read a baseline written by :func:`save` (``allow_pickle=False``).

    Temporary files that a killed :func:`save` left next to ``path`` are removed
    (only those whose writer is no longer running).

    Raises
    ------
    FileNotFoundError
        There is no file at ``path``.
    BaselineFormatError
        The file is truncated, is not an ``.npz`` archive, is an archive of something
        else, or comes from a newer pytest-featviz; the message names the file.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> path = save(pathlib.Path(tempfile.mkdtemp()) / "b.npz", np.ones((2, 4, 4)))
    >>> load(path)
    Baseline(2 items of shape (4, 4), value_range=(1.0, 2.0))
    >>> _ = path.write_bytes(b"not a baseline")
    >>> load(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    pytest_featviz.baselines.BaselineFormatError: .../b.npz is not a readable pytest-featviz baseline: ...
    """
    target = Path(path)
    remove_stale_temporaries(target.parent)
    if not target.is_file():
        raise FileNotFoundError(f"no baseline at {target}")
    try:
        data = np.load(target, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError("it is a single .npy array, not an .npz archive")
        with data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise BaselineFormatError(
            f"{target} is not a readable pytest-featviz baseline: truncated, corrupt, or not an .npz archive "
            f"({type(exc).__name__}: {exc}); {_UPDATE_HINT}") from None
    return _from_arrays(target, arrays)


def _from_arrays(target: Path, arrays: dict[str, np.ndarray]) -> Baseline:
    def bad(what: str) -> BaselineFormatError:
        return BaselineFormatError(f"{target} is not a pytest-featviz baseline: {what}; {_UPDATE_HINT}")

    missing = {"inputs", "value_range", "metrics", "metadata"} - set(arrays)
    if missing:
        raise bad(f"it holds the arrays {sorted(arrays)} but lacks {sorted(missing)}")
    try:
        meta = json.loads(str(arrays["metadata"]))
    except ValueError:
        raise bad("its metadata is not JSON") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise bad(f"its metadata does not say format={FORMAT!r}")
    if not isinstance(meta.get("version"), int) or meta["version"] > FORMAT_VERSION:
        raise bad(f"it has format version {meta.get('version')!r}, newer than the {FORMAT_VERSION} this "
                  "pytest-featviz reads (upgrade pytest-featviz)")
    inputs, table, names = arrays["inputs"], arrays["metrics"], meta.get("metrics", [])
    count = len(inputs) if inputs.ndim >= 2 else -1
    shapes_ok = (count >= 1 and np.issubdtype(inputs.dtype, np.floating) and table.shape == (count, len(names))
                 and arrays["value_range"].shape == (2,) and arrays["value_range"][0] < arrays["value_range"][1])
    for key, dtype in (("values", np.floating), ("reached", np.bool_)):
        shapes_ok &= key not in arrays or (arrays[key].shape == (count,) and np.issubdtype(arrays[key].dtype, dtype))
    if not shapes_ok:
        raise bad("its arrays do not fit together: " + ", ".join(f"{k} {v.dtype}{v.shape}" for k, v in arrays.items()))
    return Baseline(inputs.astype(np.float32), arrays.get("values"), arrays.get("reached"),
                    {name: table[:, j] for j, name in enumerate(names)},
                    (float(arrays["value_range"][0]), float(arrays["value_range"][1])), meta)


# -- comparison ------------------------------------------------------------------------------
def check_options(min_ssim: Any, value_rtol: Any, match: Any) -> tuple[float, float, str]:
    """Validate :func:`compare`'s tolerances; raise ConfigurationError naming the bad one.

    Examples
    --------
    >>> check_options(0.9, 0.1, "permutation")
    (0.9, 0.1, 'permutation')
    >>> check_options(1.5, 0.1, "index")
    Traceback (most recent call last):
    ...
    pytest_featviz.errors.ConfigurationError: min_ssim must be a number in [-1, 1]; got 1.5
    """
    for name, value, low, high in (("min_ssim", min_ssim, -1.0, 1.0), ("value_rtol", value_rtol, 0.0, np.inf)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not low <= value <= high:
            raise ConfigurationError(f"{name} must be a number in [{low:g}, {high:g}]; got {value!r}")
    if match not in MATCHES:
        raise ConfigurationError(f"match={match!r} is not one of {set(MATCHES)}")
    return float(min_ssim), float(value_rtol), match


def _similarity(a: np.ndarray, b: np.ndarray, data_range: float) -> float:
    """SSIM of two items: as pictures, channel by channel, or as 1-D signals."""
    from skimage.metrics import structural_similarity

    if _is_picture(a.shape):
        return _metrics.ssim(a, b, data_range=data_range)
    if a.ndim == 3 and min(a.shape[:2]) >= 3:
        return float(np.mean([_metrics.ssim(a[..., c], b[..., c], data_range=data_range) for c in range(a.shape[2])]))
    flat_a, flat_b = a.reshape(-1).astype(np.float64), b.reshape(-1).astype(np.float64)
    win = min(7, flat_a.size)
    win -= 1 - win % 2
    return float(structural_similarity(flat_a, flat_b, win_size=win, data_range=data_range))


def _structure_problem(obtained: Baseline, expected: Baseline) -> str | None:
    if obtained.inputs.shape != expected.inputs.shape:
        return (f"the baseline has {len(expected.inputs)} items of shape {expected.inputs.shape[1:]}, the result "
                f"{len(obtained.inputs)} items of shape {obtained.inputs.shape[1:]}")
    kinds = [", ".join(n for n in ("values", "reached flags") if getattr(b, n.split()[0]) is not None) or "pictures only"
             for b in (expected, obtained)]
    if kinds[0] != kinds[1]:
        return f"the baseline stores {kinds[0]}, the result has {kinds[1]} (pass the same kind of result)"
    return None


def compare(obtained: Any, expected: Any, *, min_ssim: float = DEFAULT_MIN_SSIM,
            value_rtol: float = DEFAULT_VALUE_RTOL, match: str = "index") -> Comparison:
    """Compare a result with a baseline, item by item.

    Parameters
    ----------
    obtained, expected : Baseline, AscentResult or array_like
        Anything :func:`capture` accepts; ``expected`` is usually :func:`load`'s baseline.
    min_ssim : float in [-1, 1]
        An item fails when the SSIM of its input against the baseline's is lower.
    value_rtol : float >= 0
        An item fails when its objective value moved by more than this fraction.
    match : {'index', 'permutation'}
        ``'index'`` compares item i with baseline item i; ``'permutation'`` pairs the
        items to maximise the total SSIM (Hungarian assignment) and reports the pairs.

    Returns
    -------
    Comparison

    Examples
    --------
    >>> import numpy as np
    >>> stripes = np.stack([np.indices((8, 8))[k] % 2 for k in (0, 1)]).astype(float)
    >>> compare(stripes[::-1], stripes).passed
    False
    >>> c = compare(stripes[::-1], stripes, match="permutation")
    >>> c.passed, c.mapping
    (True, (1, 0))
    """
    min_ssim, value_rtol, match = check_options(min_ssim, value_rtol, match)
    got, want = capture(obtained), capture(expected)
    problem = _structure_problem(got, want)
    if problem is not None:
        empty = np.zeros(0)
        return Comparison((), empty, empty, None, None, None, None, {}, min_ssim, value_rtol, match, problem)
    width = want.value_range[1] - want.value_range[0]
    count = len(got.inputs)
    if match == "index":
        mapping = np.arange(count)
        ssim = np.array([_similarity(a, b, width) for a, b in zip(got.inputs, want.inputs)])
    else:
        from scipy.optimize import linear_sum_assignment

        table = np.array([[_similarity(a, b, width) for b in want.inputs] for a in got.inputs])
        rows, mapping = linear_sum_assignment(table, maximize=True)
        ssim = table[rows, mapping]
    axes = tuple(range(1, got.inputs.ndim))
    change = np.abs(got.inputs.astype(np.float64) - want.inputs[mapping]).max(axis=axes)
    deltas = {name: got.metrics[name] - want.metrics[name][mapping] for name in got.metrics if name in want.metrics}
    pick = (lambda arr: None if arr is None else arr[mapping])
    return Comparison(tuple(int(j) for j in mapping), ssim, change, got.values, pick(want.values), got.reached,
                      pick(want.reached), deltas, min_ssim, value_rtol, match)


def mismatch_pictures(obtained: Any, expected: Any, comparison: Comparison) -> dict[str, np.ndarray]:
    """The obtained inputs, the baseline's in the comparison's order, and their differences.

    Returns ``{"obtained": batch, "expected": batch, "difference": uint8 RGB batch}``
    (the difference of an item is :func:`pytest_featviz.render.difference`, drawn over
    the baseline's value range); empty when the inputs cannot be drawn or compared.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.zeros((2, 4, 4))
    >>> sorted((k, v.shape) for k, v in mismatch_pictures(a, a, compare(a, a)).items())
    [('difference', (2, 4, 4, 3)), ('expected', (2, 4, 4)), ('obtained', (2, 4, 4))]
    """
    from .render import difference

    got, want = capture(obtained), capture(expected)
    if comparison.problem is not None or not 1 <= got.inputs.ndim - 1 <= 3:
        return {}
    aligned = want.inputs[list(comparison.mapping)]
    diff = np.stack([difference(a, b, value_range=want.value_range) for a, b in zip(got.inputs, aligned)])
    return {"obtained": got.inputs, "expected": aligned, "difference": diff}
