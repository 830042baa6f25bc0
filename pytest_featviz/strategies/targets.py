"""Hypothesis strategies for a model's targets: :func:`class_indices` and :func:`channel_indices`.

The model is read when a function is called (not when the strategy is drawn from);
loading it is the only TensorFlow use, inside the functions.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.strategies import SearchStrategy

__all__ = ["class_indices", "channel_indices"]


def class_indices(model: Any) -> SearchStrategy[int]:
    """Class indices valid for ``model``: ``0 .. num_classes - 1``, shrinking toward 0.

    The model is read when this function is called.

    Parameters
    ----------
    model : keras.Model or str
        The model, or anything :func:`pytest_featviz.load_model` accepts (a value).

    Returns
    -------
    SearchStrategy of int

    Examples
    --------
    >>> import keras
    >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="head")])
    >>> class_indices(m)
    integers(min_value=0, max_value=2)
    """
    from ..models import load_model, model_info

    info = model_info(load_model(model))
    return st.integers(min_value=0, max_value=info.num_classes - 1)


def channel_indices(model: Any, layer: str) -> SearchStrategy[int]:
    """Channel indices (last axis) valid for ``layer`` of ``model``, shrinking toward 0.

    The layer is looked up when this function is called; an unknown name raises
    :class:`pytest_featviz.errors.LayerNotFoundError` listing the layers.

    Parameters
    ----------
    model : keras.Model or str
        The model, or anything :func:`pytest_featviz.load_model` accepts (a value).
    layer : str
        The layer's name (a value).

    Returns
    -------
    SearchStrategy of int

    Examples
    --------
    >>> import keras
    >>> m = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(5, 3, name="conv")])
    >>> channel_indices(m, "conv")
    integers(min_value=0, max_value=4)
    """
    from ..models import load_model, model_info

    shape = model_info(load_model(model)).output_shape(layer)
    if not shape or shape[-1] < 1:
        raise InvalidArgument(f"layer {layer!r} has output shape {shape}, with no known channel axis")
    return st.integers(min_value=0, max_value=shape[-1] - 1)
