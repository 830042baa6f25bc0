"""Holding all but one input of a multi-input model at fixed values (private; see ``models``).

TensorFlow and Keras are imported inside the functions, never at module import.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ..errors import ConfigurationError, FeatvizTypeError, closest


def fix_inputs(model: Any, *values: Any, **named: Any) -> Any:
    """A single-input model that runs ``model`` with its other inputs held at fixed values.

    featviz optimises one input; for a model with several, give a value for every input
    but one, by input name (``name=value``) or by position (``fix_inputs(m, None, v)``
    holds input 1 at ``v``; ``None`` or a missing trailing value leaves an input free).
    A value has the input's per-example shape (or a leading batch of 1) and is repeated
    for every example. The returned ``keras.Model`` takes the free input; it calls the
    original layers (shared, not copied), so layer names, nested paths and the class
    head are those of ``model`` and every objective, ``fv.ascend`` and the assertions
    work on it. A small float value is held as the bias of a frozen ``Dense`` layer with
    a zero kernel, so ``fv.bounds`` works on a fixed model built from layers it supports.

    Parameters
    ----------
    model : keras.Model
        A functional model with two or more inputs.
    *values : array-like or None
        Values of the inputs by position; ``None`` leaves that input free.
    **named : array-like
        Values of the inputs by name (the names of their ``keras.Input`` layers).

    Returns
    -------
    keras.Model
        One input (the free one, under its own name), the same outputs as ``model``.

    Raises
    ------
    ConfigurationError
        For an unknown input name (the names are listed), a value of the wrong shape,
        an input given twice, more than one input left free, or none.

    Examples
    --------
    >>> import keras, numpy as np
    >>> a, b = keras.Input((3,), name="image"), keras.Input((2,), name="meta")
    >>> both = keras.layers.Concatenate()([a, b])
    >>> m = keras.Model([a, b], keras.layers.Dense(4, name="head")(both))
    >>> one = fix_inputs(m, meta=np.array([1.0, -1.0]))
    >>> [t.shape for t in one.inputs], one.get_layer("head").name
    ([(None, 3)], 'head')
    """
    import keras

    from .graph import run

    names = _input_names(model)
    held = _held_values(names, model, values, named)
    free = [i for i in range(len(names)) if i not in held]
    if len(free) != 1:
        what = "no input free" if not free else f"{len(free)} inputs free ({', '.join(repr(names[i]) for i in free)})"
        raise ConfigurationError(
            f"fix_inputs leaves {what}; give a value for every input of model {model.name!r} "
            f"but the one to optimise (inputs: {', '.join(names)})"
        )
    k = free[0]
    source = model.inputs[k]
    inp = keras.Input(shape=tuple(source.shape[1:]), dtype=source.dtype, name=names[k])
    tensors = [
        inp if i == k else _held(inp, held[i], model.inputs[i].dtype, f"held_{names[i]}") for i in range(len(names))
    ]
    outputs, _ = run(model, tensors, set(), infer=False)
    return keras.Model(inp, outputs[0] if len(outputs) == 1 else outputs, name=f"{model.name}_fixed")


def _input_names(model: Any) -> list[str]:
    names = [t._keras_history.operation.name for t in getattr(model, "inputs", None) or []]
    if len(names) < 2:
        raise ConfigurationError(
            f"model {model.name!r} has {len(names)} input(s); fix_inputs is for models with "
            "several inputs (a single-input model works with featviz as it is)"
        )
    return names


def _held_values(names: list[str], model: Any, values: tuple, named: dict) -> dict[int, Any]:
    import numpy as np

    if len(values) > len(names):
        raise ConfigurationError(
            f"fix_inputs got {len(values)} positional values; model {model.name!r} has "
            f"{len(names)} inputs ({', '.join(names)})"
        )
    held = {i: v for i, v in enumerate(values) if v is not None}
    for name, value in named.items():
        if name not in names:
            raise ConfigurationError(
                f"model {model.name!r} has no input {name!r}{closest(name, names)}; inputs are: {', '.join(names)}"
            )
        if names.index(name) in held:
            raise ConfigurationError(f"input {name!r} is given twice (by position and by name)")
        held[names.index(name)] = value
    for i, value in held.items():
        if isinstance(value, (str, bytes)):
            raise FeatvizTypeError(f"the value of input {names[i]!r} must be an array; got {value!r}")
        arr = np.asarray(value)
        want = tuple(model.inputs[i].shape[1:])
        got = arr.shape[1:] if arr.ndim == len(want) + 1 and arr.shape[0] == 1 else arr.shape
        if len(got) != len(want) or any(w is not None and w != g for w, g in zip(want, got)):
            shape = (
                "(" + ", ".join("None" if w is None else str(w) for w in want) + ("," if len(want) == 1 else "") + ")"
            )
            raise ConfigurationError(
                f"the value of input {names[i]!r} has shape {arr.shape}; it must have the "
                f"input's per-example shape {shape} (or a leading batch of 1)"
            )
        held[i] = arr.reshape(got)
    return held


_SMALL = 2**20  # entries of the zero kernel up to which a held value is a Dense layer


def _held(inp: Any, value: Any, dtype: Any, name: str) -> Any:
    """``value`` once per example of ``inp``, as a symbolic tensor.

    A float value whose zero kernel is small is the bias of a ``Dense`` layer with a zero,
    frozen kernel (behind ``Flatten``/``Reshape`` as needed): layers that ``fv.bounds``
    supports, so small held models can be bounded; otherwise a ``HeldInput`` layer.
    """
    import keras
    import numpy as np

    size, flat = int(value.size), int(np.prod(inp.shape[1:]))
    if not keras.backend.is_float_dtype(dtype) or size * flat > _SMALL:
        return _held_layer()(value, dtype, name=name)(inp)
    x = keras.layers.Flatten(name=f"{name}_flat")(inp) if len(inp.shape) != 2 else inp
    dense = keras.layers.Dense(
        size, name=name if value.ndim == 1 else f"{name}_flat_value", trainable=False, dtype=dtype
    )
    out = dense(x)
    dense.set_weights([np.zeros((flat, size)), value.reshape(size)])
    return out if value.ndim == 1 else keras.layers.Reshape(value.shape, name=name)(out)


@lru_cache(maxsize=1)
def _held_layer() -> Any:
    """The layer class that outputs a held value once per example of its input."""
    import keras

    class HeldInput(keras.layers.Layer):
        def __init__(self, value: Any, dtype: Any, **kwargs: Any):
            super().__init__(**kwargs)
            self.value = value
            self.value_dtype = dtype

        def call(self, x: Any) -> Any:
            value = keras.ops.convert_to_tensor(self.value, dtype=self.value_dtype)
            return keras.ops.broadcast_to(value[None], (keras.ops.shape(x)[0], *self.value.shape))

        def compute_output_shape(self, input_shape: Any) -> tuple:
            return (input_shape[0], *self.value.shape)

    return HeldInput
