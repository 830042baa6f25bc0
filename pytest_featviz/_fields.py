"""Dataclass fields classified for the compile cache (shared by objectives and constraints).

Every field of an objective or a constraint says what it is, in its metadata:

- ``static``: part of the compiled graph's structure (a layer name, a reduction, a crop, ``p``);
  a different value selects another compiled function.
- ``value``: fed to the compiled loop as a tensor (a direction vector, a centre, a box bound);
  changing it never retraces (its shape is structure).
- ``per_item``: a value with one entry per batch item (class, unit and channel indices).
- ``parts``: other classified objects (the terms of a sum, the parts of an intersection).

The cache key and the fed tensors are derived from these (:func:`structure_of`,
:func:`values_of`), so an option read while tracing cannot be left out of the key.

Examples
--------
>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Scaled:
...     layer: str = static()
...     factor: float = value(default=2.0)
>>> structure_of(Scaled("dense"))
(('layer', 'dense'), ('factor', (), 'float64'))
>>> [name for name, _ in values_of(Scaled("dense"))]
['factor']
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

__all__ = [
    "KEY",
    "KINDS",
    "STATIC",
    "VALUE",
    "PER_ITEM",
    "PARTS",
    "static",
    "value",
    "parts",
    "kind_of",
    "structure_of",
    "values_of",
]

KEY = "featviz"
STATIC, VALUE, PER_ITEM, PARTS = "static", "value", "per_item", "parts"
KINDS = (STATIC, VALUE, PER_ITEM, PARTS)


def static(**kwargs: Any) -> Any:
    """A dataclass field that selects the compiled graph."""
    return dataclasses.field(metadata={KEY: STATIC}, **kwargs)


def value(*, per_item: bool = False, **kwargs: Any) -> Any:
    """A dataclass field fed to the compiled loop as a tensor (``per_item``: one entry per batch item)."""
    return dataclasses.field(metadata={KEY: PER_ITEM if per_item else VALUE}, **kwargs)


def parts(**kwargs: Any) -> Any:
    """A dataclass field holding other classified objects."""
    return dataclasses.field(metadata={KEY: PARTS}, **kwargs)


def kind_of(f: dataclasses.Field) -> str | None:
    """The kind of a dataclass field (None when it is not classified)."""
    return f.metadata.get(KEY)


def _fields(obj: Any, kinds: tuple[str, ...]) -> list[tuple[str, Any]]:
    return [(f.name, getattr(obj, f.name)) for f in dataclasses.fields(obj) if kind_of(f) in kinds]


def structure_of(obj: Any) -> tuple:
    """The hashable structure of ``obj``: its static fields, and the shape and dtype of its plain values."""
    out: list[tuple] = []
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if kind_of(f) == STATIC:
            out.append((f.name, v))
        elif kind_of(f) == VALUE:
            arr = np.asarray(v)
            out.append((f.name, arr.shape, arr.dtype.name))
    return tuple(out)


def values_of(obj: Any) -> list[tuple[str, Any]]:
    """``(name, value)`` of the fields fed as tensors, in field order (per-item ones included)."""
    return _fields(obj, (VALUE, PER_ITEM))


def per_item_of(obj: Any) -> list[bool]:
    """For each of :func:`values_of`, whether it has one entry per batch item."""
    return [kind_of(f) == PER_ITEM for f in dataclasses.fields(obj) if kind_of(f) in (VALUE, PER_ITEM)]
