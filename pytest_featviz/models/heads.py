"""Head detection: how a model's output relates to its logits.

A model may end with its logits, with a separate softmax/sigmoid layer (the logits are
that layer's input) or with a Dense layer whose activation squashes (the logits are its
pre-activation); any other squashing head hides the logits, and :class:`Head` says why.
TensorFlow and Keras are imported inside the functions, never at module import.

Examples
--------
>>> import numpy as np
>>> _squash_of(lambda z: 1.0 / (1.0 + np.exp(-z)))
'sigmoid'
>>> _squash_of(np.tanh) is None
True
>>> import keras
>>> _head(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax", name="out")]))
Head(squash='softmax', mode='preact', problem='', layer='out')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ConfigurationError


def _squash_of(fn: Any) -> str | None:
    """'softmax' or 'sigmoid' when ``fn`` computes one (over the last axis), else ``None``.

    Known functions are recognised by name (``tf.nn.softmax`` is ``softmax_v2``); any other
    callable is probed on a small tensor, so wrappers such as ``lambda z: tf.nn.softmax(z)``
    are recognised too.
    """
    import numpy as np

    name = getattr(fn, "__name__", "")
    if name in ("softmax", "softmax_v2"):
        return "softmax"
    if name == "sigmoid":
        return "sigmoid"
    if not callable(fn) or name in ("linear", "relu", "tanh", "elu", "gelu", "swish", "silu", "softplus"):
        return None
    z = np.linspace(-2.0, 3.0, 10, dtype="float32").reshape(2, 5)
    try:
        out = np.asarray(fn(z), dtype="float64")
    except Exception:  # an activation that cannot run on a plain tensor: not recognisable
        return None
    e = np.exp(z - z.max(-1, keepdims=True))
    if out.shape == z.shape and np.allclose(out, e / e.sum(-1, keepdims=True), atol=1e-6):
        return "softmax"
    if out.shape == z.shape and np.allclose(out, 1.0 / (1.0 + np.exp(-z)), atol=1e-6):
        return "sigmoid"
    return None


@dataclass(frozen=True)
class Head:
    """How a model's output relates to its logits.

    ``squash`` is 'softmax', 'sigmoid' or 'none' (the output is the logits); ``mode`` says
    where the logits are: 'output', 'input' (the input of a separate last softmax/sigmoid
    layer) or 'preact' (the pre-activation of a last Dense layer); ``None`` when they
    cannot be recovered, and ``problem`` then says why. ``layer`` is the path of the layer
    that computes the output (inside nested models: ``"base/predictions"``); in modes
    'input' and 'preact' the logits are read from its call in the model's own graph.
    """

    squash: str
    mode: str | None
    problem: str = ""
    layer: str = ""

    def logits_mode(self) -> str:
        """:attr:`mode`; a ``ConfigurationError`` saying why and what to do when it is ``None``."""
        if self.mode is None:
            raise ConfigurationError(f"{self.problem}. {_LOGITS_FIX}")
        return self.mode


def _head(model: Any) -> Head:
    """Find the output head of a single-output model (see :class:`Head`).

    The head is the layer that computes the output, also when it sits inside a nested
    model (a base model used as a layer), found in the model's own graph.
    """
    import keras

    from .graph import output_layer

    if not model.layers:
        return Head("none", "output")
    path, last = output_layer(model)
    if isinstance(last, keras.layers.Softmax):
        return Head("softmax", "input", "", path)
    if isinstance(last, keras.layers.Activation):
        squash = _squash_of(last.activation)
        return Head(squash, "input", "", path) if squash else Head("none", "output", "", path)
    if isinstance(last, keras.Model):  # a model featviz cannot look inside (subclassed)
        inner = _head(last) if getattr(last, "inputs", None) else Head("none", "output")
        if inner.squash == "none":
            return Head("none", "output", "", path)
        return Head(
            inner.squash,
            None,
            (
                f"the model ends with the nested model {last.name!r}, which applies {inner.squash} inside "
                "itself; featviz cannot recover the logits from it"
            ),
            path,
        )
    squash = _squash_of(getattr(last, "activation", None))
    if squash is None:
        return Head("none", "output", "", path)
    if isinstance(last, keras.layers.Dense):
        return Head(squash, "preact", "", path)
    return Head(
        squash,
        None,
        (
            f"the last layer {path!r} ({type(last).__name__}) applies {squash} inside itself; featviz "
            "cannot recover the logits from it (only from a Dense layer)"
        ),
        path,
    )


def logits_mode(model: Any) -> str:
    """How to get logits from the top-level layers: 'output', 'input' (separate layer) or 'preact'.

    For readers of the model's top-level layers (``fv.bounds``): raises ``ConfigurationError``
    when the logits cannot be recovered, or sit inside a nested model (the feature extractor
    reads those by path; see :class:`Head`).
    """
    head = _head(model)
    mode = head.logits_mode()
    if mode != "output" and "/" in head.layer:
        raise ConfigurationError(
            f"the output head {head.layer!r} sits inside the nested model {head.layer.split('/')[0]!r}; "
            "the logits are read here only from a top-level layer. Rebuild the model flat (list the "
            "nested model's layers in the outer model)"
        )
    return mode


_LOGITS_FIX = (
    "Use ClassProbability (it reads the output itself), or end the model with a Dense layer "
    "followed by a separate Activation('softmax') or Softmax layer"
)
