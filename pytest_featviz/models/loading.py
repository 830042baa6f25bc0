"""Loading models safely, looking up layers, and reading every needed layer in one pass.

TensorFlow and Keras are imported inside the functions, never at module import.
How a model's output relates to its logits (:class:`Head`) is found by :mod:`.heads`.
"""

from __future__ import annotations

import importlib
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._validation import check_choice
from ..errors import ConfigurationError, FeatvizTypeError, LayerNotFoundError, ModelLoadError, closest
from ..objectives import LOGITS, PROBABILITIES
from .heads import OUTPUTS, Head, Outputs, _head, saved_model_head

__all__ = ["load_model", "layer_names", "get_layer", "ModelInfo", "model_info", "FeatureExtractor"]

_SUFFIXES = (".keras", ".h5", ".hdf5")


def load_model(source: Any, *, safe_mode: bool = True, outputs: Outputs = "auto") -> Any:
    """Load a Keras model for inspection (never compiled, never trained).

    Parameters
    ----------
    source : str, os.PathLike or keras.Model
        A ``.keras`` file, a legacy ``.h5`` file, a SavedModel directory, a
        ``keras.Model`` (returned as is), or ``"package.module:factory"`` naming a
        callable that returns a model.
    safe_mode : bool
        Refuse files that need arbitrary code to deserialize (``Lambda`` layers).
        Pass ``False`` only for files you trust.
    outputs : {'auto', 'logits', 'probabilities'}
        What a SavedModel directory's output is. A SavedModel has no layers to look at:
        ``'auto'`` reads the last operation of its graph (``Softmax``, ``Sigmoid``, or an
        affine one: logits) and otherwise leaves the output unknown, so that
        ``ClassProbability`` and ``ClassLogit`` refuse it rather than guess. Declare it
        here in that case. Other sources take ``'auto'`` only (their head is read from
        their layers).

    Returns
    -------
    keras.Model

    Examples
    --------
    >>> import keras
    >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="head")])
    >>> load_model(m) is m
    True
    """
    import keras

    check_choice(outputs, "outputs", OUTPUTS)
    if outputs != "auto" and not (isinstance(source, (str, os.PathLike)) and Path(source).is_dir()):
        raise ConfigurationError(
            f"outputs={outputs!r} is for a SavedModel directory, whose head featviz cannot see; {source!r} is "
            "not a directory (a Keras model's head is read from its layers): leave outputs='auto'"
        )
    if isinstance(source, keras.Model):
        return source
    if not isinstance(source, (str, os.PathLike)):
        raise FeatvizTypeError(
            f"load_model needs a path, a keras.Model or 'package.module:factory'; got {type(source).__name__}"
        )
    text = os.fspath(source)
    path = Path(text)
    if ":" in text and not path.exists() and not (len(text) > 1 and text[1] == ":"):
        return _from_factory(text)
    if not path.exists():
        raise ModelLoadError(f"model file not found: {text} (resolved to {path.resolve()})")
    if path.is_dir():
        return _from_saved_model(path, outputs)
    if path.suffix.lower() not in _SUFFIXES:
        raise ModelLoadError(
            f"cannot load {text}: unknown model format {path.suffix!r}; "
            "use a .keras or .h5 file, a SavedModel directory, or 'package.module:factory'"
        )
    return _from_file(path, safe_mode)


def _from_file(path: Path, safe_mode: bool) -> Any:
    import keras

    if path.suffix.lower() == ".keras" and not zipfile.is_zipfile(path):
        raise ModelLoadError(f"{path} is not a valid .keras file: it is not a zip archive (truncated or corrupted?)")
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=safe_mode)
    except Exception as exc:  # Keras raises many types; translate them for people
        text = str(exc)
        if "safe_mode" in text or "unsafe" in text.lower():
            raise ModelLoadError(
                f"{path} was refused: it needs unsafe deserialization (a Lambda layer or other Python "
                "code). Pass safe_mode=False only if you trust this file."
            ) from exc
        raise ModelLoadError(
            f"{path} could not be loaded ({type(exc).__name__}: {text.splitlines()[0] if text else ''})"
        ) from exc


def _from_saved_model(path: Path, outputs: Outputs) -> Any:
    import keras
    import tensorflow as tf

    if not (path / "saved_model.pb").exists():
        raise ModelLoadError(f"{path} is a directory but not a SavedModel (it has no saved_model.pb)")
    try:
        loaded = tf.saved_model.load(str(path))
        sig = loaded.signatures["serving_default"]
        spec = list(sig.structured_input_signature[1].values())[0]
        layer = _saved_model_layer(keras)(str(path), call_endpoint="serving_default", name="saved_model")
    except Exception as exc:
        raise ModelLoadError(f"{path} could not be loaded as a SavedModel ({type(exc).__name__}: {exc})") from exc
    layer._featviz_outputs = outputs  # read by heads.saved_model_head
    saved_model_head(layer, layer.name)  # a declaration that the graph contradicts fails here, not later
    inputs = keras.Input(shape=tuple(spec.shape[1:]), dtype=spec.dtype.name)
    return keras.Model(inputs, layer(inputs), name=path.name)


def _saved_model_layer(keras: Any) -> Any:
    """A ``TFSMLayer`` whose output is a tensor: the serving function's first output, by name.

    Its output (not a dict) is what layer objectives on it read, e.g. ``Neuron("saved_model", 0)``.
    """

    class SavedModelOutput(keras.layers.TFSMLayer):
        def call(self, inputs: Any, training: bool = False, **kwargs: Any) -> Any:
            out = super().call(inputs, training=training, **kwargs)
            return out[sorted(out)[0]] if isinstance(out, dict) else out

    return SavedModelOutput


def _from_factory(text: str) -> Any:
    import keras

    module_name, _, attr = text.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelLoadError(f"cannot import module {module_name!r} from {text!r}: {exc}") from exc
    if not hasattr(module, attr):
        names = [n for n in dir(module) if not n.startswith("_")]
        raise ModelLoadError(f"module {module_name!r} has no attribute {attr!r}{closest(attr, names)}")
    obj = getattr(module, attr)
    model = obj() if callable(obj) and not isinstance(obj, keras.Model) else obj
    if not isinstance(model, keras.Model):
        raise ModelLoadError(f"{text!r} gave {type(model).__name__}, not a keras.Model")
    return model


def layer_names(model: Any) -> list[str]:
    """Names of the model's layers in layer order; layers of nested models by path.

    A nested model (a base model used as a layer, Functional or Sequential, any depth) is
    listed by its name, followed by its own layers as ``"nested/inner"`` paths; any of
    these names can be targeted by objectives and :func:`get_layer`. A layer or nested
    model called more than once in the graph (a siamese model) is read at its first call.

    Examples
    --------
    >>> import keras
    >>> base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="d")], name="base")
    >>> m = keras.Sequential([keras.Input((4,)), base, keras.layers.Dense(2, name="head")])
    >>> layer_names(m)
    ['base', 'base/d', 'head']
    """
    from .graph import entries

    found = [path for path, _, _ in entries(model)]
    return found or [layer.name for layer in model.layers]


def get_layer(model: Any, name: str) -> Any:
    """The layer called ``name`` (a path such as ``"base/conv"`` inside nested models).

    Raises a ``LayerNotFoundError`` that lists the layers and the closest name.

    Examples
    --------
    >>> import keras
    >>> base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="d")], name="base")
    >>> m = keras.Sequential([keras.Input((4,)), base, keras.layers.Dense(2, name="head")])
    >>> get_layer(m, "head").name, get_layer(m, "base/d").name
    ('head', 'd')
    """
    from .graph import entries

    for path, layer, _ in entries(model):
        if path == name:
            return layer
    for layer in model.layers:
        if layer.name == name:
            return layer
    raise _not_found(name, None, layer_names(model))


def _not_found(name: str, model_name: str | None, names: list[str]) -> LayerNotFoundError:
    where = f" in model {model_name!r}" if model_name else ""
    inside = [n for n in names if n.rsplit("/", 1)[-1] == name]
    hint = (
        f"; did you mean {inside[0]!r}? (a layer inside a nested model is named by its path)"
        if inside
        else closest(name, names)
    )
    return LayerNotFoundError(f"layer {name!r} not found{where}{hint}; layers are: {', '.join(names)}")


def _fmt_shape(shape: tuple[int, ...]) -> str:
    """``(B, 5, 4)`` for a per-example shape ``(5, 4)``; unknown sizes (-1) as ``None``."""
    return "(" + ", ".join(["B"] + ["None" if s < 0 else str(s) for s in shape]) + ("," if not shape else "") + ")"


@dataclass(frozen=True)
class ModelInfo:
    """What objectives need to validate themselves: layer output shapes and class count.

    ``shapes`` maps every layer name (layers of nested models by path, ``"base/conv"``)
    to its per-example output shape in this model's graph; ``outputs`` holds the
    per-example shape of each model output, ``n_inputs`` the number of model inputs and
    ``head`` how the (single) output relates to the logits.
    """

    name: str
    input_shape: tuple[int, ...]
    num_classes: int
    shapes: dict[str, tuple[int, ...]]
    outputs: tuple[tuple[int, ...], ...] = ()
    n_inputs: int = 1
    head: Head = Head("none", "output")

    def output_shape(self, layer: str) -> tuple[int, ...]:
        if layer not in self.shapes:
            raise _not_found(layer, self.name, list(self.shapes))
        return self.shapes[layer]

    def check_input(self) -> None:
        """Raise ``ConfigurationError`` unless the model has one input of fixed size."""
        if self.n_inputs != 1:
            raise ConfigurationError(
                f"model {self.name!r} has {self.n_inputs} inputs; featviz optimises one input. Hold the "
                "others at fixed values with fv.fix_inputs(model, name=value, ...), which returns a "
                "single-input model, or visualise a single-input part of it"
            )
        if any(s < 0 for s in self.input_shape):
            shape = "(" + ", ".join("None" if s < 0 else str(s) for s in self.input_shape) + ")"
            example = "(" + ", ".join("32" if s < 0 else str(s) for s in self.input_shape) + ")"
            raise ConfigurationError(
                f"model {self.name!r} has input shape {shape} with unknown sizes; featviz needs a fixed-size "
                f"input. Rebuild it with a fixed size, e.g. fixed = keras.models.clone_model(m, "
                f"input_tensors=keras.Input({example})); fixed.set_weights(m.get_weights())"
            )

    def check_classes(self, logits: bool) -> None:
        """Raise ``ConfigurationError`` unless class objectives can read this model's output."""
        what = "ClassLogit" if logits else "ClassProbability"
        if len(self.outputs) != 1:
            raise ConfigurationError(
                f"model {self.name!r} has {len(self.outputs)} outputs; {what} needs a single-output model. "
                "Pick one output: keras.Model(m.inputs, m.outputs[k]) (layer objectives such as Channel "
                "and Neuron work on the multi-output model)"
            )
        shape = self.outputs[0]
        if len(shape) != 1:
            fix = (
                "make it (B, 1): keras.Model(m.inputs, keras.layers.Reshape((1,))(m.outputs[0]))"
                if not shape
                else f"target one unit with Neuron({list(self.shapes)[-1]!r}, index) instead"
            )
            raise ConfigurationError(
                f"model {self.name!r} has an output of shape {_fmt_shape(shape)}; {what} needs an output of "
                f"shape (B, classes): {fix}"
            )
        if logits:
            self.head.logits_mode()
        else:
            self.head.check_probabilities()


def _shape(tensor: Any) -> tuple[int, ...]:
    return tuple(int(s) if s is not None else -1 for s in tensor.shape[1:])


def model_info(model: Any) -> ModelInfo:
    """Describe ``model`` for validation (input shape, class count, layer output shapes).

    Examples
    --------
    >>> import keras
    >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="head")])
    >>> model_info(m).num_classes
    2
    """
    try:
        inputs = getattr(model, "inputs", None)
    except ValueError:  # an unbuilt Sequential: Keras 3.3 raises ValueError here, newer ones AttributeError
        inputs = None
    if not inputs:
        raise ModelLoadError(
            f"model {model.name!r} has no defined inputs; build it with keras.Input so featviz can read its input shape"
        )
    from .graph import entries

    shapes = {path: _shape(node.outputs[0]) for path, _, node in entries(model) if node.outputs}
    outputs = tuple(_shape(out) for out in model.outputs)
    classes = outputs[0][-1] if outputs and outputs[0] else 0
    head = _head(model) if len(outputs) == 1 else Head("none", "output")
    return ModelInfo(model.name, _shape(model.inputs[0]), max(classes, 0), shapes, outputs, len(model.inputs), head)


class _Context:
    """Layer outputs of one forward pass (float32), handed to objectives."""

    def __init__(
        self, inputs: Any, features: dict[str, Any], logits: Any, output: Any, squashed: bool, head: Any = None
    ):
        self.inputs = inputs
        self.features = features
        self.logits = logits
        self.output = output
        self._squashed = squashed
        self._head = head

    def probabilities(self) -> Any:
        """The softmax or sigmoid output itself when the model ends with one, else softmax(logits)."""
        import tensorflow as tf

        return self.output if self._squashed else tf.nn.softmax(self.logits, axis=-1)

    def log_probabilities(self) -> Any:
        """``log`` of :meth:`probabilities`, from the logits where they are known (it never underflows to -inf)."""
        import tensorflow as tf

        head = self._head
        if not self._squashed or (head is not None and head.squash == "softmax" and head.mode is not None):
            return tf.nn.log_softmax(self.logits, axis=-1)
        if head is not None and head.squash == "sigmoid" and head.mode is not None:
            return tf.math.log_sigmoid(self.logits)
        return tf.math.log(tf.maximum(self.output, 1e-38))  # the logits are lost: the output is all there is


class FeatureExtractor:
    """Computes, in one forward pass, every layer output an objective needs, plus logits.

    The pass walks this model's own graph (see ``_graph.run``), so base models used as
    layers, layers re-called from another model and layers inside nested models (by
    path) all work; the user's model is not modified. Everything handed on is cast to
    float32 (mixed-precision and float64 models).
    """

    def __init__(self, model: Any, layers: frozenset[str], info: ModelInfo | None = None):
        self.model = model
        info = model_info(model) if info is None else info  # the caller's, when it has one already
        info.check_input()
        self.head = Head("none", "output")
        if layers & {LOGITS, PROBABILITIES}:
            info.check_classes(logits=LOGITS in layers)
            self.head = info.head
        names = sorted(n for n in layers if n not in (LOGITS, PROBABILITIES))
        for n in names:
            info.output_shape(n)
        self.mode = self.head.mode
        self.names = names
        self._want = set(names) | ({self.head.layer} if self.mode in ("input", "preact") else set())
        self._dense = get_layer(model, self.head.layer) if self.mode == "preact" else None

    def __call__(self, x: Any, inputs_for_regularizers: Any = None) -> _Context:
        import tensorflow as tf
        from keras import tree

        from .graph import run

        outputs, found = run(self.model, [x], self._want)
        output = tf.cast(outputs[0], tf.float32)
        pre = output
        if self.mode in ("input", "preact"):
            args, _ = found[self.head.layer]
            pre = tf.cast(tree.flatten(args)[0], tf.float32)
        if self._dense is not None:  # "preact": the head Dense's input times its kernel, without the activation
            pre = pre @ tf.cast(self._dense.kernel, tf.float32)
            if self._dense.use_bias:
                pre = pre + tf.cast(self._dense.bias, tf.float32)
        features = {n: tf.cast(found[n][1], tf.float32) for n in self.names}
        reg_x = x if inputs_for_regularizers is None else inputs_for_regularizers
        return _Context(tf.cast(reg_x, tf.float32), features, pre, output, self.head.squash != "none", self.head)
