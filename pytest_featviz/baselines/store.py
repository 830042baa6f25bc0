"""Stored baselines for regression gates: capture what an ascent found, save it, compare later.

A baseline is what one result looked like when it was accepted: the optimized inputs
(float32), the objective values and reached flags of an :class:`~pytest_featviz.AscentResult`,
the structure metrics of every item, the value range the inputs live in, a little JSON
metadata (objective, constraints, seed, library versions) and, when captured with
``model=`` (format version 2), the activations of a reference layer at the inputs. It is
stored as one ``.npz`` file (read back with ``allow_pickle=False``) plus a ``.png`` grid for people.

:func:`compare` judges a new result against a baseline, item by item. Given the new model
and a baseline that stores reference activations, by behaviour (:data:`BEHAVIOURAL_CHECKS`):

- **cross-activation**: the new model's objective at the stored input as a fraction of its
  own best (``>= 0.9``);
- **representation similarity**: cosine of the reference layer's activations at the stored
  input, stored against recomputed (``>= 0.999``);
- **values** (``|v - v0| <= 1e-6 + 0.05 |v0|``) and **reached flags** (no flip).

Otherwise (version-1 files, raw pictures) as before (:data:`LEGACY_CHECKS`): **SSIM** of the
inputs (:func:`pytest_featviz.metrics.ssim`, ``>= 0.95``, over the width of the baseline's
value range; non-pictures as 1-D signals with a window of 7), values and reached flags.
Metric deltas are reported, not judged. The thresholds come from
``bench/calibrate_gates.py``: on the shipped models, weight noise up to 1e-4, XLA on or
off and float64 evaluation keep cross-activation >= 0.99 and similarity >= 0.9999999,
while a replaced unit, a swapped class head or a destroyed feature fails them (see the
README's calibration table). Raw maximisers are chaotic: the same noise brings picture
SSIM down to 0.93, which is why SSIM is reported but not judged by the behavioural gate.

Every public name is re-exported by ``pytest_featviz.baselines``, the one import path.
:mod:`.behaviour` runs the model (TensorFlow, imported inside its functions); the rest
takes numpy arrays and knows nothing about TensorFlow or pytest.

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
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .._io import remove_stale_temporaries, sanitize, write_atomic
from ..errors import BaselineFormatError, ConfigurationError
from .capture import FORMAT, FORMAT_VERSION, Baseline, capture

__all__ = ["save", "load", "baseline_path"]

_UPDATE_HINT = "recreate it by running its test with --featviz-update-baselines"


# -- files -----------------------------------------------------------------------------------
def baseline_path(root: str | os.PathLike[str], node_id: str, name: str) -> Path:
    """``<root>/<sanitized node id>/<sanitized name>.npz``: one file set per test and name.

    Sanitizing (:func:`pytest_featviz._io.sanitize`) keeps plain ids readable and
    appends a hash to ids it had to change more, so distinct ids never share a folder.

    Examples
    --------
    >>> baseline_path("featviz_baselines", "tests/test_a.py::test_b", "maximisers").as_posix()
    'featviz_baselines/tests_test_a.py__test_b/maximisers.npz'
    >>> baseline_path("featviz_baselines", "tests/test_a.py::test_b[x]", "class maximisers").as_posix()
    'featviz_baselines/tests_test_a.py__test_b_x_edd2ab6f/class_maximisers_f51c9126.npz'
    """
    if not isinstance(name, str) or sanitize(name)[:1] in ("", "_"):  # "_<hash>": nothing readable was left
        raise ConfigurationError(
            f"a baseline name must be a non-empty text of letters, digits, '.', '_' or '-'; got {name!r}"
        )
    return Path(root) / sanitize(node_id) / f"{sanitize(name)}.npz"


def save(path: str | os.PathLike[str], baseline: Any) -> Path:
    """Write a baseline to ``path`` (``.npz``) and its picture grid next to it (``.png``).

    Both files are written to a temporary file in the same folder and moved into place
    with ``os.replace`` (:func:`pytest_featviz._io.write_atomic`): a reader, or a
    run killed midway, sees the old file or the new one, never half of one. A failed
    write leaves no temporary file behind; a killed one leaves one that the next save
    or :func:`load` in that folder removes.

    Parameters
    ----------
    path : str or os.PathLike
        Must end in ``.npz``: the picture goes to the same path with ``.png``.
    baseline : Baseline, AscentResult or array_like
        Anything :func:`capture` accepts.

    Returns
    -------
    pathlib.Path
        The ``.npz`` path.

    Raises
    ------
    ConfigurationError
        ``path`` does not end in ``.npz`` (nothing is written), or cannot be written.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> path = save(folder / "t" / "maximisers.npz", np.eye(4)[None])
    >>> sorted(p.name for p in path.parent.iterdir())
    ['maximisers.npz', 'maximisers.png']
    """
    from ..render import save_png

    target = Path(path)
    if target.suffix != ".npz":
        fix = repr(str(target.with_suffix(".npz"))) if target.name else "a file name ending in .npz"
        raise ConfigurationError(
            f"a baseline is saved to a path ending in .npz (its picture goes next to it as "
            f".png); got {str(path)!r}: use {fix}"
        )
    b = capture(baseline)
    arrays = {
        "inputs": b.inputs.astype(np.float32),
        "value_range": np.asarray(b.value_range, dtype=np.float64),
        "metrics": np.array([b.metrics[n] for n in b.metrics], dtype=np.float64).T.reshape(len(b.inputs), -1),
        "metadata": np.array(json.dumps({**b.metadata, "metrics": list(b.metrics)})),
    }
    if b.values is not None:
        arrays["values"] = b.values.astype(np.float64)
    if b.reached is not None:
        arrays["reached"] = b.reached.astype(bool)
    if b.reference is not None:
        arrays["reference"] = b.reference.astype(np.float32)
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
    pytest_featviz.errors.BaselineFormatError: .../b.npz is not a readable pytest-featviz baseline: ...
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
            f"({type(exc).__name__}: {exc}); {_UPDATE_HINT}"
        ) from None
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
        raise bad(
            f"it has format version {meta.get('version')!r}, newer than the {FORMAT_VERSION} this "
            "pytest-featviz reads (upgrade pytest-featviz)"
        )
    inputs, table, names = arrays["inputs"], arrays["metrics"], meta.get("metrics", [])
    count = len(inputs) if inputs.ndim >= 2 else -1
    shapes_ok = (
        count >= 1
        and np.issubdtype(inputs.dtype, np.floating)
        and table.shape == (count, len(names))
        and arrays["value_range"].shape == (2,)
        and arrays["value_range"][0] < arrays["value_range"][1]
    )
    for key, dtype in (("values", np.floating), ("reached", np.bool_)):
        shapes_ok &= key not in arrays or (arrays[key].shape == (count,) and np.issubdtype(arrays[key].dtype, dtype))
    if "reference" in arrays:  # format version 2: the reference layer's activations, named in the metadata
        ref = arrays["reference"]
        shapes_ok &= ref.ndim >= 1 and len(ref) == count and isinstance(meta.get("reference"), str)
        shapes_ok &= np.issubdtype(ref.dtype, np.floating) and bool(np.isfinite(ref).all())
    if not shapes_ok:
        raise bad("its arrays do not fit together: " + ", ".join(f"{k} {v.dtype}{v.shape}" for k, v in arrays.items()))
    if not (np.isfinite(inputs).all() and np.isfinite(arrays["value_range"]).all()):
        raise bad("its stored inputs or value range contain NaN or inf (a saved baseline holds finite values only)")
    return Baseline(
        inputs.astype(np.float32),
        arrays.get("values"),
        arrays.get("reached"),
        {name: table[:, j] for j, name in enumerate(names)},
        (float(arrays["value_range"][0]), float(arrays["value_range"][1])),
        meta,
        None if "reference" not in arrays else arrays["reference"].astype(np.float32),
    )
