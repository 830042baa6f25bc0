"""Capturing a baseline (private; ``Baseline`` and ``capture`` are re-exported by ``baselines``).

What one result looked like when it was accepted: its inputs, objective values,
reached flags, per-item structure metrics, value range and JSON-safe metadata.
This module takes numpy arrays and knows nothing about TensorFlow or pytest.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from importlib import metadata as _metadata
from typing import Any

import numpy as np

from .. import metrics as _metrics
from ..engine import own_range, result_range
from ..errors import ConfigurationError, FeatvizTypeError

FORMAT = "pytest-featviz baseline"
FORMAT_VERSION = 2  # 2: the objective's reference layer and its activations at the inputs (optional)


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
        JSON-safe: format, version, kind, objective, constraints, seed, versions, and
        ``reference`` (the reference layer's name) when ``reference`` is stored.
    reference : ndarray of float32, shape (B, *layer_shape), or None
        The reference layer's activations at ``inputs`` under the accepted model
        (``capture(result, model=...)``; None in version-1 files).
    """

    inputs: np.ndarray
    values: np.ndarray | None
    reached: np.ndarray | None
    metrics: dict[str, np.ndarray]
    value_range: tuple[float, float]
    metadata: dict[str, Any] = field(default_factory=dict)
    reference: np.ndarray | None = None

    def __repr__(self) -> str:
        parts = [f"{len(self.inputs)} items of shape {self.inputs.shape[1:]}"]
        parts += [name for name in ("values", "reached") if getattr(self, name) is not None]
        if self.reference is not None:
            parts.append(f"reference {self.metadata.get('reference')!r}")
        return f"Baseline({', '.join(parts)}, value_range={self.value_range})"


def _is_result(obj: Any) -> bool:
    return all(hasattr(obj, name) for name in ("inputs", "values", "reached", "constraints"))


def _is_picture(item_shape: tuple[int, ...]) -> bool:
    return len(item_shape) in (2, 3) and min(item_shape[:2]) >= 3 and (len(item_shape) == 2 or item_shape[2] in (1, 3))


def _versions() -> dict[str, str]:
    found = {}
    for dist in ("pytest-featviz", "numpy", "scikit-image", "keras", "tensorflow", "tensorflow-cpu"):
        with suppress(_metadata.PackageNotFoundError):
            found[dist] = _metadata.version(dist)
    return found


def capture(result_or_images: Any, *, model: Any = None, reference: str | None = None) -> Baseline:
    """The baseline of an :class:`~pytest_featviz.AscentResult` or of a batch of pictures.

    Parameters
    ----------
    result_or_images : AscentResult, Baseline or array_like of shape (B, *input_shape)
        An ascent result (from ``ascend`` or ``assert_reaches``) keeps its values and
        reached flags and takes its value range from its constraints; a raw batch keeps
        the pictures only and its range is its own minimum to maximum.
    model : keras.Model, optional
        The model the result was found with: the baseline then also stores the
        reference layer's activations at the inputs, for the behavioural comparisons
        of :func:`compare` (an AscentResult only).
    reference : str, optional
        The reference layer (a layer name or ``'logits'``); default: the objective's own
        layer, the logits for a class objective.

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
    if model is not None and not _is_result(result_or_images):
        raise ConfigurationError(
            f"capture(..., model=) stores what the model does at an ascent's inputs: pass the AscentResult "
            f"(got {type(result_or_images).__name__})"
        )
    meta: dict[str, Any] = {"format": FORMAT, "version": FORMAT_VERSION, "versions": _versions()}
    if _is_result(result_or_images):
        r = result_or_images
        inputs = _batch(r.inputs)
        values = np.asarray(r.values, dtype=np.float64).reshape(len(inputs))
        reached = None if r.reached is None else np.asarray(r.reached, dtype=bool).reshape(len(inputs))
        value_range = result_range(r)
        meta.update(
            kind="ascent",
            objective=repr(getattr(r, "objective", None)),
            constraints=repr(r.constraints),
            until=repr(getattr(r, "until", None)),
            seed=_plain(getattr(r, "seed", None)),
            steps=_plain(getattr(r, "steps_requested", None)),
            model=str(getattr(r, "model_name", "")),
        )
    else:
        inputs, values, reached = _batch(result_or_images), None, None
        value_range = own_range(inputs)
        meta.update(kind="images")
    found = _item_metrics(inputs)
    acts = None
    if model is not None:
        from .behaviour import activations, reference_layer

        layer = reference if reference is not None else reference_layer(result_or_images.objective)
        if layer is None:
            raise ConfigurationError(
                f"the objective {result_or_images.objective!r} reads no layer: name a reference layer (reference=)"
            )
        acts, meta["reference"] = activations(model, layer, inputs), layer
    return Baseline(inputs, values, reached, found, value_range, meta, acts)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _batch(images: Any) -> np.ndarray:
    try:
        arr = np.asarray(images, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise FeatvizTypeError(
            f"a baseline needs an AscentResult or an array of numbers; got {type(images).__name__}"
        ) from exc
    if arr.ndim < 2 or arr.shape[0] == 0 or arr[0].size < 3:
        raise ConfigurationError(
            f"a baseline needs a batch of shape (B, *input_shape) with B >= 1 and at least 3 values per item; "
            f"got shape {arr.shape} (a single picture x is the batch x[None])"
        )
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
